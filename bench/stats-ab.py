#!/usr/bin/python3
"""stats-ab.py - two vdsmd builds sampling the same guests at the same time.

DESIGN: stats-bench.py measures one tool after the other, so on a host
whose load drifts (idle TCG guests on 2 cores) two runs of the same build
differ by several percent.  This script starts both builds side by side on
the same running guests (bench/stats-guests.sh), lets them settle, and
reads over one window, for each: full samples (VMs stored / N), CPU per
full sample from each thread's schedstat, voluntary context switches
(wake-ups) per full sample by thread name, minor page faults per full
sample and the RSS at the window's end, and the late calls' monitor
checks (a libvirt call each).  Both see the same host and the
same libvirtd; each adds the other's load to libvirtd, equally.

The goal's ratio (vdsmd's own CPU per sample against one raw call of all
groups) is load-sensitive when the two are measured one after the other
(stats-bench.py); --probe ref runs that raw call (stats-probe --mode bulk
--groups 0) during the same window, so both see the same host, and prints
each side's CPU per sample as a ratio to it (--probe pattern: the probe
making vdsmd's own calls, without vdsmd).  The probe's calls add to
libvirtd's load for both sides alike.

Usage: python3 bench/stats-ab.py --new build-bench --old <other build> --n 50
       [--prefix vdt4-b] [--interval 2] [--window 180] [--probe ref|pattern ...]
       [--new-env NAME=VALUE ...] [--old-env NAME=VALUE ...]
       [--new-sampling KEY=VALUE ...] [--old-sampling KEY=VALUE ...]
The same build with different environments (e.g. glibc's malloc tunables):
--old build-bench --old-env GLIBC_TUNABLES=glibc.malloc.mxfast=0; or settings:
--old build-bench --old-sampling max_concurrent_calls=1.
"""
import argparse
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(port):
    out = {}
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read()
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def write_config(run, interval, block_interval, sampling, port, prefix):
    """@run/vdsm.conf of a bench vdsmd: plain TCP on @port, run files in
    @run (with @run/hib), VM samples every @interval s, block stats every
    @block_interval s, host samples out of the way, [sampling] @sampling
    ([(key, value)]), only domains named @prefix* sampled."""
    (run / "vdsm.conf").write_text(
        "[vars]\nssl = false\nrun_dir = %s\nhibernation_dir = %s/hib\n"
        "vm_sample_interval = %s\nhost_sample_stats_interval = 3600\n"
        "[sampling]\nblock_sample_interval = %s\n%s[addresses]\nmanagement_port = %d\n"
        "[devel]\nsample_name_prefix = %s\n"
        % (run, run, interval, block_interval,
           "".join("%s = %s\n" % kv for kv in sampling), port, prefix))


def thread_readings(pid):
    """{tid: (thread name, CPU ns, voluntary context switches)} now."""
    r = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s/" % (pid, tid)
        try:
            comm = open(base + "comm").read().strip()
            ns = int(open(base + "schedstat").read().split()[0])
            status = open(base + "status").read()
        except OSError:
            continue  # ended meanwhile
        v = int(status.split("\nvoluntary_ctxt_switches:")[1].split()[0])
        r[tid] = (comm, ns, v)
    return r


def thread_use(first, last):
    """{thread name: [CPU ns, voluntary context switches]} used between
    @first (readings at the window's start) and @last (each thread's last
    reading in the window, including threads that ended in it: a sampler
    thread ends after 60 s without a job, so its last reading, taken at
    most a poll earlier, is what it used)."""
    r = {}
    for tid, (comm, ns, v) in last.items():
        _, ns0, v0 = first.get(tid, (comm, 0, 0))
        a = r.setdefault(comm, [0, 0])
        a[0] += ns - ns0
        a[1] += v - v0
    return r


