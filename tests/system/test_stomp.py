"""STOMP 1.2 as VDSM speaks it (vdsm-facts §1.2, §11, §12), driven with a
raw client so every byte on the wire is the test's choice."""

import json
import time
import uuid

import pytest

from vdsmtest import (IRS_REQUESTS, PROMPT, REQUESTS, RESPONSES, Closed, RpcClient, Timeout,
                      encode_frame, request)


def error_body(frame):
    return frame.body.decode(errors="replace")


# --- CONNECT ---------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.1", "1.0", "2.0"])
def test_connect_unsupported_version(any_vdsmd, version):
    conn = any_vdsmd.connect()
    frame = conn.connect(version=version)
    assert frame.command == "ERROR", frame
    assert "Version unsupported" in error_body(frame) + frame.headers.get("message", "")
    conn.close()
    any_vdsmd.assert_served()


def test_connect_without_headers(vdsmd):
    conn = vdsmd.connect()
    conn.send_raw(b"CONNECT\n\n\0")
    frame = conn.recv_frame()
    assert frame.command == "ERROR", frame
    assert "Version unsupported" in error_body(frame) + frame.headers.get("message", "")
    vdsmd.assert_served()


def test_connected_has_version(any_vdsmd):
    conn = any_vdsmd.connect()
    frame = conn.connect(heartbeat="0,0")
    assert frame.command == "CONNECTED", frame
    assert frame.headers.get("version") == "1.2"


@pytest.mark.parametrize("client_hb, server_hb", [
    ("0,8000", "8000,0"),
    ("0,500", "1000,0"),
    ("6000,5000", "5000,6000"),
    (None, "0,0"),
    ("0,0", "0,0"),
    ("junk", "0,0"),
])
def test_heartbeat_negotiation(vdsmd, client_hb, server_hb):
    conn = vdsmd.connect()
    frame = conn.connect(heartbeat=client_hb)
    assert frame.command == "CONNECTED", frame
    assert frame.headers.get("heart-beat") == server_hb, frame


def test_server_heartbeats_arrive(any_vdsmd):
    """heart-beat:0,1000 -> the server sends a bare newline every ~1 s of idleness."""
    conn = any_vdsmd.connect()
    frame = conn.connect(heartbeat="0,1000")
    assert frame.headers.get("heart-beat") == "1000,0"
    t0 = time.monotonic()
    with pytest.raises(Timeout):
        conn.recv_frame(3.6)
    beats = [t - t0 for t in conn.heartbeats]
    assert len(beats) >= 2, "heart-beats in 3.6 s: %r" % beats
    assert beats[0] < 2.0, beats
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    assert all(g < 2.0 for g in gaps), gaps
    # cx = 0: the server expects nothing from us, so the connection stays up.
    assert conn.is_open()


def test_heartbeats_during_pipelined_traffic_keep_connection(vdsmd):
    """A client that promised heart-beats every 1 s and sends them stays connected."""
    conn = vdsmd.connect()
    frame = conn.connect(heartbeat="1000,0")
    assert frame.headers.get("heart-beat") == "0,1000", frame
    for _ in range(12):  # 3 s
        time.sleep(0.25)
        conn.heartbeat()
    assert conn.is_open()
    client = RpcClient(conn, do_connect=False)
    assert client.result("Host.ping2", {}) is True


def test_silent_client_disconnected_and_unsubscribed(vdsmd):
    """heart-beat:1000,0 promises inbound data every second; a client that
    then goes silent is closed and its subscriptions are removed."""
    dest = "hbtest.%s" % uuid.uuid4()
    conn = vdsmd.connect()
    frame = conn.connect(heartbeat="1000,0")
    assert frame.command == "CONNECTED", frame
    conn.subscribe(dest)
    t0 = time.monotonic()
    assert conn.wait_closed(6.0), "silent client still connected after 6 s"
    elapsed = time.monotonic() - t0
    assert elapsed >= 0.8, "closed after %.2f s, before the 1 s interval" % elapsed

    other = vdsmd.connect()
    assert other.connect().command == "CONNECTED"
    other.send_frame("SEND", [("destination", dest)], b"anyone?")
    frame = other.recv_frame()
    assert frame.command == "ERROR", frame
    assert "Subscription not available" in error_body(frame) + frame.headers.get("message", "")
    vdsmd.assert_served()


# --- SUBSCRIBE / UNSUBSCRIBE -------------------------------------------------

@pytest.mark.parametrize("headers", [
    [("destination", "some.where")],
    [("id", "sub-1")],
    [],
], ids=["no-id", "no-destination", "nothing"])
def test_subscribe_missing_header(vdsmd, headers):
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.send_frame("SUBSCRIBE", headers)
    frame = conn.recv_frame()
    assert frame.command == "ERROR", frame
    assert "Missing destination or subscription id header" in \
        error_body(frame) + frame.headers.get("message", "")
    vdsmd.assert_served()


