#!/usr/bin/python3
"""stats-instr.py - instructions per full sample: vdsmd's sampler against the raw call.

DESIGN: the own-CPU goal (vdsmd's CPU per sample against one raw
virConnectGetAllDomainStats of all groups) is measured in CPU time by
stats-bench.py and stats-ab.py, and CPU time per instruction grows with
the host's load (cache and TLB misses, preempted threads).  On the 100
idle TCG guests of bench/stats-guests.sh the load drifts between 2 and 75,
and the same build's ratio with it.  Instructions do not: valgrind's
callgrind counts the instructions each process executes whatever else the
machine does.  This script runs, in one window on the same guests:
  - vdsmd (one build, the stats-ab.py configuration) under callgrind; its
    counters are zeroed right after a sample ended and dumped right after
    a later one ended (callgrind_control), and the full samples between
    the two are read from /metrics (VMs stored / N);
  - the reference probe (stats-probe --mode bulk --groups 0) under
    callgrind twice, with --samples K and 3K at the same pause: the
    difference of the two totals over 2K samples is the instructions of a
    sample alone (no connection set-up, no start-up).
It prints instructions per full sample for both and their ratio, plus the
late-call figures (slow calls, monitor checks) of vdsmd's window: under
valgrind vdsmd runs 20-50 times slower, so its own work takes longer than
natively, but the libvirt calls it waits on do not.  The instructions
vdsmd spends serving this script's own /metrics requests (vdConnOnReadable,
inclusive) are taken out.  --keep keeps the callgrind files for
callgrind_annotate.

Usage: python3 bench/stats-instr.py --build build-bench --n 100
       [--prefix vdt4-b] [--interval 15] [--block-every 4] [--samples 8]
       [--settle 180] [--keep]
"""
import argparse
import glob
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import importlib.util

_ab_spec = importlib.util.spec_from_file_location(
    "stats_ab", pathlib.Path(__file__).resolve().parent / "stats-ab.py")
stats_ab = importlib.util.module_from_spec(_ab_spec)
_ab_spec.loader.exec_module(stats_ab)


def callgrind_total(path):
    """The instructions (Ir) a callgrind output file counts."""
    text = pathlib.Path(path).read_text(errors="replace")
    m = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    if not m:
        sys.exit("%s: no summary line" % path)
    return int(m.group(1))


