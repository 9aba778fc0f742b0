#!/bin/bash
# test.sh - set up this host, build vdsm-c and run the whole test suite.
#
#   sudo bash scripts/test.sh [PYTEST-ARGS...]
#
# Stages (docs/testing.md says what each runs and how long it takes):
#   setup    scripts/setup-host.sh (packages, libvirtd, user vdsm, certs)
#   unit     build/ : ninja + meson test (GLib gtest programs, TAP)
#   system   build/ : pytest tests/system against the real build/src/vdsmd
#   fuzz     build-fuzz/ (clang, -Dfuzz=true): fuzz/run-fuzzers.sh, bounded
#   asan     build-asan/ (-Db_sanitize=address,undefined): unit + system again
#   valgrind build/ : the JSON-RPC system tests again with vdsmd under
#            valgrind's memcheck, failing a test whose vdsmd lost memory
# VDSM_TEST_STAGES="unit system fuzz asan valgrind" picks stages; VDSM_FUZZ_SECONDS
# (default 30) is the time per fuzz target.  Arguments go to every pytest run
# (e.g. -k heartbeat).  The last line is "N passed, N failed" summed over all
# stages (a meson test program counts once, a pytest test once); the exit
# status is non-zero when anything failed.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1

stages=${VDSM_TEST_STAGES:-unit system fuzz asan valgrind}
fuzz_seconds=${VDSM_FUZZ_SECONDS:-30}
logs=$repo/build-testlogs
rm -rf "$logs"
mkdir -p "$logs"
PY=/usr/bin/python3 # Debian's: python3 on PATH may lack python3-stomp

total_pass=0
total_fail=0
summary=()

# record STAGE PASSED FAILED SECONDS [NOTE]
record() {
    total_pass=$((total_pass + $2))
    total_fail=$((total_fail + $3))
    summary+=("$(printf '%-16s %4d passed %4d failed %5ds  %s' "$1" "$2" "$3" "$4" "${5:-}")")
}

banner() { printf '\n===== %s =====\n' "$*"; }

has_stage() { [[ " $stages " == *" $1 "* ]]; }

# build DIR [meson setup args...]: configure once, then ninja.  A failure
# counts as one failed test for the stage.
build() {
    local dir=$1 t0=$SECONDS
    shift
    banner "build $dir"
    if [ ! -f "$dir/build.ninja" ]; then
        rm -rf "$dir"
        if ! meson setup "$dir" "$@" >"$logs/setup-$dir.log" 2>&1; then
            cat "$logs/setup-$dir.log"
            record "build $dir" 0 1 $((SECONDS - t0)) "meson setup failed"
            return 1
        fi
    fi
    if ! ninja -C "$dir" 2>&1 | tee "$logs/ninja-$dir.log" | tail -n 40; then
        record "build $dir" 0 1 $((SECONDS - t0)) "ninja failed (see $logs/ninja-$dir.log)"
        return 1
    fi
    return 0
}

# unit LABEL DIR: meson test; parse its "Ok:/Fail:" summary.
unit() {
    local label=$1 dir=$2 t0=$SECONDS rc log=$logs/meson-test-$1.log
    banner "$label: meson test -C $dir"
    meson test -C "$dir" --no-rebuild --print-errorlogs 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    local ok xfail fail upass timeout
    ok=$(awk '/^Ok:/ {print $2}' "$log")
    xfail=$(awk '/^Expected Fail:/ {print $3}' "$log")
    fail=$(awk '/^Fail:/ {print $2}' "$log")
    upass=$(awk '/^Unexpected Pass:/ {print $3}' "$log")
    timeout=$(awk '/^Timeout:/ {print $2}' "$log")
    local p=$((${ok:-0} + ${xfail:-0})) f=$((${fail:-0} + ${upass:-0} + ${timeout:-0}))
    local note=""
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        f=1
        note="meson test exited $rc"
    fi
    grep -q '^No tests defined' "$log" && note="no unit tests defined"
    record "$label" "$p" "$f" $((SECONDS - t0)) "$note"
}