def test_subscribe_duplicate_id(vdsmd):
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.subscribe("a.b", "dup")
    conn.subscribe("c.d", "dup")
    frame = conn.recv_frame()
    assert frame.command == "ERROR", frame
    assert "Subscription id already exists" in error_body(frame) + frame.headers.get("message", "")
    vdsmd.assert_served()


def test_same_id_on_two_connections_is_fine(vdsmd):
    dest = str(uuid.uuid4())
    a = RpcClient(vdsmd.connect(), reply_to=dest)
    b = vdsmd.connect()
    assert b.connect().command == "CONNECTED"
    b.subscribe("x.y", a.sub_id)
    assert a.result("Host.ping2", {}) is True
    b.send_frame("UNSUBSCRIBE", [("id", a.sub_id)])
    assert a.result("Host.ping2", {}) is True


def test_unsubscribe_missing_id(vdsmd):
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.send_frame("UNSUBSCRIBE", [("destination", "a.b")])
    frame = conn.recv_frame()
    assert frame.command == "ERROR", frame
    assert "Missing id header" in error_body(frame) + frame.headers.get("message", "")
    vdsmd.assert_served()


def test_unsubscribe_unknown_id_is_ignored(vdsmd):
    client = vdsmd.rpc()
    client.conn.send_frame("UNSUBSCRIBE", [("id", "no-such-subscription")])
    # No ERROR: the next request on the same connection is answered normally.
    assert client.result("Host.ping2", {}) is True


def test_unsubscribe_stops_delivery(vdsmd):
    client = vdsmd.rpc()
    client.conn.send_frame("UNSUBSCRIBE", [("id", client.sub_id)])
    client.send(request("Host.ping2", {}))
    client.conn.expect_nothing(1.5)
    client.sub_id = client.conn.subscribe(client.reply_to)
    assert client.result("Host.ping2", {}) is True


def test_subscribe_before_connect(any_vdsmd):
    """The engine's Java client may send SUBSCRIBE before CONNECT (§12)."""
    conn = any_vdsmd.connect()
    reply_to = RESPONSES
    sub_id = conn.subscribe(reply_to)
    conn.subscribe("jms.queue.events")
    conn.send_frame("CONNECT", [("accept-version", "1.2"), ("heart-beat", "0,15000"),
                                ("host", "null")])
    frame = conn.recv_frame()
    assert frame.command == "CONNECTED", frame
    assert frame.headers.get("heart-beat") == "15000,0"
    req = request("Host.ping2", {})
    # Java client: no content-type, single object body.
    conn.send_frame("SEND", [("destination", REQUESTS), ("reply-to", reply_to)], json.dumps(req))
    msg, _ = conn.recv_until(lambda f: f.command in ("MESSAGE", "ERROR"))
    assert msg.command == "MESSAGE", msg
    assert msg.headers["subscription"] == sub_id
    resp = msg.json()
    assert resp["id"] == req["id"] and resp["result"] is True, resp


def test_python_client_pipelined_batch(any_vdsmd):
    """VDSM's Python client: CONNECT, SUBSCRIBE and SEND in one go without
    waiting for CONNECTED; the body is a one-element batch (§11)."""
    conn = any_vdsmd.connect()
    reply_to = str(uuid.uuid4())
    sub_id = str(uuid.uuid4())
    req = request("Host.ping2", {})
    body = json.dumps([req]).encode()
    data = (encode_frame("CONNECT", [("accept-version", "1.2"), ("heart-beat", "0,24000")])
            + encode_frame("SUBSCRIBE", [("destination", reply_to), ("ack", "auto"),
                                         ("id", sub_id)])
            + encode_frame("SEND", [("destination", REQUESTS),
                                    ("content-type", "application/json"),
                                    ("reply-to", reply_to), ("ovirtCorrelationId", "flow-1")],
                           body))
    conn.send_raw(data)
    frame = conn.recv_frame()
    assert frame.command == "CONNECTED", frame
    assert frame.headers.get("heart-beat") == "24000,0"
    msg = conn.expect("MESSAGE")
    assert msg.headers["subscription"] == sub_id
    assert msg.headers["destination"] == reply_to
    resp = msg.json()
    assert isinstance(resp, list) and len(resp) == 1, resp
    assert resp[0]["id"] == req["id"] and resp[0]["result"] is True, resp


def test_single_object_answered_by_object(any_vdsmd):
    client = any_vdsmd.rpc()
    req = request("Host.ping2", {})
    resp = client.call_raw(req)
    assert isinstance(resp, dict), resp
    assert resp == {"jsonrpc": "2.0", "id": req["id"], "result": True}


