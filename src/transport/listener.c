/* listener.c - see listener.h for the design. */
#include "listener.h"

#include "config.h"
#include "vd-error.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#define VD_DETECT_BYTES 11 /* strlen("UNSUBSCRIBE"), as VDSM's detector */

struct _VdListener {
    GSocketService *service;
    VdStompServer *stomp;
    VdHttpServer *http;
    GTlsCertificate *cert;
    GTlsDatabase *ca;
    gboolean http_enable;
    gboolean stomp_enable;
    guint timeout_s;
    guint max_connections;
    guint connections;
    gsize max_outgoing;
    guint16 port;
};

typedef struct {
    VdListener *listener;
    GSocketConnection *socket_conn;
    GIOStream *stream;
    VdConn *conn;
    GByteArray *head;
    GSource *timeout;
    gboolean done;
} VdPending;

static const char *const vdStompCommands[] = {
    "CONNECT", "STOMP", "SEND", "SUBSCRIBE", "UNSUBSCRIBE", "DISCONNECT",
    "MESSAGE", "CONNECTED", "ERROR", "RECEIPT", NULL,
};

static void
vdPendingFinish(VdPending *p)
{
    if (p->timeout) {
        g_source_destroy(p->timeout);
        g_clear_pointer(&p->timeout, g_source_unref);
    }
    p->done = TRUE;
}

static void
vdPendingFree(VdPending *p)
{
    vdPendingFinish(p);
    vdConnUnref(p->conn);
    g_clear_object(&p->stream);
    g_clear_object(&p->socket_conn);
    if (p->head)
        g_byte_array_unref(p->head);
    g_free(p);
}

static void
vdListenerConnClosed(VdConn *conn, gpointer user_data)
{
    VdListener *listener = user_data;

    listener->connections--;
}

static gboolean
vdPendingTimeout(gpointer data)
{
    VdPending *p = data;

    g_info("closing %s: no TLS handshake or first frame within %u s",
           p->conn ? vdConnName(p->conn) : "client", p->listener->timeout_s);
    g_clear_pointer(&p->timeout, g_source_unref);
    p->done = TRUE;
    if (p->conn) {
        vdConnClose(p->conn, "detection timeout"); /* frees p through on_close */
    } else {
        /* Still in the TLS handshake, which GIO may run in another thread
         * blocked on the socket: shutdown wakes it and sends the FIN that a
         * plain close from here would not. */
        GSocket *sock = g_socket_connection_get_socket(p->socket_conn);

        g_socket_shutdown(sock, TRUE, TRUE, NULL);
    }
    return G_SOURCE_REMOVE;
}

static int
vdDetectProtocol(const char *data, gsize len)
{
    const char *nl = memchr(data, '\n', len);
    gsize line_len;

    if (len >= 5 && (memcmp(data, "POST ", 5) == 0))
        return 1;
    if (len >= 4 && (memcmp(data, "GET ", 4) == 0 || memcmp(data, "PUT ", 4) == 0))
        return 1;
    /* skip heart-beats a client may send before its first frame */
    while (len > 0 && (*data == '\n' || *data == '\r')) {
        data++;
        len--;
    }
    nl = memchr(data, '\n', len);
    if (!nl)
        return len >= VD_DETECT_BYTES ? -1 : 0;
    line_len = (gsize)(nl - data);
    if (line_len > 0 && data[line_len - 1] == '\r')
        line_len--;
    for (gsize i = 0; vdStompCommands[i]; i++) {
        if (strlen(vdStompCommands[i]) == line_len &&
            memcmp(vdStompCommands[i], data, line_len) == 0)
            return 2;
    }
    return -1;
}

static void
vdPendingOnClose(VdConn *conn, gpointer user_data)
{
    vdPendingFree(user_data);
}

static void
vdPendingOnData(VdConn *conn, const char *data, gsize len, gpointer user_data)
{
    VdPending *p = user_data;
    VdListener *listener = p->listener;
    int proto;
    g_autoptr(GByteArray) head = NULL;

    g_byte_array_append(p->head, (const guint8 *)data, (guint)len);
    proto = vdDetectProtocol((const char *)p->head->data, p->head->len);
    if (proto == 0 && p->head->len < 4096)
        return;
    if (proto == 1 && !listener->http_enable)
        proto = -1;
    if (proto == 2 && !listener->stomp_enable)
        proto = -1;
    if (proto <= 0) {
        g_info("closing %s: unrecognized protocol", vdConnName(conn));
        vdConnClose(conn, "unrecognized protocol");
        return;
    }
    /* The protocol owns the connection from now on. */
    head = g_byte_array_ref(p->head);
    vdConnRef(conn);
    vdConnSetHandlers(conn, NULL, NULL, NULL);
    vdPendingFree(p);
    if (proto == 1)
        vdHttpServerAttach(listener->http, conn, (const char *)head->data, head->len);
    else
        vdStompServerAttach(listener->stomp, conn, (const char *)head->data, head->len);
    vdConnUnref(conn);
}

