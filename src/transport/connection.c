/* connection.c - see connection.h for the design.
 *
 * I/O is non-blocking on the streams' pollable interfaces (plain sockets
 * and GTlsConnection both provide them): one persistent source per
 * connection for reading, writes go straight to the socket and only when
 * it is full is an output source attached until the queue drains.  That
 * keeps a request/reply round trip at one poll wake-up and two syscalls,
 * with no per-operation allocations. */
#include "connection.h"

#include <string.h>

#define VD_CONN_READ_SIZE 65536

struct _VdConn {
    gint refs;
    GIOStream *stream;
    GPollableInputStream *in;
    GPollableOutputStream *out_stream;
    GSocketConnection *socket_conn;
    GCancellable *cancel;
    char *peer_address;
    char *local_address;
    char *name;
    guint8 *read_buf;
    GSource *in_source;  /* attached while reading */
    GSource *out_source; /* attached while the socket buffer is full */
    gboolean is_tls;
    gboolean closed;
    gboolean close_after_flush;
    GQueue out;          /* of GBytes; the head may be partly written */
    gsize out_offset;    /* bytes of the head already written */
    gsize out_bytes;     /* queued, not yet written */
    gsize max_out;
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
    conn->in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(stream));
    conn->out_stream = G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(stream));
    conn->socket_conn = g_object_ref(socket_conn);
    conn->is_tls = G_IS_TLS_CONNECTION(stream);
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
    g_clear_object(&conn->stream);
    g_clear_object(&conn->socket_conn);
    g_clear_object(&conn->cancel);
    g_free(conn->read_buf);
    g_free(conn->peer_address);
    g_free(conn->local_address);
    g_free(conn->name);
    g_free(conn);
}

static void
vdConnStreamClosed(GObject *source, GAsyncResult *res, gpointer data)
{
    VdConn *conn = data;

    g_io_stream_close_finish(G_IO_STREAM(source), res, NULL);
    vdConnUnref(conn);
}

static void
vdConnDropSource(GSource **source)
{
    if (*source) {
        g_source_destroy(*source);
        g_clear_pointer(source, g_source_unref);
    }
}

