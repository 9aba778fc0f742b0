"""Both guest agents on the real tiny guest (TCG): qemu-guest-agent
information in VM.getStats, the oVirt agent protocol through the real
virtio-serial channel (desktop verbs reaching the guest's responder, 19
when it is stopped), the first heartbeat ending "Powering up", and
VM.freeze/VM.thaw."""

import subprocess

import pytest

from guest_fixtures import PREFIX6, guest_exec, guest_read, qga_alive, start_guest6
from guest_fixtures import gapi, guest_daemon, guest_env, gevents  # noqa: F401 (fixtures)
from vm_fixtures import VdsmError, ensure_libvirtd, libvirtd_pid, new_id, wait_for
from vm_fixtures import tiny_guest  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(600)


def _wait_stats(api, vm_id, pred, timeout, what):
    last = {}

    def check():
        last["s"] = api.stats(vm_id)
        return pred(last["s"])
    try:
        return wait_for(check, timeout, interval=1, what=what) and last["s"]
    except AssertionError as e:
        raise AssertionError("%s; last stats %r" % (e, last.get("s")))


def _wait_responsive(api, vm_id, timeout=120):
    """Until VM.desktopLock stops answering 19 (the oVirt agent spoke)."""
    def ok():
        try:
            return api.call("VM.desktopLock", {"vmID": vm_id}) is True
        except VdsmError as e:
            assert e.code == 19, e
            return False
    wait_for(ok, timeout, interval=1, what="the oVirt agent of %s to be responsive" % vm_id)


def test_qga_info_in_stats(gapi, tiny_guest):
    name = PREFIX6 + "qga"
    vm_id = start_guest6(gapi, name)
    s = _wait_stats(gapi, vm_id, lambda s: s.get("guestOsInfo", {}).get("kernel")
                    and "netIfaces" in s and "guestCPUCount" in s and "disksUsage" in s
                    and "guestTimezone" in s and "guestFQDN" in s, 90,
                    "guest info in VM.getStats")
    kernel = guest_exec(name, "/bin/uname", ["-r"])[1].strip()
    assert s["guestOsInfo"]["kernel"] == kernel
    assert s["guestOsInfo"]["arch"] == "x86_64"
    assert s["guestCPUCount"] == 1
    assert any(i["name"] == "lo" and "127.0.0.1" in i["inet"] for i in s["netIfaces"])
    assert "127.0.0.1" not in s["guestIPs"].split()
    assert isinstance(s["disksUsage"], list)
    assert "kernel-%s" % kernel in s["appsList"]
    assert s["guestTimezone"]["offset"] == 0
    hostname = guest_exec(name, "/bin/hostname")[1].strip()
    assert s["guestFQDN"] == hostname and s["guestName"] == hostname
    # Host.getAllVmStats carries the same fields.
    all_stats = {v["vmId"]: v for v in gapi.call("Host.getAllVmStats")}
    assert all_stats[vm_id]["guestOsInfo"]["kernel"] == kernel


def test_qga_poller_after_libvirtd_restart(gapi, tiny_guest):
    """The qemu-guest-agent poller's libvirt connection is not watched by
    libvirt's event loop, so nothing tells it that libvirtd went away: the
    next cycle's call fails and the one after reopens the connection
    (docs/guest-agents.md).  A VM started after a libvirtd restart gets its
    guest information, which only a poll after the restart can bring."""
    first = start_guest6(gapi, PREFIX6 + "qga-r1")
    _wait_stats(gapi, first, lambda s: s.get("guestOsInfo", {}).get("kernel"), 90,
                "guest info before the libvirtd restart")
    pid = libvirtd_pid()
    assert pid
    subprocess.run(["kill", "-TERM", str(pid)], check=True)
    wait_for(lambda: libvirtd_pid() is None, 30, interval=0.1, what="libvirtd to exit")
    ensure_libvirtd()
    second = start_guest6(gapi, PREFIX6 + "qga-r2")
    s = _wait_stats(gapi, second, lambda s: s.get("guestOsInfo", {}).get("kernel"), 90,
                    "guest info of a VM started after the libvirtd restart")
    kernel = guest_exec(PREFIX6 + "qga-r2", "/bin/uname", ["-r"])[1].strip()
    assert s["guestOsInfo"]["kernel"] == kernel


