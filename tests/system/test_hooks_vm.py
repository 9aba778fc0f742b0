"""Hooks at VM start through the real vdsmd and libvirt: before_vm_start
rewrites the domain XML that libvirt starts, sees vmId and the custom
properties in its environment, and a failing one fails VM.create with
1500 and leaves no domain; after_vm_start runs once the VM is Up."""

import os
import pathlib
import time

import pytest

from vm_fixtures import PREFIX, diskless_xml, domain_names, new_id, virsh, wait_for
from vm_fixtures import api, vm_daemon, vm_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)

HOOKS = pathlib.Path("/tmp/vdsm-c-test-hooks-%d" % os.getpid())


def _script(point, name, body):
    d = HOOKS / point
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(HOOKS, 0o755)
    os.chmod(d, 0o755)
    path = d / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture(autouse=True)
def _clean_hooks():
    import shutil
    shutil.rmtree(HOOKS, ignore_errors=True)
    HOOKS.mkdir(mode=0o755)
    yield
    shutil.rmtree(HOOKS, ignore_errors=True)


@pytest.mark.vdsm_config({"hooks": {"hooks_dir": str(HOOKS)}})
def test_before_vm_start_rewrites_xml_and_sees_env(api):
    # the scripts run as user vdsm: the record file lives in the hooks tree
    out = HOOKS / "env.txt"
    out.touch()
    out.chmod(0o666)
    # 10_ renames a marker in the XML; 20_ sees 10_'s output; both record their env.
    _script("before_vm_start", "10_first",
            'sed -i "s/vdt-hook-marker/vdt-hook-first/" "$_hook_domxml"\n'
            'echo "first vmId=$vmId color=$color" >> %s\n' % out)
    _script("before_vm_start", "20_second",
            'grep -q vdt-hook-first "$_hook_domxml" && '
            'sed -i "s/vdt-hook-first/vdt-hook-second/" "$_hook_domxml"\n'
            'echo "second" >> %s\n' % out)
    _script("after_vm_start", "10_after", 'echo "after vmId=$vmId" >> %s\n' % out)
    vm_id = new_id()
    name = PREFIX + "hookxml"
    xml = diskless_xml(name, vm_id).replace(
        "</domain>", "<description>vdt-hook-marker</description></domain>")
    api.create(xml, custom={"color": "blue; rm -rf /"})
    api.wait_status(vm_id, "Up")
    live = virsh("dumpxml", name)
    assert "vdt-hook-second" in live and "vdt-hook-marker" not in live
    wait_for(lambda: "after vmId" in out.read_text(), 30)
    lines = out.read_text().splitlines()
    assert lines[0] == "first vmId=%s color=blue; rm -rf /" % vm_id
    assert lines[1] == "second"
    assert lines[2] == "after vmId=%s" % vm_id
    api.destroy(vm_id)


@pytest.mark.vdsm_config({"hooks": {"hooks_dir": str(HOOKS)}})
def test_failing_before_vm_start_fails_create(api):
    _script("before_vm_start", "50_refuse", 'echo "policy says no" >&2\nexit 1\n')
    vm_id = new_id()
    name = PREFIX + "hookfail"
    err = api.error("VM.create", {"vmID": vm_id, "vmParams": {"xml": diskless_xml(name, vm_id)}})
    assert err.code == 1500, err
    assert "policy says no" in err.message
    time.sleep(1)
    assert name not in domain_names()
    assert vm_id not in api.vm_ids()


@pytest.mark.vdsm_config({"hooks": {"hooks_dir": str(HOOKS)}})
def test_pause_cont_destroy_hooks_and_refusal(api):
    out = HOOKS / "points.txt"
    out.touch()
    out.chmod(0o666)
    for point in ("before_vm_pause", "after_vm_pause", "before_vm_cont", "after_vm_cont",
                  "before_vm_destroy", "after_vm_destroy"):
        _script(point, "10_record", 'echo "%s $vmId" >> %s\n' % (point, out))
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "hookpower", vm_id))
    api.wait_status(vm_id, "Up")
    api.call("VM.pause", {"vmID": vm_id})
    api.wait_status(vm_id, "Paused")
    api.call("VM.cont", {"vmID": vm_id})
    api.wait_status(vm_id, "Up")
    # a failing before_vm_pause refuses the pause: the VM stays Up
    _script("before_vm_pause", "20_refuse", "exit 1\n")
    err = api.error("VM.pause", {"vmID": vm_id})
    assert err.code == 1500, err
    time.sleep(1)
    assert api.status(vm_id) == "Up"
    api.destroy(vm_id)
    wait_for(lambda: "after_vm_destroy" in out.read_text(), 30)
    points = [line.split()[0] for line in out.read_text().splitlines()]
    assert points == ["before_vm_pause", "after_vm_pause", "before_vm_cont", "after_vm_cont",
                      "before_vm_pause", "before_vm_destroy", "after_vm_destroy"], points
    assert all(line.split()[1] == vm_id for line in out.read_text().splitlines())
