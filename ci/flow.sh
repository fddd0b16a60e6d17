#!/usr/bin/env bash
# Set up the pinned environment (idempotent) and run the main job on the bundled default data.
# Extra arguments go to `pixvae flow` (e.g. --profile paper, --clock-ns 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
exec .venv/bin/pixvae flow "$@"
