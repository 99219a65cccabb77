#!/usr/bin/env bash
# Listening benchmarks of issue 5, side by side in one run (BENCHMARKS.md, "Listening"):
#   1. embedding throughput, batch 1 and batch 32: Bordin (candle, in-process) vs Python
#      sentence-transformers, same model folder, same 512 sentences, same thread count, and the
#      ratio; plus the smallest cosine between the two sides' vectors;
#   2. `Analyzer` on a 60-minute transcript in-process, and `bordin analyze` end to end (a fresh
#      process: model load included), with and without the model;
#   3. the live co-pilot's per-turn latency (p50/p99) over the same 60-minute session.
#
#   bench/listen_bench.sh              # THREADS=2 by default (this machine has 2 vCPUs)
#   THREADS=1 bench/listen_bench.sh
#
# What it sets up (once; later runs reuse it):
#   * the release build of `bordin` and the `listen` bench (profile `bench` = release);
#   * the model in $BORDIN_MODEL_DIR (default ~/.cache/bordin/models/all-MiniLM-L6-v2, where
#     .ci/run puts it), fetched with `bordin model fetch` when missing;
#   * bench/.venv-listen (git-ignored): Python 3.10 with torch 1.12.1, sentence-transformers
#     3.0.1 and transformers 4.41.2 from PyPI. Why torch 1.12.1: every newer Linux x86-64 torch
#     on PyPI is the CUDA build and pulls 3-5 GB of nvidia-* wheels it cannot import without
#     (torch 2.15.0 needs libcudart/libcublasLt even on CPU); 1.12.1 is the last PyPI wheel that
#     is self-contained (0.78 GB, 1.6 GB unpacked, MKL + oneDNN for the CPU), and the newest
#     torch that wheel pairs with is Python 3.10. No CPU-only torch is published on PyPI itself.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${THREADS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export BORDIN_MODEL_DIR="${BORDIN_MODEL_DIR:-$HOME/.cache/bordin/models/all-MiniLM-L6-v2}"
VENV=bench/.venv-listen
PY="$VENV/bin/python"

echo "== build (release)"
cargo build --release -p bordin -q
cargo bench -p bordin-listen --bench listen --no-run -q 2>/dev/null
bin="$CARGO_TARGET_DIR/release/bordin"
"$bin" model fetch --dir "$BORDIN_MODEL_DIR" >/dev/null

if [ ! -x "$PY" ] || ! "$PY" -c "import sentence_transformers" 2>/dev/null; then
    echo "== Python venv $VENV (torch 1.12.1 CPU use, sentence-transformers 3.0.1)"
    py310="$(command -v python3.10 || true)"
    if [ -z "$py310" ] && command -v pyenv >/dev/null; then
        v="$(pyenv versions --bare | grep -E '^3\.10\.' | tail -1 || true)"
        [ -n "$v" ] && py310="$(pyenv root)/versions/$v/bin/python"
    fi
    [ -n "$py310" ] || { echo "needs python3.10 (torch 1.12.1 has no wheel for newer Pythons)" >&2; exit 1; }
    "$py310" -m venv "$VENV"
    "$VENV/bin/pip" install -q --no-cache-dir --disable-pip-version-check \
        "torch==1.12.1" "sentence-transformers==3.0.1" "transformers==4.41.2" "numpy<2"
fi

python3 bench/listen_gen.py
echo "== machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg); threads per side: $THREADS"

out="bench/out/listen_results.txt"
# Same thread count on both sides: rayon (candle and gemm) and torch/OpenMP/MKL.
RAYON_NUM_THREADS="$THREADS" cargo bench -p bordin-listen --bench listen -q 2>/dev/null \
    | grep -E "^(rust|analyze|live)" | tee "$out"
# MKL_DEBUG_CPU_TYPE=5, on AMD CPUs only: torch 1.12.1 bundles MKL 2020.0, which gives non-Intel
# CPUs its slow generic code path (7.5 vs 30 GFLOP/s for one sgemm of this model's shape on one
# core of an AMD EPYC); this switch, honoured up to MKL 2020.0, makes it use AVX2 there. On Intel
# CPUs MKL picks its best kernels (AVX-512) by itself, and the switch would hold it back to AVX2.
mkl_env=()
if grep -qm1 'AuthenticAMD' /proc/cpuinfo; then mkl_env=(MKL_DEBUG_CPU_TYPE=5); fi
OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" env "${mkl_env[@]}" \
    "$PY" bench/listen_python.py "$BORDIN_MODEL_DIR" "$THREADS" 2>/dev/null \
    | grep -E "^(python|agreement)" | tee -a "$out"

# The first analysis with a model folder embeds Bordin's fixed statements and caches them in
# the folder (`bordin model fetch` does it already); timed on its own, with the cache removed.
rm -f "$BORDIN_MODEL_DIR"/bordin-statements-*.f32
s=$(date +%s.%N)
RAYON_NUM_THREADS="$THREADS" "$bin" analyze bench/out/listen_60min.vtt --model "$BORDIN_MODEL_DIR" --json >/dev/null
e=$(date +%s.%N)
printf 'bordin analyze CLI end to end, 60-minute transcript, with model, statements not yet cached: %.2f s\n' "$(python3 -c "print($e - $s)")" | tee -a "$out"
for mode in with without; do
    if [ "$mode" = with ]; then arg=(--model "$BORDIN_MODEL_DIR"); else arg=(); fi
    best=999
    for _ in 1 2 3; do
        s=$(date +%s.%N)
        RAYON_NUM_THREADS="$THREADS" BORDIN_MODEL_DIR=/nonexistent \
            "$bin" analyze bench/out/listen_60min.vtt "${arg[@]}" --json >/dev/null
        e=$(date +%s.%N)
        best=$(python3 -c "print(min($best, $e - $s))")
    done
    printf 'bordin analyze CLI end to end, 60-minute transcript, %s model: best of 3 %.2f s\n' "$mode" "$best" | tee -a "$out"
done

python3 - "$out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
def grab(side, b):
    m = re.search(rf"^{side}.*batch {b} ([0-9.]+) sentences/s", text, re.M)
    return float(m.group(1)) if m else None
for b in (1, 32):
    r, p = grab("rust ", b), grab("python", b)
    if r and p:
        print(f"ratio bordin / sentence-transformers, batch {b}: {r / p:.2f}x (goal >= 1.5x)")
    f = grab("rust-f32", b)
    if f and p:
        print(f"ratio bordin with f32 products / sentence-transformers, batch {b}: {f / p:.2f}x")
EOF
