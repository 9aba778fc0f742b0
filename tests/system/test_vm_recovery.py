"""vdsmd rebuilds its VMs from libvirt: after `kill -9` every VM comes back
in the same state (none restarted, none destroyed) while the gate answers
99; and when libvirtd restarts under running VMs, vdsmd keeps answering
with the last known state, reconnects, and events resume."""

import os
import signal
import subprocess
import time

import pytest

from vm_fixtures import (PREFIX, Api, VdsmError, diskless_xml, domain_id, domain_state,
                         ensure_libvirtd, kill9, libvirtd_pid, new_id, qemu_pid, virsh,
                         vm_overrides, wait_for)
from vm_fixtures import api, events, vm_daemon, vm_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)


def _wait_ready(client, timeout=60):
    def ready():
        try:
            client.call("Host.ping2")
            return True
        except VdsmError as e:
            assert e.code == 99, e
            return False
    wait_for(ready, timeout, interval=0.1, what="the ready gate to open")


def test_recovery_after_kill9(vm_env, vdsmd_factory):
    run_dir = vm_env / ("run-%s" % new_id())  # the restarted daemon is the same agent
    first = vdsmd_factory(ssl=False, overrides=vm_overrides(vm_env, run_dir=run_dir))
    api1 = Api(first)
    _wait_ready(api1)
    vms = {state: (new_id(), PREFIX + "rec-" + state.lower())
           for state in ("Up", "Paused", "Down", "Gone", "PausedAway")}
    for vm_id, name in vms.values():
        api1.create(diskless_xml(name, vm_id))
    for vm_id, _ in vms.values():
        api1.wait_status(vm_id, "Up")
    api1.call("VM.pause", {"vmID": vms["Paused"][0]})
    api1.wait_status(vms["Paused"][0], "Paused")
    # Down through vdsmd: the exit information goes into the metadata.
    api1.call("VM.shutdown", {"vmID": vms["Down"][0], "timeout": 0, "force": True})
    api1.wait_status(vms["Down"][0], "Down")
    wait_for(lambda: "<exitReason" in virsh("metadata", vms["Down"][1], "--uri",
                                            "http://ovirt.org/vm/1.0", "--config"),
             10, what="exit information saved")
    before = {state: (qemu_pid(name), domain_id(name)) for state, (_, name) in vms.items()}
    api1.close()

    kill9(first)
    # While vdsmd is dead, two VMs change behind its back.
    virsh("destroy", vms["Gone"][1])
    virsh("suspend", vms["PausedAway"][1])

    second = vdsmd_factory(ssl=False, overrides=vm_overrides(vm_env, {
        "devel": {"recovery_delay": "2"}}, run_dir=run_dir))
    api2 = Api(second)
    # The gate is closed until recovery (and the test delay) end.
    err = api2.error("Host.getVMList")
    assert err.code == 99 and err.message == "Recovering from crash or Initializing"
    _wait_ready(api2)

    up = api2.stats(vms["Up"][0])
    assert up["status"] == "Up" and up["monitorResponse"] == "0"
    assert int(up["pid"]) == before["Up"][0]
    paused = api2.stats(vms["Paused"][0])
    assert paused["status"] == "Paused" and paused["pauseCode"] == "NOERR"
    down = api2.stats(vms["Down"][0])
    assert (down["status"], down["exitCode"], down["exitReason"]) == ("Down", 0, 6)
    assert down["exitMessage"] == "Admin shut down from the engine"
    gone = api2.stats(vms["Gone"][0])
    assert gone["status"] == "Down"
    away = api2.stats(vms["PausedAway"][0])
    assert away["status"] == "Paused" and away["pauseCode"] == "NOERR"

    # Nothing was restarted or destroyed by the restart.
    for state in ("Up", "Paused", "PausedAway"):
        name = vms[state][1]
        assert (qemu_pid(name), domain_id(name)) == before[state], state
    assert domain_state(vms["Up"][1]) == "running"
    assert domain_state(vms["Paused"][1]) == "paused"
    assert domain_state(vms["Down"][1]) == "shut off"

    # The recovered VMs are fully usable.
    api2.call("VM.cont", {"vmID": vms["Paused"][0]})
    api2.wait_status(vms["Paused"][0], "Up")
    for vm_id, _ in vms.values():
        api2.destroy(vm_id)
    assert not set(v for v, _ in vms.values()) & set(api2.vm_ids())
    api2.close()


