"""JSON-RPC over HTTP on the API port (POST /jsonrpc), driven with curl."""

import json
import socket
import subprocess

import pytest

from vdsmtest import PROMPT, client_context


def curl(vdsmd, path="/jsonrpc", data=None, method=None, cert=True, store=None, extra=()):
    scheme = "https" if vdsmd.ssl else "http"
    store = store or vdsmd.store
    args = ["curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"]
    if vdsmd.ssl:
        args += ["--cacert", vdsmd.store.ca]
        if cert:
            args += ["--cert", store.cert, "--key", store.key]
    if data is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", data]
    if method:
        args += ["-X", method]
    args += list(extra)
    args.append("%s://127.0.0.1:%d%s" % (scheme, vdsmd.port, path))
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    body, _, code = proc.stdout.rpartition("\n")
    return proc.returncode, int(code or 0), body, proc.stderr


def test_post_jsonrpc(any_vdsmd):
    req = {"jsonrpc": "2.0", "method": "Host.ping2", "params": {}, "id": 1}
    rc, code, body, err = curl(any_vdsmd, data=json.dumps(req))
    assert rc == 0, err
    assert code == 200, (code, body)
    assert json.loads(body) == {"jsonrpc": "2.0", "id": 1, "result": True}


def test_post_jsonrpc_echo_and_batch(any_vdsmd):
    batch = [{"jsonrpc": "2.0", "method": "Host.echo", "params": {"text": "via http"}, "id": "e"},
             {"jsonrpc": "2.0", "method": "Host.ping2", "id": "p"}]
    rc, code, body, err = curl(any_vdsmd, data=json.dumps(batch))
    assert rc == 0 and code == 200, (rc, code, body, err)
    resp = json.loads(body)
    assert isinstance(resp, list), resp
    assert {r["id"]: r["result"] for r in resp} == {"e": "via http", "p": True}


def test_post_jsonrpc_errors(vdsmd):
    rc, code, body, err = curl(vdsmd, data="{broken")
    assert rc == 0, err
    assert json.loads(body)["error"]["code"] == -32700
    req = {"jsonrpc": "2.0", "method": "Host.echo", "params": {"text": 5}, "id": 2}
    rc, code, body, err = curl(vdsmd, data=json.dumps(req))
    resp = json.loads(body)
    assert resp["error"]["code"] == -32602 and "text" in resp["error"]["message"], resp


def test_post_jsonrpc_get_capabilities(vdsmd):
    req = {"jsonrpc": "2.0", "method": "Host.getCapabilities", "id": 3}
    rc, code, body, err = curl(vdsmd, data=json.dumps(req))
    assert rc == 0 and code == 200, (rc, code, err)
    assert "cpuCores" in json.loads(body)["result"]


def test_https_without_client_certificate(vdsmd):
    req = {"jsonrpc": "2.0", "method": "Host.ping2", "id": 1}
    rc, code, body, err = curl(vdsmd, data=json.dumps(req), cert=False)
    assert rc != 0 or code != 200, (rc, code, body)
    assert "result" not in body
    vdsmd.assert_served()


def test_https_with_foreign_certificate(vdsmd, foreign_store):
    req = {"jsonrpc": "2.0", "method": "Host.ping2", "id": 1}
    rc, code, body, err = curl(vdsmd, data=json.dumps(req), store=foreign_store)
    assert rc != 0 or code != 200, (rc, code, body)
    assert "result" not in body
    vdsmd.assert_served()


@pytest.mark.parametrize("path, method", [("/", "GET"), ("/jsonrpc", "GET"),
                                          ("/other", "POST"), ("/", "DELETE")])
def test_other_http_requests_refused(any_vdsmd, path, method):
    data = "{}" if method == "POST" else None
    rc, code, body, err = curl(any_vdsmd, path=path, data=data, method=method)
    # Either the connection is closed (curl fails) or an HTTP error comes back.
    assert rc != 0 or code >= 400, (rc, code, body)
    any_vdsmd.assert_served()


@pytest.mark.parametrize("garbage", [b"HELLO WORLD\r\n\r\n", b"POST\r\n\r\n",
                                     b"POST /jsonrpc HTTP/1.1\r\nContent-Length: zz\r\n\r\n{}"])
def test_http_garbage_closed(any_vdsmd, garbage):
    sock = socket.create_connection((any_vdsmd.host, any_vdsmd.port), timeout=PROMPT)
    if any_vdsmd.ssl:
        sock = client_context(any_vdsmd.store).wrap_socket(sock)
    sock.sendall(garbage)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, OSError):
        pass
    assert b'"result"' not in data
    if data:
        assert data.startswith(b"HTTP/1.") and int(data.split()[1]) >= 400, data[:200]
    sock.close()
    any_vdsmd.assert_served()


def test_http_keepalive_two_requests(vdsmd_plain):
    """Two requests on one HTTP/1.1 connection (curl reuses it)."""
    req = json.dumps({"jsonrpc": "2.0", "method": "Host.ping2", "id": 1})
    url = "http://127.0.0.1:%d/jsonrpc" % vdsmd_plain.port
    proc = subprocess.run(["curl", "-sS", "--max-time", "10", "-H",
                           "Content-Type: application/json", "--data-binary", req, url,
                           "--next", "-H", "Content-Type: application/json",
                           "--data-binary", req, url], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count('"result"') == 2, proc.stdout
