"""TLS: the client certificate is required and must chain to the CA in the
trust store (vdsm-facts §1.1).  Every refusal is followed by a check that a
good client is still served."""

import socket
import ssl

import pytest

from vdsmtest import PROMPT, Closed, StompConn, Timeout, client_context


def tls_refused(vdsmd, ctx):
    """True when the server refuses the TLS client at or right after the
    handshake (TLS 1.3 reports a refused client certificate only on the
    first read)."""
    try:
        conn = StompConn(vdsmd.host, vdsmd.port, ctx)
    except (ssl.SSLError, OSError):
        return True
    try:
        frame = conn.connect()
    except (Closed, OSError):
        return True
    except Timeout:
        raise AssertionError("server neither refused nor answered the TLS client")
    raise AssertionError("TLS client was served: %r" % frame)


@pytest.mark.parametrize("tls_version", ["1.2", "1.3"])
def test_good_client_certificate(vdsmd, trust_store, tls_version):
    ctx = client_context(trust_store)
    version = ssl.TLSVersion.TLSv1_2 if tls_version == "1.2" else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = ctx.maximum_version = version
    conn = StompConn(vdsmd.host, vdsmd.port, ctx)
    assert conn.connect().command == "CONNECTED"


@pytest.mark.parametrize("tls_version", ["1.2", "1.3"])
def test_client_without_certificate(vdsmd, trust_store, tls_version):
    ctx = client_context(trust_store, cert=False)
    version = ssl.TLSVersion.TLSv1_2 if tls_version == "1.2" else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = ctx.maximum_version = version
    assert tls_refused(vdsmd, ctx)
    vdsmd.assert_served()


@pytest.mark.parametrize("tls_version", ["1.2", "1.3"])
def test_client_certificate_from_other_ca(vdsmd, trust_store, foreign_store, tls_version):
    # The client trusts our server but presents a certificate of another CA.
    ctx = client_context(foreign_store, ca=trust_store.ca)
    version = ssl.TLSVersion.TLSv1_2 if tls_version == "1.2" else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = ctx.maximum_version = version
    assert tls_refused(vdsmd, ctx)
    vdsmd.assert_served()


def test_server_certificate_chains_to_ca(vdsmd, trust_store, foreign_store):
    """The server presents the trust store's vdsmcert.pem: a client trusting
    only another CA refuses it."""
    ctx = client_context(trust_store, ca=foreign_store.ca)
    with pytest.raises(ssl.SSLError):
        StompConn(vdsmd.host, vdsmd.port, ctx)
    sock = socket.create_connection((vdsmd.host, vdsmd.port))
    ctx = client_context(trust_store)
    tls = ctx.wrap_socket(sock)
    der = tls.getpeercert(binary_form=True)
    with open(trust_store.cert) as f:
        ours = ssl.PEM_cert_to_DER_cert(f.read())
    assert der == ours
    tls.close()
    vdsmd.assert_served()


def test_server_hostname_verifies(vdsmd, trust_store):
    """Clients that do check the name (curl, stomp.py) find 127.0.0.1 and localhost."""
    ctx = client_context(trust_store)
    ctx.check_hostname = True
    for name in ("127.0.0.1", "localhost"):
        sock = socket.create_connection((vdsmd.host, vdsmd.port))
        tls = ctx.wrap_socket(sock, server_hostname=name)
        tls.close()


def test_plain_stomp_on_tls_port(vdsmd):
    sock = socket.create_connection((vdsmd.host, vdsmd.port), timeout=PROMPT)
    sock.sendall(b"CONNECT\naccept-version:1.2\n\n\0")
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    assert b"CONNECTED" not in data
    sock.close()
    vdsmd.assert_served()


def test_tls_client_on_plain_port(vdsmd_plain, trust_store):
    ctx = client_context(trust_store)
    with pytest.raises((ssl.SSLError, OSError)):
        conn = StompConn(vdsmd_plain.host, vdsmd_plain.port, ctx)
        conn.connect()
    vdsmd_plain.assert_served()


def test_ipv6_loopback(vdsmd):
    """The default listener (management_ip = ::) serves IPv6 and IPv4."""
    if not socket.has_ipv6 or not _ipv6_loopback_usable():
        pytest.skip("this host has no IPv6 loopback (environment, not vdsmd)")
    conn = vdsmd.connect(host="::1")
    assert conn.connect().command == "CONNECTED"


def _ipv6_loopback_usable():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False
