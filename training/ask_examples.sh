#!/usr/bin/env bash
# Greedy `dera ask` answers at lambda 0 (the reference alone) and lambda 1 (the adapter) for HaluEval QA rows
# FIRST..LAST (held-out rows, never trained on), one JSON line per row and lambda, for a quick look at an adapter
# (LAMBDAS="1" for the adapter alone; --lambda 0 runs the model alone).
#   training/ask_examples.sh ADAPTER [FIRST LAST] > answers.jsonl
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
dera="${DERA:-$root/.build/release/dera}"
adapter="$1" first="${2:-9000}" last="${3:-9010}"
(( first >= 8000 )) || { echo "ask_examples: rows below 8000 are training rows" >&2; exit 1; }
for row in $(seq "$first" "$last"); do
  line=$(sed -n "$((row + 1))p" "$root/data/halueval/dataset_halueval_qa.jsonl")
  question=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["question"])' "$line")
  gold=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["right_answer"])' "$line")
  for lambda in ${LAMBDAS:-0 1}; do
    answer=$(cd "$root" && "$dera" ask "$question" --db data/halueval-qa.sqlite \
      --model models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf --adapter "$adapter" --lambda "$lambda" --greedy \
      --max-tokens 64 --threads 1 --json)
    python3 -c 'import json,sys; a=json.loads(sys.argv[1]); print(json.dumps({"row": int(sys.argv[2]), "lambda": float(sys.argv[3]), "question": sys.argv[4], "gold": sys.argv[5], "answer": a.get("answer"), "checker_correctness": a.get("correctness"), "lambda_used": a.get("lambda")}, ensure_ascii=False))' \
      "$answer" "$row" "$lambda" "$question" "$gold"
  done
done