def serve_ir(path):
    """The instructions of a callgrind output file spent serving requests
    (vdConnOnReadable, inclusive): in this bench only its own /metrics
    requests, which are not the sampler's work.  Exits when the function
    is not there."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                         capture_output=True, text=True).stdout
    m = re.search(r"^\s*([\d,]+)\s.*:vdConnOnReadable\b", out, re.M)
    if not m:
        # the window always holds the script's last request
        sys.exit("%s: no vdConnOnReadable (renamed?): the requests cannot be taken out" % path)
    return int(m.group(1).replace(",", ""))


def after_tick(port, timeout):
    """Metrics read right after the next sample ended (ticks_total moved)."""
    first = stats_ab.metrics(port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        m = stats_ab.metrics(port)
        if m.get("vdsm_vm_sampling_ticks_total") != first.get("vdsm_vm_sampling_ticks_total"):
            return m
    sys.exit("vdsmd took no sample in %.0f s" % timeout)


def control(pid, flag):
    """callgrind_control @flag on @pid (it waits until valgrind answers)."""
    subprocess.run(["callgrind_control", flag, str(pid)], check=True,
                   stdout=subprocess.DEVNULL, timeout=120)


def probe(build, tmp, a, samples, tag):
    """A callgrind run of the reference probe: (its process, its output file)."""
    out = tmp / ("probe-%s.cg" % tag)
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s" % out,
         str(build / "bench" / "stats-probe"), "--prefix", a.prefix, "--samples", str(samples),
         "--pause", str(a.interval), "--mode", "bulk", "--groups", "0"],
        stdout=subprocess.DEVNULL, stderr=open(tmp / ("probe-%s.log" % tag), "wb"))
    return proc, out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", type=pathlib.Path, required=True, help="build directory")
    p.add_argument("--n", type=int, required=True, help="guests running")
    p.add_argument("--prefix", default="vdt4-b", help="sample only domains named PREFIX*")
    p.add_argument("--interval", type=float, default=15.0)
    p.add_argument("--block-every", type=int, default=4)
    p.add_argument("--samples", type=int, default=8,
                   help="vdsmd ticks in the window; the probes take this many and 3 times as many")
    p.add_argument("--settle", type=float, default=180.0,
                   help="seconds after every VM is sampled twice: under callgrind the first "
                   "reads of the domains' XML (device info) go on for a while")
    p.add_argument("--keep", action="store_true", help="keep the callgrind files (path printed)")
    a = p.parse_args()
    if a.n <= 0 or a.samples < 2:
        sys.exit("--n must be positive and --samples at least 2")
    if not shutil.which("callgrind_control"):
        sys.exit("callgrind_control not found (Debian package valgrind)")

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="vdsm-instr-"))
    os.chmod(tmp, 0o755)
    run = tmp / "vdsmd"
    (run / "hib").mkdir(parents=True)
    os.chmod(run, 0o777)
    port = stats_ab.free_port()
    stats_ab.write_config(run, a.interval, a.interval * a.block_every, [], port, a.prefix)
    env = dict(os.environ, VDSM_LOG_LEVEL="WARNING", VDSM_LOG_NO_JOURNAL="1")
    cg = run / "callgrind.out"
    procs = []
    try:
        vd = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s.%%p" % cg,
             str(a.build / "src" / "vdsmd"), "--config", str(run / "vdsm.conf"),
             "--no-drop-privileges"],
            stdout=open(run / "vdsmd.log", "wb"), stderr=subprocess.STDOUT, env=env)
        procs.append(vd)
        deadline = time.monotonic() + 300
        while True:
            try:
                m = stats_ab.metrics(port)
                if m.get("vdsm_vms", 0) >= a.n and m.get("vdsm_vm_sampling_ticks_total", 0) >= 2:
                    break
            except OSError:
                pass
            if vd.poll() is not None or time.monotonic() > deadline:
                sys.exit("vdsmd under callgrind did not sample %d VMs (log: %s)"
                         % (a.n, run / "vdsmd.log"))
            time.sleep(1)
        time.sleep(a.settle)
        # The probes run through the same window.
        short, short_out = probe(a.build, tmp, a, a.samples, "short")
        long_, long_out = probe(a.build, tmp, a, 3 * a.samples, "long")
        procs += [short, long_]
        m0 = after_tick(port, 4 * a.interval + 120)
        control(vd.pid, "-z")
        ticks = m0["vdsm_vm_sampling_ticks_total"]
        # Every /metrics request in the window is counted too: sleep
        # through most of it, then poll; serve_ir() takes the requests out.
        time.sleep(max(0.0, (a.samples - 1) * a.interval))
        deadline = time.monotonic() + a.samples * a.interval * 4 + 600
        while True:
            m1 = after_tick(port, 4 * a.interval + 120)
            if m1["vdsm_vm_sampling_ticks_total"] - ticks >= a.samples:
                break
            if time.monotonic() > deadline:
                sys.exit("vdsmd took fewer than %d samples" % a.samples)
        control(vd.pid, "-d")
        time.sleep(2)
        dumps = sorted(glob.glob("%s.%d*" % (cg, vd.pid)), key=os.path.getmtime)
        if not dumps:
            sys.exit("no callgrind dump of vdsmd in %s" % run)
        serve = serve_ir(dumps[-1])
        vd_ir = callgrind_total(dumps[-1]) - serve

        def delta(name):
            return m1.get(name, 0) - m0.get(name, 0)

        full = delta("vdsm_vm_sampling_vm_samples_total") / a.n
        if full <= 0:
            sys.exit("vdsmd stored no samples: is %s* running?" % a.prefix)
        for proc in (short, long_):
            if proc.wait(timeout=3 * a.samples * (a.interval + 120) + 600) != 0:
                sys.exit("stats-probe under callgrind failed (logs in %s)" % tmp)
        k = 2 * a.samples
        probe_ir = (callgrind_total(long_out) - callgrind_total(short_out)) / k
        print("N = %d guests, %.0f s interval, vdsmd %s under callgrind"
              % (a.n, a.interval, a.build))
        print("probe ref: %.0f instructions per sample (difference of %d and %d samples)"
              % (probe_ir, 3 * a.samples, a.samples))
        print("vdsmd: %.1f full samples, %.2f calls per sample, %.0f instructions per sample "
              "(%.0f more per sample served this bench's /metrics requests: not counted)"
              % (full, delta("vdsm_vm_sampling_calls_total") / full, vd_ir / full, serve / full))
        print("    slow calls %d, stuck calls %d, monitor checks %d (%.1f per sample), "
              "listings %d, connections opened %d"
              % (delta("vdsm_vm_sampling_calls_slow_total"),
                 delta("vdsm_vm_sampling_calls_stuck_total"),
                 delta("vdsm_vm_sampling_monitor_checks_total"),
                 delta("vdsm_vm_sampling_monitor_checks_total") / full,
                 delta("vdsm_vm_sampling_listings_total"),
                 delta("vdsm_vm_sampling_connections_total")))
        print("instructions per sample against the ref probe's: vdsmd %.2fx" % (vd_ir / full / probe_ir))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if a.keep:
            print("callgrind files kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
