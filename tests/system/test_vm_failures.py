"""Every way VM.create and the VM verbs fail: clear VDSM errors for what
can be checked at once (9 bad XML / missing emulator, 13 missing image,
4 duplicate id), a Down VM with libvirt's own error text and no stray
domain for what fails inside libvirt, and 1/6/4/91 from the verbs."""

import subprocess

import pytest

from vm_fixtures import (PREFIX, diskless_xml, domain_names, domain_state, make_file, new_id,
                         virsh, wait_for)
from vm_fixtures import api, events, vm_daemon, vm_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)


def _no_vm(api, vm_id):
    return vm_id not in api.vm_ids()


def test_bad_xml(api):
    err = api.error("VM.create", {"vmID": new_id(), "vmParams": {"xml": "<domain><name>x"}})
    assert err.code == 9 and "invalid domain XML" in err.message
    err = api.error("VM.create", {"vmID": new_id(), "vmParams": {"xml": "<network/>"}})
    assert err.code == 9
    # No uuid, or no name.
    xml = diskless_xml(PREFIX + "nouuid", new_id())
    err = api.error("VM.create", {"vmID": new_id(), "vmParams": {
        "xml": xml.replace("<uuid>", "<!--").replace("</uuid>", "-->")}})
    assert err.code == 9 and "uuid" in err.message
    # No XML at all.
    err = api.error("VM.create", {"vmID": new_id(), "vmParams": {"memSize": 64}})
    assert err.code == 9 and "xml" in err.message
    assert not [n for n in domain_names() if n.startswith(PREFIX)]


def test_missing_emulator(api):
    vm_id = new_id()
    err = api.error("VM.create", {"vmID": vm_id, "vmParams": {
        "xml": diskless_xml(PREFIX + "noemu", vm_id, emulator="/nonexistent/qemu-kvm")}})
    assert err.code == 9 and "/nonexistent/qemu-kvm" in err.message
    assert _no_vm(api, vm_id)
    assert PREFIX + "noemu" not in domain_names()


def test_missing_image(api):
    vm_id = new_id()
    err = api.error("VM.create", {"vmID": vm_id, "vmParams": {
        "xml": diskless_xml(PREFIX + "noimg", vm_id, disk="/nonexistent/vdt3-disk.qcow2")}})
    assert err.code == 13 and "/nonexistent/vdt3-disk.qcow2" in err.message
    assert _no_vm(api, vm_id)
    assert PREFIX + "noimg" not in domain_names()


def test_duplicate_id(api, events):
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "dup", vm_id))
    # Same id while the first is still being created, and once it is Up.
    err = api.error("VM.create", {"vmID": vm_id, "vmParams": {
        "xml": diskless_xml(PREFIX + "dup2", vm_id)}})
    assert err.code == 4
    events.wait(vm_id, "Up")
    err = api.error("VM.create", {"vmID": vm_id, "vmParams": {
        "xml": diskless_xml(PREFIX + "dup", vm_id)}})
    assert err.code == 4
    # A Down VM keeps its id until VM.destroy.
    virsh("destroy", PREFIX + "dup")
    down = events.wait(vm_id, "Down")
    assert down["exitCode"] == 1 and down["exitReason"] == 2  # not asked for: lost qemu
    err = api.error("VM.create", {"vmID": vm_id, "vmParams": {
        "xml": diskless_xml(PREFIX + "dup", vm_id)}})
    assert err.code == 4
    api.destroy(vm_id)
    # Then the id is free again.
    api.create(diskless_xml(PREFIX + "dup", vm_id))
    api.wait_status(vm_id, "Up")
    api.destroy(vm_id)


def test_duplicate_of_a_running_libvirt_domain(api, vm_env):
    """A running domain with that uuid or name that vdsmd does not know."""
    vm_id = new_id()
    path = vm_env / "vdt3-foreign.xml"
    path.write_text(diskless_xml(PREFIX + "foreign", vm_id))
    virsh("create", str(path))
    wait_for(lambda: vm_id in api.vm_ids(), 30, what="the foreign domain adopted")
    # Known now (external): 4 from the table; a fresh id with that name: 4
    # from libvirt.
    assert api.error("VM.create", {"vmID": vm_id, "vmParams": {
        "xml": diskless_xml(PREFIX + "foreign", vm_id)}}).code == 4
    other = new_id()
    err = api.error("VM.create", {"vmID": other, "vmParams": {
        "xml": diskless_xml(PREFIX + "foreign", other)}})
    assert err.code == 4 and PREFIX + "foreign" in err.message
    assert domain_state(PREFIX + "foreign") == "running"


