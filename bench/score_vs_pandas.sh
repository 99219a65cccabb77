#!/usr/bin/env bash
# Batch scoring throughput: `bordin score` vs an equivalent pandas script, one core each.
#
# Usage: bench/score_vs_pandas.sh [ROWS]   (default 1,000,000; run from anywhere)
#
# Builds the release binary, installs pandas into .venv-bench/ when missing, generates a
# deterministic WAI-SR CSV (~3% blank answers), runs each scorer 3 times pinned to CPU 0 with
# `taskset -c 0`, prints the best responses/s of each and the ratio, and checks that both wrote
# the same scores.
set -euo pipefail

ROWS="${1:-1000000}"
RUNS=3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORK="${BENCH_DIR:-$ROOT/target/bench-score}"
mkdir -p "$WORK"
INPUT="$WORK/wai_sr_${ROWS}.csv"
PIN=(taskset -c 0)
command -v taskset >/dev/null || PIN=()

if [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c 'import pandas' 2>/dev/null; then
    echo "installing pandas into .venv-bench/ ..." >&2
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install --quiet pandas
fi
PY=.venv-bench/bin/python

cargo build --release -p bordin >&2
BIN=target/release/bordin

if [ ! -s "$INPUT" ]; then
    echo "generating $INPUT ($ROWS rows) ..." >&2
    "$PY" bench/gen_wai_csv.py "$ROWS" > "$INPUT"
fi

# Best (shortest) wall time of $RUNS runs of a command, in seconds.
best_of() {
    local best="" t
    for _ in $(seq "$RUNS"); do
        local start end
        start=$(date +%s.%N)
        "$@"
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc -l)
        echo "  run: ${t}s" >&2
        if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
    done
    echo "$best"
}

run_bordin() { "${PIN[@]}" "$BIN" score --instrument wai_sr --input "$INPUT" > "$WORK/out_bordin.csv"; }
echo "bordin score ($RUNS runs):" >&2
T_BORDIN=$(best_of run_bordin)
echo "pandas ($RUNS runs):" >&2
T_PANDAS=$(best_of "${PIN[@]}" "$PY" bench/score_pandas.py "$INPUT" "$WORK/out_pandas.csv")

"$PY" - "$WORK/out_bordin.csv" "$WORK/out_pandas.csv" <<'PYEOF'
import sys
import pandas as pd
a = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
b = pd.read_csv(sys.argv[2], dtype=str, keep_default_na=False)
cols = ["id", "total", "bond", "goal", "task", "missing"]
if len(a) != len(b):
    sys.exit(f"row counts differ: bordin {len(a)}, pandas {len(b)}")
diff = (a[cols] != b[cols]).any(axis=1)
if diff.any():
    print(a[diff].head().to_string(), file=sys.stderr)
    print(b[diff].head().to_string(), file=sys.stderr)
    sys.exit(f"{int(diff.sum())} rows differ")
print(f"outputs agree on all {len(a)} rows ({', '.join(cols)})")
PYEOF

awk -v n="$ROWS" -v tb="$T_BORDIN" -v tp="$T_PANDAS" 'BEGIN {
    rb = n / tb; rp = n / tp;
    printf "rows: %d (best of 3, one core)\n", n;
    printf "bordin score: %8.3f s  %12.0f responses/s\n", tb, rb;
    printf "pandas:       %8.3f s  %12.0f responses/s\n", tp, rp;
    printf "ratio:        %8.1fx\n", rb / rp;
}'
