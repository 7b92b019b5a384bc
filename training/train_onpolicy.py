"""DPO on on-policy preference pairs (build_onpolicy.py) for a reference model, LoRA on its top layers.

The pairs of one question share its prompt, so each question is one packed row
`[prompt, answer 1, answer 2, ...]`: every answer takes positions len(prompt).. and sees the prompt and itself
only (a 4D mask), so the prompt is computed once for all its answers.

Cost on 2 shared cores decides the shape: the LoRA layers are the top --layers decoder layers (all seven
projections q/k/v/o/gate/up/down in each; PEFT's `layers_to_transform`). The layers below them are frozen and
never change, so their output for every row is computed once (one no-grad pass of the whole model, which also
gives the reference log-probabilities of every answer) and cached; each training step then runs only the top
layers, forward and backward. The reference is exactly the model with the adapter disabled.

    loss = -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))      (summed answer-token log-probs)

Held-out questions (split by build_onpolicy.py) are scored every --eval-every steps: reward accuracy, margin,
the chosen answers' log-prob change, and KL(reference || policy) estimated on the reference's own sampled answers
(mean of ref - pi over sampled answers, per answer and per token).

Writes OUT/adapter_config.json, OUT/adapter_model.safetensors (F16) and OUT/training_metadata.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from train_dpo import save_f16_adapter, sha256

TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def parse_args():
    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--pairs", default=str(root / "data/onpolicy/qwen05/pairs.jsonl"))
    p.add_argument("--skip-kinds", default="",
                   help="comma-separated pair kinds to leave out (e.g. corrected): one pairs file, several recipes")
    p.add_argument("--build-metadata", default=None, help="default: build_metadata.json beside --pairs")
    p.add_argument("--layers", type=int, default=4, help="LoRA on the top this many decoder layers")
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--questions-per-step", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=20262)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16)
    p.add_argument("--max-tokens", type=int, default=1200, help="questions whose packed row is longer are skipped")
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--max-questions", type=int, default=0,
                   help="train on the first N training questions (and N/4 held-out ones) only; 0: all")
    p.add_argument("--time-limit", type=float, default=0, help="stop training after this many minutes (0: none)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models-dir", default=str(root / "models"))
    p.add_argument("--gguf", default="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
    p.add_argument("--base-name", default="Qwen/Qwen2.5-Coder-0.5B-Instruct")
    p.add_argument("--cache", default=None, help="frozen-layer cache file (default: beside --pairs)")
    p.add_argument("--out", default=str(root / "models/adapters/qwen05-onpolicy-dpo-beta0.1"))
    return p.parse_args()


def group_questions(pairs):
    """Per question: prompt ids, the distinct answers, and pairs as (chosen index, rejected index, kind)."""
    questions = {}
    for p in pairs:
        q = questions.setdefault(p["row"], {"row": p["row"], "split": p["split"], "prompt": p["prompt_ids"],
                                            "answers": [], "sampled": [], "pairs": []})
        assert q["prompt"] == p["prompt_ids"]

        def index_of(ids, sampled):
            ids = list(ids)
            if ids not in q["answers"]:
                q["answers"].append(ids)
                q["sampled"].append(sampled)
            return q["answers"].index(ids)
        c = index_of(p["chosen_ids"], p["kind"] == "sampled" or p.get("own_abstention", False))
        r = index_of(p["rejected_ids"], p["kind"] in ("sampled", "abstain", "corrected"))
        q["pairs"].append((c, r, p["kind"]))
    return list(questions.values())


def packed_row(q):
    """input ids, position ids, 4D bool mask (1, 1, T, T) and, per answer, (positions predicting it, targets)."""
    P = len(q["prompt"])
    ids = list(q["prompt"])
    pos = list(range(P))
    spans = []
    for a in q["answers"]:
        spans.append((len(ids), len(a)))
        ids += a
        pos += list(range(P, P + len(a)))
    T = len(ids)
    mask = torch.zeros(T, T, dtype=torch.bool)
    mask[:P, :P] = torch.ones(P, P, dtype=torch.bool).tril()
    for start, n in spans:
        mask[start:start + n, :P] = True
        mask[start:start + n, start:start + n] = torch.ones(n, n, dtype=torch.bool).tril()
    predict = []
    for (start, n), a in zip(spans, q["answers"]):
        cols = [P - 1] + [start + j - 1 for j in range(1, n)]   # answer token j is predicted at cols[j]
        predict.append((cols, a))
    return torch.tensor([ids]), torch.tensor([pos]), mask[None, None], predict


def answer_logprobs(hidden, lm_head, predict):
    """Summed log-probs of each answer from final hidden states (1, T, H)."""
    cols = [c for cs, _ in predict for c in cs]
    targets = [t for _, a in predict for t in a]
    owner = [i for i, (cs, _) in enumerate(predict) for _ in cs]
    logp = F.log_softmax(lm_head(hidden[0, cols]).float(), dim=-1)
    tok = logp.gather(1, torch.tensor(targets)[:, None])[:, 0]
    return torch.zeros(len(predict)).index_add(0, torch.tensor(owner), tok)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    import peft
    import transformers
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    wall = time.time()
    pairs_path = Path(args.pairs)
    pairs = [json.loads(line) for line in open(pairs_path, encoding="utf-8")]
    skipped_kinds = sorted(k for k in args.skip_kinds.split(",") if k)
    if skipped_kinds:
        before = len(pairs)
        pairs = [p for p in pairs if p["kind"] not in skipped_kinds]
        print(f"left out {before - len(pairs)} pairs of kind {', '.join(skipped_kinds)}", flush=True)
    assert all(p["row"] < 8000 for p in pairs), "a pair comes from an evaluation row (>= 8000)"
    questions = [q for q in group_questions(pairs)]
    too_long = [q["row"] for q in questions if len(q["prompt"]) + sum(map(len, q["answers"])) > args.max_tokens]
    questions = [q for q in questions if q["row"] not in too_long]
    train = [q for q in questions if q["split"] == "train"]
    heldout = [q for q in questions if q["split"] == "heldout"]
    if args.max_questions:   # the first ones in the pairs file's (seeded) order: a cheaper run on 2 cores
        train, heldout = train[:args.max_questions], heldout[:max(1, args.max_questions // 4)]
        kept = {q["row"] for q in train + heldout}
        questions = [q for q in questions if q["row"] in kept]
    kinds = Counter(f"{q['split']}:{k}" for q in questions for _, _, k in q["pairs"])
    print(f"{len(pairs)} pairs; {len(train)} training and {len(heldout)} held-out questions "
          f"({len(too_long)} skipped as longer than {args.max_tokens} tokens); {dict(kinds)}", flush=True)

    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(args.models_dir, gguf_file=args.gguf, dtype=torch.float32)
    model.eval()
    load_seconds = time.time() - t0
    n_layers = model.config.num_hidden_layers
    first = n_layers - args.layers
    assert 0 <= first < n_layers
    # Qwen2 configs list each layer's attention; Llama (SmolLM2) configs have no such list: every layer is full.
    layer_types = getattr(model.config, "layer_types", None) or ["full_attention"] * model.config.num_hidden_layers
    assert all(t == "full_attention" for t in layer_types), "sliced layers assume full attention"
    print(f"model loaded in {load_seconds:.0f} s; LoRA on layers {first}..{n_layers - 1}", flush=True)

    # Frozen part: the input of layer `first` for every row, and the reference log-probs of every answer.
    cache_path = Path(args.cache) if args.cache else pairs_path.with_name(f"frozen-cache-L{first}.pt")
    key = hashlib.sha256(json.dumps([args.gguf, first, [(q["prompt"], q["answers"]) for q in questions]])
                         .encode()).hexdigest()
    cache = {}
    if cache_path.exists():
        stored = torch.load(cache_path)
        if stored.get("key") == key:
            cache = stored["rows"]
        elif stored.get("gguf") == args.gguf and stored.get("first") == first:
            cache = stored["rows"]   # reuse rows whose packing is unchanged (checked per row below)
    t0 = time.time()
    computed = 0
    saved = time.time()
    for n, q in enumerate(questions):
        ids, pos, mask, predict = packed_row(q)
        row_key = hashlib.sha256(json.dumps([q["prompt"], q["answers"]]).encode()).hexdigest()
        if q["row"] in cache and cache[q["row"]]["key"] == row_key:
            continue
        with torch.no_grad():
            out = model.model(input_ids=ids, attention_mask=mask, position_ids=pos, output_hidden_states=True)
            ref = answer_logprobs(out.last_hidden_state, model.lm_head, predict)
        cache[q["row"]] = {"key": row_key, "hidden": out.hidden_states[first].clone(), "ref": ref}
        computed += 1
        if computed % 10 == 0:
            print(f"frozen pass: {computed} rows, {time.time() - t0:.0f} s", flush=True)
        if time.time() - saved > 300:   # the whole cache is rewritten: every 5 minutes, not every few rows
            torch.save({"key": key, "gguf": args.gguf, "first": first, "rows": cache}, cache_path)
            saved = time.time()
    torch.save({"key": key, "gguf": args.gguf, "first": first, "rows": cache}, cache_path)
    frozen_seconds = time.time() - t0
    print(f"frozen pass: {computed} rows computed, {len(questions) - computed} cached, {frozen_seconds:.0f} s",
          flush=True)

    torch.manual_seed(args.seed)
    config = LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=0.0, bias="none",
                        target_modules=TARGET_MODULES, layers_to_transform=list(range(first, n_layers)),
                        use_rslora=False, task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    base = model.get_base_model()
    body, lm_head = base.model, base.lm_head
    all_layers = body.layers
    top_layers = torch.nn.ModuleList(list(all_layers)[first:])

    def policy_logprobs(q):
        ids, pos, mask, predict = packed_row(q)
        body.layers = top_layers
        try:
            hidden = body(inputs_embeds=cache[q["row"]]["hidden"], attention_mask=mask, position_ids=pos)
        finally:
            body.layers = all_layers
        return answer_logprobs(hidden.last_hidden_state, lm_head, predict)

    # Check: with the adapter's B = 0 the sliced policy pass gives the reference log-probs.
    check = policy_logprobs(train[0]).detach()
    drift = (check - cache[train[0]["row"]]["ref"]).abs().max().item()
    print(f"sliced pass vs full pass at initialisation: max |delta log-prob| = {drift:.2e}", flush=True)
    assert drift < 1e-2, drift

    rng = np.random.default_rng(args.seed)
    steps_per_epoch = int(np.ceil(len(train) / args.questions_per_step))
    total_steps = int(round(args.epochs * steps_per_epoch))
    schedule = []
    while len(schedule) < total_steps * args.questions_per_step:
        schedule += [train[i] for i in rng.permutation(len(train))]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, betas=(0.9, 0.999), weight_decay=0.0)

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        return args.lr * max(0.0, (total_steps - step) / max(1, total_steps - args.warmup))

    def evaluate(qs):
        stats = defaultdict(list)
        with torch.no_grad():
            for q in qs:
                pi = policy_logprobs(q)
                ref = cache[q["row"]]["ref"]
                for c, r, kind in q["pairs"]:
                    margin = (pi[c] - ref[c]) - (pi[r] - ref[r])
                    stats["acc"].append(float(margin > 0))
                    stats[f"acc_{kind}"].append(float(margin > 0))
                    stats["margin"].append(args.beta * margin.item())
                    stats["loss"].append(-F.logsigmoid(args.beta * margin).item())
                    stats["chosen_logratio"].append((pi[c] - ref[c]).item())
                    stats["rejected_logratio"].append((pi[r] - ref[r]).item())
                for i, a in enumerate(q["answers"]):
                    if q["sampled"][i]:
                        stats["kl_per_answer"].append((ref[i] - pi[i]).item())
                        stats["kl_per_token"].append((ref[i] - pi[i]).item() / len(a))
        out = {k: round(float(np.mean(v)), 4) for k, v in stats.items()}
        out["pairs"] = len(stats["acc"])
        return out

    curve, evals = [], []
    e = {"step": 0, "heldout": evaluate(heldout), "train_sample": evaluate(train[:20])}
    evals.append(e)
    print(json.dumps(e), flush=True)
    model.train()
    train_start = time.time()
    window = defaultdict(list)
    steps_done = 0
    for step in range(total_steps):
        if args.time_limit and time.time() - train_start > args.time_limit * 60:
            print(f"time limit reached after {step} steps", flush=True)
            break
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        batch = schedule[step * args.questions_per_step:(step + 1) * args.questions_per_step]
        n_pairs = sum(len(q["pairs"]) for q in batch)
        optimizer.zero_grad()
        for q in batch:
            pi = policy_logprobs(q)
            ref = cache[q["row"]]["ref"]
            c = torch.tensor([c for c, _, _ in q["pairs"]])
            r = torch.tensor([r for _, r, _ in q["pairs"]])
            margin = (pi[c] - ref[c]) - (pi[r] - ref[r])
            loss = -F.logsigmoid(args.beta * margin).sum() / n_pairs
            loss.backward()
            window["loss"].extend((-F.logsigmoid(args.beta * margin)).tolist())
            window["acc"].extend((margin > 0).float().tolist())
            window["chosen"].extend((pi[c] - ref[c]).tolist())
            window["rejected"].extend((pi[r] - ref[r]).tolist())
        optimizer.step()
        steps_done = step + 1
        if steps_done % 5 == 0 or steps_done == total_steps:
            point = {"step": steps_done, "loss": round(float(np.mean(window["loss"])), 4),
                     "reward_accuracy": round(float(np.mean(window["acc"])), 3),
                     "chosen_logratio": round(float(np.mean(window["chosen"])), 3),
                     "rejected_logratio": round(float(np.mean(window["rejected"])), 3),
                     "lr": lr_at(step), "seconds": round(time.time() - train_start, 1)}
            curve.append(point)
            print(json.dumps(point), flush=True)
            window = defaultdict(list)
        if steps_done % args.eval_every == 0 or steps_done == total_steps:
            model.eval()
            e = {"step": steps_done, "heldout": evaluate(heldout), "seconds": round(time.time() - train_start, 1)}
            model.train()
            evals.append(e)
            print(json.dumps(e), flush=True)
    train_seconds = time.time() - train_start
    if evals[-1]["step"] != steps_done:
        model.eval()
        evals.append({"step": steps_done, "heldout": evaluate(heldout), "seconds": round(train_seconds, 1)})
        print(json.dumps(evals[-1]), flush=True)

    out = Path(args.out)
    weights_path, max_abs = save_f16_adapter(model, out, f"{args.base_name} (models/{args.gguf})")

    build_meta_path = Path(args.build_metadata) if args.build_metadata else pairs_path.with_name("build_metadata.json")
    build_meta = json.loads(build_meta_path.read_text()) if build_meta_path.exists() else {}
    best = max(evals, key=lambda e: e["heldout"].get("acc", 0))
    metadata = {
        "beta": args.beta,
        "method": "DPO on on-policy pairs (training/build_onpolicy.py, training/train_onpolicy.py); reference = "
                  "the same model with the adapter disabled",
        "loss": "-logsigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))), summed answer-token log-probs (answer and "
                "<|im_end|>), mean over the pairs of a step",
        "base_model": {"file": "models/" + args.gguf, "sha256": sha256(Path(args.models_dir) / args.gguf),
                       "loaded_as": "transformers from_pretrained(models, gguf_file=...), dequantised to float32; "
                                    "qwen2 GGUFs keep Hugging Face Q/K row order, so no permutation"},
        "lora": {"r": args.rank, "lora_alpha": args.alpha, "scaling": args.alpha / args.rank, "use_rslora": False,
                 "lora_dropout": 0.0, "bias": "none", "target_modules": TARGET_MODULES,
                 "layers": list(range(first, n_layers)), "model_layers": n_layers,
                 "why_top_layers_only": "cost: the frozen layers below are computed once per question and cached, "
                                        "so a step runs only the top layers on 2 shared cores",
                 "trainable_parameters": n_trainable, "stored_dtype": "float16 (trained in float32)",
                 "max_abs_weight": max_abs},
        "data": {"pairs_file": str(pairs_path.relative_to(Path(args.models_dir).parent)) if pairs_path.is_relative_to(
                     Path(args.models_dir).parent) else str(pairs_path),
                 "pairs_sha256": sha256(pairs_path),
                 "skipped_kinds": skipped_kinds,
                 "pairs": len(pairs), "pairs_by_kind": dict(sorted(kinds.items())),
                 "training_questions": len(train), "heldout_questions": len(heldout),
                 "skipped_too_long": too_long,
                 "build": {k: build_meta.get(k) for k in ("questions", "rows", "questions_sampled", "samples",
                                                          "sample_labels", "pairs", "pair_counts", "seconds",
                                                          "verified")},
                 "build_settings": {k: v for k, v in build_meta.get("settings", {}).items()
                                    if k not in ("dera", "db", "models_dir", "data", "template", "out")},
                 "training_rows": sorted(q["row"] for q in train), "heldout_rows": sorted(q["row"] for q in heldout)},
        "training": {"epochs_planned": args.epochs, "steps_planned": total_steps, "steps_done": steps_done,
                     "questions_per_step": args.questions_per_step, "lr": args.lr,
                     "schedule": f"linear warm-up {args.warmup} steps, then linear decay to 0 at the planned end",
                     "optimizer": "AdamW(betas=(0.9, 0.999), eps=1e-8, weight_decay=0)", "grad_clip_norm": None,
                     "seed": args.seed, "threads": args.threads, "precision": "float32"},
        "curve": curve,
        "heldout_evaluations": evals,
        "heldout_final": evals[-1]["heldout"],
        "heldout_best_step": best["step"],
        "seconds": {"model_load": round(load_seconds, 1), "frozen_pass": round(frozen_seconds, 1),
                    "frozen_rows_computed": computed, "training": round(train_seconds, 1),
                    "mean_step": round(train_seconds / max(1, steps_done), 2),
                    "total_wall": round(time.time() - wall, 1)},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "peft": peft.__version__, "numpy": np.__version__,
                     "safetensors": __import__("importlib.metadata").metadata.version("safetensors"),
                     "gguf": __import__("importlib.metadata").metadata.version("gguf")},
        "machine": {"cpu_threads": args.threads, "platform": platform.platform(),
                    "note": "2 cores shared with other sessions' builds and evaluations, run at nice 10; wall "
                            "times are upper bounds"},
        "command": "training/train_onpolicy.py " + " ".join(sys.argv[1:]),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / "training_metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    print(f"wrote {out} ({weights_path.stat().st_size:,} bytes) in {time.time() - wall:.0f} s", flush=True)


if __name__ == "__main__":
    main()