def test_irs_request_queue(vdsmd):
    client = vdsmd.rpc()
    req = request("Host.ping2", {})
    assert client.call_raw(req, destination=IRS_REQUESTS)["result"] is True


def test_request_queue_subdestination(vdsmd):
    """A destination starting with '<request queue>.' is a request too."""
    client = vdsmd.rpc()
    req = request("Host.ping2", {})
    assert client.call_raw(req, destination=REQUESTS + ".sub")["result"] is True


def test_reply_goes_to_every_subscriber(vdsmd):
    """Replies go to every subscription of the reply-to destination, on
    any connection (two engine-like clients share jms.topic.vdsm_responses)."""
    a = RpcClient(vdsmd.connect(), reply_to=RESPONSES)
    b = RpcClient(vdsmd.connect(), reply_to=RESPONSES)
    second_sub = a.conn.subscribe(RESPONSES)  # a second subscription on a
    b.conn.sync()  # b's subscription is in place before a's request
    req = request("Host.echo", {"text": "to everyone"})
    a.send(req)
    got_b = b.recv_message()
    assert got_b.json()["result"] == "to everyone"
    subs = set()
    for _ in range(2):
        frame, _ = a.conn.recv_until(lambda f: f.command == "MESSAGE")
        assert frame.json()["id"] == req["id"]
        subs.add(frame.headers["subscription"])
    assert subs == {a.sub_id, second_sub}


def test_reply_without_reply_to_is_dropped(vdsmd):
    client = vdsmd.rpc()
    client.conn.send_request(request("Host.ping2", {}), reply_to=None)
    client.conn.expect_nothing(1.0)
    assert client.result("Host.ping2", {}) is True


# --- mini-broker ---------------------------------------------------------------

def test_mini_broker_dot_prefix(vdsmd):
    base = "broker%s" % uuid.uuid4().hex[:8]
    sender = vdsmd.connect()
    assert sender.connect().command == "CONNECTED"
    receivers = {}
    for dest in (base, base + ".a", base + ".a.b", base + ".a.bc", base + ".ab"):
        conn = vdsmd.connect()
        assert conn.connect().command == "CONNECTED"
        receivers[dest] = (conn, conn.subscribe(dest))
        conn.sync()  # subscribed before the sender sends
    sender.send_frame("SEND", [("destination", base + ".a.b"), ("x-custom", "kept")],
                      b"hello broker")
    for dest in (base, base + ".a", base + ".a.b"):
        conn, sub_id = receivers[dest]
        msg = conn.expect("MESSAGE")
        assert msg.body == b"hello broker"
        assert msg.headers["destination"] == base + ".a.b"
        assert msg.headers["subscription"] == sub_id
        assert msg.headers.get("x-custom") == "kept", msg
    for dest in (base + ".a.bc", base + ".ab"):
        receivers[dest][0].expect_nothing(0.5)
    sender.expect_nothing(0.5)  # delivered: no ERROR


def test_mini_broker_no_subscriber(vdsmd):
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.send_frame("SEND", [("destination", "nobody.listens.%s" % uuid.uuid4().hex)], b"x")
    frame = conn.recv_frame()
    assert frame.command == "ERROR", frame
    assert "Subscription not available" in error_body(frame) + frame.headers.get("message", "")
    vdsmd.assert_served()


# --- DISCONNECT -------------------------------------------------------------------

def test_disconnect_receipt(any_vdsmd):
    conn = any_vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.send_frame("DISCONNECT", [("receipt", "bye-77")])
    frame = conn.recv_frame()
    assert frame.command == "RECEIPT", frame
    assert frame.headers.get("receipt-id") == "bye-77"
    any_vdsmd.assert_served()


def test_client_drops_connection_without_disconnect(vdsmd):
    """vdsm's client just closes the socket; its subscriptions go away."""
    dest = "dropped.%s" % uuid.uuid4().hex
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.subscribe(dest)
    conn.expect_nothing(0.2)
    conn.close()
    other = vdsmd.connect()
    assert other.connect().command == "CONNECTED"

    def unsubscribed():
        other.send_frame("SEND", [("destination", dest)], b"x")
        try:
            frame = other.recv_frame(0.5)
        except Timeout:
            return False  # delivered: the subscription still exists
        return frame.command == "ERROR"
    deadline = time.monotonic() + PROMPT
    while not unsubscribed():
        assert time.monotonic() < deadline, "subscription of a closed connection survives"
        time.sleep(0.1)


# --- encoding -----------------------------------------------------------------

