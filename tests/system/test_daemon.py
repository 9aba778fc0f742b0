"""vdsmd as a process: command line, config file, privileges, logging."""

import configparser
import os
import pwd
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import REPO, VDSMD, free_port


def dump_config(*args):
    proc = subprocess.run([str(VDSMD), "--dump-config", *args], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(proc.stdout)
    return parser


def test_dump_config_defaults():
    conf = dump_config()
    assert conf.get("vars", "ssl") == "true"
    assert conf.get("vars", "trust_store_path") == "/etc/pki/vdsm"
    assert conf.get("addresses", "management_ip") == "::"
    assert conf.get("addresses", "management_port") == "54321"
    assert conf.get("rpc", "worker_threads") == "8"
    assert conf.get("rpc", "tasks_per_worker") == "10"


def test_dump_config_reads_file(tmp_path):
    path = tmp_path / "vdsm.conf"
    path.write_text("[vars]\nssl = false\n[addresses]\nmanagement_port = 12345\n")
    conf = dump_config("--config", str(path))
    assert conf.get("vars", "ssl") == "false"
    assert conf.get("addresses", "management_port") == "12345"
    assert conf.get("rpc", "worker_threads") == "8"


def test_example_config_documents_every_key():
    """contrib/vdsm.conf.example lists every key vdsmd knows, with its default."""
    conf = dump_config()
    example = (REPO / "contrib" / "vdsm.conf.example").read_text()
    for section in conf.sections():
        assert "[%s]" % section in example, section
        for key, value in conf.items(section):
            assert re.search(r"^# %s = %s$" % (re.escape(key), re.escape(value)), example,
                             re.M), "%s.%s = %s missing from vdsm.conf.example (run scripts/gen-conf-example.py)" % (section, key, value)


def test_example_config_loads(tmp_path):
    conf = dump_config("--config", str(REPO / "contrib" / "vdsm.conf.example"))
    assert conf.get("addresses", "management_port") == "54321"


def test_bad_config_file_refused(tmp_path):
    path = tmp_path / "broken.conf"
    path.write_text("this is not an ini file\n[unterminated\n")
    proc = subprocess.run([str(VDSMD), "--config", str(path)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0
    assert proc.stderr.strip(), "no error message for a broken config"


def test_missing_config_file_refused(tmp_path):
    proc = subprocess.run([str(VDSMD), "--config", str(tmp_path / "nope.conf")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0


@pytest.mark.parametrize("key,value", [
    ("vars.host_sample_stats_interval", "0"),
    ("vars.max_concurrent_vm_creations", "0"),
    ("vars.vm_sample_interval", "0"),
    ("sampling.max_concurrent_calls", "2x"),
])
def test_bad_value_refused_before_binding(tmp_path, key, value):
    """A bad value of a module's key stops vdsmd before it binds its port:
    no client can connect to a daemon that is about to exit.  The port is
    held by the test, so a daemon that bound first fails on the port
    instead of naming the key."""
    section, name = key.split(".")
    path = tmp_path / "vdsm.conf"
    with socket.socket(socket.AF_INET) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        path.write_text("[vars]\nssl = false\n[addresses]\nmanagement_ip = 127.0.0.1\n"
                        "management_port = %d\n" % port)
        env = dict(os.environ, VDSM_LOG_NO_JOURNAL="1")
        proc = subprocess.run([str(VDSMD), "--config", str(path), "--no-drop-privileges",
                               "--set", "%s=%s" % (key, value)],
                              capture_output=True, text=True, timeout=30, env=env,
                              stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "[%s] %s must be" % (section, name) in out, out
    assert "cannot listen" not in out and "listening" not in out, out


def test_drops_privileges_to_vdsm(vdsmd):
    if os.geteuid() != 0:
        pytest.skip("the tests do not run as root, so vdsmd was not started as root")
    vdsm = pwd.getpwnam("vdsm")
    with open("/proc/%d/status" % vdsmd.proc.pid) as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    uids = status["Uid"].split()
    gids = status["Gid"].split()
    assert uids == [str(vdsm.pw_uid)] * 4, status["Uid"]
    assert gids == [str(vdsm.pw_gid)] * 4, status["Gid"]
    groups = status["Groups"].split()
    libvirt_gid = str(__import__("grp").getgrnam("libvirt").gr_gid)
    assert libvirt_gid in groups, groups
    assert "0" not in groups, groups
    # No capabilities left.
    assert int(status["CapEff"], 16) == 0, status["CapEff"]
    assert int(status["CapPrm"], 16) == 0, status["CapPrm"]
    # And it still reaches libvirt as vdsm (getCapabilities asks libvirt).
    client = vdsmd.rpc()
    assert client.result("Host.getCapabilities", {}, timeout=60)["emulatedMachines"]


def test_logs_ready(vdsmd):
    assert "vdsmd ready" in vdsmd.log_text()


def test_sigterm_exits_cleanly_with_clients(vdsmd):
    clients = [vdsmd.rpc() for _ in range(3)]
    for c in clients:
        assert c.result("Host.ping2", {}) is True
    assert vdsmd.terminate(signal.SIGTERM) == 0, vdsmd.log_tail()
    for c in clients:
        assert c.conn.wait_closed(5), "client connection survived vdsmd's exit"


def test_sigint_exits_cleanly(vdsmd):
    assert vdsmd.terminate(signal.SIGINT) == 0, vdsmd.log_tail()


def test_port_in_use_fails(vdsmd, workdir, trust_store):
    from conftest import Vdsmd
    clash = Vdsmd(workdir, trust_store,
                  overrides={"addresses": {"management_port": vdsmd.port}})
    proc = subprocess.run(clash.args, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert proc.stdout + proc.stderr
    vdsmd.assert_served()


def test_ipv4_management_ip(vdsmd_factory):
    daemon = vdsmd_factory(ssl=False, overrides={"addresses": {"management_ip": "127.0.0.1"}})
    daemon.assert_served()


def test_missing_trust_store_fails(workdir):
    from conftest import TrustStore, Vdsmd
    empty = workdir / "empty-store"
    empty.mkdir(exist_ok=True)
    os.chmod(empty, 0o755)
    daemon = Vdsmd(workdir, TrustStore(empty), ssl=True)
    proc = subprocess.Popen(daemon.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError("vdsmd ran with an empty trust store:\n" + out)
    assert proc.returncode != 0
    assert "vdsmkey.pem" in out or "vdsmcert.pem" in out or "cacert.pem" in out, out


def test_start_time(vdsmd_factory):
    t0 = time.monotonic()
    daemon = vdsmd_factory(ssl=True)
    daemon.assert_served()
    assert time.monotonic() - t0 < 10
    assert free_port() != daemon.port
