#!/usr/bin/env bash
# Merges the outputs of `dera summarize --shard i/N` (all files PREFIX-*.jsonl) into one JSON Lines stream on
# standard output: one line per document id, the first line seen for an id kept (an id appears twice only when the
# same shard was run into two files). Torn last lines of killed runs (no final newline) are left out.
#   scripts/summarize-shards/merge.sh out/summaries > summaries.jsonl
set -euo pipefail
prefix=${1:?output prefix}
python3 - "$prefix" <<'PY'
import glob, json, sys
seen = set()
for path in sorted(glob.glob(sys.argv[1] + "-*.jsonl")):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                continue  # a torn last line: that document is summarized again when the shard is resumed
            row = json.loads(line)
            if row["id"] not in seen:
                seen.add(row["id"])
                sys.stdout.write(line)
PY
