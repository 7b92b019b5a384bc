"""On-policy faithfulness preference pairs for a reference model, from HaluEval QA training rows (0-7,999 only).

Stages, each resumable (its output is reused when present and made with the same settings):

1. retrieve: for each question, `dera search QUESTION --db STORE -k 3 --json` (the passages `dera ask` puts in the
   prompt; the store indexes every HaluEval QA knowledge passage, evaluation rows' included, as a user's would).
2. verify: the rendered prompt (dera_prompt.retrieval_prompt) is tokenized by transformers and by `dera tokenize`
   for the first --verify questions; and `dera ask --max-tokens 1` must report the same prompt length and cite
   the same passages. Any difference stops the build.
3. sample: --samples answers per question from the reference model itself (the GGUF dequantised to float32 by
   transformers), temperature --temperature, top-k 50, top-p 0.95 (dera's sampling chain), at most --max-new
   tokens. The prompt is computed once per question and its cache shared by the samples; --batch questions
   decode together (left-padded).
4. label and pair (no model): an answer is *right* when it contains the gold answer (SQuAD-normalised, whole
   words, as AnswerMetrics.containsAnswer) and *supported* when every content word (stop words out, crude stem)
   occurs in the passages or the question (as AnswerMetrics.unsupportedWords). chosen = right and supported;
   rejected = wrong, or with an unsupported content word. Pairs, per question:
   - sampled: chosen sample vs rejected sample whose word counts are within a factor --length-ratio;
   - minimal: a chosen sample with one number, year or capitalised name (found in the passages) swapped for
     one no passage or the question holds;
   - corrected (--corrected N): a wrong sample beside the same text with its one wrong name or number replaced
     by the gold answer (for a model that is rarely right: the rejected side stays its own answer);
   - abstain: when the passages lack the gold answer, chosen = a sentence saying the passages do not say (the
     model's own such sample when it gave one), rejected = a sampled answer that is not such a sentence.
   Questions are split: --heldout-fraction of them (by the seeded order) give the held-out pairs.

Writes OUT/retrieval.jsonl, OUT/samples.jsonl, OUT/pairs.jsonl (prompt ids and answer ids ready for training),
OUT/build_metadata.json. Run through build_onpolicy.sh.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np

from dera_prompt import PromptTemplate, retrieval_prompt, retrieval_passages

TRAIN_ROWS = range(0, 8000)
IM_END = "<|im_end|>"

STOP_WORDS = set("""
a an the and or but if then else so than that this these those there here of in on at by for with from to into onto
about over under as is are was were be been being am do does did doing done have has had having will would shall
should can could may might must it its he him his she her hers they them their theirs we us our you your i me my who
whom whose which what when where why how also too very just only both each all any some such other another more most
many much own same s t up down out off again further once while during before after above below between through
because until against among per via yes itself himself herself themselves one's st mr mrs ms dr yet however not no
never nor none neither without cannot known called named
""".split())

ABSTAIN_SENTENCES = [
    "The passages do not say, so I do not know.",
    "I do not know; the passages above do not contain the answer.",
]
ABSTAIN_PATTERN = re.compile(r"\b(do(es)? not (say|know|contain|mention|provide|specify|state)|don't know|"
                             r"not (mentioned|provided|specified|stated)|no information|cannot (be )?(determine|answer))",
                             re.IGNORECASE)


def parse_args():
    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=int, default=600, help="questions taken from the seeded order of rows 0-7,999")
    p.add_argument("--samples", type=int, default=5)
    p.add_argument("--temperature", type=float, default=0.9)
    p.add_argument("--top-k", type=int, default=50)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--max-new", type=int, default=48)
    p.add_argument("--sampler", choices=["dera", "transformers"], default="dera",
                   help="dera: `dera ask --samples N` (the production engine at lambda 0, Q4_K_M), one process per "
                        "question drawing its N answers in one batch, --workers at a time; transformers: the "
                        "dequantised float32 model, prompt cache shared")
    p.add_argument("--workers", type=int, default=2, help="dera processes at once (1 thread each)")
    p.add_argument("--batch", type=int, default=4, help="questions decoded together (transformers)")
    p.add_argument("--seed", type=int, default=20261)
    p.add_argument("--length-ratio", type=float, default=1.5)
    p.add_argument("--pairs-per-question", type=int, default=2, help="sampled pairs kept per question at most")
    p.add_argument("--minimal", choices=["outside", "inside", "both"], default="outside",
                   help="minimal pairs: swap a fact for one no passage holds (outside, the committed adapters' data), "
                        "swap the gold answer for another fact of its kind that the same passages hold (inside), or both")
    p.add_argument("--corrected", type=int, default=0,
                   help="corrected pairs per question at most: a wrong sample beside itself with its one wrong name "
                        "or number replaced by the gold answer (0: none, as the committed Qwen adapters' data)")
    p.add_argument("--heldout-fraction", type=float, default=0.2)
    p.add_argument("--verify", type=int, default=3, help="questions whose prompt is checked against dera")
    p.add_argument("--time-limit", type=float, default=0, help="stop sampling after this many minutes (0: none)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dera", default=str(root / ".build/release/dera"))
    p.add_argument("--db", default=str(root / "data/halueval-qa.sqlite"))
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--models-dir", default=str(root / "models"))
    p.add_argument("--gguf", default="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
    p.add_argument("--data", default=str(root / "data/halueval/dataset_halueval_qa.jsonl"))
    p.add_argument("--template", default=str(root / "prompts/grounded-qa.txt"))
    p.add_argument("--out", default=str(root / "data/onpolicy/qwen05"))
    p.add_argument("--stage", choices=["all", "retrieve", "verify", "sample", "pairs"], default="all")
    return p.parse_args()


# ---------------------------------------------------------------- text measures (AnswerMetrics, simplified)

def norm_words(text: str) -> list[str]:
    """AnswerMetrics.words: lower-cased runs of letters and digits."""
    out, cur = [], []
    for ch in text.lower():
        if ch.isalnum():
            cur.append(ch)
        elif cur:
            out.append("".join(cur)); cur = []
    if cur:
        out.append("".join(cur))
    return out


def normalize(text: str) -> str:
    return " ".join(w for w in norm_words(text) if w not in ("a", "an", "the"))


def contains_answer(answer: str, truth: str) -> bool:
    t = normalize(truth)
    return bool(t) and f" {t} " in f" {normalize(answer)} "


def stem(word: str) -> str:
    """A crude suffix stripper standing in for the checker's Porter stemmer."""
    w = word
    if w.isdigit():
        return w.lstrip("0") or "0"
    for suffix in ("ational", "ization", "ations", "ation", "ments", "ment", "ness", "ings", "ing", "ies", "ied",
                   "edly", "ed", "ers", "er", "ly", "es", "s"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def analysed(text: str) -> list[tuple[str, str]]:
    """(lower, stem) for each word; possessive 's dropped, hyphenated words split, grouping commas ignored."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    out = []
    for m in _WORD.finditer(text):
        w = m.group(0).lower().replace("’", "'")
        if w.endswith("'s"):
            w = w[:-2]
        w = w.replace("'", "")
        if w:
            out.append((w, stem(w)))
    return out


def unsupported_words(answer: str, context: str) -> list[str]:
    known = {s for _, s in analysed(context)}
    result = []
    for lower, s in analysed(answer):
        if lower in STOP_WORDS or s in known or lower in result:
            continue
        result.append(lower)
    return result


def is_abstention(answer: str) -> bool:
    return bool(ABSTAIN_PATTERN.search(answer))


# ---------------------------------------------------------------- stages

def load_rows(path):
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    assert len(rows) == 10000, f"{path}: expected 10,000 HaluEval QA rows, found {len(rows)}"
    return rows


def question_order(seed, n):
    order = [int(i) for i in np.random.default_rng(seed).permutation(len(TRAIN_ROWS)) + TRAIN_ROWS.start]
    for i in order[:n]:
        assert i in TRAIN_ROWS, i
    return order[:n]


def dera_search(args, question):
    result = subprocess.run([args.dera, "search", question, "--db", args.db, "-k", str(args.k), "--mode", "bm25",
                             "--json"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"dera search failed for {question!r}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def stage_retrieve(args, rows, order, out):
    path = out / "retrieval.jsonl"
    done = {}
    if path.exists():
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            done[r["row"]] = r
    t0 = time.time()
    with open(path, "a", encoding="utf-8") as f:
        for index in order:
            if index in done:
                continue
            hits = dera_search(args, rows[index]["question"])
            record = {"row": index, "hits": [{"title": h.get("title", ""), "passage": {"text": h["passage"]["text"]},
                                              "source": h.get("source", "")} for h in hits]}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            done[index] = record
    print(f"retrieve: {len(order)} questions ({time.time() - t0:.0f} s)", flush=True)
    return {i: done[i]["hits"] for i in order}, time.time() - t0


def stage_verify(args, rows, order, hits, template, tokenizer):
    checked = []
    for index in order[: args.verify]:
        question = rows[index]["question"]
        text = retrieval_prompt(template, question, hits[index])
        ours = tokenizer(text, add_special_tokens=False)["input_ids"]
        r = subprocess.run([args.dera, "tokenize", "--model", str(Path(args.models_dir) / args.gguf), text],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"dera tokenize failed: {r.stderr.strip()}")
        theirs = json.loads(r.stdout)
        if ours != theirs:
            raise SystemExit(f"row {index}: transformers and dera tokenize the prompt differently")
        r = subprocess.run([args.dera, "ask", question, "--db", args.db, "-k", str(args.k), "--model",
                            str(Path(args.models_dir) / args.gguf), "--no-adapter", "--no-check", "--greedy",
                            "--max-tokens", "1", "--template", args.template, "--json"], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"dera ask failed: {r.stderr.strip()}")
        ask = json.loads(r.stdout)
        cited = [c["text"] for c in ask["citations"]]
        ours_cited = [h["passage"]["text"] for h in hits[index]]
        if ask["promptTokens"] != len(ours):
            raise SystemExit(f"row {index}: dera ask's prompt has {ask['promptTokens']} tokens, ours {len(ours)}")
        if [c[:100] for c in cited] != [c[:100] for c in ours_cited]:
            raise SystemExit(f"row {index}: dera ask cites other passages than dera search returned")
        checked.append({"row": index, "prompt_tokens": len(ours)})
        print(f"verify: row {index}: {len(ours)} prompt tokens, identical ids (dera tokenize) and length and "
              f"passages (dera ask)", flush=True)
    return checked


def sampled_so_far(args, out):
    """The samples file, the sampling settings, and the questions it already holds with those settings."""
    path = out / "samples.jsonl"
    settings = {k: getattr(args, k) for k in ("sampler", "samples", "temperature", "top_k", "top_p", "max_new",
                                              "seed", "gguf")}
    if args.sampler == "dera":
        settings["sampler"] = "dera-batch"   # `dera ask --samples N`: the N draws of a question in one batch
    done = {}
    if path.exists():
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            if r["settings"] == settings:
                done[r["row"]] = r
    return path, settings, done


def keep_sample(f, done, index, settings, prompt_tokens, samples, total, n_new, t0):
    """Appends one question's samples to the samples file (flushed, so a stopped build resumes) and reports."""
    record = {"row": index, "settings": settings, "prompt_tokens": prompt_tokens, "samples": samples}
    f.write(json.dumps(record, ensure_ascii=False) + "\n")
    f.flush()
    done[index] = record
    elapsed = time.time() - t0
    print(f"sample: {len(done)}/{total} questions, {elapsed:.0f} s, {elapsed / max(1, n_new):.1f} s per question",
          flush=True)


def stage_sample_dera(args, rows, order, hits, tokenizer, out):
    """Samples from `dera ask --samples N` itself: the prompt it renders and the engine it answers with, at lambda 0
    (no adapter), the N answers of a question decoded in one batch over one prefill of the prompt. Sample s of row i
    uses seed seed * 100003 + 16 * i + s. The training ids are dera's own sampled token ids, with <|im_end|> appended
    when the answer ended (unfinished answers are dropped later)."""
    from concurrent.futures import ThreadPoolExecutor
    path, settings, done = sampled_so_far(args, out)
    todo = [i for i in order if i not in done]
    end_id = tokenizer.convert_tokens_to_ids(IM_END)

    def one(index):
        r = subprocess.run([args.dera, "ask", rows[index]["question"], "--db", args.db, "-k", str(args.k),
                            "--model", str(Path(args.models_dir) / args.gguf), "--template", args.template,
                            "--no-adapter", "--no-check", "--threads", "1", "--mode", "bm25",
                            "--temperature", str(args.temperature), "--top-k", str(args.top_k),
                            "--top-p", str(args.top_p), "--max-tokens", str(args.max_new),
                            "--seed", str(args.seed * 100003 + index * 16), "--samples", str(args.samples), "--json"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"dera ask failed for row {index}: {r.stderr.strip()[:300]}")
        return index, json.loads(r.stdout)

    t0 = time.time()
    n_new = 0
    with open(path, "a", encoding="utf-8") as f, ThreadPoolExecutor(args.workers) as pool:
        pending = iter(todo)
        futures = [pool.submit(one, i) for i in [next(pending, None) for _ in range(args.workers)] if i is not None]
        while futures:
            index, drawn = futures.pop(0).result()
            if args.time_limit and time.time() - t0 > args.time_limit * 60:
                print(f"sample: time limit reached after {n_new} new questions", flush=True)
                for rest in futures:
                    rest.cancel()
                break
            nxt = next(pending, None)
            if nxt is not None:
                futures.append(pool.submit(one, nxt))
            samples = []
            for a in drawn["samples"]:
                ended = not a["truncated"]
                samples.append({"ids": a["tokens"] + ([end_id] if ended else []), "text": a["answer"],
                                "ended": ended, "generated_tokens": len(a["tokens"])})
            cited = [c["text"] for c in drawn["citations"]]
            if [c[:100] for c in cited] != [h["passage"]["text"][:100] for h in hits[index]]:
                raise SystemExit(f"row {index}: dera ask retrieved other passages than dera search")
            n_new += 1
            keep_sample(f, done, index, settings, drawn["promptTokens"], samples, len(order), n_new, t0)
    return done, time.time() - t0


def stage_sample(args, rows, order, hits, template, model, tokenizer, out):
    import torch
    path, settings, done = sampled_so_far(args, out)
    end_ids = {tokenizer.convert_tokens_to_ids(IM_END), tokenizer.eos_token_id}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    todo = [i for i in order if i not in done]
    t0 = time.time()
    n_new = 0
    with open(path, "a", encoding="utf-8") as f:
        for start in range(0, len(todo), args.batch):
            if args.time_limit and time.time() - t0 > args.time_limit * 60:
                print(f"sample: time limit reached after {n_new} new questions", flush=True)
                break
            group = todo[start:start + args.batch]
            prompts = [tokenizer(retrieval_prompt(template, rows[i]["question"], hits[i]),
                                 add_special_tokens=False)["input_ids"] for i in group]
            width = max(len(p) for p in prompts)
            ids = torch.full((len(group), width), pad, dtype=torch.long)
            mask = torch.zeros(len(group), width, dtype=torch.long)
            for b, p in enumerate(prompts):
                ids[b, width - len(p):] = torch.tensor(p)
                mask[b, width - len(p):] = 1
            positions = (mask.cumsum(1) - 1).clamp(min=0)
            # A generator per question, seeded by its row, so a question's samples do not depend on its batch.
            gens = [torch.Generator().manual_seed(args.seed * 100003 + i) for i in group]
            with torch.no_grad():
                outp = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
                cache = outp.past_key_values
                cache.batch_repeat_interleave(args.samples)
                logits = outp.logits[:, -1, :].repeat_interleave(args.samples, dim=0)
                mask = mask.repeat_interleave(args.samples, dim=0)
                pos = positions[:, -1:].repeat_interleave(args.samples, dim=0)
                n = logits.shape[0]
                tokens = [[] for _ in range(n)]
                finished = [False] * n
                for step in range(args.max_new):
                    scaled = logits.float() / args.temperature
                    topv, topi = scaled.topk(args.top_k, dim=-1)
                    probs = torch.softmax(topv, dim=-1)
                    cum = probs.cumsum(-1)
                    keep = (cum - probs) < args.top_p
                    probs = probs * keep
                    probs = probs / probs.sum(-1, keepdim=True)
                    nxt = []
                    for r in range(n):
                        j = torch.multinomial(probs[r], 1, generator=gens[r // args.samples]).item()
                        nxt.append(int(topi[r, j]))
                    for r, t in enumerate(nxt):
                        if not finished[r]:
                            tokens[r].append(t)
                            if t in end_ids:
                                finished[r] = True
                    if all(finished):
                        break
                    mask = torch.cat([mask, torch.ones(n, 1, dtype=torch.long)], dim=1)
                    pos = pos + 1
                    outp = model(input_ids=torch.tensor(nxt).unsqueeze(1), attention_mask=mask, position_ids=pos,
                                 past_key_values=cache, use_cache=True)
                    cache = outp.past_key_values
                    logits = outp.logits[:, -1, :]
            for b, index in enumerate(group):
                samples = []
                for s in range(args.samples):
                    toks = tokens[b * args.samples + s]
                    ended = bool(toks) and toks[-1] in end_ids
                    text = tokenizer.decode(toks[:-1] if ended else toks)
                    samples.append({"ids": toks, "text": text, "ended": ended})
                n_new += 1
                keep_sample(f, done, index, settings, len(prompts[b]), samples, len(order), n_new, t0)
    return done, time.time() - t0


SWAP_NUMBER = re.compile(r"\b(1[0-9]{3}|20[0-9]{2}|[0-9]+(?:\.[0-9]+)?)\b")


def number_shape(text):
    """How many characters a number has without its thousands commas: a swap keeps numbers of one shape."""
    return len(text.replace(",", ""))


def minimal_swap(answer, context, rng, name_pool):
    """The answer with one number or capitalised name that the context holds swapped for one it does not hold;
    None when the answer has none."""
    known = {s for _, s in analysed(context)}
    numbers = [m for m in SWAP_NUMBER.finditer(answer) if stem(m.group(0)) in known]
    if numbers:
        m = rng.choice(numbers)
        value = m.group(0)
        for _ in range(20):
            if "." in value:
                new = f"{float(value) + rng.choice([-1, 1]) * rng.randint(1, 9) / (10 ** len(value.split('.')[1])) + rng.randint(0, 5):.{len(value.split('.')[1])}f}"
            elif len(value) == 4 and value[0] in "12":
                new = str(int(value) + rng.choice([-1, 1]) * rng.randint(1, 25))
            else:
                new = str(max(0, int(value) + rng.choice([-1, 1]) * rng.randint(1, max(3, int(value) // 2 + 1))))
            if new != value and stem(new) not in known:
                return answer[:m.start()] + new + answer[m.end():], value, new
    # Capitalised names after the first word.
    words = list(re.finditer(r"\b[A-Z][a-z]{2,}\b", answer))[1:]
    words = [m for m in words if m.group(0).lower() not in STOP_WORDS and stem(m.group(0).lower()) in known]
    if words and name_pool:
        m = rng.choice(words)
        for _ in range(20):
            new = rng.choice(name_pool)
            if stem(new.lower()) not in known and new != m.group(0):
                return answer[:m.start()] + new + answer[m.end():], m.group(0), new
    return None


CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:of|de|von|van|the|da|di|du|la|le|y)?\s*[A-Z][\w'-]*){0,3}")


def inside_swap(answer, gold, passages, question, rng):
    """The answer with its gold span swapped for another fact of the same kind that the same passages hold (a
    number for a number, a capitalised name for a name), so the wrong answer uses the passages' own words, as the
    answers the on-policy adapters got wrong do ("Longfellow added Divina to the title" where the passage names
    Longfellow as a translator); None when the gold span is not in the answer or the passages hold no such fact."""
    gold = gold.strip()
    start = answer.lower().find(gold.lower())
    if start < 0 or not gold:
        return None
    span = answer[start:start + len(gold)]
    numbers = list(SWAP_NUMBER.finditer(span))
    if numbers:     # a number or date: one number in it swapped for another of the same length the passages hold
        m = max(numbers, key=lambda m: len(m.group(0)))
        shape = number_shape(m.group(0))
        pool = sorted({n.group(0) for n in SWAP_NUMBER.finditer(passages)
                       if number_shape(n.group(0)) == shape and n.group(0) != m.group(0)})
        if not pool:
            return None
        new_span = span[:m.start()] + rng.choice(pool) + span[m.end():]
    elif span[:1].isupper():
        gold_norm, question_norm = normalize(gold), normalize(question)
        runs = {m.group(0).strip() for m in CAPITALISED_RUN.finditer(passages)}
        # Not the gold, not part of it or containing it, and not something the question names (that would restate it).
        pool = sorted(run for run, n in ((run, normalize(run)) for run in runs)
                      if len(run) > 2 and run.split()[0].lower() not in STOP_WORDS
                      and n and n not in gold_norm and gold_norm not in n and n not in question_norm)
        if not pool:
            return None
        new_span = rng.choice(pool)
    else:
        return None
    text = answer[:start] + new_span + answer[start + len(span):]
    return None if contains_answer(text, gold) else (text, span, new_span)


def corrected_swap(answer, gold, question):
    """A wrong answer with its one wrong fact replaced by the gold answer: the name (or number) the answer gives
    that the question does not, swapped for the gold span, so chosen and rejected differ in that fact only and the
    rejected side is the model's own answer. A model that is rarely right (SmolLM2 answers about one HaluEval
    question in five) gives few chosen samples, and these pairs teach which span of the passages answers. None
    when the gold is not a name or a number, or the answer holds no such candidate or more than one."""
    gold = gold.strip()
    if not gold or contains_answer(answer, gold):
        return None
    question_norm, gold_norm = normalize(question), normalize(gold)
    if SWAP_NUMBER.fullmatch(gold.replace(",", "")):
        shape = number_shape(gold)
        spans = [(m.start(), m.end()) for m in SWAP_NUMBER.finditer(answer)
                 if number_shape(m.group(0)) == shape and normalize(m.group(0)) not in question_norm]
    elif gold[:1].isupper():
        spans = []
        for m in CAPITALISED_RUN.finditer(answer):
            # Leading stop words ("The", "He") are sentence openers, not part of a name.
            words = list(re.finditer(r"\S+", m.group(0)))
            while words and words[0].group(0).lower().strip("'-") in STOP_WORDS:
                words.pop(0)
            if not words:
                continue
            start, end = m.start() + words[0].start(), m.start() + words[-1].end()
            n = normalize(answer[start:end])
            if len(n) > 2 and n not in question_norm and n not in gold_norm and gold_norm not in n:
                spans.append((start, end))
    else:
        return None
    if len(spans) != 1:
        return None
    start, end = spans[0]
    text = answer[:start] + gold + answer[end:]
    return (text, answer[start:end], gold) if contains_answer(text, gold) else None


def stage_pairs(args, rows, order, hits, samples, tokenizer, out):
    rng = random.Random(args.seed)
    # Every period-th question of the seeded order is held out, so the split does not depend on how many
    # questions the time limit let the sampler reach.
    period = max(2, int(round(1 / args.heldout_fraction)))
    heldout = set(order[::period])
    # Names for minimal pairs: capitalised words of all retrieved passages.
    name_pool = sorted({w for i in order for h in hits[i] for w in re.findall(r"\b[A-Z][a-z]{3,}\b",
                                                                               h["passage"]["text"])})
    pairs = []
    counts = Counter()
    labelled = Counter()

    def ids(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    for index in order:
        if index not in samples:
            continue
        row = rows[index]
        passages = retrieval_passages(hits[index])
        context = passages + "\n" + row["question"]
        gold = row["right_answer"]
        # A yes/no question's answer is not a span of the passages: never an abstain pair.
        yes_no = normalize(gold) in ("yes", "no")
        gold_in_passages = yes_no or contains_answer(passages, gold)
        prompt_ids = ids(retrieval_prompt(PromptTemplate.load(args.template), row["question"], hits[index]))
        split = "heldout" if index in heldout else "train"
        chosen, rejected, abstained = [], [], []
        for s in samples[index]["samples"]:
            if not s["ended"] or not s["text"].strip():
                labelled["unfinished"] += 1
                continue
            text = s["text"]
            words = len(text.split())
            right = contains_answer(text, gold)
            unsupported = unsupported_words(text, context)
            item = {"text": text, "ids": s["ids"], "words": words, "right": right, "unsupported": unsupported}
            if is_abstention(text) and not right:
                abstained.append(item)
                labelled["abstained"] += 1
            elif right and not unsupported:
                chosen.append(item)
                labelled["chosen"] += 1
            else:
                rejected.append(item)
                labelled["rejected_wrong" if not right else "rejected_unsupported"] += 1

        def add(kind, c_ids, r_ids, c_text, r_text, extra=None):
            pair = {"row": index, "split": split, "kind": kind, "prompt_ids": prompt_ids,
                    "chosen_ids": c_ids, "rejected_ids": r_ids, "chosen": c_text, "rejected": r_text}
            pair.update(extra or {})
            pairs.append(pair)
            counts[f"{split}:{kind}"] += 1

        if gold_in_passages:
            if abstained and chosen:      # the answer was there: a right answer beats not answering
                rejected.extend(abstained)
            used = 0
            rng.shuffle(rejected)
            taken = set()
            for c in chosen:
                if used >= args.pairs_per_question:
                    break
                for k, r in enumerate(rejected):
                    if k in taken:
                        continue
                    lo, hi = sorted((c["words"], r["words"]))
                    if hi <= args.length_ratio * max(lo, 1) and r["text"].strip() != c["text"].strip():
                        add("sampled", c["ids"], r["ids"], c["text"], r["text"],
                            {"rejected_unsupported": r["unsupported"], "rejected_right": r["right"]})
                        taken.add(k)
                        used += 1
                        break
            if chosen and args.minimal in ("outside", "both"):
                c = rng.choice(chosen)
                swapped = minimal_swap(c["text"], context, rng, name_pool)
                if swapped:
                    text, old, new = swapped
                    add("minimal", c["ids"], ids(text + IM_END), c["text"], text, {"swap": [old, new]})
            if chosen and not yes_no and args.minimal in ("inside", "both"):
                c = rng.choice(chosen)
                swapped = inside_swap(c["text"], gold, passages, row["question"], rng)
                if swapped:
                    text, old, new = swapped
                    add("inside", c["ids"], ids(text + IM_END), c["text"], text, {"swap": [old, new]})
            if args.corrected and not yes_no:
                fixed = 0
                for r in rejected:
                    if fixed >= args.corrected:
                        break
                    swapped = corrected_swap(r["text"], gold, row["question"])   # None for a right answer
                    if swapped:
                        text, old, new = swapped
                        add("corrected", ids(text + IM_END), r["ids"], text, r["text"], {"swap": [old, new]})
                        fixed += 1
        else:
            candidates = [r for r in rejected if r["words"] >= 4] or rejected
            if candidates:
                r = rng.choice(candidates)
                if abstained:
                    c = rng.choice(abstained)
                    c_ids, c_text = c["ids"], c["text"]
                else:
                    c_text = ABSTAIN_SENTENCES[rng.randrange(len(ABSTAIN_SENTENCES))]
                    c_ids = ids(c_text + IM_END)
                add("abstain", c_ids, r["ids"], c_text, r["text"], {"own_abstention": bool(abstained)})
        counts["gold_in_passages" if gold_in_passages else "gold_not_in_passages"] += 1

    with open(out / "pairs.jsonl", "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    return pairs, counts, labelled


def main():
    args = parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wall = time.time()
    rows = load_rows(args.data)
    order = question_order(args.seed, args.questions)
    template = PromptTemplate.load(args.template)
    meta_path = out / "build_metadata.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta.update({"questions": args.questions, "rows": "numpy.random.default_rng(%d).permutation(8000)[:%d]"
                 % (args.seed, args.questions), "settings": vars(args)})

    hits, seconds = stage_retrieve(args, rows, order, out)
    meta.setdefault("seconds", {})["retrieve"] = round(seconds, 1)
    if args.stage == "retrieve":
        meta_path.write_text(json.dumps(meta, indent=2) + "\n"); return

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.models_dir, gguf_file=args.gguf)
    if args.stage in ("all", "verify"):
        meta["verified"] = stage_verify(args, rows, order, hits, template, tokenizer)
        if args.stage == "verify":
            meta_path.write_text(json.dumps(meta, indent=2) + "\n"); return

    samples = {}
    if args.stage in ("all", "sample"):
        if args.sampler == "dera":
            samples, seconds = stage_sample_dera(args, rows, order, hits, tokenizer, out)
        else:
            t0 = time.time()
            model = AutoModelForCausalLM.from_pretrained(args.models_dir, gguf_file=args.gguf, dtype=torch.float32)
            model.eval()
            meta["seconds"]["model_load"] = round(time.time() - t0, 1)
            samples, seconds = stage_sample(args, rows, order, hits, template, model, tokenizer, out)
            del model
        meta["seconds"]["sample_this_run"] = round(seconds, 1)
        meta["seconds"]["sample_total"] = round(meta["seconds"].get("sample_total", 0) + seconds, 1)
    else:
        for line in open(out / "samples.jsonl", encoding="utf-8"):
            r = json.loads(line)
            samples[r["row"]] = r
    pairs, counts, labelled = stage_pairs(args, rows, order, hits, samples, tokenizer, out)
    meta.update({"questions_sampled": len(samples), "samples": sum(len(s["samples"]) for s in samples.values()),
                 "sample_labels": dict(labelled), "pairs": len(pairs), "pair_counts": dict(sorted(counts.items()))})
    meta["seconds"]["wall_this_run"] = round(time.time() - wall, 1)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps({k: meta[k] for k in ("questions_sampled", "samples", "sample_labels", "pairs", "pair_counts")},
                     indent=1), flush=True)


if __name__ == "__main__":
    main()
