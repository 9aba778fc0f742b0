"""The hook points beyond VM start/pause/cont/destroy, through the real
vdsmd and libvirt: the JSON points of the stats and capabilities verbs
(after_ rewrites what the client gets, a failing before_ is 1500),
set_ticket with the call's params, hibernate and dehibernate (a failing
before_ changes nothing), the per-NIC device points, and the vdsmd
start/stop points."""

import json
import os
import time

import pytest

from test_hooks_vm import HOOKS, _clean_hooks, _script  # noqa: F401 (autouse fixture)
from vm_fixtures import PREFIX, diskless_xml, domain_names, new_id, virsh, wait_for
from vm_fixtures import api, vm_daemon, vm_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)

HOOKED = pytest.mark.vdsm_config({"hooks": {"hooks_dir": str(HOOKS)}})


def _record_file(name):
    """A file the scripts (user vdsm) may append to."""
    out = HOOKS / name
    out.touch()
    out.chmod(0o666)
    return out


def _json_script(point, name, edit):
    """A Python script that loads $_hook_json as `d`, runs @edit, writes it back."""
    return _script(point, name, "").write_text(
        "#!/usr/bin/python3\nimport json, os\np = os.environ['_hook_json']\n"
        "d = json.load(open(p))\n%s\njson.dump(d, open(p, 'w'))\n" % edit)


def _refuse(point):
    _script(point, "90_refuse", 'echo "%s refused" >&2\nexit 1\n' % point)


def _unrefuse(point):
    (HOOKS / point / "90_refuse").unlink()


def _lines(path):
    return path.read_text().splitlines()


@HOOKED
def test_json_points_rewrite_results_and_refuse(api):
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "hookjson", vm_id))
    api.wait_status(vm_id, "Up")
    seen = _record_file("seen.txt")
    for point in ("before_get_vm_stats", "before_get_all_vm_stats", "before_get_caps",
                  "before_get_stats"):
        _script(point, "10_see", 'echo "%s $(cat "$_hook_json")" >> %s\n' % (point, seen))
    _json_script("after_get_vm_stats", "10_tag", "d[0]['hookedBy'] = 'vm_stats'")
    _json_script("after_get_all_vm_stats", "10_tag",
                 "d.append({'vmId': 'from-the-hook', 'status': 'Up'})")
    _json_script("after_get_caps", "10_tag", "d['hookedBy'] = 'caps'")
    _json_script("after_get_stats", "10_tag", "d['hookedBy'] = 'stats'")

    assert api.stats(vm_id)["hookedBy"] == "vm_stats"
    all_stats = api.call("Host.getAllVmStats")
    assert [s["vmId"] for s in all_stats][-1] == "from-the-hook"
    assert vm_id in [s["vmId"] for s in all_stats]
    assert api.call("Host.getCapabilities")["hookedBy"] == "caps"
    assert api.call("Host.getStats")["hookedBy"] == "stats"
    assert _lines(seen) == ["before_get_vm_stats {}", "before_get_all_vm_stats {}",
                            "before_get_caps {}", "before_get_stats {}"]

    for point, method, params in (("before_get_vm_stats", "VM.getStats", {"vmID": vm_id}),
                                  ("before_get_all_vm_stats", "Host.getAllVmStats", {}),
                                  ("before_get_caps", "Host.getCapabilities", {}),
                                  ("before_get_stats", "Host.getStats", {})):
        _refuse(point)
        err = api.error(method, params)
        assert err.code == 1500 and "%s refused" % point in err.message, (method, err)
        _unrefuse(point)

    # an after_ script that fails and leaves garbage: the client gets the real result
    _script("after_get_caps", "20_break", 'echo garbage > "$_hook_json"\nexit 1\n')
    caps = api.call("Host.getCapabilities")
    assert "hookedBy" not in caps and "hooks" in caps
    api.destroy(vm_id)