static void
vdPendingStart(VdPending *p)
{
    p->conn = vdConnNew(p->stream, p->socket_conn, p->listener->max_outgoing);
    p->head = g_byte_array_new();
    vdConnSetCloseHook(p->conn, vdListenerConnClosed, p->listener);
    vdConnStart(p->conn, vdPendingOnData, vdPendingOnClose, p);
}

static void
vdHandshakeDone(GObject *source, GAsyncResult *res, gpointer data)
{
    VdPending *p = data;
    g_autoptr(GError) error = NULL;

    if (!g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), res, &error)) {
        g_info("TLS handshake failed: %s", error->message);
        g_io_stream_close(G_IO_STREAM(p->socket_conn), NULL, NULL);
        p->listener->connections--;
        vdPendingFree(p);
        return;
    }
    if (p->done) { /* timed out meanwhile */
        p->listener->connections--;
        vdPendingFree(p);
        return;
    }
    vdPendingStart(p);
}

/* Called when the client certificate did not verify against the CA.  The
 * only flaw we forgive is BAD_IDENTITY: a client certificate names a host,
 * not the server's peer identity (VDSM's verify_client_cert is off too). */
static gboolean
vdAcceptClientCertificate(GTlsConnection *tls, GTlsCertificate *cert,
                          GTlsCertificateFlags errors, gpointer user_data)
{
    if ((errors & ~G_TLS_CERTIFICATE_BAD_IDENTITY) == 0)
        return TRUE;
    g_info("rejecting client certificate (flags 0x%x)", (unsigned)errors);
    return FALSE;
}

static gboolean
vdListenerIncoming(GSocketService *service, GSocketConnection *socket_conn,
                   GObject *source_object, gpointer user_data)
{
    VdListener *listener = user_data;
    VdPending *p;
    g_autoptr(GError) error = NULL;

    if (listener->connections >= listener->max_connections) {
        g_warning("refusing connection: %u connections open ([stomp] max_connections)",
                  listener->connections);
        g_io_stream_close(G_IO_STREAM(socket_conn), NULL, NULL);
        return TRUE;
    }
    g_socket_set_option(g_socket_connection_get_socket(socket_conn), IPPROTO_TCP, TCP_NODELAY,
                        1, NULL);
    p = g_new0(VdPending, 1);
    p->listener = listener;
    p->socket_conn = g_object_ref(socket_conn);
    listener->connections++;
    p->timeout = g_timeout_source_new_seconds(listener->timeout_s);
    g_source_set_callback(p->timeout, vdPendingTimeout, p, NULL);
    g_source_attach(p->timeout, NULL);

    if (!listener->cert) {
        p->stream = G_IO_STREAM(g_object_ref(socket_conn));
        vdPendingStart(p);
        return TRUE;
    }
    p->stream = g_tls_server_connection_new(G_IO_STREAM(socket_conn), listener->cert, &error);
    if (!p->stream) {
        g_warning("cannot start TLS: %s", error->message);
        g_io_stream_close(G_IO_STREAM(socket_conn), NULL, NULL);
        listener->connections--;
        vdPendingFree(p);
        return TRUE;
    }
    g_object_set(p->stream, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, "database",
                 listener->ca, NULL);
    g_signal_connect(p->stream, "accept-certificate", G_CALLBACK(vdAcceptClientCertificate),
                     NULL);
    g_tls_connection_handshake_async(G_TLS_CONNECTION(p->stream), G_PRIORITY_DEFAULT, NULL,
                                     vdHandshakeDone, p);
    return TRUE;
}

static int
vdListenerLoadTls(VdListener *listener, GError **error)
{
    const char *store = vdConfigGetString("vars", "trust_store_path");
    g_autofree char *key = g_build_filename(store, "keys", "vdsmkey.pem", NULL);
    g_autofree char *cert = g_build_filename(store, "certs", "vdsmcert.pem", NULL);
    g_autofree char *ca = g_build_filename(store, "certs", "cacert.pem", NULL);

    listener->cert = g_tls_certificate_new_from_files(cert, key, error);
    if (!listener->cert) {
        g_prefix_error(error, "cannot load %s / %s: ", cert, key);
        return -1;
    }
    listener->ca = g_tls_file_database_new(ca, error);
    if (!listener->ca) {
        g_prefix_error(error, "cannot load CA %s: ", ca);
        return -1;
    }
    return 0;
}

