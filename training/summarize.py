"""Print the adapters' training table (markdown) from their training_metadata.json and heldout-preferences.json.

    python3 training/summarize.py
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = ROOT / "models/adapters"


def main():
    heldout_path = ADAPTERS / "heldout-preferences.json"
    heldout = json.loads(heldout_path.read_text()) if heldout_path.exists() else {"adapters": {}}
    print("| beta | steps x pairs | final train loss (last 5 steps) | train reward acc. (last 5 steps) "
          f"| held-out reward acc. ({heldout.get('pairs', '-')} rows) | held-out DPO loss "
          "| adapter prefers chosen (held-out) | mean log p chosen / rejected (held-out) | training wall | adapter file |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    dirs = sorted(ADAPTERS.glob("smollm2-dpo-beta*"), key=lambda d: json.loads(
        (d / "training_metadata.json").read_text())["beta"])
    for d in dirs:
        meta = json.loads((d / "training_metadata.json").read_text())
        last = meta["curve"][-1]
        h = heldout["adapters"].get(d.name)
        size = (d / "adapter_model.safetensors").stat().st_size
        cells = [
            f"{meta['beta']:g}",
            f"{meta['training']['steps']} x {meta['training']['batch_pairs']}",
            f"{last['loss']:.3f}",
            f"{last['reward_accuracy']:.2f}",
            f"{h['reward_accuracy']:.2f}" if h else "-",
            f"{h['mean_dpo_loss']:.3f}" if h else "-",
            f"{h['logp_prefers_chosen']:.2f}" if h else "-",
            f"{h['mean_logp_chosen']:.1f} / {h['mean_logp_rejected']:.1f}" if h else "-",
            f"{meta['seconds']['training'] / 60:.1f} min ({meta['seconds']['mean_step']:.0f} s/step)",
            f"{size / 1e6:.2f} MB (F16)",
        ]
        print("| " + " | ".join(cells) + " |")
    if "reference" in heldout:
        r = heldout["reference"]
        print(f"\nReference model (no adapter), same rows: prefers the chosen answer on "
              f"{r['logp_prefers_chosen']:.2f} of them; mean log p chosen / rejected "
              f"{r['mean_logp_chosen']:.1f} / {r['mean_logp_rejected']:.1f}.")


if __name__ == "__main__":
    main()
