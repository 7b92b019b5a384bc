#!/usr/bin/env bash
# Train one faithfulness LoRA adapter for SmolLM2-135M-Instruct with DPO at KL strength beta.
#
#   training/train_dpo.sh --beta 0.1 [--steps 100 --batch 4 --lr 5e-4 --seed 20260 --out DIR ...]
#
# Writes models/adapters/smollm2-dpo-beta{beta}/ (adapter_config.json, adapter_model.safetensors,
# training_metadata.json). Needs the model (scripts/setup) and HaluEval QA (corpora/fetch.sh, run here when the
# file is missing). Uses the system python when it already has the pinned packages of requirements.txt,
# otherwise creates training/.venv and installs them there. Runs at nice 5 on 2 threads.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

if [[ ! -f "$root/models/SmolLM2-135M-Instruct.Q4_1.gguf" ]]; then
  echo "train_dpo: models/SmolLM2-135M-Instruct.Q4_1.gguf is missing; run scripts/setup first" >&2
  exit 1
fi
if [[ ! -f "$root/data/halueval/dataset_halueval_qa.jsonl" ]]; then
  "$root/corpora/fetch.sh"
fi

source "$here/pinned_python.sh"

cd "$here"
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 TOKENIZERS_PARALLELISM=false
exec nice -n 5 "$python" train_dpo.py "$@"
