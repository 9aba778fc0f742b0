"""Hook return codes and time limits through the real vdsmd, libvirt and
QEMU (docs/hooks.md): 1 fails the operation but the next scripts still
run, 2 fails it and skips them, a script past [hooks] timeout is killed
and counts as failed; after_* failures leave the VM running; stderr
reaches the error message and the log."""

import time

import pytest

from test_hooks_vm import HOOKS, _clean_hooks, _script  # noqa: F401 (fixture)
from vm_fixtures import PREFIX, diskless_xml, domain_names, new_id
from vm_fixtures import api, vm_daemon, vm_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)


def _record_file(name):
    out = HOOKS / name
    out.touch()
    out.chmod(0o666)
    return out


def _create_refused(api, tag):
    vm_id = new_id()
    name = PREFIX + tag
    t0 = time.monotonic()
    err = api.error("VM.create", {"vmID": vm_id, "vmParams": {"xml": diskless_xml(name, vm_id)}})
    elapsed = time.monotonic() - t0
    assert err.code == 1500, err
    time.sleep(0.5)
    assert name not in domain_names()
    assert vm_id not in api.vm_ids()
    return err, elapsed


@pytest.mark.vdsm_config({"hooks": {"hooks_dir": str(HOOKS)}})
def test_return_code_1_goes_on_and_2_stops(api):
    out = _record_file("ran.txt")
    _script("before_vm_start", "10_one", 'echo "one ran" >> %s\necho "first no" >&2\nexit 1\n' % out)
    _script("before_vm_start", "20_two", 'echo "two ran" >> %s\necho "second no" >&2\nexit 2\n'
            % out)
    _script("before_vm_start", "30_three", 'echo "three ran" >> %s\n' % out)
    err, _ = _create_refused(api, "hookrc")
    # 1: an error, the next script still runs; 2: an error, the rest skipped
    assert out.read_text().splitlines() == ["one ran", "two ran"]
    assert "first no" in err.message and "second no" in err.message, err
    log = api.daemon.log_text()
    assert "before_vm_start/20_two failed" in log and "skipping the remaining scripts" in log
    # vdsmd serves on, and without the failing scripts the same VM starts
    (HOOKS / "before_vm_start" / "10_one").unlink()
    (HOOKS / "before_vm_start" / "20_two").unlink()
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "hookrc2", vm_id))
    api.wait_status(vm_id, "Up")
    assert out.read_text().splitlines()[-1] == "three ran"
    api.destroy(vm_id)


@pytest.mark.vdsm_config({"hooks": {"hooks_dir": str(HOOKS), "timeout": "2"}})
def test_hanging_hook_is_killed(api):
    _script("before_vm_start", "10_hang", "sleep 120\n")
    ping = api.daemon.rpc()
    try:
        err, elapsed = _create_refused(api, "hookhang")
        assert "time limit" in err.message, err
        assert elapsed < 30, elapsed  # killed at 2 s, not left to run for 120 s
        # the daemon answered meanwhile and still does
        assert ping.result("Host.ping2", {}, timeout=5) is True
    finally:
        ping.close()


@pytest.mark.vdsm_config({"hooks": {"hooks_dir": str(HOOKS), "timeout": "2"}})
def test_failing_after_hooks_leave_the_vm_running(api):
    _script("after_vm_start", "10_fail", 'echo "after says no" >&2\nexit 2\n')
    _script("after_vm_start", "20_hang", "sleep 120\n")
    vm_id = new_id()
    api.create(diskless_xml(PREFIX + "hookafter", vm_id))
    api.wait_status(vm_id, "Up")
    time.sleep(3)
    assert api.status(vm_id) == "Up"
    log = api.daemon.log_text()
    assert "after_vm_start/10_fail failed" in log and "after says no" in log
    # 2 skipped the hanging script: nothing was killed
    assert "20_hang" not in log
    api.destroy(vm_id)
