"""Compare the settings of `dera tune --records` files answer by answer.

    python3 training/compare_records.py FILE[:PREFIX] ... [--base LABEL] [--show N]

Each FILE holds one JSON line per question and setting (`label`, `id`, `answer`, `right`, `unsupportedWords`,
`naturalness.words`). A PREFIX names the file's settings in the table ("beta0.05:" turns "lambda 1" into
"beta0.05 lambda 1"), so the runs of several adapters over the same questions compare in one table. Only the
questions every setting answered are counted. For each setting: right answers, answers that differ from the base
setting's (default "lambda 0", the reference alone), questions gained and lost against it, answers with a content
word no passage holds, and the median words per answer. --show N prints up to N gained and lost answers of each
setting beside the base's, to read them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict


def load(spec):
    path, _, prefix = spec.partition(":")
    rows = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
                label = (prefix + " " if prefix else "") + r["label"]
                rows[label][r["id"]] = r
            except (json.JSONDecodeError, KeyError) as e:
                sys.exit(f"compare_records: {path}:{n}: not a tune record ({e})")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", help="record files, each optionally FILE:PREFIX")
    p.add_argument("--base", default="lambda 0", help="the setting the others are compared with")
    p.add_argument("--show", type=int, default=0, help="print up to this many gained and lost answers per setting")
    args = p.parse_args()

    settings = {}
    for spec in args.files:
        for label, rows in load(spec).items():
            settings.setdefault(label, rows)    # the first file giving a label wins (the base, for one)
    if args.base not in settings:
        sys.exit(f"compare_records: no setting labelled {args.base!r}; settings: {', '.join(settings)}")
    ids = set.intersection(*(set(rows) for rows in settings.values()))
    if not ids:
        sys.exit("compare_records: no question is answered by every setting")
    base = settings[args.base]
    print(f"{len(ids)} questions answered by every setting; base: {args.base}")
    print("| setting | right | changed | gained / lost | unsupported answers | median words |")
    print("|---|---|---|---|---|---|")
    for label, rows in settings.items():
        right = sum(rows[i]["right"] for i in ids)
        changed = sum(rows[i]["answer"].strip() != base[i]["answer"].strip() for i in ids)
        gained = sorted(i for i in ids if rows[i]["right"] and not base[i]["right"])
        lost = sorted(i for i in ids if base[i]["right"] and not rows[i]["right"])
        unsupported = sum(bool(rows[i].get("unsupportedWords")) for i in ids)
        words = statistics.median(rows[i]["naturalness"]["words"] for i in ids)
        print(f"| {label} | {right}/{len(ids)} | {changed} | {len(gained)} / {len(lost)} | {unsupported} | {words:g} |")
        if args.show and label != args.base:
            for kind, which in (("gained", gained), ("lost", lost)):
                for i in which[:args.show]:
                    print(f"    {kind} {i}: {rows[i]['answer'].strip()!r}  (base: {base[i]['answer'].strip()!r})")


if __name__ == "__main__":
    main()
