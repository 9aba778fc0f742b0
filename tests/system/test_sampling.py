"""Bulk VM statistics sampling (issue 4, docs/sampling.md) against the real
vdsmd, libvirtd and QEMU: the getStats fields from the samples, a stopped
QEMU that must not block anything, VMs that come and go during sampling,
a libvirtd restart, and GET /metrics checked with Debian's promtool.

Domains are named vdt4-*; see sampling_fixtures.py.
"""

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid

import pytest

from sampling_fixtures import (BRIDGE, CALL_TIMEOUT, COMMAND_TIMEOUT, IMAGES, INTERVAL, PREFIX,
                               PROMTOOL, TTL, Vm, all_stats, cont_qemu, create_vms, domain_xml,
                               get_metrics, metric_values, promtool_check, sample_age, stop_qemu,
                               wait_sampled)
from sampling_fixtures import events, sapi, sampling_daemon, sampling_env  # noqa: F401
from vdsmtest import wait_for
from vm_fixtures import VIRSH, VdsmError, ensure_libvirtd, libvirtd_pid, vm_overrides

# How late "fresh" may be: one interval, the call timeout after which a
# stuck call's other domains are asked again, and scheduling slack on a
# loaded 2-core host.
FRESH = INTERVAL + CALL_TIMEOUT + 2.0
PROMPT = 2.0  # Host.ping2 / Host.getAllVmStats while a QEMU is stopped


def test_stats_fields(sapi):
    """A running VM's getStats carries VDSM's sampled fields, as strings
    where VDSM sends strings."""
    vm, = create_vms(sapi, 1)
    wait_sampled(sapi, [vm])
    wait_for(lambda: "disks" in sapi.stats(vm.id), 10, interval=0.2, what="disk stats")
    st = sapi.stats(vm.id)
    assert st["monitorResponse"] == "0"
    for key in ("cpuUser", "cpuSys", "cpuUsage", "memUsage", "vcpuCount", "elapsedTime"):
        assert isinstance(st[key], str), (key, st[key])
    float(st["cpuUser"])
    float(st["cpuSys"])
    assert int(st["cpuUsage"]) >= 0
    assert st["vcpuCount"] == "1"
    assert st["cpuActual"] is True
    nic, = st["network"].values()
    for key in ("rx", "tx", "rxErrors", "rxDropped", "txErrors", "txDropped", "speed", "name",
                "macAddr", "state"):
        assert isinstance(nic[key], str), (key, nic)
    assert nic["macAddr"].count(":") == 5 and nic["speed"] == "1000"
    assert abs(sample_age(st)) < FRESH
    vda = st["disks"]["vda"]
    for key in ("readRate", "writeRate", "readLatency", "writeLatency", "flushLatency",
                "readOps", "writeOps", "readBytes", "writtenBytes", "truesize", "apparentsize"):
        assert isinstance(vda[key], str), (key, vda)
        float(vda[key])
    assert int(vda["apparentsize"]) > 0 and int(vda["truesize"]) > 0
    bi = st["balloonInfo"]
    assert bi["balloon_max"] == str(64 * 1024) and bi["balloon_cur"] == str(64 * 1024)
    assert bi["balloon_target"] == str(64 * 1024) and bi["ballooning_enabled"] is True
    # the same dict from Host.getAllVmStats
    assert set(all_stats(sapi)[vm.id]) >= {"cpuUser", "network", "disks", "balloonInfo"}


