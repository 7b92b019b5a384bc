#!/usr/bin/env bash
# Train the three committed adapters one after another (beta 0.1 first), identical except for beta.
# The first run stores the reference log-probs of its batches; the others reuse them (they do not depend on beta).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="$(mktemp -d)/reference-logprobs.json"
for beta in 0.1 0.05 0.2; do
  "$here/train_dpo.sh" --beta "$beta" --ref-cache "$cache" "$@"
done
