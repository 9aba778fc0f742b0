"""VM lifecycle verbs on real libvirt + QEMU domains (diskless, no OS):
create, the lists and stats, pause/cont/reset, console tickets, CD change,
balloon, destroy, with the VM_status events a python3-stomp subscriber
sees, and the staging area that keeps verbs off a half-built VM."""

import re
import time

import pytest

from vm_fixtures import (GUEST_WAIT, PREFIX, VdsmError, cleanup_domains, diskless_xml,
                         domain_names, domain_state, make_file, new_id, qemu_pid, virsh,
                         wait_for)
from vm_fixtures import api, events, slow_emulator, vm_daemon, vm_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)


def test_create_events_and_destroy(api, events):
    vm_id = new_id()
    name = PREFIX + "life"
    t0 = time.monotonic()
    status = api.create(diskless_xml(name, vm_id))
    # VM.create answers at once with the status dict, WaitForLaunch.
    assert status["vmId"] == vm_id
    assert status["status"] == "WaitForLaunch"
    assert status["vmName"] == name
    assert int(status["statusTime"]) > 0
    assert "<uuid>%s</uuid>" % vm_id in status["xml"]

    events.wait(vm_id, "Up", timeout=60)
    assert time.monotonic() - t0 >= GUEST_WAIT * 0.9  # "Powering up" lasted its window
    # The domain is persistent and runs.
    assert domain_state(name) == "running"
    assert "Persistent:     yes" in virsh("dominfo", name)

    stats = api.stats(vm_id)
    assert stats["status"] == "Up"
    assert stats["vmName"] == name
    assert stats["vmType"] == "kvm"
    assert stats["acpiEnable"] == "true"
    assert stats["monitorResponse"] == "0"
    assert int(stats["elapsedTime"]) >= 0
    assert int(stats["pid"]) == qemu_pid(name)
    assert stats["displayInfo"][0]["type"] == "vnc"
    assert int(stats["displayInfo"][0]["port"]) >= 5900
    assert stats["displayInfo"][0]["ipAddress"] == "127.0.0.1"
    assert stats["displayType"] == "vnc"

    assert api.destroy(vm_id) is True
    down = events.wait(vm_id, "Down", timeout=30)
    assert down["exitCode"] == 0
    assert down["exitReason"] == 6
    assert down["exitMessage"] == "Admin shut down from the engine"
    # Gone from the host and from the table.
    assert name not in domain_names()
    assert vm_id not in api.vm_ids()
    assert api.error("VM.getStats", {"vmID": vm_id}).code == 1
    # Exactly this sequence of events, each status once.
    assert events.statuses(vm_id) == ["WaitForLaunch", "Powering up", "Up", "Down"]


def test_lists_info_and_dumpxmls(api):
    a, b = new_id(), new_id()
    api.create(diskless_xml(PREFIX + "list-a", a))
    api.create(diskless_xml(PREFIX + "list-b", b))
    api.wait_status(a, "Up")
    api.wait_status(b, "Up")

    short = {v["vmId"]: v for v in api.call("Host.getVMList")}
    assert short[a]["status"] == "Up"
    assert set(short[a]) == {"vmId", "status", "statusTime"}
    only_b = api.call("Host.getVMList", {"vmList": [b]})
    assert [v["vmId"] for v in only_b] == [b]

    full = {v["vmId"]: v for v in api.call("Host.getVMFullList", {"vmList": [a, b]})}
    assert set(full) == {a, b}
    assert full[a]["vmName"] == PREFIX + "list-a"
    assert "<domain" in full[a]["xml"]

    info = api.call("VM.getInfo", {"vmID": b})
    assert info["vmId"] == b and info["status"] == "Up"
    assert int(info["pid"]) == qemu_pid(PREFIX + "list-b")

    all_stats = {s["vmId"]: s for s in api.call("Host.getAllVmStats")}
    assert all_stats[a]["status"] == "Up" and all_stats[b]["status"] == "Up"
    # Host.getStats counts them (other VMs of this host may add to it).
    host = api.call("Host.getStats")
    assert int(host["vmCount"]) >= 2 and int(host["vmActive"]) >= 2
    assert int(host["vmCount"]) == len(api.call("Host.getVMList"))

    xmls = api.call("Host.dumpxmls", {"vmList": [a, b]})
    assert set(xmls) == {a, b}
    # The live XML (with the runtime id and the ovirt-vm metadata block).
    assert re.search(r"<domain type='\w+' id='\d+'>", xmls[a])
    assert 'xmlns:ovirt-vm="http://ovirt.org/vm/1.0"' in xmls[a]
    assert "<ovirt-vm:startTime type=\"float\">" in xmls[a]
    assert api.error("Host.dumpxmls", {"vmList": [a, new_id()]}).code == 1

    for vm_id in (a, b):
        api.destroy(vm_id)
    assert not {a, b} & set(api.vm_ids())


