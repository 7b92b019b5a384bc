# Sourced by the training scripts: sets $python to an interpreter with every pin of requirements.txt, using the
# system python3 (or $PYTHON) when it already has them at exactly those versions, otherwise training/.venv
# (created and filled on first use).
pinned_python_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
has_pins() {  # every line of requirements.txt is installed at exactly that version
  "$1" - "$pinned_python_here/requirements.txt" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if have.split("+")[0] != want:
        sys.exit(1)
PY
}
if ! has_pins "$python"; then
  venv="$pinned_python_here/.venv"
  if [[ ! -x "$venv/bin/python" ]] || ! has_pins "$venv/bin/python"; then
    echo "training: installing requirements.txt into $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$pinned_python_here/requirements.txt"
  fi
  python="$venv/bin/python"
fi