def test_desktop_verbs_reach_responder(gapi, tiny_guest):
    name = PREFIX6 + "desk"
    vm_id = start_guest6(gapi, name)
    _wait_responsive(gapi, vm_id)
    _wait_stats(gapi, vm_id, lambda s: s.get("session") == "Locked", 30, "session Locked")
    assert gapi.call("VM.desktopLogin", {"vmID": vm_id, "domain": "", "username": "alice",
                                         "password": "s3cret-pw"}) is True
    _wait_stats(gapi, vm_id, lambda s: s.get("username") == "alice"
                and s.get("session") == "UserLoggedOn", 30, "alice logged on")
    assert gapi.call("VM.desktopSendHcCommand", {"vmID": vm_id, "message": "hello-hc"}) is True
    assert gapi.call("VM.desktopLogoff", {"vmID": vm_id, "force": False}) is True
    _wait_stats(gapi, vm_id, lambda s: s.get("session") == "LoggedOff", 30, "logged off")

    def logged():
        text = guest_read(name, "/run/ovirt-agent.log")
        return ("log-off" in text and "hc-command" in text) and text
    text = wait_for(logged, 30, interval=1, what="the responder's log")
    # The responder logs an unknown message by its name only.
    for word in ("refresh apiVersion=3", "lock-screen", "login username=alice",
                 "unknown hc-command", "log-off"):
        assert word in text, (word, text)
    assert "s3cret-pw" not in text


@pytest.mark.vdsm_config({"vars": {"guest_agent_responsive_timeout": "12"}})
def test_desktop_verbs_unresponsive_agent(gapi, tiny_guest):
    name = PREFIX6 + "dead"
    vm_id = start_guest6(gapi, name)
    _wait_responsive(gapi, vm_id)
    rc, _ = guest_exec(name, "/usr/bin/agentctl", ["stop", "ovirt"])
    assert rc == 0

    def refused():
        try:
            gapi.call("VM.desktopLock", {"vmID": vm_id})
            return False
        except VdsmError as e:
            assert e.code == 19, e
            return True
    wait_for(refused, 60, interval=1, what="desktopLock to answer 19")
    for verb, params in (("VM.desktopLogin", {"domain": "d", "username": "u", "password": "p"}),
                         ("VM.desktopLogoff", {"force": True}),
                         ("VM.desktopSendHcCommand", {"message": "x"})):
        assert gapi.error(verb, dict(vmID=vm_id, **params)).code == 19
    # The responder comes back: the agent is responsive again.
    guest_exec(name, "/usr/bin/agentctl", ["start", "ovirt"])
    _wait_responsive(gapi, vm_id, timeout=60)
    # An unknown VM is not an agent problem.
    assert gapi.error("VM.desktopLock", {"vmID": new_id()}).code == 1


@pytest.mark.vdsm_config({"vars": {"guest_wait_timeout": "900"}})
def test_heartbeat_ends_powering_up(gapi, tiny_guest):
    name = PREFIX6 + "hb"
    vm_id = start_guest6(gapi, name, wait_qga=False)
    # Without a heartbeat the VM would report Powering up for 900 s.
    gapi.wait_status(vm_id, "Up", timeout=150)


def test_freeze_thaw(gapi, tiny_guest):
    name = PREFIX6 + "frz"
    vm_id = start_guest6(gapi, name)
    assert gapi.call("VM.freeze", {"vmID": vm_id}) is True
    assert gapi.call("VM.thaw", {"vmID": vm_id}) is True
    assert gapi.error("VM.freeze", {"vmID": new_id()}).code == 1


# --- VM.shutdown's chain: qemu-ga -> oVirt agent -> ACPI (-> force) -----------

def _stop_qga(name):
    # qemu-ga kills itself shortly after it ran the command: its exit status
    # may never be collected.
    try:
        guest_exec(name, "/usr/bin/agentctl", ["stop", "qga"])
    except AssertionError:
        pass
    wait_for(lambda: not qga_alive(name), 30, interval=1, what="qemu-ga to stop in %s" % name)