def test_pause_cont_reset(api, events):
    vm_id = new_id()
    name = PREFIX + "pause"
    api.create(diskless_xml(name, vm_id))
    events.wait(vm_id, "Up")
    pid = qemu_pid(name)

    assert api.call("VM.pause", {"vmID": vm_id}) == {"vmList": {}}
    paused = events.wait(vm_id, "Paused", timeout=15)
    assert paused["pauseCode"] == "NOERR"
    assert domain_state(name) == "paused"
    stats = api.stats(vm_id)
    assert stats["status"] == "Paused" and stats["pauseCode"] == "NOERR"

    assert api.call("VM.cont", {"vmID": vm_id}) == {"vmList": {}}
    wait_for(lambda: events.statuses(vm_id).count("Up") == 2, 15, what="Up after cont")
    assert domain_state(name) == "running"
    assert "pauseCode" not in api.stats(vm_id)
    # cont on a running VM is harmless.
    assert api.call("VM.cont", {"vmID": vm_id}) == {"vmList": {}}

    # A hard reset reboots the guest: libvirt's reboot event puts the VM
    # back into its "Powering up" window; QEMU is the same process.
    assert api.call("VM.reset", {"vmID": vm_id}) is True
    wait_for(lambda: events.statuses(vm_id).count("Powering up") == 2, 15,
             what="Powering up after reset")
    wait_for(lambda: events.statuses(vm_id).count("Up") == 3, 15, what="Up after reset")
    assert qemu_pid(name) == pid
    assert events.statuses(vm_id) == ["WaitForLaunch", "Powering up", "Up", "Paused", "Up",
                                      "Powering up", "Up"]
    api.destroy(vm_id)
    assert events.statuses(vm_id)[-1] == "Down"


def test_launch_paused_and_custom_properties(api, events):
    vm_id = new_id()
    name = PREFIX + "lpaused"
    api.create(diskless_xml(name, vm_id), launchPaused="true", custom={"sap_agent": "true"})
    paused = events.wait(vm_id, "Paused")
    assert paused["pauseCode"] == "NOERR"
    assert domain_state(name) == "paused"
    assert "Up" not in events.statuses(vm_id)
    md = virsh("metadata", name, "--uri", "http://ovirt.org/vm/1.0")
    assert '<launchPaused type="bool">True</launchPaused>' in md
    assert "<sap_agent>true</sap_agent>" in md
    api.call("VM.cont", {"vmID": vm_id})
    events.wait(vm_id, "Powering up")  # first boot after launch
    api.destroy(vm_id)


def test_set_ticket_and_update_device(api):
    vm_id = new_id()
    name = PREFIX + "ticket"
    api.create(diskless_xml(name, vm_id))
    api.wait_status(vm_id, "Up")

    assert api.call("VM.setTicket", {"vmID": vm_id, "password": "s3cret", "ttl": 120,
                                     "existingConnAction": "disconnect", "params": {}}) is True
    xml = virsh("dumpxml", "--security-info", name)
    assert "passwd='s3cret'" in xml
    valid_to = re.search(r"passwdValidTo='([^']+)'", xml).group(1)
    assert valid_to > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())

    result = api.call("VM.updateDevice", {"vmID": vm_id, "params": {
        "deviceType": "graphics", "graphicsType": "vnc", "password": "other", "ttl": 0,
        "existingConnAction": "keep", "params": {}}})
    assert result["vmId"] == vm_id and result["status"] == "Up"
    xml = virsh("dumpxml", "--security-info", name)
    assert "passwd='other'" in xml
    assert "passwdValidTo" not in xml

    assert api.error("VM.updateDevice", {"vmID": vm_id, "params": {
        "deviceType": "interface", "alias": "net0"}}).code == 56
    assert api.error("VM.updateDevice", {"vmID": vm_id, "params": {
        "deviceType": "graphics", "graphicsType": "spice", "password": "p", "ttl": 1}}).code == 56
    assert api.error("VM.setTicket", {"vmID": new_id(), "password": "p", "ttl": 1,
                                      "existingConnAction": "keep", "params": {}}).code == 1
    api.destroy(vm_id)


def test_spice_ticket(api):
    vm_id = new_id()
    name = PREFIX + "spice"
    api.create(diskless_xml(name, vm_id, graphics="spice"))
    stats = api.wait_status(vm_id, "Up")
    assert stats["displayInfo"][0]["type"] == "spice"
    assert stats["displayType"] == "qxl"
    assert api.call("VM.setTicket", {"vmID": vm_id, "password": "sp1ce", "ttl": 60,
                                     "existingConnAction": "keep", "params": {}}) is True
    xml = virsh("dumpxml", "--security-info", name)
    assert "passwd='sp1ce'" in xml and "passwdValidTo=" in xml
    assert "connected='keep'" in xml
    api.destroy(vm_id)


