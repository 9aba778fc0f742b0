"""The README walk-through (docs/vm-walkthrough.md), command for command
with vdsm-client, on the example domain XML shipped in the repo
(data/examples/tiny-vm.xml): it boots here, and create, list, stats,
pause, cont and destroy answer as the walk-through shows."""

import json
import subprocess

import pytest

from conftest import REPO, VDSM_CLIENT
from vm_fixtures import PREFIX, domain_names, new_id, wait_for, wait_guest_ready
from vm_fixtures import api, events, tiny_guest, vm_daemon, vm_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(600)

EXAMPLE = REPO / "data" / "examples" / "tiny-vm.xml"
EXAMPLE_ID = "6c1f1e2a-7d5b-4c39-9a0e-3b8f5e1d2c40"


def example_xml(name, vm_id):
    """The example, renamed for this test session."""
    xml = EXAMPLE.read_text()
    assert "<name>tiny-vm</name>" in xml and EXAMPLE_ID in xml
    return xml.replace("tiny-vm", name).replace(EXAMPLE_ID, vm_id)


def client(daemon, *args, params=None):
    cmd = [str(VDSM_CLIENT), "--insecure", "-p", str(daemon.port)]
    if params is not None:
        cmd += ["-f", "-"]
    proc = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120,
                          input=json.dumps(params) if params is not None else None)
    assert proc.returncode == 0, "vdsm-client %s: %s%s" % (" ".join(args), proc.stdout,
                                                           proc.stderr)
    return json.loads(proc.stdout)


def test_walkthrough(vm_daemon, api, events, tiny_guest):
    name = PREFIX + "tiny-vm"
    vm = new_id()
    created = client(vm_daemon, "VM", "create",
                     params={"vmID": vm, "vmParams": {"xml": example_xml(name, vm)}})
    assert created["vmId"] == vm and created["status"] == "WaitForLaunch"
    assert created["vmName"] == name

    listed = client(vm_daemon, "Host", "getVMList")
    assert vm in [v["vmId"] for v in listed]
    events.wait(vm, "Powering up", timeout=120)
    # It really boots: the console shows the guest's ready line.
    wait_guest_ready(name, timeout=240)

    stats = client(vm_daemon, "VM", "getStats", "vmID=" + vm)
    assert len(stats) == 1
    assert stats[0]["status"] in ("Powering up", "Up")
    assert stats[0]["displayInfo"][0]["type"] == "vnc"
    assert int(stats[0]["pid"]) > 0

    assert client(vm_daemon, "VM", "pause", "vmID=" + vm) == {"vmList": {}}
    events.wait(vm, "Paused")
    paused = client(vm_daemon, "VM", "getStats", "vmID=" + vm)[0]
    assert (paused["status"], paused["pauseCode"]) == ("Paused", "NOERR")
    assert client(vm_daemon, "VM", "cont", "vmID=" + vm) == {"vmList": {}}
    wait_for(lambda: events.statuses(vm)[-1] in ("Up", "Powering up") and
             "Paused" in events.statuses(vm), 30, what="resumed")

    xmls = client(vm_daemon, "Host", "dumpxmls", "vmList=[\"%s\"]" % vm)
    assert "<name>%s</name>" % name in xmls[vm]

    assert client(vm_daemon, "VM", "destroy", "vmID=" + vm) is True
    down = events.wait(vm, "Down")
    assert down["exitReason"] == 6
    assert vm not in [v["vmId"] for v in client(vm_daemon, "Host", "getVMList")]
    assert name not in domain_names()
