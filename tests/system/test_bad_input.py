"""Hostile and broken clients.  Every case is followed by a check that a
well-behaved client is still served promptly by the same daemon."""

import json
import os
import socket
import threading
import time

import pytest

from vdsmtest import PROMPT, REQUESTS, Closed, Timeout, encode_frame, request


def refused(conn, timeout=PROMPT):
    """The server answered with ERROR and/or closed: never a normal reply."""
    try:
        frame = conn.recv_frame(timeout)
    except Closed:
        return "closed"
    except Timeout:
        raise AssertionError("the server neither answered nor closed in %.0f s" % timeout)
    assert frame.command == "ERROR", "expected ERROR or close, got %r" % frame
    return "error"


@pytest.mark.parametrize("size", [16, 4096, 200000])
def test_random_bytes(any_vdsmd, size):
    conn = any_vdsmd.connect()
    data = os.urandom(size)
    data = b"\x01" + data[1:]  # never a STOMP command or an HTTP verb by chance
    try:
        conn.send_raw(data)
    except OSError:
        pass  # closed while we were still writing: fine
    assert conn.wait_closed(PROMPT), "random bytes did not get the connection closed"
    assert not any(f.command in ("CONNECTED", "MESSAGE") for f in getattr(conn, "received", []))
    any_vdsmd.assert_served()


def test_random_bytes_after_connect(vdsmd):
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    try:
        conn.send_raw(b"\x00\x01" + os.urandom(8192) + b"\0")
    except OSError:
        pass
    try:
        frame = conn.recv_frame()
        assert frame.command == "ERROR", frame
    except Closed:
        pass
    vdsmd.assert_served()


MALFORMED = {
    "header-without-colon": b"SEND\ndestination\n\n{}\0",
    "bad-content-length": b"SEND\ndestination:" + REQUESTS.encode()
    + b"\ncontent-length:abc\n\n{}\0",
    "negative-content-length": b"SEND\ndestination:" + REQUESTS.encode()
    + b"\ncontent-length:-5\n\n{}\0",
    "content-length-not-followed-by-nul": b"SEND\ndestination:" + REQUESTS.encode()
    + b"\ncontent-length:2\n\n{}}}}\0",
    "unknown-escape": b"SEND\ndestination:a\\tb\n\n{}\0",
    "raw-colon-in-value": b"SEND\ndestination:a:b\n\n{}\0",
    "lowercase-command": b"send\ndestination:" + REQUESTS.encode() + b"\n\n{}\0",
    "binary-command": b"SE\xffND\n\n\0",
    "send-without-destination": b"SEND\ncontent-type:application/json\n\n{}\0",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_frame(vdsmd, name):
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.send_raw(MALFORMED[name])
    refused(conn)
    vdsmd.assert_served()


@pytest.mark.parametrize("cut", [1, 5, 30, -3, -1])
def test_truncated_frame_then_close(any_vdsmd, cut):
    req = json.dumps(request("Host.ping2", {}))
    frame = encode_frame("SEND", [("destination", REQUESTS), ("reply-to", "r")], req)
    conn = any_vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.send_raw(frame[:cut])
    time.sleep(0.2)
    conn.close()
    any_vdsmd.assert_served()


def test_truncated_frame_keeps_waiting(vdsmd):
    """Half a frame is not an error: the rest may still come."""
    client = vdsmd.rpc()
    req = json.dumps(request("Host.echo", {"text": "later"}))
    frame = encode_frame("SEND", [("destination", REQUESTS), ("reply-to", client.reply_to)], req)
    client.conn.send_raw(frame[:20])
    vdsmd.assert_served()
    time.sleep(0.5)
    client.conn.send_raw(frame[20:])
    assert client.recv()["result"] == "later"


@pytest.mark.vdsm_config({"stomp": {"max_frame_size": 65536}})
@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "until-nul"])
def test_oversized_frame(any_vdsmd, with_length):
    conn = any_vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    body = b"[" + b" " * 200000 + b"]"
    frame = encode_frame("SEND", [("destination", REQUESTS), ("reply-to", "r")], body,
                         content_length=with_length)
    try:
        conn.send_raw(frame)
    except OSError:
        pass
    refused(conn)
    any_vdsmd.assert_served()


