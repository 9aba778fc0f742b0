/* connection.c - see connection.h for the design. */
#include "connection.h"

#include <string.h>

#define VD_CONN_READ_SIZE 65536

struct _VdConn {
    gint refs;
    GIOStream *stream;
    GSocketConnection *socket_conn;
    GCancellable *cancel;
    char *peer_address;
    char *local_address;
    char *name;
    guint8 *read_buf;
    gboolean reading;
    gboolean closed;
    gboolean close_after_flush;
    GQueue out;        /* of GBytes */
    gsize out_bytes;   /* queued, not yet written */
    gsize max_out;
    gboolean writing;
    GOutputVector *vecs;
    guint n_vecs;
    gint64 last_read;
    gint64 last_write;
    VdConnDataFunc on_data;
    VdConnCloseFunc on_close;
    gpointer user_data;
    VdConnCloseFunc close_hook;
    gpointer close_hook_data;
};

static char *
vdConnAddressString(GSocketAddress *addr, gboolean with_port)
{
    GInetAddress *inet;
    g_autofree char *ip = NULL;

    if (!G_IS_INET_SOCKET_ADDRESS(addr))
        return g_strdup("unix");
    inet = g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(addr));
    ip = g_inet_address_to_string(inet);
    /* Report IPv4-mapped IPv6 addresses as plain IPv4, like VDSM's clientIp. */
    if (g_str_has_prefix(ip, "::ffff:") && strchr(ip, '.')) {
        char *v4 = g_strdup(ip + 7);

        g_free(ip);
        ip = v4;
    }
    if (!with_port)
        return g_steal_pointer(&ip);
    return g_strdup_printf("%s:%u", ip,
                           g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(addr)));
}

VdConn *
vdConnNew(GIOStream *stream, GSocketConnection *socket_conn, gsize max_outgoing)
{
    VdConn *conn = g_new0(VdConn, 1);
    g_autoptr(GSocketAddress) peer = NULL;
    g_autoptr(GSocketAddress) local = NULL;

    conn->refs = 1;
    conn->stream = g_object_ref(stream);
    conn->socket_conn = g_object_ref(socket_conn);
    conn->cancel = g_cancellable_new();
    conn->read_buf = g_malloc(VD_CONN_READ_SIZE);
    conn->max_out = max_outgoing;
    g_queue_init(&conn->out);
    peer = g_socket_connection_get_remote_address(socket_conn, NULL);
    local = g_socket_connection_get_local_address(socket_conn, NULL);
    conn->peer_address = peer ? vdConnAddressString(peer, FALSE) : g_strdup("");
    conn->local_address = local ? vdConnAddressString(local, FALSE) : g_strdup("");
    conn->name = peer ? vdConnAddressString(peer, TRUE) : g_strdup("?");
    conn->last_read = conn->last_write = g_get_monotonic_time();
    return conn;
}

VdConn *
vdConnRef(VdConn *conn)
{
    g_atomic_int_inc(&conn->refs);
    return conn;
}

void
vdConnUnref(VdConn *conn)
{
    if (!conn || !g_atomic_int_dec_and_test(&conn->refs))
        return;
    g_queue_clear_full(&conn->out, (GDestroyNotify)g_bytes_unref);
    g_free(conn->vecs);
    g_clear_object(&conn->stream);
    g_clear_object(&conn->socket_conn);
    g_clear_object(&conn->cancel);
    g_free(conn->read_buf);
    g_free(conn->peer_address);
    g_free(conn->local_address);
    g_free(conn->name);
    g_free(conn);
}

static void vdConnReadNext(VdConn *conn);

static void
vdConnStreamClosed(GObject *source, GAsyncResult *res, gpointer data)
{
    VdConn *conn = data;

    g_io_stream_close_finish(G_IO_STREAM(source), res, NULL);
    vdConnUnref(conn);
}

void
vdConnClose(VdConn *conn, const char *reason)
{
    VdConnCloseFunc on_close = conn->on_close;

    if (conn->closed)
        return;
    conn->closed = TRUE;
    g_debug("closing connection %s: %s", conn->name, reason ? reason : "");
    g_cancellable_cancel(conn->cancel);
    g_queue_clear_full(&conn->out, (GDestroyNotify)g_bytes_unref);
    conn->out_bytes = 0;
    conn->on_close = NULL;
    conn->on_data = NULL;
    /* The socket is shut down at once so the peer sees EOF even if a TLS
     * close_notify cannot be sent. */
    g_socket_shutdown(g_socket_connection_get_socket(conn->socket_conn), TRUE, TRUE, NULL);
    g_io_stream_close_async(conn->stream, G_PRIORITY_DEFAULT, NULL, vdConnStreamClosed,
                            vdConnRef(conn));
    if (on_close)
        on_close(conn, conn->user_data);
    if (conn->close_hook)
        conn->close_hook(conn, conn->close_hook_data);
}

void
vdConnSetCloseHook(VdConn *conn, VdConnCloseFunc hook, gpointer user_data)
{
    conn->close_hook = hook;
    conn->close_hook_data = user_data;
}

