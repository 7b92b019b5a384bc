#!/usr/bin/env python3
"""Validate corpora/questions/wikipedia-ood.jsonl against the Wikipedia lead extracts.

Usage: python3 corpora/questions/check_questions.py [CORPUS_JSONL] [--questions PATH]

CORPUS_JSONL defaults to data/wikipedia/summaries_en-us.jsonl (relative to the working directory,
normally the repository root). The question file defaults to wikipedia-ood.jsonl next to this script.
Prints a summary (counts per split and per answer type) and exits 1 on any violation, naming the
question id (or line) and the rule it breaks; exits 2 if a file cannot be read or parsed.
"""
import json
import os
import re
import sys
from collections import Counter

TYPES = ("person", "date", "place", "number", "entity")
SPLITS = ("test", "dev")
FIELDS = ("id", "question", "answers", "title", "type", "split")
TEST_COUNT = 200
MIN_DEV = 40
MAX_ANSWER_WORDS = 5
SHARED_RUN = 5  # a question may not share this many consecutive words with its extract
ID_RE = re.compile(r"^wiki-(\d{3,})$")
WORD_RE = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def words(text):
    return WORD_RE.findall(text.lower())


def runs(ws, n):
    return {tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)}


def fail_read(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def load_corpus(path):
    corpus = {}
    try:
        fh = open(path, encoding="utf-8")
    except OSError as e:
        fail_read(f"cannot open corpus {path}: {e}")
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                fail_read(f"{path}:{n}: invalid JSON: {e}")
            if not isinstance(row, dict) or not isinstance(row.get("title"), str) \
                    or not isinstance(row.get("extract"), str):
                fail_read(f"{path}:{n}: expected an object with string fields 'title' and 'extract'")
            corpus[row["title"]] = row["extract"]
    if not corpus:
        fail_read(f"corpus {path} has no articles")
    return corpus


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    qpath = os.path.join(here, "wikipedia-ood.jsonl")
    args = list(argv)
    if "--questions" in args:
        i = args.index("--questions")
        if i + 1 >= len(args):
            fail_read("--questions needs a path")
        qpath = args[i + 1]
        del args[i:i + 2]
    if len(args) > 1 or (args and args[0].startswith("-")):
        fail_read("usage: check_questions.py [CORPUS_JSONL] [--questions PATH]")
    cpath = args[0] if args else "data/wikipedia/summaries_en-us.jsonl"
    corpus = load_corpus(cpath)

    violations = []

    def bad(qid, rule, detail):
        violations.append(f"{qid}: [{rule}] {detail}")

    rows = []
    try:
        fh = open(qpath, encoding="utf-8")
    except OSError as e:
        fail_read(f"cannot open questions {qpath}: {e}")
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                bad(f"line {n}", "format", "blank line")
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                bad(f"line {n}", "format", f"invalid JSON: {e}")
                continue
            if not isinstance(row, dict):
                bad(f"line {n}", "format", "not a JSON object")
                continue
            rows.append((n, row))

    ids, titles = Counter(), Counter()
    types, splits = Counter(), Counter()
    for pos, (n, row) in enumerate(rows, 1):
        qid = row.get("id") if isinstance(row.get("id"), str) else f"line {n}"
        missing = [f for f in FIELDS if f not in row]
        extra = [f for f in row if f not in FIELDS]
        if missing:
            bad(qid, "fields", f"missing {missing}")
            continue
        if extra:
            bad(qid, "fields", f"unexpected {extra}")
        q, answers, title, typ, split = (row[k] for k in ("question", "answers", "title", "type", "split"))
        ids[row["id"]] += 1
        m = ID_RE.match(str(row["id"]))
        if not m:
            bad(qid, "id", "id must look like wiki-001")
        elif int(m.group(1)) != pos:
            bad(qid, "id-order", f"expected wiki-{pos:03d} at line {n}")
        if not isinstance(q, str) or not q.strip():
            bad(qid, "question", "question must be a non-empty string")
            continue
        if not q.rstrip().endswith("?"):
            bad(qid, "question", "question should end with '?'")
        if typ not in TYPES:
            bad(qid, "type", f"type {typ!r} not one of {TYPES}")
        types[typ] += 1
        want = "test" if pos <= TEST_COUNT else "dev"
        if split != want:
            bad(qid, "split", f"position {pos} must have split {want!r}, has {split!r}")
        splits[split] += 1
        if not isinstance(title, str) or title not in corpus:
            bad(qid, "title", f"title {title!r} not in corpus")
            continue
        titles[title] += 1
        extract = corpus[title]
        if not isinstance(answers, list) or not answers or \
                not all(isinstance(a, str) and a.strip() for a in answers):
            bad(qid, "answers", "answers must be a non-empty list of non-empty strings")
            continue
        if len(set(answers)) != len(answers):
            bad(qid, "answers", "duplicate alternative")
        for a in answers:
            if a != a.strip():
                bad(qid, "answers", f"answer {a!r} has surrounding whitespace")
            if a not in extract:
                bad(qid, "answer-verbatim", f"answer {a!r} not a substring of the extract of {title!r}")
            if a.lower() in q.lower():
                bad(qid, "answer-in-question", f"question contains answer {a!r}")
        if len(answers[0].split()) > MAX_ANSWER_WORDS:
            bad(qid, "answer-length", f"first answer {answers[0]!r} has more than {MAX_ANSWER_WORDS} words")
        shared = runs(words(q), SHARED_RUN) & runs(words(extract), SHARED_RUN)
        if shared:
            bad(qid, "copied-run", f"shares {SHARED_RUN}-word run(s) with the extract: "
                + "; ".join(" ".join(r) for r in sorted(shared)))

    for k, c in ids.items():
        if c > 1:
            bad(k, "unique-id", f"id used {c} times")
    for k, c in titles.items():
        if c > 1:
            bad(k, "unique-title", f"article {k!r} used by {c} questions")
    if splits["test"] != TEST_COUNT:
        bad("set", "split-count", f"{splits['test']} test questions, need exactly {TEST_COUNT}")
    if splits["dev"] < MIN_DEV:
        bad("set", "split-count", f"{splits['dev']} dev questions, need at least {MIN_DEV}")

    total = len(rows)
    print(f"questions: {total} ({splits['test']} test, {splits['dev']} dev); "
          f"distinct articles: {len(titles)}; corpus articles: {len(corpus)}")
    print("types: " + ", ".join(f"{t} {types[t]} ({100 * types[t] / max(total, 1):.0f}%)" for t in TYPES))
    if violations:
        for v in violations:
            print(v)
        print(f"FAIL: {len(violations)} violation(s)")
        return 1
    print("OK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
