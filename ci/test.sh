#!/usr/bin/env bash
# Set up the pinned environment (idempotent) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
exec .venv/bin/python -m pytest tests/ "$@"
