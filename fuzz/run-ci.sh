#!/usr/bin/env bash
# Runs every cargo-fuzz target (as `cargo fuzz list` names them, so new targets join by
# themselves) for a short time from its seed corpus, and fails if any target crashes.
#
# Works with only the stable toolchain: cargo-fuzz is installed from crates.io when missing,
# and RUSTC_BOOTSTRAP=1 lets stable rustc accept the -Z flags cargo-fuzz passes.
#
#   fuzz/run-ci.sh                  # every target, FUZZ_SECONDS (default 25) each
#   FUZZ_SECONDS=600 fuzz/run-ci.sh form_decoder   # one target, longer
#
# Prints one line per target: executions without a crash. New inputs found go to a scratch
# folder, not into the committed corpus (see fuzz/README.md for keeping them).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-25}"
# The code under test is safe Rust: a panic is the crash we look for, and it needs no
# sanitizer. FUZZ_SANITIZER=address turns AddressSanitizer on (slower).
sanitizer="${FUZZ_SANITIZER:-none}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
# cargo-fuzz builds in fuzz/target; a CARGO_TARGET_DIR meant for the main workspace would mix
# instrumented and plain builds.
unset CARGO_TARGET_DIR

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz from crates.io"
    cargo install --locked cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
if [ "${#targets[@]}" -eq 0 ]; then
    echo "no fuzz targets found" >&2
    exit 1
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
summary=()
failed=0
for t in "${targets[@]}"; do
    echo "== fuzz $t (${seconds}s, sanitizer $sanitizer)"
    mkdir -p "$scratch/$t" "corpus/$t"
    log="$scratch/$t.log"
    set +e
    cargo fuzz run --sanitizer "$sanitizer" "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$scratch/" \
        >"$log" 2>&1
    status=$?
    set -e
    execs="$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -1)"
    if [ "$status" -ne 0 ]; then
        failed=1
        tail -60 "$log"
        for a in "$scratch"/crash-* "$scratch"/oom-* "$scratch"/timeout-*; do
            [ -e "$a" ] && echo "reproducer: $(basename "$a") (base64: $(base64 -w0 "$a" | head -c 400))"
        done
        summary+=("$t: FAILED (exit $status) after ${execs:-?} executions")
    else
        summary+=("$t: ${execs:-?} executions in ${seconds}s without a crash")
    fi
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
