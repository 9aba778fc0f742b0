"""JSON-RPC 2.0 over STOMP (vdsm-facts §1.3): envelopes, batches,
notifications, protocol errors, the ready gate and the worker-pool limit."""

import json
import time

import pytest

from vdsmtest import REQUESTS, Timeout, assert_error, encode_frame, request, wait_for


def test_named_params(any_vdsmd):
    client = any_vdsmd.rpc()
    assert client.result("Host.echo", {"text": "named"}) == "named"


def test_positional_params(any_vdsmd):
    client = any_vdsmd.rpc()
    assert client.result("Host.echo", ["positional"]) == "positional"


def test_params_omitted(vdsmd):
    client = vdsmd.rpc()
    assert client.result("Host.ping2", None) is True
    assert client.result("Host.ping2", []) is True


def test_integer_and_null_ids(vdsmd):
    client = vdsmd.rpc()
    for req_id in (7, "seven"):
        resp = client.call_raw({"jsonrpc": "2.0", "method": "Host.ping2", "id": req_id})
        assert resp == {"jsonrpc": "2.0", "id": req_id, "result": True}


def test_unicode_roundtrip(vdsmd):
    client = vdsmd.rpc()
    text = "h\u00e9llo \u2603 \U0001f600 \"quoted\" \\ back"
    assert client.result("Host.echo", {"text": text}) == text


def test_batch_with_notifications(any_vdsmd):
    client = any_vdsmd.rpc()
    batch = [
        request("Host.ping2", {}, req_id="a"),
        request("Host.echo", {"text": "unanswered"}, notification=True),
        request("Host.echo", {"text": "b"}, req_id="b"),
        request("Host.nosuchverb", {}, req_id="c"),
    ]
    resp = client.call_raw(batch)
    assert isinstance(resp, list), resp
    by_id = {r["id"]: r for r in resp}
    assert sorted(by_id) == ["a", "b", "c"], resp
    assert by_id["a"]["result"] is True
    assert by_id["b"]["result"] == "b"
    assert_error(by_id["c"], -32601)


def test_notification_gets_no_reply(vdsmd):
    client = vdsmd.rpc()
    client.send(request("Host.echo", {"text": "quiet"}, notification=True))
    client.conn.expect_nothing(1.0)
    resp = client.call("Host.ping2", {})
    assert resp["result"] is True
    client.conn.expect_nothing(0.5)  # and nothing late from the notification


def test_batch_of_notifications_gets_no_reply(vdsmd):
    client = vdsmd.rpc()
    client.send([request("Host.ping2", {}, notification=True),
                 request("Host.echo", {"text": "x"}, notification=True)])
    client.conn.expect_nothing(1.0)
    assert client.result("Host.ping2", {}) is True


@pytest.mark.parametrize("body", [
    b"{not json",
    b"",
    b"[{\"jsonrpc\": \"2.0\", \"method\": \"Host.ping2\", \"id\": 1}",
    b"\xff\xfe garbage",
], ids=["broken", "empty", "truncated-batch", "not-utf8"])
def test_parse_error(any_vdsmd, body):
    client = any_vdsmd.rpc()
    client.conn.send_frame("SEND", [("destination", REQUESTS), ("reply-to", client.reply_to)],
                           body)
    resp = client.recv()
    assert isinstance(resp, dict), resp
    assert_error(resp, -32700)
    assert resp.get("id") is None, resp
    any_vdsmd.assert_served()


@pytest.mark.parametrize("req", [
    {"jsonrpc": "1.0", "method": "Host.ping2", "id": "r1"},
    {"method": "Host.ping2", "id": "r1"},
    {"jsonrpc": "2.0", "id": "r1"},
    {"jsonrpc": "2.0", "method": 5, "id": "r1"},
    {"jsonrpc": "2.0", "method": "Host.ping2", "params": "text", "id": "r1"},
], ids=["wrong-version", "no-version", "no-method", "method-not-string", "params-string"])
def test_invalid_request(vdsmd, req):
    client = vdsmd.rpc()
    resp = client.call_raw(req)
    assert_error(resp, -32600)
    vdsmd.assert_served()


@pytest.mark.parametrize("body", [b"5", b"\"text\"", b"null", b"true"])
def test_invalid_request_not_an_object(vdsmd, body):
    client = vdsmd.rpc()
    client.conn.send_frame("SEND", [("destination", REQUESTS), ("reply-to", client.reply_to)],
                           body)
    assert_error(client.recv(), -32600)


def test_empty_batch(any_vdsmd):
    client = any_vdsmd.rpc()
    resp = client.call_raw([])
    assert isinstance(resp, dict), resp
    assert_error(resp, -32600, "request batch is empty")


def test_batch_with_invalid_elements(vdsmd):
    client = vdsmd.rpc()
    resp = client.call_raw([1, request("Host.ping2", {}, req_id="ok")])
    assert isinstance(resp, list) and len(resp) == 2, resp
    errors = [r for r in resp if "error" in r]
    oks = [r for r in resp if "result" in r]
    assert len(errors) == 1 and errors[0]["error"]["code"] == -32600, resp
    assert oks == [{"jsonrpc": "2.0", "id": "ok", "result": True}], resp