@pytest.mark.timing
def test_stopped_qemu_blocks_nothing(sapi, events):
    """kill -STOP one QEMU of four: the others stay fresh, the stopped one
    is reported "-1" (with an event) within the bound, ping2 and
    getAllVmStats keep answering promptly, and after kill -CONT it is "0"
    again within two intervals."""
    vms = create_vms(sapi, 4)
    wait_sampled(sapi, vms)
    stuck, others = vms[0], vms[1:]
    ping = sapi.daemon.rpc()
    worst = {"ping2": 0.0, "getAllVmStats": 0.0, "age": 0.0}
    t_stop = time.monotonic()
    stop_qemu(stuck)
    seen_unresponsive = None
    try:
        # Long enough for the skip TTL to expire and the domain to be
        # checked (and found stuck) again.
        deadline = t_stop + max(TTL + 3 * INTERVAL, 8.0)
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            assert ping.result("Host.ping2", {}, timeout=10) is True
            worst["ping2"] = max(worst["ping2"], time.monotonic() - t0)
            t0 = time.monotonic()
            st = all_stats(sapi)
            worst["getAllVmStats"] = max(worst["getAllVmStats"], time.monotonic() - t0)
            for vm in others:
                assert st[vm.id]["monitorResponse"] == "0", st[vm.id]
                worst["age"] = max(worst["age"], sample_age(st[vm.id]))
            if seen_unresponsive is None and st[stuck.id]["monitorResponse"] == "-1":
                seen_unresponsive = time.monotonic() - t_stop
            if seen_unresponsive is not None:
                assert st[stuck.id]["monitorResponse"] == "-1"
            time.sleep(0.1)
    finally:
        cont_qemu(stuck)
    t_cont = time.monotonic()
    ping.close()
    assert worst["ping2"] < PROMPT, worst
    assert worst["getAllVmStats"] < PROMPT, worst
    assert worst["age"] < FRESH, worst
    # "-1" when its call timed out: one interval + the call timeout (+ slack)
    assert seen_unresponsive is not None, "the stopped VM was never reported unresponsive"
    assert seen_unresponsive < INTERVAL + CALL_TIMEOUT + 1.5, seen_unresponsive

    wait_for(lambda: sapi.stats(stuck.id)["monitorResponse"] == "0", 2 * INTERVAL + 1.0,
             interval=0.1, what="the continued VM to answer again")
    # and a fresh sample of it follows within the same bound (the stuck
    # call's own sample, stored first, was taken when it stopped)
    wait_for(lambda: sample_age(sapi.stats(stuck.id)) < INTERVAL + 1.0,
             2 * INTERVAL + 1.0 - (time.monotonic() - t_cont) + 0.5, interval=0.1,
             what="a fresh sample of the continued VM")
    recovered = time.monotonic() - t_cont
    assert recovered <= 2 * INTERVAL + 1.5

    # one event each way, in order
    wait_for(lambda: [d.get("monitorResponse") for d in events.of(stuck.id)][-1:] == ["0"], 5,
             what="the VM_status event back to 0")
    responses = [d.get("monitorResponse") for d in events.of(stuck.id)]
    assert "-1" in responses, responses
    first_bad = responses.index("-1")
    assert "0" in responses[first_bad:], responses
    for vm in others:
        assert "-1" not in [d.get("monitorResponse") for d in events.of(vm.id)]

    status, _, text = get_metrics(sapi.daemon)
    assert status == 200
    stuck_calls = metric_values(text, "vdsm_vm_sampling_calls_stuck_total")
    assert list(stuck_calls.values())[0] >= 1


@pytest.mark.timing
def test_two_stopped_qemus_block_nothing(sapi):
    """kill -STOP two QEMUs of five at once: the call stops at the first;
    the second, whose monitor was still free, is asked again with the
    others at the deadline and stops that call too; its own deadline finds
    it, so the three running VMs stay fresh and both stopped ones go "-1"."""
    vms = create_vms(sapi, 5, disk=False)
    wait_sampled(sapi, vms)
    stopped, running = vms[:2], vms[2:]
    for vm in stopped:
        stop_qemu(vm)
    t_stop = time.monotonic()
    worst = 0.0
    try:
        while time.monotonic() < t_stop + 8.0:
            st = all_stats(sapi)
            for vm in running:
                assert st[vm.id]["monitorResponse"] == "0", st[vm.id]
                worst = max(worst, sample_age(st[vm.id]))
            time.sleep(0.1)
        st = all_stats(sapi)
        assert [st[vm.id]["monitorResponse"] for vm in stopped] == ["-1", "-1"]
    finally:
        for vm in stopped:
            cont_qemu(vm)
    # two deadlines (the call's, then the re-asked call's) plus slack
    assert worst < INTERVAL + 2 * CALL_TIMEOUT + 2.0, worst


STALE_AFTER = 4.0


@pytest.mark.vdsm_config({"vars": {"vm_command_timeout": str(STALE_AFTER)},
                          "sampling": {"stats_call_timeout": "30"}})