def test_recovery_keeps_the_powering_up_window(vm_env, vdsmd_factory):
    """A VM recovered inside its "Powering up" window is still reported so."""
    run_dir = vm_env / ("run-%s" % new_id())
    first = vdsmd_factory(ssl=False, overrides=vm_overrides(vm_env, {
        "vars": {"guest_wait_timeout": "30"}}, run_dir=run_dir))
    api1 = Api(first)
    _wait_ready(api1)
    vm_id = new_id()
    api1.create(diskless_xml(PREFIX + "rec-window", vm_id))
    api1.wait_status(vm_id, "Powering up")
    api1.close()
    kill9(first)
    second = vdsmd_factory(ssl=False, overrides=vm_overrides(vm_env, {
        "vars": {"guest_wait_timeout": "30"}}, run_dir=run_dir))
    api2 = Api(second)
    _wait_ready(api2)
    assert api2.status(vm_id) == "Powering up"
    api2.destroy(vm_id)
    api2.close()


def test_libvirtd_restart(api, events):
    vm_id = new_id()
    name = PREFIX + "lvrestart"
    api.create(diskless_xml(name, vm_id))
    events.wait(vm_id, "Up")
    before = (qemu_pid(name), domain_id(name))

    pid = libvirtd_pid()
    assert pid, "libvirtd is not running"
    try:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: libvirtd_pid() is None, 30, what="libvirtd to stop")
        # vdsmd keeps answering from what it knows, marked as last known.
        wait_for(lambda: api.stats(vm_id)["monitorResponse"] == "-1", 20,
                 what="the VM marked as last known")
        stats = api.stats(vm_id)
        assert stats["status"] == "Up"
        assert vm_id in api.vm_ids()
        assert api.call("Host.ping2") is True
        # Verbs that need libvirt fail cleanly instead of hanging.
        t0 = time.monotonic()
        err = api.error("VM.pause", {"vmID": vm_id})
        assert err.code == 16 and "libvirt" in err.message
        assert time.monotonic() - t0 < 10
    finally:
        ensure_libvirtd()

    # Reconnected: the mark goes, events flow again.
    wait_for(lambda: api.stats(vm_id)["monitorResponse"] == "0", 30,
             what="vdsmd to reconnect to libvirt")
    api.call("VM.pause", {"vmID": vm_id})
    events.wait(vm_id, "Paused", timeout=20)
    virsh("resume", name)  # an event from outside vdsmd, too
    wait_for(lambda: events.statuses(vm_id)[-1] == "Up", 20, what="Up event after resume")
    assert (qemu_pid(name), domain_id(name)) == before  # not restarted
    api.destroy(vm_id)
    assert events.statuses(vm_id)[-1] == "Down"


def test_state_change_while_libvirtd_is_down_is_caught_up(api, events):
    """What happens to a VM while the connection is down arrives after the
    reconnect (no event can tell it)."""
    vm_id = new_id()
    name = PREFIX + "lvcatchup"
    api.create(diskless_xml(name, vm_id))
    events.wait(vm_id, "Up")
    pid = libvirtd_pid()
    try:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: libvirtd_pid() is None, 30, what="libvirtd to stop")
        # QEMU dies while libvirtd is away.
        os.kill(qemu_pid(name), signal.SIGKILL)
    finally:
        ensure_libvirtd()
    down = events.wait(vm_id, "Down", timeout=60)
    assert down["exitCode"] == 1
    api.destroy(vm_id)
    subprocess.run(["virsh", "-c", "qemu:///system", "undefine", name], capture_output=True)
