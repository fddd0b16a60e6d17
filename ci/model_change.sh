#!/usr/bin/env bash
# The pipeline CI runs when anything under model/ changes (see ci/model-change.workflow.yml):
# for each design (or the one named with --design), retrain (short profile), export, write golden
# vectors into a new versioned folder golden/<design>/candidates/<UTC time>-<sha>/, run the RTL
# regression on them, and write a change report (latency, da4ml resource estimate, physics
# metrics) against the committed reference. Committed golden vectors are never touched.
# Exits non-zero when any design's candidate regression failed (pixvae's exit status).
# Usage: ci/model_change.sh [BASE_REV [pixvae candidate options, e.g. --design vae-low --profile tiny]]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-$(git rev-parse -q --verify HEAD~1 || true)}
shift || true
if [ -n "$base" ] && git diff --quiet "$base" HEAD -- model/ golden/; then
    echo "[model-change] nothing under model/ or golden/ changed since $base; no retraining needed"
    exit 0
fi
bash ci/setup.sh
args=("$@")
printf '%s\n' "${args[@]}" | grep -qx -- "--profile" || args+=(--profile short)
if printf '%s\n' "${args[@]}" | grep -qx -- "--design"; then
    exec .venv/bin/pixvae candidate "${args[@]}"
fi
failed=()
for toml in golden/*/design.toml; do
    design=$(basename "$(dirname "$toml")")
    echo "[model-change] candidate for design $design"
    .venv/bin/pixvae candidate --design "$design" "${args[@]}" || failed+=("$design")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "[model-change] FAIL: candidate RTL regression failed for: ${failed[*]}" >&2
    exit 1
fi