def test_stale_stats_unresponsive(sapi):
    """With a call timeout longer than the command timeout, the age rule
    alone reports a stopped VM "-1" after vm_command_timeout."""
    vm, = create_vms(sapi, 1, disk=False)
    wait_sampled(sapi, [vm])
    wait_for(lambda: sapi.stats(vm.id)["monitorResponse"] == "0", 10, interval=0.1,
             what="monitorResponse 0 before the stop")
    t0 = time.monotonic()
    stop_qemu(vm)
    try:
        wait_for(lambda: sapi.stats(vm.id)["monitorResponse"] == "-1",
                 STALE_AFTER + 2 * INTERVAL + 2, interval=0.1,
                 what="monitorResponse -1 from stale stats")
        # not before the newest sample (taken at most one interval before
        # the stop) is vm_command_timeout old
        assert time.monotonic() - t0 >= STALE_AFTER - INTERVAL - 0.2
    finally:
        cont_qemu(vm)
    # the stuck call returns at once; a fresh sample follows with the next tick
    wait_for(lambda: sapi.stats(vm.id)["monitorResponse"] == "0", 2 * INTERVAL + 2,
             interval=0.1, what="monitorResponse back to 0")



@pytest.mark.vdsm_config({"sampling": {"stats_call_timeout": "30"}})
def test_ticks_go_on_while_every_thread_waits(sapi):
    """A sampler thread starts each tick when it is due (the thread that
    ran the last job holds the clock).  With one VM, whose QEMU is stopped,
    the only thread is stuck in the call and no deadline comes for 30 s:
    the main loop's watchdog starts the next tick half an interval late
    (on a new thread, which then holds the clock), and ticks go on once
    per interval; without it, none would start until the call returned."""
    vm, = create_vms(sapi, 1, disk=False)
    wait_sampled(sapi, [vm])

    def started():
        return (_counter(sapi.daemon, "vdsm_vm_sampling_ticks_total")
                + _counter(sapi.daemon, "vdsm_vm_sampling_ticks_skipped_total"))

    late0 = _counter(sapi.daemon, "vdsm_vm_sampling_ticks_late_total")
    stop_qemu(vm)
    try:
        time.sleep(2 * INTERVAL)  # a tick's call is stuck now
        n0, t0 = started(), time.monotonic()
        time.sleep(4 * INTERVAL)
        n1, t1 = started(), time.monotonic()
        late = _counter(sapi.daemon, "vdsm_vm_sampling_ticks_late_total") - late0
        t_ping = time.monotonic()
        assert sapi.daemon.rpc().result("Host.ping2", {}) is True
        assert time.monotonic() - t_ping < PROMPT
    finally:
        cont_qemu(vm)
    # one tick (counted when it is over, or skipped: every VM in flight) per interval
    assert n1 - n0 >= (t1 - t0) / INTERVAL - 2, (n0, n1, t1 - t0)
    assert late >= 1, late
    wait_for(lambda: sapi.stats(vm.id)["monitorResponse"] == "0", 2 * INTERVAL + 5,
             interval=0.1, what="monitorResponse back to 0")


def test_libvirt_call_timeout_unresponsive(sapi, events):
    """A VM-layer libvirt call that times out (VIR_ERR_OPERATION_TIMEOUT:
    libvirt's job lock, held by a call hung on the stopped QEMU, was not
    free within libvirt's 30 s) makes the VM "-1" with an event, and it is
    "0" again once it answers."""
    vm, = create_vms(sapi, 1, disk=False)
    wait_sampled(sapi, [vm])
    stop_qemu(vm)
    hung = sapi.daemon.rpc()
    try:
        # The first call takes the job and waits on the stopped monitor.
        hung.send({"jsonrpc": "2.0", "id": "hung", "method": "VM.setBalloonTarget",
                   "params": {"vmID": vm.id, "target": 32768}})
        time.sleep(1)
        t0 = time.monotonic()
        with pytest.raises(VdsmError) as info:
            sapi.call("VM.setBalloonTarget", {"vmID": vm.id, "target": 32768}, timeout=90)
        err = info.value
        assert err.code == 53, err
        assert "timed out" in err.message.lower(), err
        assert time.monotonic() - t0 >= 20  # libvirt waited for its job lock
        wait_for(lambda: "VM %s (%s): a libvirt call timed out" % (vm.id, vm.name)
                 in sapi.daemon.log_text(), 5, interval=0.1, what="the timeout to be noted")
        assert sapi.stats(vm.id)["monitorResponse"] == "-1"
        assert sapi.call("Host.ping2") is True
    finally:
        cont_qemu(vm)
        hung.close()
    wait_for(lambda: sapi.stats(vm.id)["monitorResponse"] == "0", 2 * INTERVAL + 2,
             interval=0.1, what="monitorResponse back to 0")
    responses = [d.get("monitorResponse") for d in events.of(vm.id)]
    assert "-1" in responses and responses[-1] == "0", responses


