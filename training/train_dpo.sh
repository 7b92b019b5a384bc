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

python="${PYTHON:-python3}"
has_pins() {  # every line of requirements.txt is installed at exactly that version
  "$1" - "$here/requirements.txt" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if have.split("+")[0] != want:
        sys.exit(1)
PY
}
if ! has_pins "$python"; then
  venv="$here/.venv"
  if [[ ! -x "$venv/bin/python" ]] || ! has_pins "$venv/bin/python"; then
    echo "train_dpo: installing requirements.txt into $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  fi
  python="$venv/bin/python"
fi

cd "$here"
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 TOKENIZERS_PARALLELISM=false
exec nice -n 5 "$python" train_dpo.py "$@"
