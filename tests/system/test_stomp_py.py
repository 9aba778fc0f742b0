"""Debian's python3-stomp (stomp.py) as an independent STOMP 1.2 client,
over TLS with the host certificate (as VDSM's clients do) and plain TCP."""

import json
import queue
import threading
import time
import uuid

import stomp

from vdsmtest import EVENTS, PROMPT, REQUESTS, RESPONSES


class Collector(stomp.ConnectionListener):
    def __init__(self):
        self.messages = queue.Queue()
        self.errors = queue.Queue()
        self.receipts = queue.Queue()
        self.heartbeats = 0
        self.disconnected = threading.Event()

    def on_message(self, frame):
        self.messages.put(frame)

    def on_error(self, frame):
        self.errors.put(frame)

    def on_receipt(self, frame):
        self.receipts.put(frame)

    def on_heartbeat(self):
        self.heartbeats += 1

    def on_disconnected(self):
        self.disconnected.set()


def stomp_connect(vdsmd, heartbeats=(0, 0)):
    conn = stomp.Connection12([(vdsmd.host, vdsmd.port)], heartbeats=heartbeats,
                              reconnect_attempts_max=1, auto_decode=True)
    if vdsmd.ssl:
        conn.set_ssl(for_hosts=[(vdsmd.host, vdsmd.port)], key_file=vdsmd.store.key,
                     cert_file=vdsmd.store.cert, ca_certs=vdsmd.store.ca)
    listener = Collector()
    conn.set_listener("collector", listener)
    # VDSM answers CONNECT (stomp.py defaults to the STOMP command).
    conn.connect(wait=True, with_connect_command=True)
    return conn, listener


def call(conn, listener, reply_to, method, params, timeout=PROMPT):
    req = {"jsonrpc": "2.0", "method": method, "params": params, "id": str(uuid.uuid4())}
    conn.send(REQUESTS, json.dumps(req), content_type="application/json",
              headers={"reply-to": reply_to})
    deadline = time.monotonic() + timeout
    while True:
        frame = listener.messages.get(timeout=max(deadline - time.monotonic(), 0.01))
        resp = json.loads(frame.body)
        if isinstance(resp, dict) and resp.get("id") == req["id"]:
            return frame, resp


def test_stomp_py_request_reply(any_vdsmd):
    conn, listener = stomp_connect(any_vdsmd)
    try:
        conn.subscribe(RESPONSES, id="resp-1", ack="auto")
        conn.subscribe(EVENTS, id="events-1", ack="auto")
        frame, resp = call(conn, listener, RESPONSES, "Host.echo", {"text": "stomp.py"})
        assert resp["result"] == "stomp.py"
        assert frame.headers["subscription"] == "resp-1"
        assert frame.headers["destination"] == RESPONSES
        assert int(frame.headers["content-length"]) == len(frame.body.encode())
        frame, resp = call(conn, listener, RESPONSES, "Host.getCapabilities", {},
                           timeout=60)
        assert "cpuCores" in resp["result"]
        assert listener.errors.empty()
    finally:
        conn.disconnect()
    any_vdsmd.assert_served()


def test_stomp_py_disconnect_receipt(any_vdsmd):
    conn, listener = stomp_connect(any_vdsmd)
    conn.disconnect(receipt="rcpt-1")
    frame = listener.receipts.get(timeout=PROMPT)
    assert frame.headers["receipt-id"] == "rcpt-1"


def test_stomp_py_heartbeats(vdsmd):
    """stomp.py asks for a heart-beat every second (0,1000) and drops the
    link when 1.5 s pass without one."""
    conn, listener = stomp_connect(vdsmd, heartbeats=(0, 1000))
    try:
        conn.subscribe("hb.reply", id="hb", ack="auto")
        time.sleep(3.5)
        assert listener.heartbeats >= 2, listener.heartbeats
        assert not listener.disconnected.is_set()
        assert conn.is_connected()
        _, resp = call(conn, listener, "hb.reply", "Host.ping2", {})
        assert resp["result"] is True
    finally:
        conn.disconnect()


def test_stomp_py_error_frame(vdsmd):
    conn, listener = stomp_connect(vdsmd)
    try:
        conn.send("nobody.listens.%s" % uuid.uuid4().hex, "hello")
        frame = listener.errors.get(timeout=PROMPT)
        assert "Subscription not available" in frame.body
    finally:
        if conn.is_connected():
            conn.disconnect()
    vdsmd.assert_served()
