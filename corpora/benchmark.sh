#!/usr/bin/env bash
# Reproduce the retrieval figures in docs/retrieval.md: Wikipedia ingest speed and index size,
# Wikipedia and HaluEval QA query latency and recall, and a real kill -9 / resume of an ingest.
# Needs the corpora (corpora/fetch.sh) and python3 (only to inspect the SQLite files).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="${BENCH_DIR:-$(mktemp -d)}"
runs="${BENCH_RUNS:-3}"
wiki=data/wikipedia/summaries_en-us.jsonl
halu=data/halueval/dataset_halueval_qa.jsonl

bash corpora/fetch.sh >/dev/null
swift build -c release --product dera >/dev/null
dera=.build/release/dera
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"; }

echo "== Wikipedia extracts: fresh ingest, $runs runs"
for run in $(seq "$runs"); do
  rm -f "$work"/wiki.sqlite*
  load
  /usr/bin/time -f "time: wall %e s, user %U s, sys %S s, max RSS %M KB" \
    "$dera" index "$wiki" --db "$work/wiki.sqlite" --jsonl-text-field extract --jsonl-id-field title
done
echo "input bytes: $(stat -c %s "$wiki"); index bytes: $(stat -c %s "$work/wiki.sqlite") (no -wal left: $(ls "$work"/wiki.sqlite-wal 2>/dev/null | wc -l))"

echo "== Wikipedia extracts: unchanged re-run"
/usr/bin/time -f "time: wall %e s, user %U s" \
  "$dera" index "$wiki" --db "$work/wiki.sqlite" --jsonl-text-field extract --jsonl-id-field title

echo "== Wikipedia: each article's description as the question, 2000 sampled, $runs runs"
for run in $(seq "$runs"); do
  load
  "$dera" eval retrieval --data "$wiki" --text-field extract --title-field title --question-field description \
    --db "$work/wiki-eval.sqlite" --sample 2000
done

echo "== HaluEval QA: knowledge as documents, 2000 sampled questions (seed 42), $runs runs"
for run in $(seq "$runs"); do
  load
  "$dera" eval retrieval --data "$halu" --db "$work/halu.sqlite" --sample 2000
done
echo "-- with --common-clause-cutoff 0.05"
load
"$dera" eval retrieval --data "$halu" --db "$work/halu.sqlite" --sample 2000 --common-clause-cutoff 0.05

echo "== kill -9 part way through an ingest, then re-run"
rm -f "$work"/kill.sqlite*
"$dera" index "$wiki" --db "$work/kill.sqlite" --jsonl-text-field extract --jsonl-id-field title --batch-size 64 \
  >/dev/null 2>&1 &
pid=$!
sleep "${KILL_AFTER:-0.8}"
kill -9 "$pid" 2>/dev/null || true
{ wait "$pid"; } 2>/dev/null || true  # silence the shell's "Killed" notice
check() {
  python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
documents = db.execute("SELECT count(*) FROM documents").fetchone()[0]
passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
duplicates = db.execute("SELECT count(*) FROM (SELECT document_id, ordinal FROM passages GROUP BY 1, 2 HAVING count(*) > 1)").fetchone()[0]
integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
db.execute("INSERT INTO passages_fts (passages_fts) VALUES ('integrity-check')")
print(f"documents {documents}, passages {passages}, duplicate passages {duplicates}, integrity {integrity}, fts integrity ok")
PY
}
echo -n "after kill: "; check "$work/kill.sqlite"
"$dera" index "$wiki" --db "$work/kill.sqlite" --jsonl-text-field extract --jsonl-id-field title --batch-size 64
echo -n "after re-run: "; check "$work/kill.sqlite"
echo "work files in $work"