@pytest.mark.vdsm_config({"stomp": {"max_frame_size": 65536}})
def test_oversized_content_length_announced(vdsmd):
    """A content-length above the limit is refused before the body comes."""
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.send_raw(b"SEND\ndestination:" + REQUESTS.encode() + b"\ncontent-length:999999999\n\n{")
    refused(conn)
    vdsmd.assert_served()


@pytest.mark.vdsm_config({"stomp": {"max_frame_size": 65536}})
def test_frame_just_under_limit_accepted(vdsmd):
    client = vdsmd.rpc()
    text = "y" * 60000
    assert client.result("Host.echo", {"text": text}) == text


@pytest.mark.vdsm_config({"stomp": {"max_header_size": 4096}})
def test_oversized_header_block(vdsmd):
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.send_raw(b"SEND\ndestination:" + REQUESTS.encode() + b"\nx-big:" + b"h" * 10000
                  + b"\n\n{}\0")
    refused(conn)
    vdsmd.assert_served()


@pytest.mark.vdsm_config({"stomp": {"max_header_size": 4096}})
def test_endless_header_line(vdsmd):
    """A header line that never ends must not grow memory without bound."""
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    try:
        conn.send_raw(b"SEND\nx:" + b"z" * 1000000)
    except OSError:
        pass
    refused(conn)
    vdsmd.assert_served()


def test_invalid_json_does_not_disturb_others(vdsmd):
    bad = vdsmd.rpc()
    good = vdsmd.rpc()
    bad.conn.send_frame("SEND", [("destination", REQUESTS), ("reply-to", bad.reply_to)],
                        b"{\"jsonrpc\": \"2.0\", \"method\": ")
    assert good.result("Host.ping2", {}) is True
    assert bad.recv()["error"]["code"] == -32700
    assert bad.result("Host.ping2", {}) is True


def test_first_frame_unknown_command(any_vdsmd):
    conn = any_vdsmd.connect()
    conn.send_raw(b"HELLO\n\n\0")
    assert conn.wait_closed(PROMPT), "unrecognised first bytes did not close the connection"
    assert not any(f.command == "CONNECTED" for f in conn.received)
    any_vdsmd.assert_served()


@pytest.mark.vdsm_config({"vars": {"ssl_handshake_timeout": 2}})
def test_silent_client_closed_after_timeout(any_vdsmd):
    """Connect (and for TLS, finish the handshake) but send nothing."""
    conn = any_vdsmd.connect()
    t0 = time.monotonic()
    any_vdsmd.assert_served()  # the silent one does not block others
    assert conn.wait_closed(8), "silent client still connected after 8 s"
    elapsed = time.monotonic() - t0
    assert 1.0 <= elapsed <= 6.0, "closed after %.1f s (timeout 2 s)" % elapsed


@pytest.mark.vdsm_config({"vars": {"ssl_handshake_timeout": 2}})
def test_no_tls_handshake_closed_after_timeout(vdsmd):
    """A raw TCP client on the TLS port that never starts the handshake."""
    sock = socket.create_connection((vdsmd.host, vdsmd.port))
    t0 = time.monotonic()
    vdsmd.assert_served()
    sock.settimeout(8)
    try:
        data = sock.recv(100)
    except ConnectionResetError:
        data = b""
    elapsed = time.monotonic() - t0
    assert data == b"", data
    assert elapsed <= 6.0, "closed after %.1f s (timeout 2 s)" % elapsed
    sock.close()


@pytest.mark.vdsm_config({"vars": {"ssl_handshake_timeout": 2}})
def test_partial_tls_handshake_closed_after_timeout(vdsmd):
    """Half a ClientHello, then silence."""
    sock = socket.create_connection((vdsmd.host, vdsmd.port))
    sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    t0 = time.monotonic()
    vdsmd.assert_served()
    sock.settimeout(8)
    try:
        while sock.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    elapsed = time.monotonic() - t0
    assert elapsed <= 6.0, "closed after %.1f s (timeout 2 s)" % elapsed
    sock.close()