static void
vdConnWriteDone(GObject *source, GAsyncResult *res, gpointer data)
{
    VdConn *conn = data;
    g_autoptr(GError) error = NULL;
    gsize written = 0;

    conn->writing = FALSE;
    if (!g_output_stream_writev_all_finish(G_OUTPUT_STREAM(source), res, &written, &error)) {
        if (!conn->closed)
            vdConnClose(conn, error->message);
        vdConnUnref(conn);
        return;
    }
    for (guint i = 0; i < conn->n_vecs; i++) {
        GBytes *b = g_queue_pop_head(&conn->out);

        conn->out_bytes -= g_bytes_get_size(b);
        g_bytes_unref(b);
    }
    conn->n_vecs = 0;
    if (!conn->closed) {
        if (!g_queue_is_empty(&conn->out)) {
            /* more was queued meanwhile */
            vdConnWriteData(conn, NULL, 0);
        } else if (conn->close_after_flush) {
            vdConnClose(conn, "flushed");
        }
    }
    vdConnUnref(conn);
}

static void
vdConnFlush(VdConn *conn)
{
    guint n = g_queue_get_length(&conn->out);
    guint i = 0;

    if (conn->writing || conn->closed || n == 0)
        return;
    if (n > 64)
        n = 64;
    g_free(conn->vecs);
    conn->vecs = g_new0(GOutputVector, n);
    for (GList *l = conn->out.head; l && i < n; l = l->next, i++) {
        gsize size;

        conn->vecs[i].buffer = g_bytes_get_data(l->data, &size);
        conn->vecs[i].size = size;
    }
    conn->n_vecs = n;
    conn->writing = TRUE;
    g_output_stream_writev_all_async(g_io_stream_get_output_stream(conn->stream), conn->vecs, n,
                                     G_PRIORITY_DEFAULT, conn->cancel, vdConnWriteDone,
                                     vdConnRef(conn));
}

int
vdConnWrite(VdConn *conn, GBytes *bytes)
{
    if (conn->closed)
        return -1;
    if (bytes && g_bytes_get_size(bytes) > 0) {
        if (conn->out_bytes + g_bytes_get_size(bytes) > conn->max_out) {
            g_warning("connection %s does not read its replies (%zu bytes queued): closing",
                      conn->name, conn->out_bytes);
            vdConnClose(conn, "outgoing queue full");
            return -1;
        }
        conn->out_bytes += g_bytes_get_size(bytes);
        g_queue_push_tail(&conn->out, g_bytes_ref(bytes));
        conn->last_write = g_get_monotonic_time();
    }
    vdConnFlush(conn);
    return 0;
}

int
vdConnWriteData(VdConn *conn, const void *data, gsize len)
{
    g_autoptr(GBytes) bytes = NULL;

    if (len == 0)
        return vdConnWrite(conn, NULL);
    bytes = g_bytes_new(data, len);
    return vdConnWrite(conn, bytes);
}

void
vdConnCloseAfterFlush(VdConn *conn, const char *reason)
{
    if (conn->closed)
        return;
    g_debug("closing connection %s after flush: %s", conn->name, reason ? reason : "");
    conn->close_after_flush = TRUE;
    conn->on_data = NULL;
    if (!conn->writing && g_queue_is_empty(&conn->out))
        vdConnClose(conn, reason);
}

static void
vdConnReadDone(GObject *source, GAsyncResult *res, gpointer data)
{
    VdConn *conn = data;
    g_autoptr(GError) error = NULL;
    gssize n;

    conn->reading = FALSE;
    n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, &error);
    if (conn->closed) {
        vdConnUnref(conn);
        return;
    }
    if (n <= 0) {
        vdConnClose(conn, n == 0 ? "peer closed" : error->message);
        vdConnUnref(conn);
        return;
    }
    conn->last_read = g_get_monotonic_time();
    if (conn->on_data)
        conn->on_data(conn, (const char *)conn->read_buf, (gsize)n, conn->user_data);
    if (!conn->closed && !conn->close_after_flush)
        vdConnReadNext(conn);
    vdConnUnref(conn);
}

static void
vdConnReadNext(VdConn *conn)
{
    if (conn->reading || conn->closed)
        return;
    conn->reading = TRUE;
    g_input_stream_read_async(g_io_stream_get_input_stream(conn->stream), conn->read_buf,
                              VD_CONN_READ_SIZE, G_PRIORITY_DEFAULT, conn->cancel,
                              vdConnReadDone, vdConnRef(conn));
}

void
vdConnSetHandlers(VdConn *conn, VdConnDataFunc on_data, VdConnCloseFunc on_close,
                  gpointer user_data)
{
    conn->on_data = on_data;
    conn->on_close = on_close;
    conn->user_data = user_data;
}

void
vdConnStart(VdConn *conn, VdConnDataFunc on_data, VdConnCloseFunc on_close, gpointer user_data)
{
    vdConnSetHandlers(conn, on_data, on_close, user_data);
    vdConnReadNext(conn);
}

gboolean
vdConnIsClosed(VdConn *conn)
{
    return conn->closed || conn->close_after_flush;
}

const char *
vdConnPeerAddress(VdConn *conn)
{
    return conn->peer_address;
}

const char *
vdConnLocalAddress(VdConn *conn)
{
    return conn->local_address;
}

const char *
vdConnName(VdConn *conn)
{
    return conn->name;
}

gint64
vdConnLastRead(VdConn *conn)
{
    return conn->last_read;
}

gint64
vdConnLastWrite(VdConn *conn)
{
    return conn->last_write;
}