def memory(pid):
    """(minor page faults so far, VmRSS KiB) of the process."""
    minflt = int(open("/proc/%d/stat" % pid).read().rpartition(")")[2].split()[7])
    status = open("/proc/%d/status" % pid).read()
    return minflt, int(status.split("\nVmRSS:")[1].split()[0])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--new", type=pathlib.Path, required=True, help="build directory")
    p.add_argument("--old", type=pathlib.Path, required=True, help="build directory")
    p.add_argument("--n", type=int, required=True, help="guests running")
    p.add_argument("--prefix", default="vdt4-b", help="sample only domains named PREFIX*")
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--block-every", type=int, default=4)
    p.add_argument("--settle", type=float, default=40.0)
    p.add_argument("--window", type=float, default=180.0)
    p.add_argument("--new-env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment of the new build's vdsmd (repeatable)")
    p.add_argument("--old-env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment of the old build's vdsmd (repeatable)")
    p.add_argument("--probe", action="append", default=[], choices=["ref", "pattern"],
                   help="also run build/bench/stats-probe (of --new) during the window: ref "
                        "(one call, all groups) or pattern (vdsmd's calls without vdsmd)")
    p.add_argument("--new-sampling", action="append", default=[], metavar="KEY=VALUE",
                   help="[sampling] setting of the new build's vdsmd (repeatable)")
    p.add_argument("--old-sampling", action="append", default=[], metavar="KEY=VALUE",
                   help="[sampling] setting of the old build's vdsmd (repeatable)")
    a = p.parse_args()

    def pairs(option, values):
        """[(name, value)] of NAME=VALUE arguments; exits on another form."""
        out = []
        for kv in values:
            name, sep, value = kv.partition("=")
            if not sep or not name.strip():
                sys.exit("%s %s: expected NAME=VALUE" % (option, kv))
            out.append((name.strip(), value.strip()))
        return out

    sides = (("new", a.new, pairs("--new-env", a.new_env), pairs("--new-sampling", a.new_sampling)),
             ("old", a.old, pairs("--old-env", a.old_env), pairs("--old-sampling", a.old_sampling)))
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="vdsm-ab-"))
    os.chmod(tmp, 0o755)
    procs = {}
    probes = {}
    try:
        for label, build, extra, conf in sides:
            run = tmp / label
            (run / "hib").mkdir(parents=True)
            os.chmod(run, 0o777)
            port = free_port()
            write_config(run, a.interval, a.interval * a.block_every, conf, port, a.prefix)
            env = dict(os.environ, VDSM_LOG_LEVEL="WARNING", VDSM_LOG_NO_JOURNAL="1")
            env.update(extra)
            proc = subprocess.Popen(
                [str(build / "src" / "vdsmd"), "--config", str(run / "vdsm.conf"),
                 "--no-drop-privileges"],
                stdout=open(run / "vdsmd.log", "wb"), stderr=subprocess.STDOUT, env=env)
            procs[label] = (proc, port,
                            " ".join([str(build)] + ["%s=%s" % kv for kv in extra + conf]))
        time.sleep(a.settle)
        m0 = {k: metrics(port) for k, (proc, port, _) in procs.items()}
        t0 = {k: thread_readings(proc.pid) for k, (proc, _, _) in procs.items()}
        seen = {k: dict(v) for k, v in t0.items()}
        f0 = {k: memory(proc.pid) for k, (proc, _, _) in procs.items()}
        # A probe sample takes at most about an interval on a loaded host:
        # half as many samples as intervals keep it inside the window (on
        # a host more loaded than that it is cut off below).
        probes.update({name: subprocess.Popen(
            [str(a.new / "bench" / "stats-probe"), "--prefix", a.prefix, "--samples",
             str(max(3, int(a.window / a.interval / 2))), "--pause", str(a.interval)]
            + (["--mode", "bulk", "--groups", "0"] if name == "ref" else ["--mode", "pattern"]),
            stdout=subprocess.PIPE, text=True) for name in a.probe})
        # Poll the threads through the window: with a long interval the
        # pool's idle threads end inside it, and their use would be lost.
        end = time.monotonic() + a.window
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            for k, (proc, _, _) in procs.items():
                seen[k].update(thread_readings(proc.pid))
        m1 = {k: metrics(port) for k, (proc, port, _) in procs.items()}
        f1 = {k: memory(proc.pid) for k, (proc, _, _) in procs.items()}
        probe_ms = {}
        probe_grace = max(600, a.window)  # seconds a probe may run past the window
        for name, proc in probes.items():
            try:
                out, _ = proc.communicate(timeout=probe_grace)
            except subprocess.TimeoutExpired:
                # On a host too loaded for a sample per interval the probe
                # is still at it; the two builds' figures stand without it.
                proc.kill()
                proc.wait()
                print("probe %s: not done %.0f s after the window (its calls took longer than "
                      "an interval): no ratio to it" % (name, probe_grace))
                continue
            if proc.returncode != 0:
                sys.exit("stats-probe (%s) failed" % name)
            r = json.loads(out.strip().splitlines()[-1])
            probe_ms[name] = r["cpu_ms"]
            print("probe %s: %d samples, %.3f ms CPU and %.1f ms wall per sample, %d domains"
                  % (name, r["samples"], r["cpu_ms"], r["wall_ms"], r["domains"]))
        cpu = {}
        print("N = %d guests, %.0f s interval, %.0f s window, both builds at once"
              % (a.n, a.interval, a.window))
        for k, (proc, _, build) in procs.items():
            def delta(name):
                return m1[k].get(name, 0) - m0[k].get(name, 0)
            full = delta("vdsm_vm_sampling_vm_samples_total") / max(a.n, 1)
            if full <= 0:
                sys.exit("%s stored no samples: is %s* running?" % (build, a.prefix))
            per = {c: (v[0] / 1e6 / full, v[1] / full)
                   for c, v in thread_use(t0[k], seen[k]).items()}
            cpu[k] = sum(ms for ms, _ in per.values())
            print("%s (%s): %.1f full samples, %.2f calls per sample, CPU %.3f ms per sample, "
                  "%.1f wake-ups per sample" % (k, build, full,
                                                delta("vdsm_vm_sampling_calls_total") / full,
                                                cpu[k], sum(w for _, w in per.values())))
            print("    slow calls %d, stuck calls %d, monitor checks %d (%.1f per sample)"
                  % (delta("vdsm_vm_sampling_calls_slow_total"),
                     delta("vdsm_vm_sampling_calls_stuck_total"),
                     delta("vdsm_vm_sampling_monitor_checks_total"),
                     delta("vdsm_vm_sampling_monitor_checks_total") / full))
            print("    minor page faults %.1f per sample, RSS %d KiB at the window's end"
                  % ((f1[k][0] - f0[k][0]) / full, f1[k][1]))
            print("    by thread (ms, wake-ups per sample): " + ", ".join(
                "%s %.3f/%.1f" % (c, ms, w) for c, (ms, w) in sorted(per.items()) if ms or w))
        print("new/old CPU per sample: %.3f" % (cpu["new"] / cpu["old"]))
        for name, ms in probe_ms.items():
            print("CPU per sample against the %s probe's: new %.2fx, old %.2fx"
                  % (name, cpu["new"] / ms, cpu["old"] / ms))
    finally:
        for proc in probes.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for proc, _, _ in procs.values():
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
