"""Helpers for the system tests: a strict raw STOMP 1.2 client, a JSON-RPC
client on top of it, TLS contexts and small waiting utilities.

The raw client is deliberately independent of vdsm-c's code and of
stomp.py: it encodes frames byte by byte as the tests want them (including
malformed ones) and decodes what the server sends strictly, checking the
rules VDSM's and the engine's clients depend on (vdsm-facts §1.2, §11, §12):
every MESSAGE carries a correct content-length, its header block fits in
1024 bytes, and no header value holds a raw ':'.
"""

import json
import select
import socket
import ssl
import time
import uuid

REQUESTS = "jms.topic.vdsm_requests"
IRS_REQUESTS = "jms.topic.vdsm_irs_requests"
RESPONSES = "jms.topic.vdsm_responses"
EVENTS = "jms.queue.events"

# How long a healthy daemon may take to answer a trivial request.  Generous
# for sanitizer builds on two shared cores; a stuck main loop still shows.
PROMPT = 5.0


class Closed(Exception):
    """The peer closed the connection (EOF, reset or TLS alert)."""


class Timeout(Exception):
    """Nothing (or not the expected thing) arrived in time."""


# --- STOMP encoding -----------------------------------------------------

def escape(value):
    return (value.replace("\\", "\\\\").replace("\r", "\\r")
            .replace("\n", "\\n").replace(":", "\\c"))


_UNESCAPE = {"\\\\": "\\", "\\r": "\r", "\\n": "\n", "\\c": ":"}


def unescape(value):
    out = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            pair = value[i:i + 2]
            if pair not in _UNESCAPE:
                raise ValueError("bad escape %r in header %r" % (pair, value))
            out.append(_UNESCAPE[pair])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def encode_frame(command, headers=None, body=b"", content_length=True, do_escape=True):
    """Encode one frame.  headers: dict or list of (key, value)."""
    if isinstance(body, str):
        body = body.encode()
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if content_length and body and not any(k == "content-length" for k, _ in items):
        items.append(("content-length", str(len(body))))
    lines = [command]
    for k, v in items:
        v = str(v)
        lines.append("%s:%s" % (escape(k), escape(v)) if do_escape else "%s:%s" % (k, v))
    return ("\n".join(lines) + "\n\n").encode() + body + b"\0"


class Frame:
    def __init__(self, command, header_list, body, raw_header):
        self.command = command
        self.header_list = header_list  # [(key, value)] unescaped, in order
        self.headers = {}
        for k, v in header_list:
            self.headers.setdefault(k, v)  # the first occurrence wins
        self.body = body
        self.raw_header = raw_header  # bytes: command line .. blank line

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        body = self.body if len(self.body) < 300 else self.body[:300] + b"..."
        return "Frame(%s, %r, %r)" % (self.command, self.headers, body)


# --- TLS ------------------------------------------------------------------

