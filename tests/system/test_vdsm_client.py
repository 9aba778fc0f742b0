"""tools/vdsm-client with VDSM's command line (vdsm-facts §10.2)."""

import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import VDSM_CLIENT


def run_client(args, vdsmd=None, env_store=True, stdin=None, timeout=60, insecure=None):
    cmd = [str(VDSM_CLIENT)]
    env = dict(os.environ)
    env.pop("VDSM_TRUST_STORE", None)
    if vdsmd is not None:
        cmd += ["-a", vdsmd.host, "-p", str(vdsmd.port)]
        if insecure if insecure is not None else not vdsmd.ssl:
            cmd.append("--insecure")
        elif env_store:
            env["VDSM_TRUST_STORE"] = str(vdsmd.store.dir)
    cmd += args
    return subprocess.run(cmd, capture_output=True, text=True, input=stdin, env=env,
                          timeout=timeout)


def test_ping2(any_vdsmd):
    proc = run_client(["Host", "ping2"], any_vdsmd)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) is True


def test_trust_store_flag(vdsmd):
    proc = run_client(["--trust-store", str(vdsmd.store.dir), "Host", "ping2"], vdsmd,
                      env_store=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) is True


def test_wrong_trust_store_fails(vdsmd, foreign_store):
    proc = run_client(["--trust-store", str(foreign_store.dir), "Host", "ping2"], vdsmd,
                      env_store=False, timeout=30)
    assert proc.returncode != 0
    vdsmd.assert_served()


def test_echo_name_value(any_vdsmd):
    proc = run_client(["Host", "echo", "text=hello world"], any_vdsmd)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == "hello world"


def test_value_with_equals_sign(vdsmd):
    proc = run_client(["Host", "echo", "text=a=b"], vdsmd)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == "a=b"


def test_get_capabilities_indented(vdsmd):
    proc = run_client(["Host", "getCapabilities"], vdsmd)
    assert proc.returncode == 0, proc.stderr
    caps = json.loads(proc.stdout)
    for key in ("cpuCores", "uuid", "packages2", "emulatedMachines", "nics"):
        assert key in caps, key
    lines = proc.stdout.splitlines()
    assert len(lines) > 10
    assert any(line.startswith("    \"") for line in lines), proc.stdout[:300]


def test_get_stats(vdsmd):
    proc = run_client(["Host", "getStats"], vdsmd)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    for key in ("cpuIdle", "memFree", "elapsedTime", "dateTime"):
        assert key in stats, key


def test_set_log_level(vdsmd):
    proc = run_client(["Host", "setLogLevel", "level=DEBUG"], vdsmd)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) is True


def test_server_error_exit_code(vdsmd):
    proc = run_client(["Host", "setLogLevel", "level=LOUD"], vdsmd)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "-32602" in out and "level" in out, out


def test_missing_param_error(vdsmd):
    proc = run_client(["Host", "echo"], vdsmd)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "text" in out, out


@pytest.mark.vdsm_config({"devel": {"recovery_delay": 30}})
def test_vdsm_error_code_and_message(vdsmd):
    proc = run_client(["Host", "ping2"], vdsmd)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "99" in out and "Recovering from crash or Initializing" in out, out


def test_file_argument(vdsmd, tmp_path):
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"text": "from a file"}))
    proc = run_client(["-f", str(path), "Host", "echo"], vdsmd)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == "from a file"


def test_file_argument_stdin(vdsmd):
    proc = run_client(["-f", "-", "Host", "echo"], vdsmd, stdin=json.dumps({"text": "stdin"}))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == "stdin"


def test_file_and_inline_are_exclusive(vdsmd, tmp_path):
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"text": "x"}))
    proc = run_client(["-f", str(path), "Host", "echo", "text=y"], vdsmd)
    assert proc.returncode != 0


def test_help_lists_namespaces_and_methods():
    proc = run_client(["--help"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "Host" in out
    for method in ("ping2", "echo", "getCapabilities", "getStats", "setLogLevel"):
        assert method in out, method


def test_namespace_help():
    proc = run_client(["Host", "-h"])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "getCapabilities" in out and "echo" in out


def test_verb_help():
    proc = run_client(["Host", "getCapabilities", "-h"])
    assert proc.returncode == 0, proc.stderr
    assert "capabilities" in (proc.stdout + proc.stderr).lower()
    proc = run_client(["Host", "echo", "-h"])
    assert proc.returncode == 0, proc.stderr
    assert "text" in proc.stdout + proc.stderr


def test_unknown_method_fails():
    proc = run_client(["Host", "noSuchVerb"])
    assert proc.returncode != 0


def test_unknown_namespace_fails():
    proc = run_client(["Nowhere", "ping2"])
    assert proc.returncode != 0


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    proc = subprocess.run([str(VDSM_CLIENT), "-a", "127.0.0.1", "-p", str(port), "--insecure",
                           "Host", "ping2"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert time.monotonic() - t0 < 20


def test_timeout_against_silent_server():
    """--timeout N: a server that accepts and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    port = srv.getsockname()[1]
    accepted = []

    def serve():
        try:
            while True:
                conn, _ = srv.accept()
                accepted.append(conn)
        except OSError:
            pass
    threading.Thread(target=serve, daemon=True).start()
    try:
        t0 = time.monotonic()
        proc = subprocess.run([str(VDSM_CLIENT), "-a", "127.0.0.1", "-p", str(port),
                               "--insecure", "--timeout", "2", "Host", "ping2"],
                              capture_output=True, text=True, timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        srv.close()
        for c in accepted:
            c.close()
    assert proc.returncode != 0
    assert 1.5 <= elapsed < 10, "vdsm-client --timeout 2 took %.1f s" % elapsed


def test_insecure_against_tls_server_fails(vdsmd):
    proc = run_client(["Host", "ping2"], vdsmd, insecure=True, timeout=30)
    assert proc.returncode != 0
    vdsmd.assert_served()


def test_request_is_a_one_element_batch():
    """Like VDSM's client (vdsm-facts §11): CONNECT, SUBSCRIBE and SEND in
    one go, the SEND body a one-element JSON-RPC batch; a batch reply is
    understood."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    seen = {}

    def serve():
        conn, _ = srv.accept()
        with conn:
            data = b""
            while data.count(b"\0") < 3:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            frames = [f.lstrip(b"\n") for f in data.split(b"\0")[:3]]
            seen["commands"] = [f.split(b"\n", 1)[0].decode() for f in frames]
            head, body = frames[2].split(b"\n\n", 1)
            headers = dict(line.split(":", 1) for line in head.decode().split("\n")[1:])
            seen["body"] = json.loads(body)
            reply = json.dumps([{"jsonrpc": "2.0", "id": seen["body"][0]["id"],
                                 "result": "batched"}]).encode()
            conn.sendall(b"CONNECTED\nversion:1.2\n\n\0")
            conn.sendall(b"MESSAGE\ndestination:%s\nsubscription:x\ncontent-length:%d\n\n%s\0"
                         % (headers["reply-to"].encode(), len(reply), reply))
            time.sleep(1)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        proc = subprocess.run([str(VDSM_CLIENT), "-a", "127.0.0.1", "-p", str(port),
                               "--insecure", "--timeout", "10", "Host", "echo", "text=hi"],
                              capture_output=True, text=True, timeout=60)
    finally:
        t.join(15)
        srv.close()
    assert seen["commands"] == ["CONNECT", "SUBSCRIBE", "SEND"], seen
    body = seen["body"]
    assert isinstance(body, list) and len(body) == 1, body
    assert body[0]["method"] == "Host.echo" and body[0]["params"] == {"text": "hi"}, body
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == "batched"