def _counter(daemon, name):
    _, _, text = get_metrics(daemon)
    return metric_values(text, name).get("", 0.0)


BLOCK_INTERVAL = 2.0  # [sampling] block_sample_interval of sampling_fixtures.SAMPLING


def _disk_size(sapi, vm):
    disk = sapi.stats(vm.id).get("disks", {}).get("vda")
    return int(disk["apparentsize"]) if disk else None


@contextlib.contextmanager
def _hung_dir(sapi, names):
    """VMs named @names (each with a disk, up and sampled with its size
    known) whose images are in a directory over-mounted by bindfs, a FUSE
    file system, whose daemon is stopped inside the block: stat() of an
    image hangs there, as on an unreachable NFS server, while QEMU keeps the
    image it opened.  Yields the Vms; the daemon continues and the mount
    goes on the way out."""
    hung_dir = IMAGES / "hung"
    hung_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(hung_dir, 0o755)
    vms = []
    for name in names:
        disk = hung_dir / ("%s.qcow2" % name)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "32M"], check=True)
        os.chmod(disk, 0o666)
        vm = Vm(name, str(uuid.uuid4()))
        sapi.create(domain_xml(vm.name, vm.id, disk=disk))
        vm.disk = disk
        vms.append(vm)
    for vm in vms:
        wait_for(lambda: sapi.stats(vm.id)["status"] in ("Up", "Powering up"), 60,
                 interval=0.1, what="%s to be up" % vm.name)
    wait_sampled(sapi, vms)
    wait_for(lambda: all(_disk_size(sapi, vm) == vm.disk.stat().st_size for vm in vms), 10,
             interval=0.2, what="the hung VMs' disk sizes")
    # attr/entry_timeout=0: every stat() asks the (stopped) daemon
    subprocess.run(["bindfs", "-o", "allow_other,attr_timeout=0,entry_timeout=0",
                    str(hung_dir), str(hung_dir)], check=True)
    fuse = None
    try:
        fuse = int(subprocess.run(["pgrep", "-n", "-f", "bindfs.*%s" % hung_dir],
                                  capture_output=True, text=True, check=True).stdout)
        os.kill(fuse, signal.SIGSTOP)
        yield vms
    finally:
        if fuse:
            os.kill(fuse, signal.SIGCONT)
        if subprocess.run(["umount", str(hung_dir)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(hung_dir)], capture_output=True)


def _watch_hung(sapi, vms, seconds, then=None):
    """For @seconds: ping2 and getAllVmStats answer promptly, every VM of
    @vms is "0" and fresh.  then(elapsed) is called on each round."""
    t0 = time.monotonic()
    worst_age = worst_ping = 0.0
    while time.monotonic() - t0 < seconds:
        t = time.monotonic()
        assert sapi.call("Host.ping2") is True
        worst_ping = max(worst_ping, time.monotonic() - t)
        st = all_stats(sapi)
        for vm in vms:
            assert st[vm.id]["monitorResponse"] == "0", (vm.name, st[vm.id])
            worst_age = max(worst_age, sample_age(st[vm.id]))
        if then:
            then(time.monotonic() - t0)
        time.sleep(0.2)
    assert worst_age < FRESH, worst_age
    assert worst_ping < PROMPT, worst_ping


def _grow_image(vm):
    """Grow @vm's image past the end QEMU uses; its new size."""
    path = IMAGES / ("%s.qcow2" % vm.name)
    os.truncate(path, path.stat().st_size + 1024 * 1024)
    return path.stat().st_size


def test_hung_disk_stat_blocks_no_sample(sapi):
    """The image of one VM's disk whose stat() hangs (_hung_dir): every VM's
    samples stay fresh, no call is stuck, monitorResponse stays "0", ping2
    answers promptly; one sampler thread hangs in stat() (not one per block
    sample), the hung VM keeps its last sizes and the other VM's sizes are
    still refreshed.  Once the daemon continues, nothing is hung."""
    other, = create_vms(sapi, 1, tag="ok")
    stuck0 = _counter(sapi.daemon, "vdsm_vm_sampling_calls_stuck_total")
    with _hung_dir(sapi, ["%shung0" % PREFIX]) as (hung,):
        hung_size = _disk_size(sapi, hung)
        grown = {}

        def grow(elapsed):
            if not grown and elapsed > BLOCK_INTERVAL:
                grown["size"] = _grow_image(other)

        _watch_hung(sapi, [hung, other], 4 * BLOCK_INTERVAL + CALL_TIMEOUT, grow)
        assert _counter(sapi.daemon, "vdsm_vm_sampling_calls_stuck_total") == stuck0
        # one thread hangs in stat(), however many block samples passed
        assert _counter(sapi.daemon, "vdsm_vm_sampling_disk_sizers") == 1
        assert _disk_size(sapi, hung) == hung_size  # its last sizes
        wait_for(lambda: _disk_size(sapi, other) == grown["size"], 2 * BLOCK_INTERVAL + 2,
                 interval=0.2, what="the other VM's new disk size")
    wait_for(lambda: _counter(sapi.daemon, "vdsm_vm_sampling_disk_sizers") == 0, 10,
             interval=0.2, what="the stat() to return")