def client_context(store=None, cert=True, ca=None):
    """A client TLS context like VDSM's clients: present the host's
    certificate, verify the server against the CA, no host-name check."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if ca is None and store is not None:
        ca = store.ca
    if ca:
        ctx.load_verify_locations(ca)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert and store is not None:
        ctx.load_cert_chain(store.cert, store.key)
    return ctx


# --- raw STOMP connection -------------------------------------------------

class StompConn:
    """One client connection; frames are parsed strictly."""

    def __init__(self, host, port, ssl_ctx=None, timeout=PROMPT, rcvbuf=None):
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_ctx is not None:
            sock = ssl_ctx.wrap_socket(sock)  # no server_hostname: no SNI, like VDSM
        self.sock = sock
        self.buf = b""
        self.heartbeats = []  # monotonic arrival time of each server heart-beat
        self.eof = False
        self.last_rx = time.monotonic()

    # sending
    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, command, headers=None, body=b"", **kw):
        self.send_raw(encode_frame(command, headers, body, **kw))

    def heartbeat(self):
        self.send_raw(b"\n")

    # receiving
    def _fill(self, deadline):
        if self.eof:
            raise Closed("connection closed")
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            remaining = 0.01
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout("no data in time")
        self.sock.settimeout(max(remaining, 0.001))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout("no data in time")
        except (ConnectionError, ssl.SSLError, OSError) as e:
            self.eof = True
            raise Closed("connection closed: %s" % e)
        if not data:
            self.eof = True
            raise Closed("connection closed")
        self.last_rx = time.monotonic()
        self.buf += data

    def _parse(self):
        """Parse one frame from self.buf, or return None when incomplete."""
        while True:
            if self.buf.startswith(b"\r\n"):
                self.buf = self.buf[2:]
            elif self.buf.startswith(b"\n"):
                self.buf = self.buf[1:]
            else:
                break
            self.heartbeats.append(time.monotonic())
        end = self.buf.find(b"\n\n")
        end_crlf = self.buf.find(b"\r\n\r\n")
        if end < 0 and end_crlf < 0:
            return None
        if end_crlf >= 0 and (end < 0 or end_crlf < end):
            raw_header = self.buf[:end_crlf + 4]
        else:
            raw_header = self.buf[:end + 2]
        lines = raw_header.decode("utf-8").split("\n")
        lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
        lines = [ln for ln in lines if ln != ""]
        command = lines[0]
        header_list = []
        for ln in lines[1:]:
            key, sep, value = ln.partition(":")
            assert sep, "server header line without ':': %r" % ln
            assert ":" not in value, "raw ':' in a header value from the server: %r" % ln
            header_list.append((unescape(key), unescape(value)))
        rest = self.buf[len(raw_header):]
        clen = None
        for k, v in header_list:
            if k == "content-length":
                clen = v
                break
        if clen is not None:
            n = int(clen)
            if len(rest) < n + 1:
                return None
            assert rest[n:n + 1] == b"\0", "no NUL after content-length bytes"
            body = rest[:n]
            consumed = len(raw_header) + n + 1
        else:
            nul = rest.find(b"\0")
            if nul < 0:
                return None
            body = rest[:nul]
            consumed = len(raw_header) + nul + 1
        self.buf = self.buf[consumed:]
        frame = Frame(command, header_list, body, raw_header)
        if command == "MESSAGE":
            check_message(frame)
        return frame

    def recv_frame(self, timeout=PROMPT):
        deadline = time.monotonic() + timeout
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            self._fill(deadline)

    def recv_until(self, pred, timeout=PROMPT):
        """Receive frames until pred(frame) is true; return (frame, skipped)."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            frame = self.recv_frame(max(deadline - time.monotonic(), 0.001))
            if pred(frame):
                return frame, skipped
            skipped.append(frame)

    def expect(self, command, timeout=PROMPT):
        frame = self.recv_frame(timeout)
        assert frame.command == command, "expected %s, got %r" % (command, frame)
        return frame

    def expect_nothing(self, duration):
        """Assert that no frame arrives for `duration` seconds (heart-beats ok)."""
        try:
            frame = self.recv_frame(duration)
        except Timeout:
            return
        raise AssertionError("unexpected frame: %r" % (frame,))

    def wait_closed(self, timeout):
        """Read (and keep) frames until the server closes; True if it closed
        within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        self.received = getattr(self, "received", [])
        while True:
            try:
                self.received.append(self.recv_frame(max(deadline - time.monotonic(), 0.001)))
            except Closed:
                return True
            except Timeout:
                return False

    def is_open(self):
        """True when the server has not closed (non-destructive check)."""
        if self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], 0)
        if not r:
            return True
        try:
            self._fill(time.monotonic() + 0.2)
        except Closed:
            return False
        except Timeout:
            pass
        return True

    # protocol helpers
    def connect(self, heartbeat=None, version="1.2", extra=None):
        headers = [("accept-version", version)] if version is not None else []
        if heartbeat is not None:
            headers.append(("heart-beat", heartbeat))
        headers += list((extra or {}).items())
        self.send_frame("CONNECT", headers)
        return self.recv_frame()

    def subscribe(self, destination, sub_id=None, ack="auto"):
        sub_id = sub_id or str(uuid.uuid4())
        self.send_frame("SUBSCRIBE", [("destination", destination), ("id", sub_id), ("ack", ack)])
        return sub_id

    def sync(self, timeout=PROMPT):
        """Wait until vdsmd has handled every frame sent so far on this
        connection (an UNSUBSCRIBE of no subscription, with a receipt).
        Frames of one connection are handled in order, but nothing orders
        them against another connection's: a test that subscribes on one
        and sends on another syncs the subscriber first."""
        receipt = "sync-%s" % uuid.uuid4().hex[:8]
        self.send_frame("UNSUBSCRIBE", [("id", receipt), ("receipt", receipt)])
        frame = self.expect("RECEIPT", timeout)
        assert frame.headers.get("receipt-id") == receipt, frame
        return frame

    def send_request(self, body, reply_to, destination=REQUESTS, headers=None):
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        h = [("destination", destination), ("content-type", "application/json")]
        if reply_to is not None:
            h.append(("reply-to", reply_to))
        h += list((headers or {}).items())
        self.send_frame("SEND", h, body)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def check_message(frame):
    """What VDSM's Python client and the engine's Java client need."""
    assert "content-length" in frame.headers, "MESSAGE without content-length: %r" % frame
    assert int(frame.headers["content-length"]) == len(frame.body), \
        "content-length %s != body length %d" % (frame.headers["content-length"], len(frame.body))
    assert len(frame.raw_header) < 1024, \
        "MESSAGE header block is %d bytes (engine reads 1024)" % len(frame.raw_header)
    assert "destination" in frame.headers and "subscription" in frame.headers, frame


# --- JSON-RPC over STOMP ----------------------------------------------------

class RpcClient:
    """A connected, subscribed STOMP client that speaks JSON-RPC, like
    vdsm's own client (random UUID as reply destination)."""

    def __init__(self, conn, reply_to=None, heartbeat="0,0", do_connect=True):
        self.conn = conn
        if do_connect:
            connected = conn.connect(heartbeat=heartbeat)
            assert connected.command == "CONNECTED", connected
        self.reply_to = reply_to or str(uuid.uuid4())
        self.sub_id = conn.subscribe(self.reply_to)

    def send(self, body, destination=REQUESTS, headers=None):
        self.conn.send_request(body, self.reply_to, destination, headers)

    def recv_message(self, timeout=PROMPT):
        frame, _ = self.conn.recv_until(lambda f: f.command in ("MESSAGE", "ERROR"), timeout)
        assert frame.command == "MESSAGE", "got %r" % frame
        assert frame.headers["subscription"] == self.sub_id, frame
        assert frame.headers["destination"] == self.reply_to, frame
        return frame

    def recv(self, timeout=PROMPT):
        return self.recv_message(timeout).json()

    def call_raw(self, request, timeout=PROMPT, destination=REQUESTS):
        self.send(request, destination)
        return self.recv(timeout)

    def call(self, method, params=None, timeout=PROMPT, req_id=None):
        req = {"jsonrpc": "2.0", "method": method, "id": req_id or str(uuid.uuid4())}
        if params is not None:
            req["params"] = params
        resp = self.call_raw(req, timeout)
        assert isinstance(resp, dict), resp
        assert resp.get("jsonrpc") == "2.0", resp
        assert resp.get("id") == req["id"], resp
        return resp

    def result(self, method, params=None, timeout=PROMPT):
        resp = self.call(method, params, timeout)
        assert "error" not in resp, resp
        return resp["result"]

    def close(self):
        self.conn.close()


def request(method, params=None, req_id=None, notification=False):
    req = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        req["params"] = params
    if not notification:
        req["id"] = req_id if req_id is not None else str(uuid.uuid4())
    return req


def assert_error(resp, code, *words):
    assert "error" in resp, "expected error %d, got %r" % (code, resp)
    assert resp["error"]["code"] == code, resp
    for w in words:
        assert w in resp["error"]["message"], "%r not in %r" % (w, resp["error"]["message"])


def wait_for(pred, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
