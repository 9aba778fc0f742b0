"""Fixtures and helpers for the VM sampling tests (tests/system/test_sampling*.py).

They drive the real vdsmd (conftest.py's vdsmd_factory, vm_fixtures.py's
Api and EventWatcher) against the real libvirtd and QEMU of this host.
Every domain they create is named `vdt4-p<pid>-...` (the pid of the
pytest process, so two test runs on one host never touch each other's
domains); `sampling_env` destroys and undefines this run's domains, and
those of runs whose process is gone, before and after each test.

The domains are diskless (no OS: they sit in the BIOS) with a small
qcow2 disk for block stats and a virtio NIC on the private bridge
`vdt4br0`, which has no IP address on the host and nothing else attached,
so nothing is routed anywhere.  Sampling runs with short intervals
(SAMPLING below) so the tests see many samples quickly.
"""

import http.client
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from vm_fixtures import (EMULATOR, VIRSH, Api, EventWatcher, domain_names, domain_type,
                         ensure_libvirtd, qemu_pid, vm_overrides)
from vdsmtest import wait_for

PREFIX = "vdt4-p%d-" % os.getpid()
BRIDGE = "vdt4br0"
IMAGES = pathlib.Path("/var/lib/libvirt/images/vdt4-test-%d" % os.getpid())
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# Short intervals for the tests (seconds).  The bounds the tests check
# follow from them (docs/sampling.md, "Bounds"):
#   - a responsive VM's newest sample is never older than
#     INTERVAL + CALL_TIMEOUT + (the call itself);
#   - a stopped QEMU is reported "-1" within INTERVAL + CALL_TIMEOUT
#     (its call times out) and at the latest after COMMAND_TIMEOUT + INTERVAL;
#   - after it continues it is "0" again within two intervals.
INTERVAL = 1.0
CALL_TIMEOUT = 1.0
COMMAND_TIMEOUT = 8.0
TTL = 1.5
SAMPLING = {
    "vars": {"vm_sample_interval": str(INTERVAL), "vm_command_timeout": str(COMMAND_TIMEOUT),
             "host_sample_stats_interval": "1"},
    "sampling": {"stats_call_timeout": str(CALL_TIMEOUT), "unresponsive_ttl": str(TTL),
                 "block_sample_interval": "2"},
}


def ensure_bridge():
    """The private bridge for the test NICs: up, no address."""
    if not pathlib.Path("/sys/class/net/%s" % BRIDGE).exists():
        subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "flush", "dev", BRIDGE], check=True)
    subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)


def _ours_or_orphaned(name):
    """This run's domains, and those of test runs that no longer exist."""
    m = re.match(r"vdt4-p(\d+)-", name)
    if not m:
        return False
    return name.startswith(PREFIX) or not pathlib.Path("/proc/%s" % m.group(1)).exists()


