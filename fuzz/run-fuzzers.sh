#!/bin/bash
# run-fuzzers.sh BUILD_DIR SECONDS - run every built libFuzzer target.
#
# Each BUILD_DIR/fuzz/fuzz-NAME runs for SECONDS (-max_total_time) on the
# corpus BUILD_DIR/fuzz/corpus/NAME, which starts as a copy of the seeds in
# fuzz/corpus/NAME/ and keeps what the fuzzer finds between runs.  A crash
# input goes to BUILD_DIR/fuzz/artifacts/NAME/.  Prints one line per target,
# then "N passed, N failed"; the exit status is non-zero if any target
# crashed (or none was built).
set -uo pipefail

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$(cd "$1" && pwd) || exit 2
seconds=$2
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

passed=0
failed=0
shopt -s nullglob
targets=("$build"/fuzz/fuzz-*)
shopt -u nullglob
for bin in "${targets[@]}"; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=${bin##*/fuzz-}
    corpus=$build/fuzz/corpus/$name
    artifacts=$build/fuzz/artifacts/$name
    log=$build/fuzz/fuzz-$name.log
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$src/corpus/$name" ]; then
        cp -n "$src/corpus/$name"/* "$corpus"/ 2>/dev/null
    fi
    echo "== fuzz-$name: $seconds s, corpus $corpus"
    ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
    rc=$?
    stats=$(grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" |
        sed 's/^stat:://' | tr -s ' \n' ' ')
    if [ "$rc" -eq 0 ]; then
        echo "ok fuzz-$name: $stats"
        passed=$((passed + 1))
    else
        echo "FAILED fuzz-$name (exit $rc): see $log and $artifacts/"
        grep -E 'ERROR|SUMMARY|check failed|runtime error' "$log" | head -n 20
        failed=$((failed + 1))
    fi
done

if [ $((passed + failed)) -eq 0 ]; then
    echo "no fuzz targets in $build/fuzz (configure with CC=clang -Dfuzz=true)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