# system LABEL DIR [pytest args]: pytest tests/system (or the files in
# $SYSTEM_TESTS) against DIR/src/vdsmd.
system() {
    local label=$1 dir=$2 t0=$SECONDS rc xml=$logs/pytest-$1.xml
    shift 2
    banner "$label: pytest tests/system (VDSM_BUILD_DIR=$dir)"
    VDSM_BUILD_DIR=$repo/$dir VDSM_TEST_LOGDIR=$logs/vdsmd-$label $PY -m pytest ${SYSTEM_TESTS:-tests/system} -q -rfE -p no:cacheprovider \
        --timeout=180 --junitxml="$xml" "$@" 2>&1 | tee "$logs/pytest-$label.log"
    rc=${PIPESTATUS[0]}
    local counts p=0 f=0 s=0 note=""
    if [ -f "$xml" ] && counts=$($PY - "$xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET

# A test that passes but errors in teardown has two <testcase> entries:
# count each test once, failed if any of its entries failed.
root = ET.parse(sys.argv[1]).getroot()
outcome = {}
for case in root.iter("testcase"):
    key = (case.get("classname"), case.get("name"))
    tags = {child.tag for child in case}
    if tags & {"failure", "error"}:
        state = "failed"
    elif "skipped" in tags:
        state = "skipped"
    else:
        state = "passed"
    if outcome.get(key) != "failed":
        outcome[key] = state if outcome.get(key) in (None, "passed") else outcome[key]
values = list(outcome.values())
print(values.count("passed"), values.count("failed"), values.count("skipped"))
EOF
    ); then
        read -r p f s <<<"$counts"
    fi
    [ "$s" != 0 ] && note="$s skipped"
    case $rc in
    0) ;;
    5) note="no tests collected" ;; # pytest: no tests is not a failure here
    1) [ "$f" = 0 ] && { f=1; note="pytest failed without a failing test"; } ;;
    *) f=$((f + 1)); note="pytest exited $rc" ;;
    esac
    record "$label" "$p" "$f" $((SECONDS - t0)) "$note"
}

# fuzz: clang build with the libFuzzer targets, each run for a bounded time.
fuzz() {
    local t0=$SECONDS rc log=$logs/fuzz.log
    if [ ! -f fuzz/meson.build ] || [ ! -f fuzz/run-fuzzers.sh ]; then
        banner "fuzz: no fuzz/meson.build or fuzz/run-fuzzers.sh, stage skipped"
        summary+=("$(printf '%-16s %s' fuzz 'not present')")
        return
    fi
    CC=clang CXX=clang++ build build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link || return
    banner "fuzz: fuzz/run-fuzzers.sh build-fuzz $fuzz_seconds"
    bash fuzz/run-fuzzers.sh build-fuzz "$fuzz_seconds" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    # run-fuzzers.sh may print its own "N passed, N failed"; else the stage is one test.
    local line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | awk '{print $1}')
        f=$(echo "$line" | awk '{print $3}')
        [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
    elif [ "$rc" = 0 ]; then
        p=1 f=0
    else
        p=0 f=1
    fi
    record fuzz "$p" "$f" $((SECONDS - t0)) "$fuzz_seconds s per target"
}

t_start=$SECONDS
banner "setup: scripts/setup-host.sh"
t0=$SECONDS
if ! bash scripts/setup-host.sh; then
    record setup 0 1 $((SECONDS - t0)) "setup-host.sh failed"
    stages=""
fi

if has_stage unit || has_stage system; then
    if build build; then
        has_stage unit && unit unit build
        has_stage system && system system build "$@"
    fi
fi

has_stage fuzz && fuzz

if has_stage asan; then
    # halt_on_error: the first report fails the program (and so its test).
    # Leak checking is on for the unit tests and off for vdsmd: after it
    # drops privileges LeakSanitizer cannot always ptrace its own threads
    # ("LeakSanitizer has encountered a fatal error"); see docs/testing.md.
    asan=halt_on_error=1:abort_on_error=1:print_summary=1
    # GLib 2.74's slice allocator carves GPtrArray, GList, ... out of slabs
    # of its own: ASan sees neither their use after free nor, reachable
    # from the slabs, their leaks (the sampler's tick/call cycle went
    # unreported that way).  Plain malloc for every slice here.
    export G_SLICE=always-malloc
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
    if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
        ASAN_OPTIONS=${ASAN_OPTIONS:-$asan:detect_leaks=1} unit unit-asan build-asan
        # Latency bounds mean nothing under ASan's slowdown, RSS bounds
        # nothing with its quarantine: the timing and memory tests run in
        # the normal system stage only (docs/testing.md).
        ASAN_OPTIONS=${ASAN_OPTIONS:-$asan:detect_leaks=0} system system-asan build-asan \
            -m "not timing and not memory" "$@"
    fi
fi

if has_stage valgrind; then
    # Every vdsmd of the JSON-RPC tests (TLS and plain, batches, bad
    # requests, the worker queue) under memcheck: a test fails when its
    # daemon exits with definitely or indirectly lost blocks.  The VM
    # sampler is covered in the system stage (test_soak.py).  About 3 min.
    if build build; then
        VDSM_TEST_VALGRIND=1 SYSTEM_TESTS=tests/system/test_jsonrpc.py \
            system system-valgrind build -m "not timing" "$@"
    fi
fi

banner "summary ($((SECONDS - t_start)) s, logs in build-testlogs/)"
for line in "${summary[@]}"; do echo "$line"; done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