@pytest.mark.parametrize("method", ["Host.nosuchverb", "Nowhere.ping2", "ping2", "Host.", ""])
def test_method_not_found(vdsmd, method):
    client = vdsmd.rpc()
    resp = client.call(method, {})
    if method == "":
        assert resp["error"]["code"] in (-32600, -32601), resp
    else:
        assert_error(resp, -32601)


def test_missing_param_named(any_vdsmd):
    client = any_vdsmd.rpc()
    assert_error(client.call("Host.echo", {}), -32602, "text")


def test_missing_param_positional(vdsmd):
    client = vdsmd.rpc()
    assert_error(client.call("Host.echo", []), -32602, "text")


@pytest.mark.parametrize("value", [5, True, None, ["a"], {"a": 1}])
def test_wrong_param_type(vdsmd, value):
    client = vdsmd.rpc()
    assert_error(client.call("Host.echo", {"text": value}), -32602, "text")


def test_wrong_param_type_positional(vdsmd):
    client = vdsmd.rpc()
    assert_error(client.call("Host.echo", [5]), -32602, "text")


def test_bad_enum_value(vdsmd):
    client = vdsmd.rpc()
    assert_error(client.call("Host.setLogLevel", {"level": "LOUD"}), -32602, "level")


def test_too_many_positional_params(vdsmd):
    client = vdsmd.rpc()
    resp = client.call("Host.echo", ["a", "b", "c"])
    assert_error(resp, -32602)


@pytest.mark.vdsm_config({"devel": {"recovery_delay": 4}})
def test_ready_gate_code_99(any_vdsmd):
    """Until start-up work finishes every request gets 99."""
    client = any_vdsmd.rpc()
    resp = client.call("Host.ping2", {})
    assert_error(resp, 99, "Recovering from crash or Initializing")
    batch = client.call_raw([request("Host.ping2", {}, req_id="x")])
    assert isinstance(batch, list) and batch[0]["error"]["code"] == 99, batch

    def ready():
        r = client.call("Host.ping2", {})
        if "error" in r:
            assert r["error"]["code"] == 99, r
            return False
        return r["result"] is True
    wait_for(ready, 15, interval=0.2, what="the ready gate to open")


@pytest.mark.vdsm_config({"rpc": {"worker_threads": 1, "tasks_per_worker": 1}})
def test_worker_queue_full_1100(vdsmd):
    """One worker and one queue slot: a burst of slow calls (getCapabilities
    asks libvirt) gets 1100 for what does not fit, and an answer for all."""
    client = vdsmd.rpc()
    reqs = [request("Host.getCapabilities", {}) for _ in range(40)]
    client.conn.send_raw(b"".join(
        encode_frame("SEND", [("destination", REQUESTS), ("reply-to", client.reply_to)],
                     json.dumps(r)) for r in reqs))
    results = {}
    for _ in reqs:
        resp = client.recv(timeout=60)
        results[resp["id"]] = resp
    assert set(results) == {r["id"] for r in reqs}
    codes = [r["error"]["code"] for r in results.values() if "error" in r]
    ok = [r for r in results.values() if "result" in r]
    assert ok, "no request succeeded"
    assert codes and set(codes) == {1100}, codes
    for r in results.values():
        if "error" in r:
            assert r["error"]["message"] == "Not enough resources", r
    # The pool recovers once the burst is over.
    assert client.result("Host.ping2", {}) is True


@pytest.mark.vdsm_config({"stomp": {"max_pending_requests": 2},
                          "rpc": {"worker_threads": 1, "tasks_per_worker": 100}})
def test_pending_requests_per_connection_bounded(vdsmd):
    """More requests in flight on one connection than max_pending_requests
    are refused with 1100; the connection and the daemon keep working."""
    client = vdsmd.rpc()
    reqs = [request("Host.getCapabilities", {}) for _ in range(20)]
    client.conn.send_raw(b"".join(
        encode_frame("SEND", [("destination", REQUESTS), ("reply-to", client.reply_to)],
                     json.dumps(r)) for r in reqs))
    results = {}
    for _ in reqs:
        resp = client.recv(timeout=60)
        results[resp["id"]] = resp
    assert set(results) == {r["id"] for r in reqs}
    codes = {r["error"]["code"] for r in results.values() if "error" in r}
    assert codes == {1100}, results
    assert client.result("Host.ping2", {}) is True
    vdsmd.assert_served()


def test_requests_run_concurrently(vdsmd):
    """A slow call does not hold back a quick one from another client."""
    slow = vdsmd.rpc()
    for _ in range(8):
        slow.send(request("Host.getCapabilities", {}))
    t0 = time.monotonic()
    vdsmd.assert_served()
    assert time.monotonic() - t0 < 5
    for _ in range(8):
        slow.recv(timeout=60)


def test_flow_id_header_accepted(vdsmd):
    client = vdsmd.rpc()
    client.send(request("Host.ping2", {}), headers={"ovirtCorrelationId": "flow-xyz"})
    assert client.recv()["result"] is True


def test_response_to_unknown_destination_does_not_hang(vdsmd):
    client = vdsmd.rpc()
    client.conn.send_request(request("Host.ping2", {}), reply_to="nobody.subscribed.here")
    with pytest.raises(Timeout):
        client.conn.recv_frame(0.8)
    assert client.result("Host.ping2", {}) is True
