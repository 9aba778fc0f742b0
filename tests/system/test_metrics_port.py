"""The optional plain metrics port serves HTTP routes only: no JSON-RPC,
no STOMP, and it never weakens the TLS API port."""

import socket
import urllib.error
import urllib.request

import pytest

from conftest import free_port

METRICS_PORT = free_port()


def _http(port, method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.vdsm_config({"metrics": {"http_port": METRICS_PORT, "http_address": "127.0.0.1"}})
def test_metrics_port_refuses_jsonrpc(vdsmd):
    status, _ = _http(METRICS_PORT, "POST", "/jsonrpc",
                      b'{"jsonrpc":"2.0","method":"Host.ping2","id":1}')
    assert status == 404
    vdsmd.assert_served()


@pytest.mark.vdsm_config({"metrics": {"http_port": METRICS_PORT, "http_address": "127.0.0.1"}})
def test_metrics_port_refuses_stomp(vdsmd):
    sock = socket.create_connection(("127.0.0.1", METRICS_PORT), timeout=5)
    sock.sendall(b"CONNECT\naccept-version:1.2\n\n\0")
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pytest.fail("the metrics port kept a STOMP client open")
    assert b"CONNECTED" not in data
    vdsmd.assert_served()


def test_metrics_port_off_by_default(vdsmd):
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", METRICS_PORT), timeout=2).close()
