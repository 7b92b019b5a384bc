"""Held-out preference accuracy of the committed adapters on HaluEval QA evaluation rows (8000 onwards, never
trained on).

    python3 training/eval_preferences.py [--rows 200] [--adapters models/adapters/smollm2-dpo-beta*]

For each row: the summed answer log-probs of the chosen (right_answer) and rejected (hallucinated_answer) replies
under the reference model and under each adapter, with the same prompt and answer format as training. Writes
models/adapters/heldout-preferences.json with, per adapter:
- reward_accuracy: share of rows with (pi_c - ref_c) - (pi_r - ref_r) > 0 (the DPO implicit reward ranks the
  pair correctly);
- mean_reward_margin: mean of beta * that difference; mean_dpo_loss at the adapter's beta;
- logp_prefers_chosen: share of rows where the adapter itself gives the chosen reply the higher summed log-prob
  (reference_logp_prefers_chosen is the same for the reference model).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from dera_prompt import PromptTemplate
from train_dpo import EVAL_ROWS, encode_pair, load_model_and_tokenizer, pair_logprobs

ROOT = Path(__file__).resolve().parent.parent


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200, help="evaluate rows 8000 .. 8000+N-1")
    p.add_argument("--adapters", nargs="*", default=None)
    p.add_argument("--out", default=str(ROOT / "models/adapters/heldout-preferences.json"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", default="/tmp/dera-heldout-reference-logprobs.json",
                   help="reference log-probs of the rows, reused across runs")
    p.add_argument("--reference-only", action="store_true", help="only compute the reference log-probs")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from peft import PeftModel

    adapters = args.adapters or sorted(str(d) for d in (ROOT / "models/adapters").glob("smollm2-dpo-beta*"))
    start = time.time()
    model, tokenizer = load_model_and_tokenizer(str(ROOT / "models"), "SmolLM2-135M-Instruct.Q4_1.gguf")
    model.eval()
    template = PromptTemplate.load(ROOT / "prompts/grounded-qa.txt")
    lines = (ROOT / "data/halueval/dataset_halueval_qa.jsonl").read_text(encoding="utf-8").split("\n")
    indices = list(range(EVAL_ROWS.start, EVAL_ROWS.start + args.rows))
    assert indices[-1] in EVAL_ROWS
    pairs = [encode_pair(tokenizer, template, json.loads(lines[i])) for i in indices]

    def logprobs(m):
        base = m.get_base_model() if hasattr(m, "get_base_model") else m
        chosen, rejected = [], []
        with torch.no_grad():
            for s in range(0, len(pairs), 4):
                c, r = pair_logprobs(base.model, base.lm_head, pairs[s:s + 4])
                chosen += c.tolist()
                rejected += r.tolist()
        return np.array(chosen), np.array(rejected)

    # The reference log-probs are the same for every adapter: computed once, kept in --cache.
    cache = Path(args.cache)
    cached = json.loads(cache.read_text()) if cache.exists() else {}
    if len(cached.get("chosen", [])) >= len(pairs) and cached.get("first_row") == indices[0]:
        ref_c, ref_r = np.array(cached["chosen"][:len(pairs)]), np.array(cached["rejected"][:len(pairs)])
        print(f"reference log-probs from {cache}", flush=True)
    else:
        ref_c, ref_r = logprobs(model)
        cache.write_text(json.dumps({"first_row": indices[0], "chosen": ref_c.tolist(), "rejected": ref_r.tolist()}))
        print(f"reference done at {time.time() - start:.0f} s", flush=True)
    if args.reference_only:
        return
    names = [Path(a).name for a in adapters]
    slots = [f"adapter{i}" for i in range(len(adapters))]   # PEFT adapter names cannot contain "."
    peft_model = PeftModel.from_pretrained(model, adapters[0], adapter_name=slots[0])
    for slot, path in zip(slots[1:], adapters[1:]):
        peft_model.load_adapter(path, adapter_name=slot)
    peft_model.eval()

    results = {}
    for slot, name, path in zip(slots, names, adapters):
        peft_model.set_adapter(slot)
        beta = json.loads((Path(path) / "training_metadata.json").read_text())["beta"]
        t = time.time()
        pi_c, pi_r = logprobs(peft_model)
        margin = (pi_c - ref_c) - (pi_r - ref_r)
        results[name] = {
            "beta": beta,
            "reward_accuracy": float(np.mean(margin > 0)),
            "mean_reward_margin": float(np.mean(beta * margin)),
            "mean_dpo_loss": float(np.mean(np.logaddexp(0.0, -beta * margin))),
            "logp_prefers_chosen": float(np.mean(pi_c > pi_r)),
            "mean_logp_chosen": float(np.mean(pi_c)),
            "mean_logp_rejected": float(np.mean(pi_r)),
            "seconds": round(time.time() - t, 1),
        }
        print(name, json.dumps(results[name]), f"at {time.time() - start:.0f} s", flush=True)

    out = Path(args.out)
    if out.exists():   # keep adapters evaluated earlier on the same rows
        previous = json.loads(out.read_text())
        if previous.get("pairs") == len(pairs):
            results = {**previous["adapters"], **results}
    report = {
        "rows": f"{indices[0]}-{indices[-1]} of data/halueval/dataset_halueval_qa.jsonl (evaluation split)",
        "pairs": len(pairs),
        "format": "same prompt and answers as training (training/dera_prompt.py); summed answer-token log-probs",
        "reference": {"logp_prefers_chosen": float(np.mean(ref_c > ref_r)),
                      "mean_logp_chosen": float(np.mean(ref_c)), "mean_logp_rejected": float(np.mean(ref_r))},
        "adapters": results,
        "command": "python3 training/eval_preferences.py --rows " + str(args.rows),
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
