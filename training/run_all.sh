#!/usr/bin/env bash
# Train the three committed adapters one after another (beta 0.1 first), identical except for beta.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for beta in 0.1 0.05 0.2; do
  "$here/train_dpo.sh" --beta "$beta" --log-every 5 "$@"
done
