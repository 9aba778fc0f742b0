"""The Host verbs of the foundation issue: shape and types as VDSM sends
them (vdsm-facts §2.2, §2.3; many numbers are strings)."""

import os
import re
import time

import pytest

from vdsmtest import assert_error


@pytest.fixture
def client(vdsmd):
    return vdsmd.rpc()


@pytest.fixture
def caps(client):
    return client.result("Host.getCapabilities", {}, timeout=60)


@pytest.fixture
def stats(client):
    return client.result("Host.getStats", {}, timeout=30)


def test_ping(client):
    assert client.result("Host.ping", {}) is True


def test_ping2(client):
    assert client.result("Host.ping2", {}) is True


def test_echo(client):
    assert client.result("Host.echo", {"text": "hello vdsm"}) == "hello vdsm"
    assert client.result("Host.echo", {"text": ""}) == ""


def test_echo_large_text(client):
    text = "x" * 200000
    assert client.result("Host.echo", {"text": text}, timeout=30) == text


def is_numeric_string(value):
    return isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value) is not None


def test_capabilities_cpu(caps):
    for key in ("cpuCores", "cpuSockets", "cpuThreads"):
        assert is_numeric_string(caps[key]) and int(caps[key]) >= 1, (key, caps.get(key))
    assert int(caps["cpuThreads"]) >= int(caps["cpuCores"])
    assert is_numeric_string(caps["cpuSpeed"]), caps["cpuSpeed"]
    assert isinstance(caps["cpuModel"], str) and caps["cpuModel"]
    assert isinstance(caps["cpuFlags"], str) and "," in caps["cpuFlags"]
    assert isinstance(caps["onlineCpus"], str)
    online = [int(c) for c in caps["onlineCpus"].split(",")]
    assert len(online) == os.cpu_count(), (online, os.cpu_count())
    assert "cpuTopology" in caps


def test_capabilities_memory_numa(caps):
    assert is_numeric_string(caps["memSize"]) and int(caps["memSize"]) > 0
    with open("/proc/meminfo") as f:
        total_kib = int(f.readline().split()[1])
    assert abs(int(caps["memSize"]) - total_kib // 1024) <= 1, caps["memSize"]
    assert isinstance(caps["numaNodes"], dict) and caps["numaNodes"], caps["numaNodes"]
    for node in caps["numaNodes"].values():
        assert "cpus" in node and "totalMemory" in node, node


def test_capabilities_virt(caps):
    assert caps["kvmEnabled"] in ("true", "false"), caps["kvmEnabled"]
    machines = caps["emulatedMachines"]
    assert isinstance(machines, list) and machines, machines
    assert any(m.startswith("pc") for m in machines), machines


def test_capabilities_versions(caps):
    assert isinstance(caps["software_version"], str) and caps["software_version"]
    pkgs = caps["packages2"]
    assert isinstance(pkgs, dict), pkgs
    for name in ("kernel", "libvirt"):
        assert name in pkgs, sorted(pkgs)
        assert "version" in pkgs[name] and "release" in pkgs[name], pkgs[name]
    assert any(n.startswith("qemu") for n in pkgs), sorted(pkgs)
    assert pkgs["kernel"]["version"] and os.uname().release.startswith(pkgs["kernel"]["version"])
    os_info = caps["operatingSystem"]
    assert isinstance(os_info, dict) and os_info.get("name"), os_info


def test_capabilities_identity(caps):
    assert re.fullmatch(r"[0-9a-fA-F-]{36}", caps["uuid"]), caps["uuid"]


def test_capabilities_network(caps):
    nics = caps["nics"]
    assert isinstance(nics, dict), nics
    assert "lo" not in nics, "loopback is not a NIC"
    for name, nic in nics.items():
        assert os.path.exists("/sys/class/net/%s" % name), name
        assert isinstance(nic, dict), nic
    assert isinstance(caps["bridges"], dict)
    for name in caps["bridges"]:
        assert os.path.isdir("/sys/class/net/%s/bridge" % name), name
    real_bridges = [n for n in os.listdir("/sys/class/net")
                    if os.path.isdir("/sys/class/net/%s/bridge" % n)]
    for name in real_bridges:
        assert name in caps["bridges"], (name, sorted(caps["bridges"]))


def test_capabilities_stable_uuid(client, caps):
    again = client.result("Host.getCapabilities", {}, timeout=60)
    assert again["uuid"] == caps["uuid"]


def test_stats_shape(stats):
    for key in ("cpuIdle", "cpuUser", "cpuSys", "memFree", "memUsed", "swapTotal", "swapFree",
                "elapsedTime", "bootTime", "cpuLoad", "cpuUserVdsmd", "cpuSysVdsmd"):
        assert key in stats, (key, sorted(stats))
    assert 0.0 <= float(stats["cpuIdle"]) <= 100.0, stats["cpuIdle"]
    assert float(stats["memFree"]) > 0
    assert float(stats["elapsedTime"]) >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d GMT", stats["dateTime"]), \
        stats["dateTime"]
    # VM counters: other work on this host's libvirtd may run guests, so
    # only their shape and consistency are checked here.
    for key in ("vmCount", "vmActive", "vmMigrating"):
        assert int(stats[key]) >= 0, (key, stats[key])
    assert int(stats["vmActive"]) <= int(stats["vmCount"]), stats
    assert isinstance(stats["network"], dict)


def test_stats_elapsed_time_grows(client, stats):
    time.sleep(1.2)
    later = client.result("Host.getStats", {}, timeout=30)
    assert float(later["elapsedTime"]) >= float(stats["elapsedTime"]) + 1


def test_hardware_info(client):
    info = client.result("Host.getHardwareInfo", {})
    assert isinstance(info, dict), info
    for value in info.values():
        assert isinstance(value, str), info


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
def test_set_log_level(vdsmd, level):
    client = vdsmd.rpc()
    assert client.result("Host.setLogLevel", {"level": level}) is True
    assert client.result("Host.setLogLevel", {"level": "INFO", "name": "root"}) is True


def test_set_log_level_debug_logs_more(vdsmd):
    client = vdsmd.rpc()
    assert client.result("Host.setLogLevel", {"level": "DEBUG"}) is True
    before = len(vdsmd.log_text())
    for _ in range(5):
        client.result("Host.ping2", {})
    debug_growth = len(vdsmd.log_text()) - before
    assert client.result("Host.setLogLevel", {"level": "ERROR"}) is True
    before = len(vdsmd.log_text())
    for _ in range(5):
        client.result("Host.ping2", {})
    quiet_growth = len(vdsmd.log_text()) - before
    assert debug_growth > quiet_growth, (debug_growth, quiet_growth)


def test_set_log_level_bad(client):
    assert_error(client.call("Host.setLogLevel", {"level": "VERBOSE"}), -32602, "level")
    assert_error(client.call("Host.setLogLevel", {}), -32602, "level")