@HOOKED
def test_set_ticket_points_get_params_and_never_refuse(api):
    out = _record_file("ticket.txt")
    for point in ("before_vm_set_ticket", "after_vm_set_ticket"):
        _script(point, "10_record",
                'grep -q "<graphics" "$_hook_domxml" && '
                'echo "%s $vmId color=$color extra=$extra" >> %s\n' % (point, out))
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "hookticket", vm_id), custom={"color": "red"})
    api.wait_status(vm_id, "Up")
    assert api.call("VM.setTicket", {"vmID": vm_id, "password": "s3cret", "ttl": 60,
                                     "existingConnAction": "disconnect",
                                     "params": {"extra": "from-params"}}) is True
    assert _lines(out) == ["%s %s color=red extra=from-params" % (p, vm_id)
                           for p in ("before_vm_set_ticket", "after_vm_set_ticket")]
    # not fatal, as in VDSM: the ticket is still set
    _refuse("before_vm_set_ticket")
    assert api.call("VM.setTicket", {"vmID": vm_id, "password": "again", "ttl": 60,
                                     "existingConnAction": "disconnect", "params": {}}) is True
    assert len(_lines(out)) == 4
    # VM.updateDevice of graphics sets a ticket too
    api.call("VM.updateDevice", {"vmID": vm_id, "params": {
        "deviceType": "graphics", "graphicsType": "vnc", "password": "upd", "ttl": 60,
        "params": {"extra": "via-update"}}})
    assert _lines(out)[-1] == "after_vm_set_ticket %s color=red extra=via-update" % vm_id
    api.destroy(vm_id)


@HOOKED
def test_hibernate_and_dehibernate_points(api, vm_env):
    out = _record_file("hib.txt")
    vm_id = new_id()
    name = PREFIX + "hookhib"
    api.create(diskless_xml(name, vm_id), custom={"color": "green"})
    api.wait_status(vm_id, "Up")
    image = vm_env / "hibernation" / ("%s.mem" % name)

    # a refusing before_vm_hibernate: 1500, still Up, nothing saved
    _refuse("before_vm_hibernate")
    err = api.error("VM.hibernate", {"vmID": vm_id, "hibernationVolHandle": image.name})
    assert err.code == 1500 and "before_vm_hibernate refused" in err.message, err
    time.sleep(1)
    assert api.status(vm_id) == "Up"
    assert not image.exists()
    _unrefuse("before_vm_hibernate")

    for point in ("before_vm_hibernate", "after_vm_hibernate", "before_vm_dehibernate",
                  "after_vm_dehibernate"):
        _script(point, "10_record",
                'grep -q "<domain" "$_hook_domxml" && '
                'echo "%s $vmId color=$color snap=$FROM_SNAPSHOT" >> %s\n' % (point, out))
    assert api.call("VM.hibernate", {"vmID": vm_id, "hibernationVolHandle": image.name})
    api.wait_status(vm_id, "Down", timeout=120)
    wait_for(lambda: "after_vm_hibernate" in out.read_text(), 30)
    assert _lines(out) == ["before_vm_hibernate %s color=green snap=" % vm_id,
                           "after_vm_hibernate %s color=green snap=" % vm_id]
    assert image.exists()
    api.destroy(vm_id)

    # a refusing before_vm_dehibernate: 1500, the VM is neither listed nor defined
    _refuse("before_vm_dehibernate")
    err = api.error("VM.create", {"vmID": vm_id, "vmParams": {"hiberVolHandle": image.name}})
    assert err.code == 1500 and "before_vm_dehibernate refused" in err.message, err
    time.sleep(1)
    assert vm_id not in api.vm_ids()
    assert name not in domain_names()
    _unrefuse("before_vm_dehibernate")

    api.call("VM.create", {"vmID": vm_id, "vmParams": {"hiberVolHandle": image.name}})
    api.wait_status(vm_id, "Up", timeout=120)
    wait_for(lambda: "after_vm_dehibernate" in out.read_text(), 30)
    assert _lines(out)[2:] == [
        "before_vm_dehibernate %s color=green snap=False" % vm_id,  # the refused run
        "before_vm_dehibernate %s color=green snap=False" % vm_id,
        "after_vm_dehibernate %s color=green snap=False" % vm_id]
    api.destroy(vm_id)


NIC_MAC = "52:54:00:5a:00:01"
PLAIN_MAC = "52:54:00:5a:00:02"