def test_change_cd_and_balloon(api, vm_env):
    vm_id = new_id()
    name = PREFIX + "cd"
    iso = make_file(vm_env / "vdt3-cd.iso")
    api.create(diskless_xml(name, vm_id, cdrom=""))
    api.wait_status(vm_id, "Up")

    result = api.call("VM.changeCD", {"vmID": vm_id, "driveSpec": {"path": iso}})
    assert result["vmId"] == vm_id
    assert iso in virsh("domblklist", name)
    assert iso in result["xml"]
    api.call("VM.changeCD", {"vmID": vm_id, "driveSpec": {"path": ""}})  # eject
    assert iso not in virsh("domblklist", name)
    assert api.error("VM.changeCD", {"vmID": vm_id,
                                     "driveSpec": {"path": "/nonexistent/x.iso"}}).code == 41
    assert api.error("VM.changeCD", {"vmID": vm_id,
                                     "driveSpec": {"GUID": "36001405abcdef"}}).code == 41

    assert api.call("VM.setBalloonTarget", {"vmID": vm_id, "target": 48 * 1024}) == \
        {"code": 0, "message": "Done"}
    # (A guest with no balloon driver keeps its memory; the tiny-guest test
    # checks that the guest really gives it back.)
    wait_for(lambda: '<balloonTarget type="int">49152</balloonTarget>' in
             virsh("metadata", name, "--uri", "http://ovirt.org/vm/1.0"), 10,
             what="balloonTarget in the metadata")
    api.destroy(vm_id)

    # No balloon device: libvirt refuses, VDSM's balloonErr.
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "noballoon", vm_id, balloon=False))
    api.wait_status(vm_id, "Up")
    assert api.error("VM.setBalloonTarget", {"vmID": vm_id, "target": 32768}).code == 53
    api.destroy(vm_id)


def test_staging_area(api, events, slow_emulator):
    """A VM whose start-up is still running is listed but refuses verbs;
    VM.destroy waits for the flow, which stops and leaves no domain."""
    vm_id = new_id()
    name = PREFIX + "staging"
    api.create(diskless_xml(name, vm_id, emulator=slow_emulator))
    assert api.status(vm_id) == "WaitForLaunch"
    assert vm_id in api.vm_ids()
    for method in ("VM.pause", "VM.cont", "VM.reset"):
        err = api.error(method, {"vmID": vm_id})
        assert err.code == 16 and "staging" in err.message, err
    assert api.error("VM.hibernate", {"vmID": vm_id, "hibernationVolHandle": "x"}).code == 16
    assert api.destroy(vm_id) is True
    down = events.wait(vm_id, "Down")
    assert down["exitReason"] == 10  # destroyed during the startup
    assert vm_id not in api.vm_ids()
    wait_for(lambda: name not in domain_names(), 30, what="no domain left")


def test_staging_completes_with_slow_emulator(api, events, slow_emulator):
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "slow", vm_id, emulator=slow_emulator))
    events.wait(vm_id, "Up", timeout=90)
    assert events.statuses(vm_id)[:3] == ["WaitForLaunch", "Powering up", "Up"]
    api.call("VM.pause", {"vmID": vm_id})
    events.wait(vm_id, "Paused")
    api.destroy(vm_id)


def test_external_domains_are_reported(vm_env, vdsmd_factory):
    """Domains without the ovirt-vm metadata are reported as external,
    at start-up and when they start later; recovery leaves them alone."""
    from vm_fixtures import Api, vm_overrides
    early, late = new_id(), new_id()
    path = vm_env / "vdt3-ext.xml"
    path.write_text(diskless_xml(PREFIX + "ext-early", early))
    virsh("create", str(path))
    daemon = vdsmd_factory(ssl=False, overrides=vm_overrides(vm_env))
    client = Api(daemon)
    try:
        wait_for(lambda: early in _ids_or_none(client), 30, what="the external VM listed")
        info = client.call("VM.getInfo", {"vmID": early})
        assert info["external"] is True and info["status"] == "Up"
        path.write_text(diskless_xml(PREFIX + "ext-late", late))
        virsh("create", str(path))
        wait_for(lambda: late in _ids_or_none(client), 30, what="the late external VM listed")
        assert client.stats(late)["status"] == "Up"
        assert domain_state(PREFIX + "ext-early") == "running"
    finally:
        client.close()
        cleanup_domains()


def _ids_or_none(client):
    try:
        return client.vm_ids()
    except VdsmError:
        return []
