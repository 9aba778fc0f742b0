"""Idle clients cost nothing: connected STOMP clients (TLS and plain)
that send nothing must not keep vdsmd's main loop busy.  A regression
here once made an idle TLS client spin the daemon at 100% CPU."""

import os
import time

import pytest

from vdsmtest import REQUESTS, request  # noqa: F401

IDLE_SECONDS = 3.0
# Generous: an idle daemon with a few clients uses well under 1% of this.
MAX_CPU_SECONDS = 0.3


def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("heartbeat", ["0,0", "0,1000"])
def test_idle_clients_do_not_spin(any_vdsmd, heartbeat):
    clients = [any_vdsmd.rpc(heartbeat=heartbeat) for _ in range(3)]
    for c in clients:
        assert c.result("Host.ping2", {}) is True
    before = _cpu_seconds(any_vdsmd.proc.pid)
    time.sleep(IDLE_SECONDS)
    used = _cpu_seconds(any_vdsmd.proc.pid) - before
    assert used < MAX_CPU_SECONDS, "vdsmd used %.2f s of CPU in %.0f s with idle clients" % (
        used, IDLE_SECONDS)
    for c in clients:
        assert c.result("Host.ping2", {}) is True