VdListener *
vdListenerNew(VdStompServer *stomp, VdHttpServer *http, GError **error)
{
    VdListenerOptions opts = {
        .address = vdConfigGetString("addresses", "management_ip"),
        .port = vdConfigGetInt("addresses", "management_port"),
        .tls = vdConfigGetBool("vars", "ssl"),
        .stomp = vdConfigGetBool("vars", "jsonrpc_enable"),
        .http = vdConfigGetBool("vars", "http_enable"),
    };

    return vdListenerNewWith(&opts, stomp, http, error);
}

VdListener *
vdListenerNewWith(const VdListenerOptions *opts, VdStompServer *stomp, VdHttpServer *http,
                  GError **error)
{
    g_autoptr(VdListener) listener = g_new0(VdListener, 1);
    const char *ip = opts->address;
    gint64 port = opts->port;
    g_autoptr(GInetAddress) addr = NULL;
    g_autoptr(GSocketAddress) sa = NULL;
    g_autoptr(GSocketAddress) effective = NULL;
    g_autoptr(GError) local_error = NULL;

    if (port < 0 || port > 65535) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION,
                    "[addresses] management_port %" G_GINT64_FORMAT " out of range", port);
        return NULL;
    }
    listener->stomp = stomp;
    listener->http = http;
    listener->http_enable = opts->http && http;
    listener->stomp_enable = opts->stomp && stomp;
    listener->timeout_s = (guint)CLAMP(vdConfigGetInt("vars", "ssl_handshake_timeout"), 1, 3600);
    listener->max_connections = (guint)CLAMP(vdConfigGetInt("stomp", "max_connections"), 1,
                                             100000);
    listener->max_outgoing = (gsize)MAX(vdConfigGetInt("stomp", "max_outgoing_bytes"), 65536);
    if (opts->tls && vdListenerLoadTls(listener, error) < 0)
        return NULL;

    addr = g_inet_address_new_from_string(ip && *ip ? ip : "::");
    if (!addr) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION,
                    "[addresses] management_ip '%s' is not an IP address", ip);
        return NULL;
    }
    listener->service = g_socket_service_new();
    /* VDSM listens with a backlog of 5; a larger one lets a burst of
     * clients connect without SYN retries. */
    g_socket_listener_set_backlog(G_SOCKET_LISTENER(listener->service), 128);
    sa = g_inet_socket_address_new(addr, (guint16)port);
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(listener->service), sa,
                                       G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                       &effective, &local_error)) {
        if (g_inet_address_get_family(addr) == G_SOCKET_FAMILY_IPV6 &&
            g_inet_address_get_is_any(addr)) {
            g_autoptr(GInetAddress) any4 = g_inet_address_new_any(G_SOCKET_FAMILY_IPV4);
            g_autoptr(GSocketAddress) sa4 = g_inet_socket_address_new(any4, (guint16)port);

            g_info("cannot listen on [::]:%" G_GINT64_FORMAT " (%s); trying 0.0.0.0", port,
                   local_error->message);
            g_clear_error(&local_error);
            if (!g_socket_listener_add_address(G_SOCKET_LISTENER(listener->service), sa4,
                                               G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                               NULL, &effective, &local_error)) {
                g_propagate_error(error, g_steal_pointer(&local_error));
                return NULL;
            }
        } else {
            g_propagate_prefixed_error(error, g_steal_pointer(&local_error),
                                       "cannot listen on %s:%" G_GINT64_FORMAT ": ", ip, port);
            return NULL;
        }
    }
    listener->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
    g_signal_connect(listener->service, "incoming", G_CALLBACK(vdListenerIncoming), listener);
    g_socket_service_stop(listener->service);
    return g_steal_pointer(&listener);
}

void
vdListenerStart(VdListener *listener)
{
    g_socket_service_start(listener->service);
}

guint16
vdListenerPort(VdListener *listener)
{
    return listener->port;
}

void
vdListenerFree(VdListener *listener)
{
    if (!listener)
        return;
    if (listener->service) {
        g_socket_service_stop(listener->service);
        g_socket_listener_close(G_SOCKET_LISTENER(listener->service));
        g_object_unref(listener->service);
    }
    g_clear_object(&listener->cert);
    g_clear_object(&listener->ca);
    g_free(listener);
}
