#!/usr/bin/env bash
# One command per on-policy faithfulness adapter (DPO) of a reference model:
#
#   training/train_onpolicy.sh [--model 1.5b|0.5b|smollm2] [--beta B] [BUILDER OPTIONS] [-- TRAINER OPTIONS]
#
# --beta (default 0.1) names the adapter models/adapters/TAG-onpolicy-dpo-betaB/; the sampled data is shared by
#   every beta of a model (a second beta reuses it and only trains).
# --model 1.5b (the default answering model; default here): data/onpolicy/qwen15/, adapter
#   models/adapters/qwen15-onpolicy-dpo-beta0.1/. --model 0.5b: data/onpolicy/qwen05/, qwen05-onpolicy-dpo-beta0.1/.
#   --model smollm2: data/onpolicy/smollm2/, smollm2-onpolicy-dpo-beta{0.05,0.1,0.2}/ (LoRA on the top 15 of 30 layers).
#
# 1. build_onpolicy.py: retrieval with `dera search` over data/halueval-qa.sqlite (made here when missing), the
#    prompt checked against dera byte for byte, answers sampled from the reference with `dera ask` (lambda 0),
#    labelled and paired -> data/onpolicy/TAG/ (git-ignored). Skipped when TAG/pairs.jsonl exists and no builder
#    option is given; with one (e.g. --stage all) it resumes: a rerun samples only new questions.
# 2. train_onpolicy.py: DPO at --beta on those pairs -> models/adapters/TAG-onpolicy-dpo-betaB/.
# Options before `--` go to the builder, after it to the trainer. Needs a release build of dera
# (swift build -c release --product dera) or DERA=/path/to/dera, the model (scripts/setup) and HaluEval QA.
# Runs at nice 10, one thread per process (2 shared cores: more threads than free cores stall torch).
# --epochs 1.54 is 20 steps of 2 questions on the committed 25 training questions (see README).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
dera="${DERA:-$root/.build/release/dera}"
size=1.5b beta=0.1
while [[ "${1:-}" == "--model" || "${1:-}" == "--beta" ]]; do
  if [[ "$1" == "--model" ]]; then size="${2:?--model needs 1.5b, 0.5b or smollm2}"; else beta="${2:?--beta needs a number}"; fi
  shift 2
done
case "$size" in
  1.5b) gguf=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf base=Qwen/Qwen2.5-Coder-1.5B-Instruct tag=qwen15
        # 1.5B: a question costs ~3x the 0.5B's to sample and to pass through the frozen layers
        build_defaults=(--time-limit 30) train_defaults=(--epochs 1.5 --time-limit 40) ;;
  0.5b) gguf=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf base=Qwen/Qwen2.5-Coder-0.5B-Instruct tag=qwen05
        build_defaults=(--time-limit 28) train_defaults=(--epochs 1.54 --time-limit 22) ;;
  smollm2) gguf=SmolLM2-135M-Instruct.Q4_1.gguf base=HuggingFaceTB/SmolLM2-135M-Instruct tag=smollm2
        # 135M: rarely right (one HaluEval question in five), so few right samples: corrected pairs (its own wrong
        # answer beside the same text with the gold name or number put in) and same-passage swaps add to them
        build_defaults=(--time-limit 30 --minimal both --corrected 2) train_defaults=(--layers 15 --epochs 1.2 --eval-every 30 --time-limit 30) ;;
  *) echo "train_onpolicy: --model is 1.5b, 0.5b or smollm2, not $size" >&2; exit 2 ;;
esac

[[ -x "$dera" ]] || { echo "train_onpolicy: no dera at $dera; build it or set DERA" >&2; exit 1; }
[[ -f "$root/models/$gguf" ]] || { echo "train_onpolicy: models/$gguf is missing; run scripts/setup" >&2; exit 1; }
[[ -f "$root/data/halueval/dataset_halueval_qa.jsonl" ]] || "$root/corpora/fetch.sh"
if [[ ! -f "$root/data/halueval-qa.sqlite" ]]; then
  (cd "$root" && "$dera" index data/halueval/dataset_halueval_qa.jsonl --jsonl-text-field knowledge \
     --db data/halueval-qa.sqlite)
fi

build_args=() train_args=()
while [[ $# -gt 0 ]]; do
  if [[ "$1" == "--" ]]; then shift; train_args=("$@"); break; fi
  build_args+=("$1"); shift
done

source "$here/pinned_python.sh"
cd "$here"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
start=$(date +%s)
pairs="$root/data/onpolicy/$tag/pairs.jsonl"
if [[ -f "$pairs" && ${#build_args[@]} -eq 0 ]]; then
  echo "train_onpolicy: reusing $pairs (give builder options, e.g. --stage all, to sample more)" >&2
else
nice -n 10 "$python" build_onpolicy.py --dera "$dera" --gguf "$gguf" --out "$root/data/onpolicy/$tag" \
  --questions 1200 --samples 5 --temperature 0.9 --max-new 48 --workers 2 --seed 20261 "${build_defaults[@]}" \
  "${build_args[@]}"
echo "train_onpolicy: data built in $(( $(date +%s) - start )) s" >&2
fi
nice -n 10 "$python" train_onpolicy.py --gguf "$gguf" --base-name "$base" \
  --pairs "$pairs" --out "$root/models/adapters/$tag-onpolicy-dpo-beta$beta" \
  --beta "$beta" --layers 4 --questions-per-step 2 --lr 2e-4 --eval-every 5 --threads 1 --seed 20262 "${train_defaults[@]}" "${train_args[@]}"
echo "train_onpolicy: done in $(( $(date +%s) - start )) s" >&2