void
vdConnClose(VdConn *conn, const char *reason)
{
    VdConnCloseFunc on_close = conn->on_close;

    if (conn->closed)
        return;
    conn->closed = TRUE;
    g_debug("closing connection %s: %s", conn->name, reason ? reason : "");
    vdConnDropSource(&conn->in_source);
    vdConnDropSource(&conn->out_source);
    g_cancellable_cancel(conn->cancel);
    g_queue_clear_full(&conn->out, (GDestroyNotify)g_bytes_unref);
    conn->out_bytes = 0;
    conn->out_offset = 0;
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

static gboolean vdConnOnWritable(GSocket *socket, GIOCondition cond, gpointer data);

/* Readiness comes from the socket itself, not from the TLS stream's
 * pollable source: glib-networking's source also fires whenever any TLS
 * operation ends, so a read that would block re-arms it at once and an
 * idle TLS client could spin the main loop.  The socket is the truth:
 * TLS reads loop until WOULD_BLOCK, so no decrypted bytes stay behind. */
static GSource *
vdConnSocketSource(VdConn *conn, GIOCondition cond, GSocketSourceFunc func)
{
    GSource *source =
        g_socket_create_source(g_socket_connection_get_socket(conn->socket_conn), cond, NULL);

    g_source_set_callback(source, G_SOURCE_FUNC(func), conn, NULL);
    g_source_attach(source, NULL);
    return source;
}

/* Write as much of the queue as the socket takes now, without blocking.
 * Returns -1 after closing the connection on a write error. */
static int
vdConnFlush(VdConn *conn)
{
    while (!conn->closed && !g_queue_is_empty(&conn->out)) {
        GOutputVector vecs[32];
        guint n = 0;
        gsize written = 0;
        g_autoptr(GError) error = NULL;
        GPollableReturn ret;

        for (GList *l = conn->out.head; l && n < G_N_ELEMENTS(vecs); l = l->next, n++) {
            gsize size;
            const guint8 *data = g_bytes_get_data(l->data, &size);

            vecs[n].buffer = data;
            vecs[n].size = size;
            if (n == 0) {
                vecs[0].buffer = data + conn->out_offset;
                vecs[0].size = size - conn->out_offset;
            }
        }
        ret = g_pollable_output_stream_writev_nonblocking(conn->out_stream, vecs, n, &written,
                                                          conn->cancel, &error);
        if (ret == G_POLLABLE_RETURN_WOULD_BLOCK)
            break;
        if (ret == G_POLLABLE_RETURN_FAILED) {
            vdConnClose(conn, error ? error->message : "write failed");
            return -1;
        }
        conn->out_bytes -= written;
        /* drop what was written */
        written += conn->out_offset;
        conn->out_offset = 0;
        while (written > 0) {
            GBytes *head = g_queue_peek_head(&conn->out);
            gsize size = g_bytes_get_size(head);

            if (written < size) {
                conn->out_offset = written;
                break;
            }
            written -= size;
            g_bytes_unref(g_queue_pop_head(&conn->out));
        }
    }
    if (conn->closed)
        return -1;
    if (g_queue_is_empty(&conn->out)) {
        vdConnDropSource(&conn->out_source);
        if (conn->close_after_flush) {
            vdConnClose(conn, "flushed");
            return -1;
        }
    } else if (!conn->out_source) {
        conn->out_source = vdConnSocketSource(conn, G_IO_OUT, vdConnOnWritable);
    }
    return 0;
}

static gboolean
vdConnOnWritable(GSocket *socket, GIOCondition cond, gpointer data)
{
    VdConn *conn = data;

    vdConnRef(conn);
    vdConnFlush(conn);
    vdConnUnref(conn);
    /* vdConnFlush drops the source itself once the queue is empty */
    return G_SOURCE_CONTINUE;
}

int
vdConnWrite(VdConn *conn, GBytes *bytes)
{
    int ret;

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
    if (conn->out_source)
        return 0; /* the socket is full; the source flushes when it drains */
    vdConnRef(conn);
    ret = vdConnFlush(conn);
    vdConnUnref(conn);
    return ret;
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
    if (conn->closed || conn->close_after_flush)
        return;
    g_debug("closing connection %s after flush: %s", conn->name, reason ? reason : "");
    conn->close_after_flush = TRUE;
    conn->on_data = NULL;
    vdConnDropSource(&conn->in_source);
    if (g_queue_is_empty(&conn->out))
        vdConnClose(conn, reason);
}

/* At most this many reads per wake-up, so one busy client cannot starve
 * the others. */
#define VD_CONN_READS_PER_WAKEUP 8

static gboolean
vdConnOnReadable(GSocket *socket, GIOCondition cond, gpointer data)
{
    VdConn *conn = data;

    vdConnRef(conn);
    for (int i = 0; i < VD_CONN_READS_PER_WAKEUP && conn->in_source; i++) {
        g_autoptr(GError) error = NULL;
        gssize n = g_pollable_input_stream_read_nonblocking(conn->in, conn->read_buf,
                                                            VD_CONN_READ_SIZE, conn->cancel,
                                                            &error);

        if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
        if (n <= 0) {
            vdConnClose(conn, n == 0 ? "peer closed" : error->message);
            break;
        }
        conn->last_read = g_get_monotonic_time();
        if (conn->on_data)
            conn->on_data(conn, (const char *)conn->read_buf, (gsize)n, conn->user_data);
        /* A short read drained a plain socket; TLS may still hold
         * decrypted records, so it reads on until WOULD_BLOCK. */
        if (n < VD_CONN_READ_SIZE && !conn->is_tls)
            break;
    }
    vdConnUnref(conn);
    /* vdConnClose and vdConnCloseAfterFlush destroy the source themselves */
    return G_SOURCE_CONTINUE;
}

static gboolean
vdConnReadPending(gpointer data)
{
    VdConn *conn = data;

    if (conn->in_source)
        vdConnOnReadable(NULL, G_IO_IN, conn);
    return G_SOURCE_REMOVE;
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
    if (conn->in_source || conn->closed)
        return;
    conn->in_source = vdConnSocketSource(conn, G_IO_IN, vdConnOnReadable);
    /* Bytes may already wait (TLS can have decrypted them during the
     * handshake): read once soon instead of waiting for the next poll.  A
     * ready time on the socket source would mean "timed out" to GSocket. */
    if (g_pollable_input_stream_is_readable(conn->in))
        g_idle_add_full(G_PRIORITY_DEFAULT, vdConnReadPending, vdConnRef(conn),
                        (GDestroyNotify)vdConnUnref);
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
