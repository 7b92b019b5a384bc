"""Record the fixture for dera's LoRA loader test: last-position logits of SmolLM2-135M-Instruct with and without
a committed adapter, computed by transformers + peft in float32.

    python3 training/record_adapter_logits.py [--adapter models/adapters/smollm2-dpo-beta0.1]
        [--out Tests/Fixtures/adapter-logits-smollm2.json]

The prompts are dera's grounded-QA prompts for HaluEval QA evaluation rows 8000-8002 (the row's knowledge as the
single passage). The adapter is read from its committed safetensors (F16 values upcast to F32), exactly what
dera reads. transformers un-permutes the GGUF's Q/K rows into Hugging Face layout, so the adapter's q_proj and
k_proj deltas are in that layout; an engine that keeps the GGUF (llama.cpp) row order must permute lora_B rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import torch

from dera_prompt import PromptTemplate, halueval_prompt

ROOT = Path(__file__).resolve().parent.parent
ROWS = [8000, 8001, 8002]
TOP_K = 20


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def top(logits, k=TOP_K):
    values, ids = torch.topk(logits, k)
    return {"argmax": int(torch.argmax(logits)), "top_ids": ids.tolist(),
            "top_logits": [round(v, 6) for v in values.tolist()]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--adapter", default="models/adapters/smollm2-dpo-beta0.1")
    p.add_argument("--out", default="Tests/Fixtures/adapter-logits-smollm2.json")
    p.add_argument("--gguf", default="SmolLM2-135M-Instruct.Q4_1.gguf")
    args = p.parse_args()
    torch.set_num_threads(2)

    import peft
    import transformers
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    models = ROOT / "models"
    tokenizer = AutoTokenizer.from_pretrained(str(models), gguf_file=args.gguf)
    base = AutoModelForCausalLM.from_pretrained(str(models), gguf_file=args.gguf, dtype=torch.float32)
    base.eval()
    template = PromptTemplate.load(ROOT / "prompts/grounded-qa.txt")
    lines = (ROOT / "data/halueval/dataset_halueval_qa.jsonl").read_text(encoding="utf-8").split("\n")
    texts = [halueval_prompt(template, json.loads(lines[i])) for i in ROWS]
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]

    def last_logits(model, token_ids):
        with torch.no_grad():
            return model(input_ids=torch.tensor([token_ids])).logits[0, -1].float()

    reference = [last_logits(base, i) for i in ids]
    adapter_dir = ROOT / args.adapter
    model = PeftModel.from_pretrained(base, str(adapter_dir))
    model.eval()
    lora_dtypes = sorted({str(p.dtype) for n, p in model.named_parameters() if "lora_" in n})
    aligned = [last_logits(model, i) for i in ids]
    with model.disable_adapter():   # the adapter disabled must give the reference back exactly
        again = [last_logits(model, i) for i in ids]
    assert all(torch.equal(a, b) for a, b in zip(again, reference)), "disable_adapter changed the base logits"

    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    from safetensors import safe_open
    with safe_open(str(adapter_dir / "adapter_model.safetensors"), "pt") as f:
        stored = sorted({f.get_slice(k).get_dtype() for k in f.keys()})
    prompts = []
    for row, text, token_ids, ref, ali in zip(ROWS, texts, ids, reference, aligned):
        ref_top = top(ref)
        prompts.append({
            "row": row,
            "text": text,
            "ids": token_ids,
            "reference": ref_top,
            "aligned": top(ali),
            "aligned_at_reference_top": [round(ali[i].item(), 6) for i in ref_top["top_ids"]],
            "max_abs_shift_all": round((ali - ref).abs().max().item(), 6),
            "max_abs_shift_at_reference_top": round((ali - ref)[ref_top["top_ids"]].abs().max().item(), 6),
        })

    fixture = {
        "model": {"file": args.gguf, "bytes": (models / args.gguf).stat().st_size, "sha256": sha256(models / args.gguf)},
        "adapter": {"path": args.adapter,
                    "safetensors_sha256": sha256(adapter_dir / "adapter_model.safetensors"),
                    "r": config["r"], "lora_alpha": config["lora_alpha"],
                    "scaling": config["lora_alpha"] / config["r"], "use_rslora": config.get("use_rslora", False),
                    "target_modules": sorted(config["target_modules"]),
                    "stored_dtype": stored, "computed_dtype": lora_dtypes},
        "reference": {"engine": "transformers + peft", "transformers": transformers.__version__,
                      "peft": peft.__version__, "torch": torch.__version__,
                      "load": "AutoModelForCausalLM.from_pretrained(models, gguf_file=..., dtype=torch.float32); "
                              "PeftModel.from_pretrained(base, adapter) (unmerged: y = W x + scaling * B A x)",
                      "layout": "transformers un-permutes the GGUF's Q/K rows into Hugging Face (rotate-half) "
                                "layout; the adapter's q_proj/k_proj lora_B rows are in that layout",
                      "input": "ids as recorded, no BOS; one sequence, no padding",
                      "recorded_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "settings": {"top_k": TOP_K, "position": "logits for the token after the last prompt token",
                     "prompt": "prompts/grounded-qa.txt, passages = '[1] ' + knowledge of HaluEval QA row `row`, "
                               "ChatML with the assistant header",
                     "tolerance_hint": "both sides are float32 computations of the same weights; agreement to "
                                       "~1e-3 is expected"},
        "prompts": prompts,
    }
    out = ROOT / args.out
    out.write_text(json.dumps(fixture, indent=1) + "\n")
    for entry in prompts:
        print(f"row {entry['row']}: {len(entry['ids'])} ids, reference argmax {entry['reference']['argmax']}, "
              f"aligned argmax {entry['aligned']['argmax']}, max |shift| {entry['max_abs_shift_all']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