def test_libvirt_start_failure_leaves_down_vm_and_no_domain(api, events, vm_env):
    """QEMU refuses the domain: the VM is Down with exitReason 3 and
    libvirt's own message; the domain defined for it is gone."""
    vm_id = new_id()
    name = PREFIX + "badimg"
    img = make_file(vm_env / "vdt3-not-qcow2.img")  # zeros, declared qcow2
    status = api.create(diskless_xml(name, vm_id, disk=img))
    assert status["status"] == "WaitForLaunch"
    down = events.wait(vm_id, "Down", timeout=60)
    assert down["exitCode"] == 1
    assert down["exitReason"] == 3
    assert "qcow2" in down["exitMessage"] or "qcow" in down["exitMessage"].lower(), down
    assert events.statuses(vm_id) == ["WaitForLaunch", "Down"]
    assert name not in domain_names()
    # Still reported, Down, until VM.destroy.
    stats = api.stats(vm_id)
    assert stats["status"] == "Down" and stats["exitMessage"] == down["exitMessage"]
    assert api.error("VM.pause", {"vmID": vm_id}).code == 6
    assert vm_id in api.call("Host.dumpxmls", {"vmList": [vm_id]})
    assert api.destroy(vm_id) is True
    assert vm_id not in api.vm_ids()


def test_libvirt_define_failure(api, events, vm_env):
    vm_id = new_id()
    name = PREFIX + "badmachine"
    xml = diskless_xml(name, vm_id, machine="vdt3-no-such-machine")
    api.create(xml)
    down = events.wait(vm_id, "Down", timeout=60)
    assert down["exitReason"] == 3
    assert name not in domain_names()
    # The message is libvirt's own, word for word.
    path = vm_env / "vdt3-badmachine.xml"
    path.write_text(xml)
    proc = subprocess.run(["virsh", "-c", "qemu:///system", "define", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert down["exitMessage"] in proc.stderr, (down, proc.stderr)
    api.destroy(vm_id)


def test_verbs_on_unknown_and_down_vms(api, events):
    unknown = new_id()
    for method, extra in (("VM.getStats", {}), ("VM.getInfo", {}), ("VM.pause", {}),
                          ("VM.cont", {}), ("VM.reset", {}), ("VM.destroy", {}),
                          ("VM.shutdown", {}), ("VM.setBalloonTarget", {"target": 1024}),
                          ("VM.changeCD", {"driveSpec": {"path": ""}}),
                          ("VM.hibernate", {"hibernationVolHandle": "x.mem"})):
        params = dict(vmID=unknown, **extra)
        err = api.error(method, params)
        assert err.code == 1, (method, err)
        assert unknown in err.message

    vm_id = new_id()
    name = PREFIX + "down"
    api.create(diskless_xml(name, vm_id))
    events.wait(vm_id, "Up")
    virsh("destroy", name)
    events.wait(vm_id, "Down")
    for method in ("VM.pause", "VM.cont", "VM.reset", "VM.shutdown"):
        assert api.error(method, {"vmID": vm_id}).code == 6, method
    api.destroy(vm_id)


def test_shutdown_without_acpi(api, events):
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "noacpi", vm_id, acpi=False))
    events.wait(vm_id, "Up")
    err = api.error("VM.shutdown", {"vmID": vm_id})
    assert err.code == 4
    assert err.message == "VM without ACPI or active oVirt guest agent. Try Forced Shutdown."
    # With force the chain goes straight to the forced step.
    assert api.call("VM.shutdown", {"vmID": vm_id, "force": True, "timeout": 1}) is True
    down = events.wait(vm_id, "Down", timeout=30)
    assert down["exitReason"] == 6
    api.destroy(vm_id)



def test_shutdown_ignored_then_forced(api, events):
    """A guest that ignores every request (no OS behind the ACPI button, no
    agent): without force the request ends and the VM stays Up; with force
    it is destroyed after the ACPI step's timeout, as a shutdown (6)."""
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "ignore", vm_id))
    events.wait(vm_id, "Up")
    assert api.call("VM.shutdown", {"vmID": vm_id, "timeout": 1}) is True
    events.wait(vm_id, "Powering down", timeout=10)
    wait_for(lambda: "the guest ignored the shutdown request" in api.daemon.log_text(), 30,
             what="the request to end")
    assert api.status(vm_id) == "Up"
    assert "Down" not in events.statuses(vm_id)
    assert api.call("VM.shutdown", {"vmID": vm_id, "force": True, "timeout": 1}) is True
    down = events.wait(vm_id, "Down", timeout=30)
    assert (down["exitCode"], down["exitReason"]) == (0, 6)
    api.destroy(vm_id)

def test_bad_hibernation_handles(api, events):
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "badhib", vm_id))
    events.wait(vm_id, "Up")
    for handle in ("../escape.mem", "/etc/passwd", "a/b", "1,2,3,4,5,6"):
        err = api.error("VM.hibernate", {"vmID": vm_id, "hibernationVolHandle": handle})
        assert err.code == 91, (handle, err)
    assert api.status(vm_id) == "Up"
    # Restoring from an image that does not exist: 13.
    err = api.error("VM.create", {"vmID": new_id(), "vmParams": {"hiberVolHandle": "nope.mem"}})
    assert err.code == 13
    # Incoming migration has its place but no implementation yet: 44.
    err = api.error("VM.create", {"vmID": new_id(), "vmParams": {
        "migrationDest": "libvirt", "xml": "<domain/>"}})
    assert err.code == 44
    api.destroy(vm_id)
