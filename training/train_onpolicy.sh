#!/usr/bin/env bash
# One command for the on-policy faithfulness adapter of Qwen2.5-Coder-0.5B-Instruct (DPO, beta 0.1):
#
#   training/train_onpolicy.sh [--questions 1200 --sample-minutes 28 ...] [-- TRAINER OPTIONS]
#
# 1. build_onpolicy.py: retrieval with `dera search` over data/halueval-qa.sqlite (made here when missing), the
#    prompt checked against dera byte for byte, answers sampled from the reference with `dera ask` (lambda 0),
#    labelled and paired -> data/onpolicy/qwen05/ (git-ignored; resumable: a rerun samples only new questions).
# 2. train_onpolicy.py: DPO at beta 0.1 on those pairs -> models/adapters/qwen05-onpolicy-dpo-beta0.1/.
# Options before `--` go to the builder, after it to the trainer. Needs a release build of dera
# (swift build -c release --product dera) or DERA=/path/to/dera, the model (scripts/setup) and HaluEval QA.
# Runs at nice 10, one thread per process (2 shared cores: more threads than free cores stall torch).
# --epochs 1.54 is 20 steps of 2 questions on the committed 25 training questions (see README).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
dera="${DERA:-$root/.build/release/dera}"
gguf=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf

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
nice -n 10 "$python" build_onpolicy.py --dera "$dera" --gguf "$gguf" --questions 1200 --samples 5 \
  --temperature 0.9 --max-new 48 --workers 2 --time-limit 28 --seed 20261 "${build_args[@]}"
echo "train_onpolicy: data built in $(( $(date +%s) - start )) s" >&2
nice -n 10 "$python" train_onpolicy.py --gguf "$gguf" --beta 0.1 --layers 4 --epochs 1.54 --questions-per-step 2 \
  --lr 2e-4 --eval-every 5 --threads 1 --time-limit 22 --seed 20262 "${train_args[@]}"
echo "train_onpolicy: done in $(( $(date +%s) - start )) s" >&2
