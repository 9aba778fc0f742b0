"""Fixtures for the guest-agent and VM-hook system tests
(tests/system/test_guest_agents.py, test_hooks_vm.py).

Same real vdsmd, libvirtd and tiny guest as vm_fixtures.py, but every
domain is named `vdt6-p<pytest pid>-...`; `guest_env` removes this
session's vdt6- domains before and after each test.
"""

import base64
import grp
import os
import subprocess
import time

import pytest

from conftest import REPO
from vm_fixtures import (GUEST_DIR, Api, EventWatcher, agent_command, cleanup_domains,
                         ensure_libvirtd, new_id, vm_overrides, wait_for, wait_guest_ready)

PREFIX6 = "vdt6-p%d-" % os.getpid()
# Where VDSM's engine-made XML puts the oVirt agent socket: vdsmd runs as
# user vdsm (group kvm), and libvirt's own per-domain channel directory is
# not open to it.
CHANNELS = "/var/lib/libvirt/qemu/channels"


def _channels_dir():
    os.makedirs(CHANNELS, exist_ok=True)
    os.chown(CHANNELS, 0, grp.getgrnam("kvm").gr_gid)
    os.chmod(CHANNELS, 0o2775)


def guest_xml6(name, vm_id, memory_mib=128):
    assert name.startswith(PREFIX6)
    _channels_dir()
    sock = "%s/%s.ovirt-guest-agent.0" % (CHANNELS, vm_id)
    proc = subprocess.run(["/usr/bin/python3", str(REPO / "scripts" / "mkdom.py"),
                           "--name", name, "--uuid", vm_id, "--ovirt-socket", sock, "--memory", str(memory_mib),
                           "--type", "qemu", "--guest-dir", str(GUEST_DIR)],
                          capture_output=True, text=True, check=True)
    return proc.stdout


@pytest.fixture
def guest_env(workdir):
    ensure_libvirtd()
    cleanup_domains(PREFIX6)
    yield workdir
    ensure_libvirtd()
    cleanup_domains(PREFIX6)


@pytest.fixture
def guest_daemon(request, guest_env, vdsmd_factory):
    """vdsmd (plain TCP); @pytest.mark.vdsm_config adds settings."""
    marker = request.node.get_closest_marker("vdsm_config")
    return vdsmd_factory(ssl=False, overrides=vm_overrides(guest_env, marker.args[0] if marker
                                                           else None))


@pytest.fixture
def gapi(guest_daemon):
    client = Api(guest_daemon)

    def ready():
        try:
            client.call("Host.ping2")
            return True
        except Exception:
            return False
    wait_for(ready, 60, interval=0.1, what="vdsmd to answer")
    yield client
    client.close()


@pytest.fixture
def gevents(guest_daemon, gapi):
    watcher = EventWatcher(guest_daemon)
    yield watcher
    watcher.close()


def qga_alive(name):
    try:
        agent_command(name, {"execute": "guest-ping"}, timeout=3)
        return True
    except (AssertionError, subprocess.SubprocessError, ValueError):
        return False


def start_guest6(api, name, wait_qga=True):
    vm_id = new_id()
    api.create(guest_xml6(name, vm_id))
    wait_guest_ready(name, timeout=180)
    if wait_qga:
        wait_for(lambda: qga_alive(name), 120, interval=1, what="qemu-ga in %s" % name)
    return vm_id


def guest_exec(name, path, args=(), timeout=30):
    """Run a program in the guest through qemu-ga; (exitcode, stdout)."""
    pid = agent_command(name, {"execute": "guest-exec",
                               "arguments": {"path": path, "arg": list(args),
                                             "capture-output": True}})["return"]["pid"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = agent_command(name, {"execute": "guest-exec-status",
                                  "arguments": {"pid": pid}})["return"]
        if st.get("exited"):
            out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
            return st.get("exitcode"), out
        time.sleep(0.3)
    raise AssertionError("guest-exec %s %s did not finish" % (path, args))


def guest_read(name, path):
    """A file of the guest, through qemu-ga."""
    handle = agent_command(name, {"execute": "guest-file-open",
                                  "arguments": {"path": path}})["return"]
    data = b""
    try:
        while True:
            r = agent_command(name, {"execute": "guest-file-read",
                                     "arguments": {"handle": handle, "count": 65536}})["return"]
            data += base64.b64decode(r["buf-b64"])
            if r.get("eof") or not r.get("count"):
                break
    finally:
        agent_command(name, {"execute": "guest-file-close", "arguments": {"handle": handle}})
    return data.decode(errors="replace")
