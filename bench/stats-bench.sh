#!/bin/bash
# stats-bench.sh - VM statistics sampling benchmark (docs/benchmarks-stats.md).
#
# For each N it starts N tiny real guests (bench/stats-guests.sh: TCG, a
# qcow2 disk and a NIC on the private bridge vdt4br0 each), waits until
# they have booted, and runs bench/stats-bench.py, which measures per full
# sample of all VMs the wall time, the sampling process's CPU, libvirtd's
# CPU and RSS of: one raw virConnectGetAllDomainStats with all groups (the
# reference), the pre-bulk per-domain calls, vdsmd's sampler, collectd's
# virt plugin and prometheus-libvirt-exporter, and prints every figure as
# a ratio to the reference; for vdsmd also Host.getAllVmStats and /metrics
# latency, RSS and threads.  The guests are destroyed afterwards.
#
# Runs with 50 or more guests need the machine alone: the whole run holds
# flock /tmp/vdsm-c-vm-heavy.lock, and it refuses to start while other
# test domains (vdt3-*, vdt5-*) run.  An N whose guests would not fit in
# the available memory (~200 MiB each plus 1 GiB) is skipped and reported.
#
# Usage: bench/stats-bench.sh [N ...]        (default: 0 10 50 100)
# Environment: BUILD_DIR (default ./build), RESULTS (JSON lines, default
#   bench-stats-results.jsonl in the current directory), INTERVAL (2),
#   WINDOW (40 s), GUEST_MIB (96), BOOT_WAIT (600 s), SETTLE_WAIT (300 s to
#   wait, once the guests have booted, for the host's CPU use to be steady:
#   what booting costs is not sampling), WAIT_OTHERS (1200 s to
#   wait for other domains to go away), ALLOW_OTHERS (set: after WAIT_OTHERS,
#   measure anyway and record how many other domains ran; vdsmd and the
#   probe then still sample only the bench's guests, [devel]
#   sample_name_prefix, but the CPUs and libvirtd are shared).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${BUILD_DIR:-$src/build}" 2>/dev/null && pwd || echo "${BUILD_DIR:-$src/build}")
results=${RESULTS:-$PWD/bench-stats-results.jsonl}
interval=${INTERVAL:-2}
window=${WINDOW:-40}
guest_mib=${GUEST_MIB:-96}
boot_wait=${BOOT_WAIT:-600}
settle_wait=${SETTLE_WAIT:-300}
run_id=$(date -u +%Y%m%dT%H%M%SZ)
LOCK=/tmp/vdsm-c-vm-heavy.lock
PER_GUEST_MIB=200
ns=("$@")
[ ${#ns[@]} -gt 0 ] || ns=(0 10 50 100)

log() { echo "stats-bench: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (libvirt's system URI, guests)"
if [ -z "${VDT4_LOCKED:-}" ]; then
    exec env VDT4_LOCKED=1 flock "$LOCK" "$0" "$@"
fi

# ---- build ------------------------------------------------------------------
[ -f "$build/build.ninja" ] || meson setup "$build" "$src" >/dev/null
ninja -C "$build" src/vdsmd bench/stats-probe >/dev/null

# Any domain but ours shares the two cores and libvirtd, and vdsmd would
# sample it too: wait until there is none (before each N).
foreign() { virsh -q -c qemu:///system list --name | grep -vE '^(vdt4-b|$)' || true; }
wait_alone() {
    local deadline=$((SECONDS + ${WAIT_OTHERS:-1200})) others
    while others=$(foreign); [ -n "$others" ]; do
        if [ $SECONDS -ge $deadline ]; then
            [ -n "${ALLOW_OTHERS:-}" ] || die "other domains are still running: $(echo $others)"
            log "measuring with other domains running (ALLOW_OTHERS): $(echo $others)"
            return 0
        fi
        log "waiting for other domains to go away: $(echo $others | wc -w) running"
        sleep 10
    done
}

cleanup() { "$src/bench/stats-guests.sh" stop || true; }
trap cleanup EXIT

wait_booted() {
    local n=$1 deadline=$((SECONDS + boot_wait)) ready
    while :; do
        ready=0
        for f in /var/log/vdsm-c/guest/vdt4-b*.console; do
            [ -f "$f" ] && grep -q VDSM-C-GUEST-READY "$f" 2>/dev/null && ready=$((ready + 1))
        done
        [ "$ready" -ge "$n" ] && return 0
        [ $SECONDS -lt $deadline ] || { log "only $ready of $n guests booted; measuring anyway"; return 0; }
        sleep 5
    done
}

# The host's CPUs' busy share (%, all cores) over $1 seconds, /proc/stat.
cpu_busy() {
    local a b
    read -r -a a < /proc/stat
    sleep "$1"
    read -r -a b < /proc/stat
    awk -v a="${a[*]:1:8}" -v b="${b[*]:1:8}" 'BEGIN {
        n = split(a, x, " "); split(b, y, " ")
        for (i = 1; i <= n; i++) { d = y[i] - x[i]; t += d; if (i == 4 || i == 5) idle += d }
        printf "%d\n", t ? 100 * (t - idle) / t : 0 }'
}

# Booting guests keep the CPUs busy for a while after they print READY:
# measure once the host's CPU use is steady (two 10 s readings within 10
# points: the boot's tail has passed, whether the steady state is idle or,
# with many TCG guests on a slow host, saturated), or say that it never was.
settle() {
    local deadline=$((SECONDS + settle_wait)) prev busy
    prev=$(cpu_busy 10)
    while busy=$(cpu_busy 10); [ $((busy - prev)) -gt 10 ] || [ $((prev - busy)) -gt 10 ]; do
        if [ $SECONDS -ge $deadline ]; then
            log "host CPUs still changing (${prev}% -> ${busy}% busy) after ${settle_wait} s; measuring anyway"
            return 0
        fi
        log "host CPUs ${prev}% -> ${busy}% busy: waiting for the boot load to settle"
        prev=$busy
    done
    log "host CPUs ${busy}% busy, steady; load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

log "results go to $results (run $run_id)"
for n in "${ns[@]}"; do
    have=$("$src/bench/stats-guests.sh" count)
    avail=$(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo)
    need=$(((n - have) * PER_GUEST_MIB + 1024))
    if [ "$n" -gt "$have" ] && [ "$need" -gt "$avail" ]; then
        log "N=$n does not fit: needs ~$need MiB more, $avail MiB available; stopping here"
        echo "{\"n\": $n, \"skipped\": \"needs ~$need MiB, $avail MiB available\"}" >>"$results"
        break
    fi
    if [ "$n" -lt "$have" ]; then
        "$src/bench/stats-guests.sh" stop
        have=0
    fi
    # Running guests keep their consoles (their READY line is not printed
    # again); only a start from none clears the old ones.
    [ "$have" -gt 0 ] || rm -f /var/log/vdsm-c/guest/vdt4-b*.console
    if [ "$n" -gt 0 ]; then
        "$src/bench/stats-guests.sh" start "$n" "$guest_mib"
        wait_booted "$n"
        settle
    fi
    # stats-bench.py exits 3 when another domain appeared while it measured
    for try in 1 2 3; do
        wait_alone
        log "N=$n: measuring (free: $(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo) MiB)"
        rc=0
        /usr/bin/python3 "$src/bench/stats-bench.py" --n "$n" --build "$build" --prefix vdt4-b \
            --interval "$interval" --window "$window" --json "$results" --run "$run_id" \
            ${ALLOW_OTHERS:+--allow-foreign} || rc=$?
        [ $rc = 3 ] || break
        log "N=$n: other domains ran during the measurement (try $try); measuring again"
    done
    [ $rc = 0 ] || [ $rc = 3 ] || die "stats-bench.py failed ($rc)"
done
# Issue 4's goals, met or not, from this run's rows
/usr/bin/python3 "$src/bench/stats-bench.py" --goals "$results" --run "$run_id"
