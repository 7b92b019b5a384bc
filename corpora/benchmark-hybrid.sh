#!/usr/bin/env bash
# Reproduce the dense and hybrid retrieval figures in docs/retrieval.md ("Dense and hybrid search"):
# index time and size of the Wikipedia extracts with and without vectors, embedding throughput, recall@k of
# bm25 / dense / hybrid on HaluEval QA, the out-of-distribution Wikipedia questions and the paraphrased ones,
# query latency per mode, "What is the capital of Australia?" in each mode, and a kill -9 during an
# embedding ingest. Needs the corpora (corpora/fetch.sh) and the embedder (scripts/setup --embedder).
#   BENCH_DIR=/tmp/hybrid bash corpora/benchmark-hybrid.sh      # DERA=path/to/dera to use another build
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="${BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
wiki=data/wikipedia/summaries_en-us.jsonl
halu=data/halueval/dataset_halueval_qa.jsonl

bash corpora/fetch.sh >/dev/null
scripts/setup --no-apt --embedder >/dev/null
if [ -z "${DERA:-}" ]; then swift build -c release --product dera >/dev/null; DERA=.build/release/dera; fi
dera="$DERA"
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"; }
timed() { /usr/bin/time -f "time: wall %e s, user %U s, sys %S s, max RSS %M KB" "$@"; }
wikiflags=(--jsonl-text-field extract --jsonl-id-field title)

echo "== Wikipedia extracts without vectors"
rm -f "$work"/wiki-bm25.sqlite*
load; timed "$dera" index "$wiki" --db "$work/wiki-bm25.sqlite" "${wikiflags[@]}"
echo "index bytes without vectors: $(stat -c %s "$work/wiki-bm25.sqlite")"

echo "== Wikipedia extracts with vectors (fresh, --embed, 2 threads)"
rm -f "$work"/wiki.sqlite*
load; timed "$dera" index "$wiki" --db "$work/wiki.sqlite" "${wikiflags[@]}" --embed --embed-threads 2
echo "index bytes with vectors: $(stat -c %s "$work/wiki.sqlite")"
echo "== unchanged re-run (vectors kept)"
timed "$dera" index "$wiki" --db "$work/wiki.sqlite" "${wikiflags[@]}"

echo "== 'What is the capital of Australia?'"
for mode in bm25 dense hybrid; do
  echo "-- $mode"; "$dera" search "What is the capital of Australia?" --db "$work/wiki.sqlite" -k 5 --mode "$mode" | grep '^[0-9]'
done

echo "== Out-of-distribution Wikipedia questions (test split, 200) and paraphrased questions (49)"
load; "$dera" eval retrieval --questions corpora/questions/wikipedia-ood.jsonl --split test --db "$work/wiki.sqlite"
load; "$dera" eval retrieval --questions corpora/questions/wikipedia-paraphrased.jsonl --db "$work/wiki.sqlite"

echo "== HaluEval QA: 2000 sampled questions (seed 42), every mode"
load; timed "$dera" eval retrieval --data "$halu" --db "$work/halu.sqlite" --sample 2000

echo "== kill -9 during an embedding ingest, then re-run"
rm -f "$work"/kill.sqlite*
"$dera" index "$wiki" --db "$work/kill.sqlite" "${wikiflags[@]}" --embed --batch-size 64 >/dev/null 2>&1 &
pid=$!
sleep "${KILL_AFTER:-20}"
kill -9 "$pid" 2>/dev/null || true
{ wait "$pid"; } 2>/dev/null || true
check() {
  python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
q = lambda sql: db.execute(sql).fetchone()[0]
documents, passages, vectors = q("SELECT count(*) FROM documents"), q("SELECT count(*) FROM passages"), q("SELECT count(*) FROM passage_vectors")
missing = q("SELECT count(*) FROM passages WHERE id NOT IN (SELECT passage_id FROM passage_vectors)")
stray = q("SELECT count(*) FROM passage_vectors WHERE passage_id NOT IN (SELECT id FROM passages)")
duplicates = q("SELECT count(*) FROM (SELECT document_id, ordinal FROM passages GROUP BY 1, 2 HAVING count(*) > 1)")
integrity = q("PRAGMA integrity_check")
db.execute("INSERT INTO passages_fts (passages_fts) VALUES ('integrity-check')")
print(f"documents {documents}, passages {passages}, vectors {vectors}, passages without vector {missing}, "
      f"vectors without passage {stray}, duplicate passages {duplicates}, integrity {integrity}, fts integrity ok")
PY
}
echo -n "after kill: "; check "$work/kill.sqlite"
"$dera" index "$wiki" --db "$work/kill.sqlite" "${wikiflags[@]}" --embed --batch-size 64
echo -n "after re-run: "; check "$work/kill.sqlite"
echo "work files in $work"