def test_two_hung_disks_bound_the_sizers(sapi):
    """Two VMs' images hang in stat(): two sampler threads hang, and no
    third (VD_VM_SAMPLING_SIZERS_MAX); the third VM's sizes are then not
    taken but counted (vdsm_vm_sampling_disk_sizings_skipped_total), while
    every VM's samples stay fresh and ping2 answers promptly.  Once the
    daemon continues, both threads return and the third VM's sizes are
    taken again."""
    other, = create_vms(sapi, 1, tag="ok")
    skipped0 = _counter(sapi.daemon, "vdsm_vm_sampling_disk_sizings_skipped_total")
    with _hung_dir(sapi, ["%shung%d" % (PREFIX, i) for i in range(2)]) as hung:
        # each block sample: one more thread hangs on the first hung VM it
        # meets, until two do
        _watch_hung(sapi, hung + [other], 4 * BLOCK_INTERVAL + CALL_TIMEOUT)
        assert _counter(sapi.daemon, "vdsm_vm_sampling_disk_sizers") == 2
        skipped = _counter(sapi.daemon, "vdsm_vm_sampling_disk_sizings_skipped_total")
        assert skipped > skipped0
        size = _disk_size(sapi, other)
        assert size is not None
        grown = _grow_image(other)
        _watch_hung(sapi, hung + [other], 2 * BLOCK_INTERVAL + CALL_TIMEOUT)
        assert _disk_size(sapi, other) == size  # not taken while both hang
        assert _counter(sapi.daemon, "vdsm_vm_sampling_disk_sizers") == 2
        assert _counter(sapi.daemon, "vdsm_vm_sampling_disk_sizings_skipped_total") > skipped
    wait_for(lambda: _counter(sapi.daemon, "vdsm_vm_sampling_disk_sizers") == 0, 10,
             interval=0.2, what="both stat()s to return")
    wait_for(lambda: _disk_size(sapi, other) == grown, 2 * BLOCK_INTERVAL + 2, interval=0.2,
             what="the third VM's new disk size")


def test_slow_libvirtd_is_not_stuck(sapi, events):
    """libvirtd stopped (SIGSTOP) for longer than stats_call_timeout while
    no QEMU monitor is in use: the calls are late but every QEMU answers,
    so none counts as stuck, the sampler keeps its connections (asking the
    domains again would only add to a slow libvirtd's load), no VM turns
    "-1", and the samples are fresh again once libvirtd runs."""
    vms = create_vms(sapi, 2, disk=False)
    wait_sampled(sapi, vms)
    wait_for(lambda: all(sapi.stats(vm.id)["monitorResponse"] == "0" for vm in vms), 10,
             interval=0.1, what="monitorResponse 0 before the stop")
    stuck0 = _counter(sapi.daemon, "vdsm_vm_sampling_calls_stuck_total")
    conns0 = _counter(sapi.daemon, "vdsm_vm_sampling_connections_total")
    pid = libvirtd_pid()
    assert pid
    # Stop it just after a sample ended, so that no monitor call is under
    # way (its busy time would run on while libvirtd is stopped).
    ticks = _counter(sapi.daemon, "vdsm_vm_sampling_ticks_total")
    wait_for(lambda: _counter(sapi.daemon, "vdsm_vm_sampling_ticks_total") > ticks, 10,
             interval=0.02, what="a sample to end")
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(CALL_TIMEOUT + 1.5 * INTERVAL)  # a tick's calls pass their deadline
        assert sapi.call("Host.ping2") is True
    finally:
        os.kill(pid, signal.SIGCONT)
    t_cont = time.monotonic()

    def fresh():
        st = all_stats(sapi)
        return all(sample_age(st[vm.id]) is not None and sample_age(st[vm.id]) < INTERVAL + 0.5
                   and st[vm.id]["monitorResponse"] == "0" for vm in vms)
    wait_for(fresh, 3 * INTERVAL + 2, interval=0.1, what="fresh stats after libvirtd continued")
    assert time.monotonic() - t_cont < 3 * INTERVAL + 2
    assert _counter(sapi.daemon, "vdsm_vm_sampling_calls_stuck_total") == stuck0
    # the sample connection was kept (the control one may have been opened
    # for the first checks, during the stop)
    assert _counter(sapi.daemon, "vdsm_vm_sampling_connections_total") <= conns0 + 1
    for vm in vms:
        assert "-1" not in [d.get("monitorResponse") for d in events.of(vm.id)]