def cleanup_domains():
    names = [n for n in domain_names() if _ours_or_orphaned(n)]
    procs = [subprocess.Popen(VIRSH + ["destroy", n], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for n in names]
    for p in procs:
        p.wait(60)
    for n in names:
        subprocess.run(VIRSH + ["undefine", n], capture_output=True)
    shutil.rmtree(IMAGES, ignore_errors=True)


def make_disk(name, size="32M"):
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / ("%s.qcow2" % name)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    os.chmod(path, 0o666)
    return path


def domain_xml(name, vm_id, disk=None, nic=True, memory_mib=64):
    """A diskless domain (no OS) with an optional qcow2 disk, a virtio NIC
    on the private bridge and a balloon that reports guest stats."""
    assert name.startswith(PREFIX)
    dom_type = domain_type()
    devices = ["<emulator>%s</emulator>" % EMULATOR]
    if disk:
        devices.append("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                       "<source file='%s'/><target dev='vda' bus='virtio'/></disk>" % disk)
    if nic:
        devices.append("<interface type='bridge'><source bridge='%s'/>"
                       "<model type='virtio'/></interface>" % BRIDGE)
    devices.append("<video><model type='none'/></video>")
    devices.append("<memballoon model='virtio'><stats period='2'/></memballoon>")
    tcg = "<tcg><tb-cache unit='MiB'>16</tb-cache></tcg>" if dom_type == "qemu" else ""
    return """<domain type='%s'>
  <name>%s</name>
  <uuid>%s</uuid>
  <memory unit='MiB'>%d</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/>%s</features>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    %s
  </devices>
</domain>
""" % (dom_type, name, vm_id, memory_mib, tcg, "\n    ".join(devices))


class Vm:
    def __init__(self, name, vm_id):
        self.name = name
        self.id = vm_id

    @property
    def pid(self):
        return qemu_pid(self.name)


def create_vms(api, count, tag="s", disk=True, nic=True):
    """Create @count domains through VM.create and wait until they run."""
    vms = []
    for i in range(count):
        name = "%s%s%d" % (PREFIX, tag, i)
        vm_id = str(uuid.uuid4())
        path = make_disk(name) if disk else None
        api.create(domain_xml(name, vm_id, disk=path, nic=nic))
        vms.append(Vm(name, vm_id))
    for vm in vms:
        wait_for(lambda: vm.pid is not None, 60, interval=0.1, what="QEMU of %s" % vm.name)
        # the start-up flow is over (no longer "WaitForLaunch")
        wait_for(lambda: api.stats(vm.id)["status"] in ("Up", "Powering up"), 60, interval=0.1,
                 what="%s to be up" % vm.name)
    return vms


def sample_age(stats):
    """Age in seconds of the sample behind a VmStats dict: the newest
    sample's time is each NIC's sampleTime (CLOCK_MONOTONIC, like
    Python's time.monotonic on Linux)."""
    nets = stats.get("network") or {}
    if not nets:
        return None
    return time.monotonic() - max(n["sampleTime"] for n in nets.values())


def all_stats(api):
    """Host.getAllVmStats as {vmId: stats}; fails on a duplicated entry."""
    lst = api.call("Host.getAllVmStats")
    ids = [s["vmId"] for s in lst]
    assert len(ids) == len(set(ids)), "duplicated VM in getAllVmStats: %r" % ids
    return {s["vmId"]: s for s in lst}


def wait_sampled(api, vms, timeout=30):
    """Wait until every VM has a pair of samples with network stats."""
    def ready():
        st = all_stats(api)
        return all(vm.id in st and st[vm.id].get("cpuActual") and st[vm.id].get("network")
                   for vm in vms)
    wait_for(ready, timeout, interval=0.2, what="stats of %d VMs" % len(vms))


def get_metrics(daemon, port=None, timeout=5):
    """GET /metrics over plain HTTP; returns (status, content type, text)."""
    conn = http.client.HTTPConnection(daemon.host, port or daemon.port, timeout=timeout)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read().decode()
    finally:
        conn.close()


def promtool_check(text):
    """Run Debian's `promtool check metrics` on an exposition; returns its
    output (it fails the test when promtool reports a problem)."""
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, "promtool check metrics failed:\n%s" % out
    return out


def metric_values(text, name):
    """{labels text: value} of one metric family's samples."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, _, value = line.rpartition(" ")
            out[head[len(name):]] = float(value)
    return out


def stop_qemu(vm):
    os.kill(vm.pid, signal.SIGSTOP)


def cont_qemu(vm):
    pid = vm.pid
    if pid:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


@pytest.fixture
def sampling_env(workdir):
    """No vdt4- domains before or after the test; the bridge exists;
    libvirtd runs afterwards; every stopped QEMU is continued."""
    if not shutil.which("virsh"):
        pytest.skip("libvirt client not installed")
    ensure_libvirtd()
    ensure_bridge()
    cleanup_domains()
    domain_type()
    yield workdir
    for name in domain_names():
        if name.startswith(PREFIX):
            cont_qemu(Vm(name, None))
    ensure_libvirtd()
    cleanup_domains()


@pytest.fixture
def sampling_daemon(request, sampling_env, vdsmd_factory):
    """vdsmd (plain TCP) with short sampling intervals;
    @pytest.mark.vdsm_config adds settings."""
    marker = request.node.get_closest_marker("vdsm_config")
    extra = {k: dict(v) for k, v in SAMPLING.items()}
    for section, values in (marker.args[0] if marker else {}).items():
        extra.setdefault(section, {}).update(values)
    return vdsmd_factory(ssl=False, overrides=vm_overrides(sampling_env, extra))


@pytest.fixture
def sapi(sampling_daemon):
    client = Api(sampling_daemon)

    def ready():
        resp = client.client.call("Host.ping2", {})
        return "error" not in resp
    wait_for(ready, 60, interval=0.1, what="vdsmd to finish recovery")
    yield client
    client.close()


@pytest.fixture
def events(sampling_daemon):
    watcher = EventWatcher(sampling_daemon)
    yield watcher
    watcher.close()
