#!/usr/bin/env bash
# The pipeline CI runs when anything under model/ changes (see ci/model-change.workflow.yml):
# retrain (short profile), export, write golden vectors into a new versioned folder
# golden/candidates/<UTC time>-<sha>/, run the RTL regression on them, and write a change report
# (latency, da4ml resource estimate, physics metrics) against the committed reference.
# Committed golden vectors are never touched. Usage: ci/model_change.sh [BASE_REV]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-$(git rev-parse -q --verify HEAD~1 || true)}
if [ -n "$base" ] && git diff --quiet "$base" HEAD -- model/; then
    echo "[model-change] nothing under model/ changed since $base; no retraining needed"
    exit 0
fi
bash ci/setup.sh
.venv/bin/pixvae candidate --profile short