def _stop_ovirt(gapi, name, vm_id):
    assert guest_exec(name, "/usr/bin/agentctl", ["stop", "ovirt"])[0] == 0

    def unresponsive():
        try:
            gapi.call("VM.desktopLock", {"vmID": vm_id})
            return False
        except VdsmError as e:
            return e.code == 19
    wait_for(unresponsive, 60, interval=1, what="the oVirt agent of %s to be unresponsive" % vm_id)


def _steps(daemon, vm_id, what):
    """The chain steps the daemon took for @vm_id, from its log."""
    prefix = "VM %s: %s requested through " % (vm_id, what)
    return [line.split(prefix, 1)[1].strip() for line in daemon.log_text().splitlines()
            if prefix in line]


def _shutdown_down(gapi, gevents, vm_id, params):
    assert gapi.call("VM.shutdown", dict(vmID=vm_id, **params)) is True
    down = gevents.wait(vm_id, "Down", timeout=150)
    assert (down["exitCode"], down["exitReason"]) == (0, 6), down
    gapi.destroy(vm_id)


@pytest.mark.vdsm_config({"vars": {"guest_agent_responsive_timeout": "12"}})
def test_shutdown_chain_each_step(gapi, gevents, guest_daemon, tiny_guest):
    # 1. Both agents run: qemu-ga powers the guest down.
    vm_id = start_guest6(gapi, PREFIX6 + "sd-qga")
    _shutdown_down(gapi, gevents, vm_id, {"timeout": 60})
    assert _steps(guest_daemon, vm_id, "shutdown") == ["qemu-guest-agent"]

    # 2. qemu-ga stopped inside the guest: the oVirt agent's responder gets
    # the shutdown message, with the caller's delay and message.
    name = PREFIX6 + "sd-ovirt"
    vm_id = start_guest6(gapi, name)
    _wait_responsive(gapi, vm_id)
    _stop_qga(name)
    _shutdown_down(gapi, gevents, vm_id, {"timeout": 60, "delay": 0, "message": "bye"})
    assert _steps(guest_daemon, vm_id, "shutdown") == ["the oVirt guest agent"]

    # 3. Both agents stopped: the ACPI power button.
    name = PREFIX6 + "sd-acpi"
    vm_id = start_guest6(gapi, name)
    _wait_responsive(gapi, vm_id)
    _stop_ovirt(gapi, name, vm_id)  # first: stopping needs qemu-ga
    _stop_qga(name)
    _shutdown_down(gapi, gevents, vm_id, {"timeout": 60})
    assert _steps(guest_daemon, vm_id, "shutdown") == ["ACPI"]


@pytest.mark.vdsm_config({"vars": {"guest_agent_responsive_timeout": "12"}})
def test_reboot_chain_each_step(gapi, gevents, guest_daemon, tiny_guest):
    name = PREFIX6 + "rb"
    vm_id = start_guest6(gapi, name)
    _wait_responsive(gapi, vm_id)
    expected = []
    for step in ("qemu-guest-agent", "the oVirt guest agent", "ACPI"):
        if step == "ACPI":
            _stop_ovirt(gapi, name, vm_id)  # first: stopping needs qemu-ga
        if step != "qemu-guest-agent":
            _stop_qga(name)
        boots = gevents.statuses(vm_id).count("Powering up")
        assert gapi.call("VM.shutdown", {"vmID": vm_id, "reboot": True, "timeout": 60}) is True
        # The guest goes down and comes back in the same QEMU; a reboot
        # clears the stop files, so both agents run again afterwards.
        wait_for(lambda: gevents.statuses(vm_id).count("Powering up") > boots, 150,
                 what="the guest to reboot (%s)" % step)
        wait_for(lambda: qga_alive(name), 120, interval=1, what="qemu-ga after the reboot")
        _wait_responsive(gapi, vm_id)
        expected.append(step)
        assert _steps(guest_daemon, vm_id, "reboot") == expected
    assert "Down" not in gevents.statuses(vm_id)
    gapi.destroy(vm_id)