def _nic_xml(name, vm_id):
    """Two user-mode NICs (no PXE ROM, no guest OS: no traffic); the
    first has device custom properties in the ovirt-vm metadata."""
    nics = "".join("<interface type='user'><mac address='%s'/><model type='rtl8139'/>"
                   "<rom enabled='no'/></interface>" % mac for mac in (NIC_MAC, PLAIN_MAC))
    meta = ("<metadata><ovirt-vm:vm xmlns:ovirt-vm='http://ovirt.org/vm/1.0'>"
            "<ovirt-vm:device mac_address='%s'><ovirt-vm:custom>"
            "<ovirt-vm:nicprop>nic-value</ovirt-vm:nicprop><ovirt-vm:color>nic-color</ovirt-vm:color>"
            "</ovirt-vm:custom></ovirt-vm:device></ovirt-vm:vm></metadata>" % NIC_MAC.upper())
    return diskless_xml(name, vm_id, extra_devices=nics).replace(
        "</domain>", meta + "</domain>")


@HOOKED
def test_device_points_per_nic_with_custom_properties(api):
    out = _record_file("dev.txt")
    for point in ("before_device_create", "after_device_create", "before_device_destroy",
                  "after_device_destroy"):
        _script(point, "10_record",
                'mac=$(grep -o "52:54:00:5a:00:0[0-9]" "$_hook_domxml")\n'
                'echo "%s $mac $vmId vm=$vmprop nic=$nicprop color=$color" >> %s\n'
                % (point, out))
    # the device XML the scripts leave is what libvirt starts
    _script("before_device_create", "20_model", 'sed -i "s/rtl8139/e1000/" "$_hook_domxml"\n')

    # a refusing before_device_create: 1500, nothing defined
    _refuse("before_device_create")
    vm_id = new_id()
    name = PREFIX + "hookdev"
    err = api.error("VM.create", {"vmID": vm_id, "vmParams": {
        "xml": _nic_xml(name, vm_id), "custom": {"vmprop": "vm-value", "color": "vm-color"}}})
    assert err.code == 1500 and "before_device_create refused" in err.message, err
    time.sleep(1)
    assert name not in domain_names() and vm_id not in api.vm_ids()
    _unrefuse("before_device_create")
    out.write_text("")

    api.create(_nic_xml(name, vm_id), custom={"vmprop": "vm-value", "color": "vm-color"})
    api.wait_status(vm_id, "Up")
    wait_for(lambda: "after_device_create" in out.read_text(), 30)
    models = virsh("dumpxml", name)
    assert models.count("<model type='e1000'/>") == 1, models
    assert models.count("<model type='rtl8139'/>") == 1, models

    # a refusing before_device_destroy: 1500, the VM keeps running
    _refuse("before_device_destroy")
    err = api.error("VM.destroy", {"vmID": vm_id})
    assert err.code == 1500 and "before_device_destroy refused" in err.message, err
    assert api.status(vm_id) == "Up"
    _unrefuse("before_device_destroy")
    api.destroy(vm_id)
    wait_for(lambda: "after_device_destroy" in out.read_text(), 30)
    env = "%s %s vm=vm-value nic=nic-value color=nic-color" % (NIC_MAC, vm_id)
    assert _lines(out) == ["before_device_create " + env, "after_device_create " + env,
                           "before_device_destroy " + env,  # the refused destroy
                           "before_device_destroy " + env, "after_device_destroy " + env]


def test_vdsm_start_and_stop_points(vm_env, vdsmd_factory):
    out = _record_file("vdsm.txt")
    for point in ("before_vdsm_start", "after_vdsm_stop"):
        _script(point, "10_record", 'echo "%s" >> %s\n' % (point, out))
    _refuse("before_vdsm_start")  # only logged: the daemon starts anyway
    daemon = vdsmd_factory(ssl=False, overrides={"hooks": {"hooks_dir": str(HOOKS)}})
    # the hook ran before the daemon served its first request
    assert _lines(out) == ["before_vdsm_start"]
    daemon.assert_served()
    assert "before_vdsm_start refused" in daemon.log_text()
    assert daemon.terminate() == 0
    assert _lines(out) == ["before_vdsm_start", "after_vdsm_stop"]
    log = daemon.log_text()
    assert log.index("after_vdsm_stop") > log.index("vdsmd stopping")