@pytest.mark.vdsm_config({"vars": {"ssl_handshake_timeout": 2}})
def test_first_bytes_then_silence_closed(any_vdsmd):
    """Fewer bytes than protocol detection needs, then nothing."""
    conn = any_vdsmd.connect()
    conn.send_raw(b"CONN")
    any_vdsmd.assert_served()
    assert conn.wait_closed(8), "client with 4 bytes still connected after 8 s"


def test_many_idle_clients_do_not_block(any_vdsmd):
    idle = [any_vdsmd.connect() for _ in range(20)]
    any_vdsmd.assert_served()
    for conn in idle:
        conn.close()


@pytest.mark.vdsm_config({"stomp": {"max_outgoing_bytes": 262144}})
def test_non_reading_client_does_not_block_others(any_vdsmd):
    """A client that sends requests but never reads its replies."""
    lazy = any_vdsmd.connect(rcvbuf=4096)
    assert lazy.connect().command == "CONNECTED"
    reply_to = "lazy.replies"
    lazy.subscribe(reply_to)
    text = "p" * 16384
    frames = b"".join(encode_frame("SEND", [("destination", REQUESTS), ("reply-to", reply_to)],
                                   json.dumps(request("Host.echo", {"text": text})))
                      for _ in range(100))
    sender = threading.Thread(target=_send_quietly, args=(lazy.sock, frames), daemon=True)
    sender.start()
    time.sleep(1.0)
    for _ in range(5):
        assert any_vdsmd.assert_served() < 2.0


def _send_quietly(sock, data):
    try:
        sock.settimeout(30)
        sock.sendall(data)
    except OSError:
        pass


@pytest.mark.vdsm_config({"stomp": {"max_outgoing_bytes": 262144}})
def test_non_reading_client_disconnected_past_limit(vdsmd):
    """More than max_outgoing_bytes of unread replies: the server drops it."""
    lazy = vdsmd.connect(rcvbuf=4096)
    assert lazy.connect().command == "CONNECTED"
    reply_to = "lazy.replies"
    lazy.subscribe(reply_to)
    # About 8 MB of replies: more than the kernel's socket buffers can absorb
    # (tcp_wmem allows up to 4 MB) plus the 256 KiB limit.
    text = "q" * 40000
    total_requests = 200
    frames = b"".join(encode_frame("SEND", [("destination", REQUESTS), ("reply-to", reply_to)],
                                   json.dumps(request("Host.echo", {"text": text})))
                      for _ in range(total_requests))
    sender = threading.Thread(target=_send_quietly, args=(lazy.sock, frames), daemon=True)
    sender.start()
    time.sleep(3.0)  # replies pile up while we do not read
    vdsmd.assert_served()
    # Now read: the server must have given up on us before all replies came.
    closed = lazy.wait_closed(30)
    messages = [f for f in lazy.received if f.command == "MESSAGE"]
    assert closed, "the non-reading client was not disconnected"
    assert len(messages) < total_requests, "all %d replies were kept for it" % len(messages)


@pytest.mark.vdsm_config({"stomp": {"max_connections": 4}, "vars": {"ssl_handshake_timeout": 30}})
def test_max_connections(any_vdsmd):
    clients = [any_vdsmd.rpc() for _ in range(4)]
    for c in clients:
        assert c.result("Host.ping2", {}) is True
    extra_ok = True
    try:
        extra = any_vdsmd.connect()
        frame = extra.connect()
        extra_ok = frame.command == "CONNECTED"
    except (Closed, OSError, Timeout):
        extra_ok = False
    assert not extra_ok, "a 5th connection was served with max_connections = 4"
    clients[0].close()

    def served():
        try:
            any_vdsmd.assert_served()
            return True
        except (AssertionError, Closed, OSError, Timeout):
            return False
    deadline = time.monotonic() + PROMPT
    while not served():
        assert time.monotonic() < deadline, "no connection served after one was closed"
        time.sleep(0.1)


@pytest.mark.vdsm_config({"stomp": {"max_subscriptions": 4}})
def test_max_subscriptions(vdsmd):
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    for i in range(4):
        conn.subscribe("sub.limit.%d" % i)
    conn.expect_nothing(0.3)
    conn.subscribe("sub.limit.too-many")
    refused(conn)
    vdsmd.assert_served()
