#!/usr/bin/env bash
# Set up the pinned environment (idempotent) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
# -n auto: pytest-xdist spreads the tests over the cores (one worker builds the RTL, the rest reuse it).
exec .venv/bin/python -m pytest tests/ -n auto "$@"
