"""Twenty VM.create calls at once (one JSON-RPC batch): every call answers
at once with WaitForLaunch, at most [vars] max_concurrent_vm_creations
start-ups run together, every VM comes Up, and twenty destroys clean up."""

import os
import time
import uuid

import pytest

from vm_fixtures import (PREFIX, diskless_xml, domain_names, domain_state, new_id,
                         slow_inflight_dir, wait_for)
from vm_fixtures import api, events, slow_emulator, vm_daemon, vm_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(600)

COUNT = 20
LIMIT = 2


def _batch(api, calls, timeout=120):
    reqs = [{"jsonrpc": "2.0", "method": m, "params": p, "id": str(uuid.uuid4())}
            for m, p in calls]
    resp = api.client.call_raw(reqs, timeout=timeout)
    assert isinstance(resp, list) and len(resp) == len(reqs), resp
    by_id = {r["id"]: r for r in resp}
    return [by_id[r["id"]] for r in reqs]


def test_twenty_creations_at_once(api, events):
    ids = [new_id() for _ in range(COUNT)]
    names = [PREFIX + "storm-%02d" % i for i in range(COUNT)]
    t0 = time.monotonic()
    answers = _batch(api, [("VM.create", {"vmID": i, "vmParams": {"xml": diskless_xml(n, i)}})
                           for i, n in zip(ids, names)])
    answered = time.monotonic() - t0
    for vm_id, resp in zip(ids, answers):
        assert resp["result"]["vmId"] == vm_id and resp["result"]["status"] == "WaitForLaunch"
    # The calls only queue the start-ups.
    assert answered < 10, answered

    for vm_id in ids:
        events.wait(vm_id, "Up", timeout=300)
    for vm_id in ids:
        assert events.statuses(vm_id) == ["WaitForLaunch", "Powering up", "Up"], vm_id
    assert all(domain_state(n) == "running" for n in names)
    listed = {v["vmId"]: v["status"] for v in api.call("Host.getVMList")}
    assert all(listed[i] == "Up" for i in ids)

    answers = _batch(api, [("VM.destroy", {"vmID": i}) for i in ids], timeout=300)
    assert all(r.get("result") is True for r in answers), answers
    for vm_id in ids:
        assert events.of(vm_id)[-1]["exitReason"] == 6
    assert not set(ids) & set(api.vm_ids())
    assert not [n for n in domain_names() if n.startswith(PREFIX + "storm-")]


@pytest.mark.vdsm_config({"vars": {"max_concurrent_vm_creations": str(LIMIT)}})
def test_creations_in_flight_are_bounded(api, events, slow_emulator, vm_env):
    """With an emulator that takes 3 s to start, count the start-ups that
    run at the same time: never more than the configured bound, and more
    than one (they do overlap)."""
    inflight = slow_inflight_dir(vm_env)
    ids = [new_id() for _ in range(6)]
    _batch(api, [("VM.create", {"vmID": i, "vmParams": {
        "xml": diskless_xml(PREFIX + "bound-%d" % n, i, emulator=slow_emulator)}})
        for n, i in enumerate(ids)])
    peak = 0
    deadline = time.monotonic() + 180
    while not all("Up" in events.statuses(i) for i in ids):
        assert time.monotonic() < deadline, [events.statuses(i) for i in ids]
        peak = max(peak, len(os.listdir(inflight)))
        time.sleep(0.05)
    assert 2 <= peak <= LIMIT, peak
    _batch(api, [("VM.destroy", {"vmID": i}) for i in ids], timeout=300)