def test_header_escaping_roundtrip(vdsmd):
    """Escaped ':' '\\' and newline in ids and destinations come back escaped."""
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    reply_to = "urn:uuid:%s" % uuid.uuid4()
    sub_id = "id:with\\back\nslash"
    conn.subscribe(reply_to, sub_id)
    req = request("Host.ping2", {})
    conn.send_request(req, reply_to)
    msg = conn.expect("MESSAGE")  # the raw client rejects a raw ':' in values
    assert msg.headers["destination"] == reply_to
    assert msg.headers["subscription"] == sub_id
    assert b"destination:urn\\cuuid\\c" in msg.raw_header
    assert msg.json()["result"] is True


def test_crlf_lines_and_blank_lines_between_frames(vdsmd):
    conn = vdsmd.connect()
    reply_to = str(uuid.uuid4())
    req = json.dumps(request("Host.ping2", {})).encode()
    data = (b"\n\r\nCONNECT\r\naccept-version:1.2\r\n\r\n\0\n\n"
            + b"SUBSCRIBE\r\ndestination:" + reply_to.encode() + b"\r\nid:s1\r\n\r\n\0\r\n"
            + b"SEND\r\ndestination:" + REQUESTS.encode() + b"\r\nreply-to:" + reply_to.encode()
            + b"\r\ncontent-length:" + str(len(req)).encode() + b"\r\n\r\n" + req + b"\0")
    conn.send_raw(data)
    assert conn.recv_frame().command == "CONNECTED"
    assert conn.expect("MESSAGE").json()["result"] is True


def test_repeated_header_first_wins(vdsmd):
    client = vdsmd.rpc()
    req = json.dumps(request("Host.ping2", {}))
    client.conn.send_frame("SEND", [("destination", REQUESTS), ("reply-to", client.reply_to),
                                    ("reply-to", "somewhere.else")], req)
    assert client.recv()["result"] is True


def test_body_without_content_length(vdsmd):
    client = vdsmd.rpc()
    req = request("Host.echo", {"text": "no length"})
    client.conn.send_frame("SEND", [("destination", REQUESTS), ("reply-to", client.reply_to)],
                           json.dumps(req), content_length=False)
    assert client.recv()["result"] == "no length"


def test_frame_split_at_every_byte(any_vdsmd):
    """A request trickled one byte per write is parsed like one in a piece."""
    conn = any_vdsmd.connect()
    reply_to = str(uuid.uuid4())
    req = request("Host.echo", {"text": "slow"})
    data = (encode_frame("CONNECT", [("accept-version", "1.2")])
            + encode_frame("SUBSCRIBE", [("destination", reply_to), ("id", "s")])
            + encode_frame("SEND", [("destination", REQUESTS), ("reply-to", reply_to)],
                           json.dumps(req)))
    for i in range(len(data)):
        conn.send_raw(data[i:i + 1])
        if i % 16 == 0:
            time.sleep(0.001)
    assert conn.recv_frame().command == "CONNECTED"
    assert conn.expect("MESSAGE").json()["result"] == "slow"


def test_every_message_framed_for_java_client(vdsmd):
    """Large reply (getCapabilities): content-length, header block < 1024 B."""
    client = vdsmd.rpc()
    msg = None
    client.send(request("Host.getCapabilities", {}))
    msg = client.recv_message(timeout=30)
    assert len(msg.body) > 1024
    assert int(msg.headers["content-length"]) == len(msg.body)
    assert len(msg.raw_header) < 1024
    assert msg.headers.get("content-type", "application/json") == "application/json"
    assert "result" in msg.json()


def test_many_requests_pipelined(any_vdsmd):
    client = any_vdsmd.rpc()
    reqs = [request("Host.echo", {"text": "n%d" % i}) for i in range(50)]
    client.conn.send_raw(b"".join(
        encode_frame("SEND", [("destination", REQUESTS), ("reply-to", client.reply_to)],
                     json.dumps(r)) for r in reqs))
    got = {}
    for _ in reqs:
        resp = client.recv(timeout=15)
        got[resp["id"]] = resp.get("result")
    assert got == {r["id"]: r["params"]["text"] for r in reqs}


def test_unknown_command_after_connect(vdsmd):
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.send_raw(b"FOO\nbar:baz\n\n\0")
    try:
        frame = conn.recv_frame()
        assert frame.command == "ERROR", frame
    except Closed:
        pass  # closing is an acceptable way to refuse it too
    vdsmd.assert_served()


@pytest.mark.parametrize("command", ["ACK", "NACK", "BEGIN", "COMMIT", "ABORT", "MESSAGE"])
def test_unhandled_stomp_commands(vdsmd, command):
    """Commands VDSM does not handle error the connection (§1.2)."""
    conn = vdsmd.connect()
    assert conn.connect().command == "CONNECTED"
    conn.send_frame(command, [("id", "1"), ("transaction", "t")])
    try:
        frame = conn.recv_frame()
        assert frame.command == "ERROR", frame
    except Closed:
        pass
    vdsmd.assert_served()