def _thread_wakes(pid, name):
    """Voluntary context switches so far of the process's threads named name."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip() != name:
                    continue
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                total += int(next(line for line in f
                                  if line.startswith("voluntary_ctxt_switches:")).split()[1])
        except FileNotFoundError:
            continue
    return total


@pytest.mark.vdsm_config({"vars": {"vm_sample_interval": "0.2"}})
def test_sampling_leaves_event_thread_alone(sapi):
    """The sampler's connections are not watched by libvirt's event loop
    (docs/sampling.md, Connections): sampling every 0.2 s does not wake the
    libvirt-events thread per call.  A watched connection woke it at both
    ends of every call (libvirt re-arms its socket watch around each)."""
    WINDOW = 5  # seconds
    vms = create_vms(sapi, 2, disk=False)
    wait_sampled(sapi, vms)
    pid = sapi.daemon.proc.pid
    calls0 = _counter(sapi.daemon, "vdsm_vm_sampling_calls_total")
    wakes0 = _thread_wakes(pid, "libvirt-events")
    time.sleep(WINDOW)
    wakes = _thread_wakes(pid, "libvirt-events") - wakes0
    calls = _counter(sapi.daemon, "vdsm_vm_sampling_calls_total") - calls0
    assert calls >= 10, calls
    # What remains is the VM layer's connection: its keepalive (a ping and
    # a pong every 5 s; 5 wake-ups in this window when this was written),
    # not one or two per stats call (71 for these 25 calls before) nor per
    # guest agent poll (that connection is not watched either).
    assert wakes <= 3 + 2 * WINDOW, (wakes, calls)
    sapi.daemon.assert_served()


def _check_consistent(api, daemon):
    """getAllVmStats has no duplicate, /metrics lists exactly the running VMs."""
    st = all_stats(api)
    running = {i for i, s in st.items() if s["status"] != "Down"}
    _, _, text = get_metrics(daemon)
    listed = {labels.split('vm_id="')[1].split('"')[0]
              for labels in metric_values(text, "vdsm_vm_info")}
    assert listed == running, (listed, running)
    return st


@pytest.mark.vdsm_config({"vars": {"vm_sample_interval": "0.2"},
                          "sampling": {"block_sample_interval": "0.4"}})
@pytest.mark.timing
def test_vms_come_and_go(sapi):
    """VMs destroyed behind vdsmd's back and created while samples run
    (every 0.2 s): no crash, no stale VM in the samples, no duplicate."""
    base = create_vms(sapi, 2, tag="base", disk=False)
    wait_sampled(sapi, base)
    for rnd in range(4):
        vms = create_vms(sapi, 2, tag="r%d-" % rnd, disk=(rnd % 2 == 0))
        # gone between two samples, without vdsmd asking for it
        subprocess.run(VIRSH + ["destroy", vms[0].name], capture_output=True)
        time.sleep(0.3)
        sapi.destroy(vms[1].id)
        all_stats(sapi)
    time.sleep(1.0)
    st = _check_consistent(sapi, sapi.daemon)
    for vm in base:
        assert st[vm.id]["monitorResponse"] == "0"
        assert sample_age(st[vm.id]) < 0.2 + CALL_TIMEOUT + 1.5
    sapi.daemon.assert_served()


def test_hotplugged_nic_gets_its_mac(sapi):
    """A NIC hot-plugged behind vdsmd's back (virsh, no vdsmd verb, no
    event the sampler follows) shows in getStats with its MAC: a sample
    that names a NIC the domain XML read at start does not know makes the
    sampler read the XML again.  The first NIC keeps its MAC."""
    vm, = create_vms(sapi, 1, tag="nic", disk=False)
    wait_sampled(sapi, [vm])
    first, = sapi.stats(vm.id)["network"].values()
    assert first["macAddr"].count(":") == 5
    mac = "52:54:00:d7:%02x:%02x" % (os.getpid() % 256, int(vm.id[-2:], 16))
    subprocess.run(VIRSH + ["attach-interface", vm.name, "bridge", BRIDGE, "--model", "virtio",
                            "--mac", mac, "--live"], check=True, capture_output=True)

    def both():
        nets = sapi.stats(vm.id).get("network", {})
        macs = {n["name"]: n["macAddr"] for n in nets.values()}
        return len(macs) == 2 and mac in macs.values() and first["macAddr"] in macs.values()
    # a pair of samples with the new NIC, then the XML read by the next tick
    wait_for(both, 4 * INTERVAL + CALL_TIMEOUT + 5, interval=0.2,
             what="the hot-plugged NIC with its MAC in getStats")
    sapi.daemon.assert_served()


def test_libvirtd_restart(sapi):
    """libvirtd restarts while sampling: vdsmd keeps answering, and the VMs
    are sampled again afterwards, each once."""
    vms = create_vms(sapi, 2, disk=False)
    wait_sampled(sapi, vms)
    pid = libvirtd_pid()
    assert pid
    subprocess.run(["kill", "-TERM", str(pid)], check=True)
    wait_for(lambda: libvirtd_pid() is None, 30, interval=0.1, what="libvirtd to exit")
    time.sleep(2 * INTERVAL)
    sapi.daemon.assert_served()
    all_stats(sapi)
    ensure_libvirtd()
    t0 = time.monotonic()

    def fresh():
        st = all_stats(sapi)
        return all(st[vm.id]["monitorResponse"] == "0" and sample_age(st[vm.id]) is not None
                   and sample_age(st[vm.id]) < FRESH for vm in vms)
    wait_for(fresh, 40, interval=0.2, what="fresh stats after the libvirtd restart")
    assert time.monotonic() - t0 < 40
    _check_consistent(sapi, sapi.daemon)


def _sampling_counters(daemon):
    _, _, text = get_metrics(daemon)
    return {name: metric_values(text, name).get("", 0.0)
            for name in ("vdsm_vm_sampling_ticks_total", "vdsm_vm_sampling_block_ticks_total",
                         "vdsm_vm_sampling_block_vm_samples_total",
                         "vdsm_vm_sampling_vm_samples_total")}


SPREAD_VMS = 16  # the fewest for which block stats are spread (docs/sampling.md)


@pytest.mark.vdsm_config({"sampling": {"block_sample_interval": str(4 * INTERVAL)}})
def test_block_stats_spread_over_ticks(sapi):
    """With 16 VMs and block stats every 4 intervals, each tick asks a
    quarter of the VMs for them: no tick asks all of them (after the first
    ones), yet every VM gets them about once per block interval, and disk
    rates keep coming."""
    vms = create_vms(sapi, SPREAD_VMS, tag="spread")
    wait_sampled(sapi, vms, timeout=60)
    wait_for(lambda: all("disks" in s for s in all_stats(sapi).values()), 30, interval=0.2,
             what="disk stats of every VM")
    before = _sampling_counters(sapi.daemon)
    time.sleep(12 * INTERVAL)
    after = _sampling_counters(sapi.daemon)
    ticks = after["vdsm_vm_sampling_ticks_total"] - before["vdsm_vm_sampling_ticks_total"]
    full = (after["vdsm_vm_sampling_block_ticks_total"]
            - before["vdsm_vm_sampling_block_ticks_total"])
    asked = (after["vdsm_vm_sampling_block_vm_samples_total"]
             - before["vdsm_vm_sampling_block_vm_samples_total"])
    assert ticks >= 6, "only %d samples in %.0f s" % (ticks, 12 * INTERVAL)
    assert full == 0, "%d of %d samples asked every VM for block stats" % (full, ticks)
    # a quarter of the VM samples (ticks can skip VMs still in an earlier
    # tick's call on a slow host) ...
    samples = (after["vdsm_vm_sampling_vm_samples_total"]
               - before["vdsm_vm_sampling_vm_samples_total"])
    expected = samples / 4.0
    # ... but a VM whose block sample is older than the block interval plus
    # half an interval gets one at its next tick: when a slow host skips
    # ticks, block samples follow the clock, not the ticks (CI once: 7 ticks
    # in 12 s, 76 VM samples, 48 with block stats, each VM about every 4.5 s)
    by_clock = SPREAD_VMS * (12 * INTERVAL) / (4 * INTERVAL + INTERVAL / 2)
    assert 0.5 * expected <= asked <= 1.6 * max(expected, by_clock), (asked, samples, ticks)
    st = all_stats(sapi)
    for vm in vms:
        assert "vda" in st[vm.id].get("disks", {}), st[vm.id]
    sapi.daemon.assert_served()


def test_metrics_promtool(sapi):
    """GET /metrics passes `promtool check metrics` and carries the host
    and per-VM families with vm_id, vm_name and device labels, the disk
    image's sizes among them."""
    if not subprocess.run(["test", "-x", PROMTOOL]).returncode == 0:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    vm, = create_vms(sapi, 1)
    wait_sampled(sapi, [vm])
    wait_for(lambda: "disks" in sapi.stats(vm.id), 10, interval=0.2, what="disk stats")
    status, ctype, text = get_metrics(sapi.daemon)
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    promtool_check(text)
    labels = 'vm_id="%s",vm_name="%s"' % (vm.id, vm.name)
    for family in ("vdsm_vm_cpu_time_seconds_total", "vdsm_vm_vcpus",
                   "vdsm_vm_memory_balloon_bytes", "vdsm_vm_monitor_responsive"):
        assert "{%s}" % labels in metric_values(text, family), family
    rx = metric_values(text, "vdsm_vm_network_receive_bytes_total")
    assert any(k.startswith("{%s,interface=\"vnet" % labels) for k in rx), rx
    rd = metric_values(text, "vdsm_vm_disk_read_bytes_total")
    assert "{%s,disk=\"vda\"}" % labels in rd, rd
    # the image's sizes as stat() gives them (truesize, apparentsize),
    # once the first sizing after a block sample is done
    image = IMAGES / ("%s.qcow2" % vm.name)
    vda = "{%s,disk=\"vda\"}" % labels

    def sizes_match():
        _, _, text = get_metrics(sapi.daemon)
        st = image.stat()
        return (metric_values(text, "vdsm_vm_disk_allocation_bytes").get(vda),
                metric_values(text, "vdsm_vm_disk_size_bytes").get(vda)) == \
            (st.st_blocks * 512, st.st_size)

    wait_for(sizes_match, 10, interval=0.2, what="the image's sizes in /metrics")
    for family in ("vdsm_host_cpu_seconds_total", "vdsm_host_memory_used_ratio",
                   "vdsm_host_numa_memory_free_bytes", "vdsm_vm_sampling_ticks_total"):
        assert metric_values(text, family), family


