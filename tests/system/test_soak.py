"""A long run holds its memory: sampling many VMs many times, while
clients ask for their stats (VM and host) and scrape /metrics, must not make vdsmd grow,
and vdsmd run under valgrind loses no memory.

A regression here kept every sample's calls and their domain list alive
(a tick and its calls referenced each other): about 5 KiB per sample with
50 VMs, 60 MB a day at 100 VMs and the default 15 s interval.

The VMs are those of libvirt's test driver (a node file of running
domains, no QEMU): a few hundred samples take seconds instead of hours.
The bound is in memory, not time; the sanitizer stage leaves it out
(ASan keeps freed memory in quarantine, so RSS grows there anyway).

The RSS bound catches a leak only where it is large per sample;
valgrind's leak check at exit catches any block nothing points to any
more (LeakSanitizer did not report the leak above: docs/testing.md)."""

import uuid

import pytest

from sampling_fixtures import get_metrics
from vdsmtest import wait_for

N_VMS = 100
WARM_UP_SAMPLES = 600
MEASURED_SAMPLES = 200
# The leak above grew 1.8 MiB in 200 samples of 100 VMs.  Without it, with
# glibc's malloc, the first 100-300 samples add 150-300 KiB (the threads'
# allocator arenas settling), then next to nothing: +4 and +12 KiB in two
# runs of this test, 26072 -> 26092 KiB over 600 samples in a longer one.
# A -Dallocator=tcmalloc build's thread caches fill for longer:
# +1.3 MiB in the first 450 samples, then +110 KiB from 600 to 900 samples
# (its thread caches capped at 8 MiB in all, src/vdsmd.c).
MAX_GROWTH_KIB = 640


def _node_xml(path, n):
    """A test-driver node file of @n running domains, each with a disk and a NIC."""
    domains = []
    for i in range(n):
        domains.append(
            "<domain type='test'><name>soak%d</name><uuid>%s</uuid>"
            "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>"
            "<disk type='file' device='disk'><source file='/soak/d%d.img'/>"
            "<target dev='vda'/></disk>"
            "<interface type='network'><mac address='52:54:00:5a:%02x:%02x'/>"
            "<source network='default'/><target dev='soak%d'/></interface>"
            "</devices></domain>" % (i, uuid.UUID(int=0x50a4 << 64 | i), i, i // 256, i % 256, i))
    path.write_text("<node>\n%s\n</node>\n" % "\n".join(domains))
    path.chmod(0o644)
    return path


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def _samples(daemon):
    status, _, text = get_metrics(daemon)
    assert status == 200, text
    for line in text.splitlines():
        if line.startswith("vdsm_vm_sampling_ticks_total "):
            return float(line.split()[1])
    raise AssertionError("no vdsm_vm_sampling_ticks_total in /metrics")


def _start(vdsmd_factory, node, n, interval, valgrind=False):
    """vdsmd on the test driver's @node; returns it and a function that
    keeps a client asking for stats until it has taken a number of samples."""
    daemon = vdsmd_factory(ssl=False, valgrind=valgrind, overrides={
        "vars": {"libvirt_uri": "test://%s" % node, "vm_sample_interval": str(interval),
                 "host_sample_stats_interval": "1"}})
    client = daemon.rpc()
    one = uuid.UUID(int=0x50a4 << 64 | 7)

    def work_until(samples, timeout=120):
        # Clients ask meanwhile: the stats and /metrics paths run too.
        def reached():
            stats = client.result("Host.getAllVmStats", {}, timeout=30)
            assert len(stats) == n, len(stats)
            got = client.result("VM.getStats", {"vmID": str(one)}, timeout=30)
            assert got[0]["vmId"] == str(one), got
            assert "cpuIdle" in client.result("Host.getStats", {}, timeout=30)
            return _samples(daemon) >= samples
        wait_for(reached, timeout=timeout, interval=0.2, what="%d samples" % samples)

    return daemon, client, work_until


@pytest.mark.memory
def test_sampling_does_not_grow(vdsmd_factory, workdir):
    node = _node_xml(workdir / "soak-node.xml", N_VMS)
    daemon, client, work_until = _start(vdsmd_factory, node, N_VMS, 0.1)

    work_until(WARM_UP_SAMPLES)
    start, rss0 = _samples(daemon), _rss_kib(daemon.proc.pid)
    work_until(start + MEASURED_SAMPLES)
    done, rss1 = _samples(daemon), _rss_kib(daemon.proc.pid)
    print("RSS %d -> %d KiB (%+d) in %d samples of %d VMs" % (rss0, rss1, rss1 - rss0,
                                                             done - start, N_VMS))
    assert rss1 - rss0 <= MAX_GROWTH_KIB, (
        "vdsmd grew %d KiB (%d -> %d) in %d samples of %d VMs"
        % (rss1 - rss0, rss0, rss1, done - start, N_VMS))
    assert client.result("Host.ping2", {}) is True


@pytest.mark.memory
def test_no_leak_under_valgrind(vdsmd_factory, workdir):
    """vdsmd under valgrind's memcheck samples 20 domains 30 times while a
    client asks for stats; after SIGTERM no block is definitely or
    indirectly lost (the tick/call cycle lost 22 KB in those 30 samples)."""
    n = 20
    node = _node_xml(workdir / "leak-node.xml", n)
    daemon, client, work_until = _start(vdsmd_factory, node, n, 0.2, valgrind=True)
    work_until(30, timeout=180)
    client.close()
    assert daemon.terminate(timeout=180) == 0, daemon.log_tail()
    assert daemon.valgrind_lost() == {"definitely": 0, "indirectly": 0}, (
        "\n".join(daemon.valgrind_problems()) or "no leak summary from valgrind")
