"""Verbs where the guest must react, on the real tiny guest of
scripts/build-guest.sh (TCG): shutdown and reboot (the first step of the chain;
test_guest_agents.py takes each step), a power-off from
inside, hibernation to a file and the restore, the balloon."""

import json
import os
import time

import pytest

from vm_fixtures import (PREFIX, agent_command, domain_names, domain_state, guest_xml, new_id,
                         virsh, wait_for, wait_guest_ready)
from vm_fixtures import api, events, tiny_guest, vm_daemon, vm_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(600)


def start_guest(api, events, name):
    vm_id = new_id()
    api.create(guest_xml(name, vm_id))
    events.wait(vm_id, "Up", timeout=120)
    wait_guest_ready(name, timeout=180)
    wait_for(lambda: _agent_alive(name), 120, interval=1, what="qemu-ga in %s" % name)
    return vm_id


def _agent_alive(name):
    try:
        agent_command(name, {"execute": "guest-ping"}, timeout=3)
        return True
    except AssertionError:
        return False


def guest_uptime(name):
    """Seconds since the guest booted, read through qemu-ga."""
    handle = agent_command(name, {"execute": "guest-file-open",
                                  "arguments": {"path": "/proc/uptime"}})["return"]
    try:
        data = agent_command(name, {"execute": "guest-file-read",
                                    "arguments": {"handle": handle, "count": 100}})["return"]
    finally:
        agent_command(name, {"execute": "guest-file-close", "arguments": {"handle": handle}})
    import base64
    return float(base64.b64decode(data["buf-b64"]).split()[0])


def test_shutdown_by_the_guest(api, events, tiny_guest):
    name = PREFIX + "g-sd"
    vm_id = start_guest(api, events, name)
    assert api.call("VM.shutdown", {"vmID": vm_id, "timeout": 120}) is True
    assert events.wait(vm_id, "Powering down", timeout=10)
    down = events.wait(vm_id, "Down", timeout=150)
    assert (down["exitCode"], down["exitReason"]) == (0, 6)
    assert down["exitMessage"] == "Admin shut down from the engine"
    # The guest shut itself down: the domain is still defined, shut off,
    # and remembers why.
    assert domain_state(name) == "shut off"
    md = virsh("metadata", name, "--uri", "http://ovirt.org/vm/1.0", "--config")
    assert '<exitReason type="int">6</exitReason>' in md
    assert events.statuses(vm_id)[-2:] == ["Powering down", "Down"]
    api.destroy(vm_id)
    assert name not in domain_names()


def test_poweroff_from_inside_is_a_user_shutdown(api, events, tiny_guest):
    name = PREFIX + "g-user"
    vm_id = start_guest(api, events, name)
    # qemu-ga powers the guest off before it can answer: no reply expected.
    virsh("qemu-agent-command", name, json.dumps({"execute": "guest-shutdown", "arguments":
                                                  {"mode": "powerdown"}}), check=False)
    down = events.wait(vm_id, "Down", timeout=150)
    assert (down["exitCode"], down["exitReason"]) == (0, 7)
    assert down["exitMessage"] == "User shut down from within the guest"
    api.destroy(vm_id)


def test_reboot_by_the_guest(api, events, tiny_guest):
    name = PREFIX + "g-reboot"
    vm_id = start_guest(api, events, name)
    up_before = guest_uptime(name)
    assert api.call("VM.shutdown", {"vmID": vm_id, "reboot": True, "timeout": 120}) is True
    events.wait(vm_id, "RebootInProgress", timeout=10)
    # The guest goes down and comes back in the same QEMU, booted afresh.
    wait_guest_ready_again = time.monotonic() + 180
    wait_for(lambda: events.statuses(vm_id).count("Powering up") >= 2, 180,
             what="the guest rebooting")
    wait_for(lambda: _agent_alive(name), max(wait_guest_ready_again - time.monotonic(), 1),
             interval=1, what="the agent after the reboot")
    assert guest_uptime(name) < up_before + 60
    assert domain_state(name) == "running"
    assert "Down" not in events.statuses(vm_id)
    api.destroy(vm_id)


def test_hibernate_and_restore(api, events, tiny_guest, vm_env):
    name = PREFIX + "g-hib"
    vm_id = start_guest(api, events, name)
    uptime = guest_uptime(name)
    elapsed = int(api.stats(vm_id)["elapsedTime"])

    assert api.call("VM.hibernate", {"vmID": vm_id, "hibernationVolHandle": "vdt3-hib.mem"})
    events.wait(vm_id, "Saving State", timeout=10)
    down = events.wait(vm_id, "Down", timeout=180)
    assert (down["exitCode"], down["exitReason"]) == (0, 5)
    assert down["exitMessage"] == "SaveState succeeded"
    image = vm_env / "hibernation" / "vdt3-hib.mem"
    assert image.exists() and image.stat().st_size > 1 << 20
    # The engine destroys the hibernated VM, then creates it from the image.
    api.destroy(vm_id)
    assert name not in domain_names()

    status = api.call("VM.create", {"vmID": vm_id, "vmParams": {"hiberVolHandle": "vdt3-hib.mem"}})
    assert status["status"] == "Restoring state"

    def restored():
        statuses = events.statuses(vm_id)
        return "Restoring state" in statuses and \
            statuses[statuses.index("Restoring state"):][-1:] == ["Up"]
    wait_for(restored, 120, what="Up after the restore")
    statuses = events.statuses(vm_id)
    assert statuses[statuses.index("Restoring state"):][:3] == \
        ["Restoring state", "Powering up", "Up"]
    # The same guest, not a new boot: its uptime went on, the agent answers.
    wait_for(lambda: _agent_alive(name), 60, interval=1, what="the agent after the restore")
    assert guest_uptime(name) >= uptime
    assert int(api.stats(vm_id)["elapsedTime"]) >= elapsed
    assert domain_state(name) == "running"
    md = virsh("metadata", name, "--uri", "http://ovirt.org/vm/1.0")
    assert "exitReason" not in md
    api.destroy(vm_id)
    os.unlink(image)


def test_restore_failure_leaves_no_domain(api, events, vm_env):
    """An image libvirt cannot read: error 9 at once, nothing defined."""
    bad = vm_env / "hibernation" / "vdt3-garbage.mem"
    bad.write_bytes(b"not a libvirt save image" * 100)
    err = api.error("VM.create", {"vmID": new_id(), "vmParams": {
        "hiberVolHandle": str(bad)}})
    assert err.code == 9 and "Wake up from hibernation failed" in err.message
    assert not [n for n in domain_names() if n.startswith(PREFIX)]


def test_balloon_on_a_real_guest(api, events, tiny_guest):
    name = PREFIX + "g-balloon"
    vm_id = start_guest(api, events, name)
    api.call("VM.setBalloonTarget", {"vmID": vm_id, "target": 100 * 1024})

    def current_kib():
        stats = dict(line.split() for line in virsh("dommemstat", name).splitlines())
        return int(stats["actual"])
    wait_for(lambda: current_kib() <= 100 * 1024 + 1024, 60, interval=0.5,
             what="the guest to give memory back")
    api.destroy(vm_id)