def test_metrics_plain_port(sampling_env, vdsmd_factory, trust_store):
    """With TLS on the API port, [metrics] http_port serves GET /metrics in
    plain HTTP to a scraper without a client certificate, and nothing else."""
    from conftest import free_port
    port = free_port()
    daemon = vdsmd_factory(ssl=True, overrides=vm_overrides(sampling_env, {
        "metrics": {"http_port": str(port), "http_address": "127.0.0.1"}}))
    status, ctype, text = get_metrics(daemon, port=port)
    assert status == 200 and "vdsm_host_cpu_seconds_total" in text
    promtool_check(text)


@pytest.mark.parametrize("value", ["9", "-1", "many", "2x"])
def test_max_concurrent_calls_bad(sampling_env, trust_store, value):
    """A max_concurrent_calls that is not a number in 0..8 stops vdsmd at
    start with a clear message naming the key."""
    from conftest import Vdsmd
    daemon = Vdsmd(sampling_env, trust_store, ssl=False, overrides=vm_overrides(
        sampling_env, {"sampling": {"max_concurrent_calls": value}}))
    with pytest.raises(AssertionError) as info:
        daemon.start()
    assert "exited during start-up" in str(info.value)
    assert "max_concurrent_calls must be" in str(info.value), str(info.value)
    assert "'%s'" % value in str(info.value), str(info.value)


def test_max_concurrent_calls_by_cpus(sapi):
    """The default (0) asks as many concurrent calls as the host has CPUs,
    2 to 4."""
    want = min(max(os.cpu_count(), 2), 4)
    wait_for(lambda: "up to %d concurrent stats calls" % want in sapi.daemon.log_text(), 10,
             interval=0.1, what="the number of calls in the log")
