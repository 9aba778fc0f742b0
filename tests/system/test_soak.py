"""A long run holds its memory: sampling many VMs many times, while
clients ask for their stats (VM and host) and scrape /metrics, must not make vdsmd grow.

A regression here kept every sample's calls and their domain list alive
(a tick and its calls referenced each other): about 5 KiB per sample with
50 VMs, 60 MB a day at 100 VMs and the default 15 s interval.

The VMs are those of libvirt's test driver (a node file of running
domains, no QEMU): a few hundred samples take seconds instead of hours.
The bound is in memory, not time; the sanitizer stage leaves it out
(ASan keeps freed memory in quarantine, so RSS grows there anyway)."""

import uuid

import pytest

from sampling_fixtures import get_metrics
from vdsmtest import wait_for

N_VMS = 100
WARM_UP_SAMPLES = 150
MEASURED_SAMPLES = 200
# The leak above grew 1.8 MiB in 200 samples of 100 VMs.  Without it the
# first 100-300 samples add 150-300 KiB (the threads' allocator arenas
# settling), then next to nothing: +4 and +12 KiB in two runs of this
# test, 26072 -> 26092 KiB over 600 samples in a longer one.
MAX_GROWTH_KIB = 640


def _node_xml(path, n):
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


@pytest.mark.memory
def test_sampling_does_not_grow(vdsmd_factory, workdir):
    node = _node_xml(workdir / "soak-node.xml", N_VMS)
    daemon = vdsmd_factory(ssl=False, overrides={
        "vars": {"libvirt_uri": "test://%s" % node, "vm_sample_interval": "0.1",
                 "host_sample_stats_interval": "1"}})
    client = daemon.rpc()
    one = uuid.UUID(int=0x50a4 << 64 | 7)

    def work_until(samples):
        # Clients ask meanwhile: the stats and /metrics paths run too.
        def reached():
            stats = client.result("Host.getAllVmStats", {})
            assert len(stats) == N_VMS, len(stats)
            assert client.result("VM.getStats", {"vmID": str(one)})[0]["vmId"] == str(one)
            assert "cpuIdle" in client.result("Host.getStats", {})
            return _samples(daemon) >= samples
        wait_for(reached, timeout=120, interval=0.2, what="%d samples" % samples)

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
