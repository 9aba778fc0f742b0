/* ping-bench.c - Host.ping2 latency and throughput against vdsmd, next to a floor.
 *
 * DESIGN: one thread per client, all blocking I/O.  Each STOMP client owns
 * one connection (CONNECT, SUBSCRIBE to a private reply destination, then
 * SEND Host.ping2 and wait for its MESSAGE, strictly one request in flight)
 * and records every request's latency in its own array; the arrays are
 * merged only after the threads are joined, so the hot path shares nothing
 * but one atomic request counter.  Plain connections use POSIX sockets, TLS
 * connections GIO's GTlsClientConnection.
 * The floor is an echo server inside this process: its clients send as many
 * bytes as the SEND frame and wait for as many as the reply MESSAGE, so a
 * row's ratio to its floor is what vdsmd's STOMP, JSON-RPC and dispatch
 * cost above the kernel's loopback path (and, for TLS, above GIO's record
 * layer).  By default the floor has vdsmd's shape, one event-loop thread
 * (epoll over non-blocking sockets for TCP; a GMainContext with async GIO
 * TLS streams for TLS); --floor threads serves each connection on its own
 * blocking thread instead.
 * Every row runs for --duration seconds or --requests requests, whichever
 * comes first, after --warmup unrecorded requests per client.
 */
#include <errno.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stomp-frame.h"

#define VD_BENCH_MAX_CLIENTS 256
#define VD_BENCH_READ_CHUNK 65536
#define VD_BENCH_MAX_FRAME (16 * 1024 * 1024)
#define VD_BENCH_MAX_HEADER (64 * 1024)
#define VD_BENCH_REQUEST_QUEUE "jms.topic.vdsm_requests"
/* A server that stops answering fails the row instead of hanging the run. */
#define VD_BENCH_IO_TIMEOUT 30

typedef struct {
    char *host;
    int plain_port;
    int tls_port;
    char *trust_store;
    double duration;
    gint64 requests;
    int warmup;
    GArray *clients; /* of int */
    char *floor;     /* "loop" or "threads" */
    int rounds;
} VdBenchOptions;

static VdBenchOptions vdBenchOpts;

static gint64
vdBenchNowNs(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- connections: a plain fd or a GIO TLS stream ---------------------- */

typedef struct {
    int fd;
    GIOStream *tls;       /* owns the TLS connection when not NULL */
    GIOStream *base;      /* the socket connection under @tls */
} VdBenchConn;

static void
vdBenchConnClose(VdBenchConn *conn)
{
    if (conn->tls) {
        g_io_stream_close(conn->tls, NULL, NULL);
        g_clear_object(&conn->tls);
        g_clear_object(&conn->base);
    } else if (conn->fd >= 0) {
        close(conn->fd);
    }
    conn->fd = -1;
}

static gssize
vdBenchConnRead(VdBenchConn *conn, void *buf, gsize len, GError **error)
{
    gssize n;

    if (conn->tls)
        return g_input_stream_read(g_io_stream_get_input_stream(conn->tls), buf, len, NULL, error);
    do {
        n = read(conn->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "read: %s", g_strerror(errno));
    return n;
}

static gboolean
vdBenchConnWriteAll(VdBenchConn *conn, const void *buf, gsize len, GError **error)
{
    const char *p = buf;

    if (conn->tls)
        return g_output_stream_write_all(g_io_stream_get_output_stream(conn->tls), buf, len,
                                         NULL, NULL, error);
    while (len > 0) {
        gssize n = write(conn->fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "write: %s",
                        g_strerror(errno));
            return FALSE;
        }
        p += n;
        len -= n;
    }
    return TRUE;
}

/* Read exactly @len bytes. */
static gboolean
vdBenchConnReadAll(VdBenchConn *conn, char *buf, gsize len, GError **error)
{
    while (len > 0) {
        gssize n = vdBenchConnRead(conn, buf, len, error);

        if (n < 0)
            return FALSE;
        if (n == 0) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "connection closed");
            return FALSE;
        }
        buf += n;
        len -= n;
    }
    return TRUE;
}

static int
vdBenchTcpConnect(const char *host, int port, GError **error)
{
    g_autoptr(GResolver) resolver = g_resolver_get_default();
    g_autolist(GInetAddress) addrs = NULL;
    int fd = -1;

    addrs = g_resolver_lookup_by_name(resolver, host, NULL, error);
    if (!addrs)
        return -1;
    for (GList *l = addrs; l; l = l->next) {
        g_autoptr(GSocketAddress) sa = g_inet_socket_address_new(l->data, port);
        struct sockaddr_storage ss;
        gssize sslen = g_socket_address_get_native_size(sa);
        int one = 1;

        if (!g_socket_address_to_native(sa, &ss, sizeof(ss), NULL))
            continue;
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, (struct sockaddr *)&ss, sslen) == 0) {
            struct timeval tv = { .tv_sec = VD_BENCH_IO_TIMEOUT };

            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            return fd;
        }
        close(fd);
        fd = -1;
    }
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "connect to %s:%d: %s", host,
                port, g_strerror(errno));
    return -1;
}

/* The server is trusted when its chain leads to our CA; like vdsm-client,
 * the host name is not checked. */
static gboolean
vdBenchAcceptCertificate(GTlsConnection *conn, GTlsCertificate *peer, GTlsCertificateFlags errors,
                         gpointer data)
{
    if (errors & ~G_TLS_CERTIFICATE_BAD_IDENTITY)
        g_printerr("ping-bench: %s refused the peer certificate (flags 0x%x)\n",
                   G_IS_TLS_SERVER_CONNECTION(conn) ? "echo-tls" : "client", errors);
    return (errors & ~G_TLS_CERTIFICATE_BAD_IDENTITY) == 0;
}

typedef struct {
    GTlsCertificate *cert; /* the host cert: server side of the floor, client side everywhere */
    GTlsDatabase *db;
} VdBenchTls;

static VdBenchTls vdBenchTls;

static gboolean
vdBenchTlsLoad(const char *store, GError **error)
{
    g_autofree char *key = g_build_filename(store, "keys", "vdsmkey.pem", NULL);
    g_autofree char *cert = g_build_filename(store, "certs", "vdsmcert.pem", NULL);
    g_autofree char *ca = g_build_filename(store, "certs", "cacert.pem", NULL);

    vdBenchTls.cert = g_tls_certificate_new_from_files(cert, key, error);
    if (!vdBenchTls.cert)
        return FALSE;
    vdBenchTls.db = g_tls_file_database_new(ca, error);
    return vdBenchTls.db != NULL;
}

static gboolean
vdBenchConnOpen(VdBenchConn *conn, const char *host, int port, gboolean tls, GError **error)
{
    g_autoptr(GSocket) sock = NULL;
    g_autoptr(GIOStream) tconn = NULL;

    conn->fd = vdBenchTcpConnect(host, port, error);
    conn->tls = conn->base = NULL;
    if (conn->fd < 0)
        return FALSE;
    if (!tls)
        return TRUE;
    sock = g_socket_new_from_fd(conn->fd, error);
    if (!sock) {
        close(conn->fd);
        conn->fd = -1;
        return FALSE;
    }
    g_socket_set_timeout(sock, VD_BENCH_IO_TIMEOUT);
    conn->base = G_IO_STREAM(g_socket_connection_factory_create_connection(sock));
    tconn = g_tls_client_connection_new(conn->base, NULL, error);
    if (!tconn) {
        vdBenchConnClose(conn);
        return FALSE;
    }
    g_tls_connection_set_certificate(G_TLS_CONNECTION(tconn), vdBenchTls.cert);
    g_tls_connection_set_database(G_TLS_CONNECTION(tconn), vdBenchTls.db);
    g_signal_connect(tconn, "accept-certificate", G_CALLBACK(vdBenchAcceptCertificate), NULL);
    if (!g_tls_connection_handshake(G_TLS_CONNECTION(tconn), NULL, error)) {
        g_clear_object(&conn->base);
        conn->fd = -1; /* the GSocket owned it */
        return FALSE;
    }
    conn->tls = g_steal_pointer(&tconn);
    return TRUE;
}

/* ---- STOMP client ------------------------------------------------------ */

typedef struct {
    VdBenchConn conn;
    VdStompParser *parser;
    char *reply_dest;
    char *sub_id;
    guint client_no;
    guint64 seq;
    GByteArray *out;
    char *buf;
    gsize last_reply_bytes; /* wire size of the last reply MESSAGE */
    char *last_reply_body;
} VdBenchStomp;

static void
vdBenchStompClear(VdBenchStomp *s)
{
    vdBenchConnClose(&s->conn);
    g_clear_pointer(&s->parser, vdStompParserFree);
    g_clear_pointer(&s->reply_dest, g_free);
    g_clear_pointer(&s->sub_id, g_free);
    g_clear_pointer(&s->out, g_byte_array_unref);
    g_clear_pointer(&s->buf, g_free);
    g_clear_pointer(&s->last_reply_body, g_free);
}

/* Build the SEND frame of the next request into s->out; *id points into it. */
static void
vdBenchStompBuildSend(VdBenchStomp *s, char id[37])
{
    char body[160];
    const char *hdrs[] = { "destination", VD_BENCH_REQUEST_QUEUE, "content-type",
                           "application/json", "reply-to", s->reply_dest, NULL };
    int n;

    /* fixed-length UUID-shaped ids: every request frame has the same size */
    g_snprintf(id, 37, "%08x-0000-4000-8000-%012" G_GINT64_MODIFIER "x", s->client_no,
               (gint64)s->seq++);
    n = g_snprintf(body, sizeof(body),
                   "{\"jsonrpc\":\"2.0\",\"method\":\"Host.ping2\",\"params\":{},\"id\":\"%s\"}",
                   id);
    g_byte_array_set_size(s->out, 0);
    vdStompEncode(s->out, "SEND", hdrs, body, n);
}

/* Wait for a frame; for a MESSAGE, the one whose body holds @id.  Returns
 * the frame or NULL with @error. */
static VdStompFrame *
vdBenchStompWait(VdBenchStomp *s, const char *command, const char *id, GError **error)
{
    for (;;) {
        VdStompFrame *raw;
        gssize n;

        while ((raw = vdStompParserPop(s->parser))) {
            g_autoptr(VdStompFrame) frame = raw;

            if (g_str_equal(frame->command, "ERROR")) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "STOMP ERROR: %s %.*s",
                            vdStompFrameGetHeader(frame, "message") ?: "",
                            (int)MIN(frame->body_len, 200), frame->body ?: "");
                return NULL;
            }
            if (!g_str_equal(frame->command, command))
                continue;
            if (id && (!frame->body || !strstr(frame->body, id)))
                continue;
            return g_steal_pointer(&frame);
        }
        n = vdBenchConnRead(&s->conn, s->buf, VD_BENCH_READ_CHUNK, error);
        if (n < 0)
            return NULL;
        if (n == 0) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                        "server closed the connection");
            return NULL;
        }
        if (vdStompParserFeed(s->parser, s->buf, n, error) < 0)
            return NULL;
    }
}

static gboolean
vdBenchStompOpen(VdBenchStomp *s, int port, gboolean tls, guint client_no, GError **error)
{
    g_autoptr(GByteArray) hello = g_byte_array_new();
    g_autoptr(VdStompFrame) connected = NULL;

    memset(s, 0, sizeof(*s));
    s->conn.fd = -1;
    s->client_no = client_no;
    s->parser = vdStompParserNew(VD_BENCH_MAX_FRAME, VD_BENCH_MAX_HEADER);
    s->reply_dest = g_uuid_string_random();
    s->sub_id = g_uuid_string_random();
    s->out = g_byte_array_sized_new(512);
    s->buf = g_malloc(VD_BENCH_READ_CHUNK);
    if (!vdBenchConnOpen(&s->conn, vdBenchOpts.host, port, tls, error))
        return FALSE;
    {
        const char *c[] = { "accept-version", "1.2", "heart-beat", "0,24000", "host",
                            vdBenchOpts.host, NULL };
        const char *sub[] = { "destination", s->reply_dest, "id", s->sub_id, "ack", "auto",
                              NULL };

        vdStompEncode(hello, "CONNECT", c, NULL, 0);
        vdStompEncode(hello, "SUBSCRIBE", sub, NULL, 0);
    }
    if (!vdBenchConnWriteAll(&s->conn, hello->data, hello->len, error))
        return FALSE;
    connected = vdBenchStompWait(s, "CONNECTED", NULL, error);
    return connected != NULL;
}

/* One request: send, wait for the matching reply. */
static gboolean
vdBenchStompPing(VdBenchStomp *s, GError **error)
{
    char id[37];
    g_autoptr(VdStompFrame) reply = NULL;

    vdBenchStompBuildSend(s, id);
    if (!vdBenchConnWriteAll(&s->conn, s->out->data, s->out->len, error))
        return FALSE;
    reply = vdBenchStompWait(s, "MESSAGE", id, error);
    if (!reply)
        return FALSE;
    if (G_UNLIKELY(!s->last_reply_body)) {
        g_autoptr(GBytes) wire = vdStompFrameSerialize(reply);

        s->last_reply_bytes = g_bytes_get_size(wire);
        s->last_reply_body = g_strndup(reply->body, reply->body_len);
    }
    return TRUE;
}

/* ---- echo floor -------------------------------------------------------- */

typedef struct {
    gsize request_size;
    gsize reply_size;
    int plain_port;
    int tls_port;
    int plain_fd;
    int tls_fd; /* a raw fd: a GSocket would make accept() non-blocking */
} VdBenchFloor;

static VdBenchFloor vdBenchFloor;

typedef struct {
    int fd;
    gboolean tls;
} VdBenchEchoJob;

/* Serve one echo connection: read a request's worth, answer a reply's worth. */
static gpointer
vdBenchEchoServe(gpointer data)
{
    g_autofree VdBenchEchoJob *job = data;
    g_autofree char *req = g_malloc(vdBenchFloor.request_size);
    g_autofree char *rep = g_malloc(vdBenchFloor.reply_size);
    VdBenchConn conn = { .fd = job->fd };
    g_autoptr(GIOStream) tconn = NULL;
    g_autoptr(GError) error = NULL;

    memset(rep, 'r', vdBenchFloor.reply_size);
    if (job->tls) {
        g_autoptr(GSocket) sock = g_socket_new_from_fd(job->fd, NULL);

        if (!sock) {
            close(job->fd);
            return NULL;
        }
        conn.base = G_IO_STREAM(g_socket_connection_factory_create_connection(sock));
        tconn = g_tls_server_connection_new(conn.base, vdBenchTls.cert, NULL);
        if (!tconn) {
            g_clear_object(&conn.base);
            return NULL;
        }
        /* as vdsmd: the client must present a certificate from our CA */
        g_object_set(tconn, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, NULL);
        g_tls_connection_set_database(G_TLS_CONNECTION(tconn), vdBenchTls.db);
        g_signal_connect(tconn, "accept-certificate", G_CALLBACK(vdBenchAcceptCertificate), NULL);
        if (!g_tls_connection_handshake(G_TLS_CONNECTION(tconn), NULL, &error)) {
            g_printerr("ping-bench: echo-tls handshake: %s\n", error->message);
            g_clear_object(&conn.base);
            return NULL;
        }
        conn.tls = g_steal_pointer(&tconn);
    }
    while (vdBenchConnReadAll(&conn, req, vdBenchFloor.request_size, NULL) &&
           vdBenchConnWriteAll(&conn, rep, vdBenchFloor.reply_size, NULL))
        ;
    vdBenchConnClose(&conn);
    return NULL;
}

static gpointer
vdBenchEchoAccept(gpointer data)
{
    gboolean tls = GPOINTER_TO_INT(data);
    int lfd = tls ? vdBenchFloor.tls_fd : vdBenchFloor.plain_fd;

    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        int one = 1;
        VdBenchEchoJob *job;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        job = g_new0(VdBenchEchoJob, 1);
        job->fd = fd;
        job->tls = tls;
        g_thread_unref(g_thread_new("echo", vdBenchEchoServe, job));
    }
}

static int
vdBenchListen(int *port, GError **error)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "echo listener: %s",
                    g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* The event-loop floor, plain: one thread, epoll, non-blocking sockets;
 * the shape of vdsmd's main loop without any protocol work. */
typedef struct {
    int fd;
    gsize have;    /* request bytes read so far */
    gsize written; /* reply bytes written so far; < reply_size while writing */
    gboolean writing;
} VdBenchEpollConn;

static void
vdBenchEpollDrop(int ep, VdBenchEpollConn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    g_free(c);
}

/* Write what is left of the reply; FALSE when the connection is gone. */
static gboolean
vdBenchEpollFlush(int ep, VdBenchEpollConn *c, const char *rep)
{
    while (c->written < vdBenchFloor.reply_size) {
        gssize n = write(c->fd, rep + c->written, vdBenchFloor.reply_size - c->written);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

            if (!c->writing)
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            c->writing = TRUE;
            return TRUE;
        }
        if (n <= 0)
            return FALSE;
        c->written += n;
    }
    if (c->writing) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->writing = FALSE;
    }
    c->have = 0;
    return TRUE;
}

static gpointer
vdBenchEpollRun(gpointer data)
{
    int lfd = vdBenchFloor.plain_fd;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    g_autofree char *req = g_malloc(vdBenchFloor.request_size);
    g_autofree char *rep = g_malloc(vdBenchFloor.reply_size);
    struct epoll_event evs[64];

    memset(rep, 'r', vdBenchFloor.reply_size);
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    for (;;) {
        int n = epoll_wait(ep, evs, G_N_ELEMENTS(evs), -1);

        for (int i = 0; i < n; i++) {
            VdBenchEpollConn *c = evs[i].data.ptr;

            if (!c) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                int one = 1;
                struct epoll_event ev = { .events = EPOLLIN };

                if (fd < 0)
                    continue;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c = g_new0(VdBenchEpollConn, 1);
                c->fd = fd;
                c->written = vdBenchFloor.reply_size;
                ev.data.ptr = c;
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                continue;
            }
            if (c->writing) {
                if (!vdBenchEpollFlush(ep, c, rep))
                    vdBenchEpollDrop(ep, c);
                continue;
            }
            for (;;) {
                gssize r = read(c->fd, req, vdBenchFloor.request_size - c->have);

                if (r < 0 && errno == EINTR)
                    continue;
                if (r < 0 && errno == EAGAIN)
                    break;
                if (r <= 0) {
                    vdBenchEpollDrop(ep, c);
                    break;
                }
                c->have += r;
                if (c->have == vdBenchFloor.request_size) {
                    c->written = 0;
                    if (!vdBenchEpollFlush(ep, c, rep)) {
                        vdBenchEpollDrop(ep, c);
                        break;
                    }
                    if (c->writing)
                        break;
                }
            }
        }
    }
    return NULL;
}

/* The event-loop floor, TLS: one thread running a GMainContext with GIO's
 * async TLS streams, as vdsmd's listener and connections use them. */
typedef struct {
    GIOStream *base;
    GIOStream *tls;
    char *req;
    gsize have;
} VdBenchGioConn;

static char *vdBenchGioReply;

static void vdBenchGioRead(VdBenchGioConn *c);

static void
vdBenchGioDrop(VdBenchGioConn *c)
{
    g_clear_object(&c->tls);
    g_clear_object(&c->base);
    g_free(c->req);
    g_free(c);
}

static void
vdBenchGioWritten(GObject *source, GAsyncResult *res, gpointer data)
{
    VdBenchGioConn *c = data;

    if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, NULL)) {
        vdBenchGioDrop(c);
        return;
    }
    c->have = 0;
    vdBenchGioRead(c);
}

static void
vdBenchGioReadDone(GObject *source, GAsyncResult *res, gpointer data)
{
    VdBenchGioConn *c = data;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, NULL);

    if (n <= 0) {
        vdBenchGioDrop(c);
        return;
    }
    c->have += n;
    if (c->have < vdBenchFloor.request_size) {
        vdBenchGioRead(c);
        return;
    }
    g_output_stream_write_all_async(g_io_stream_get_output_stream(c->tls), vdBenchGioReply,
                                    vdBenchFloor.reply_size, G_PRIORITY_DEFAULT, NULL,
                                    vdBenchGioWritten, c);
}

static void
vdBenchGioRead(VdBenchGioConn *c)
{
    g_input_stream_read_async(g_io_stream_get_input_stream(c->tls), c->req + c->have,
                              vdBenchFloor.request_size - c->have, G_PRIORITY_DEFAULT, NULL,
                              vdBenchGioReadDone, c);
}

static void
vdBenchGioHandshaken(GObject *source, GAsyncResult *res, gpointer data)
{
    VdBenchGioConn *c = data;
    g_autoptr(GError) error = NULL;

    if (!g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), res, &error)) {
        g_printerr("ping-bench: echo-tls handshake: %s\n", error->message);
        vdBenchGioDrop(c);
        return;
    }
    vdBenchGioRead(c);
}

static gboolean
vdBenchGioAccept(GSocket *listener, GIOCondition cond, gpointer data)
{
    g_autoptr(GSocket) sock = g_socket_accept(listener, NULL, NULL);
    VdBenchGioConn *c;

    if (!sock)
        return G_SOURCE_CONTINUE;
    g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
    c = g_new0(VdBenchGioConn, 1);
    c->req = g_malloc(vdBenchFloor.request_size);
    c->base = G_IO_STREAM(g_socket_connection_factory_create_connection(sock));
    c->tls = g_tls_server_connection_new(c->base, vdBenchTls.cert, NULL);
    if (!c->tls) {
        vdBenchGioDrop(c);
        return G_SOURCE_CONTINUE;
    }
    g_object_set(c->tls, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, NULL);
    g_tls_connection_set_database(G_TLS_CONNECTION(c->tls), vdBenchTls.db);
    g_signal_connect(c->tls, "accept-certificate", G_CALLBACK(vdBenchAcceptCertificate), NULL);
    g_tls_connection_handshake_async(G_TLS_CONNECTION(c->tls), G_PRIORITY_DEFAULT, NULL,
                                     vdBenchGioHandshaken, c);
    return G_SOURCE_CONTINUE;
}

static gpointer
vdBenchGioRun(gpointer data)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GMainLoop) loop = g_main_loop_new(ctx, FALSE);
    g_autoptr(GSocket) listener = g_socket_new_from_fd(vdBenchFloor.tls_fd, NULL);
    g_autoptr(GSource) src = NULL;

    g_main_context_push_thread_default(ctx);
    vdBenchGioReply = g_malloc(vdBenchFloor.reply_size);
    memset(vdBenchGioReply, 'r', vdBenchFloor.reply_size);
    src = g_socket_create_source(listener, G_IO_IN, NULL);
    g_source_set_callback(src, G_SOURCE_FUNC(vdBenchGioAccept), NULL, NULL);
    g_source_attach(src, ctx);
    g_main_loop_run(loop);
    return NULL;
}

static gboolean
vdBenchFloorStart(gboolean with_tls, gboolean threads, GError **error)
{
    vdBenchFloor.plain_fd = vdBenchListen(&vdBenchFloor.plain_port, error);
    if (vdBenchFloor.plain_fd < 0)
        return FALSE;
    if (with_tls) {
        vdBenchFloor.tls_fd = vdBenchListen(&vdBenchFloor.tls_port, error);
        if (vdBenchFloor.tls_fd < 0)
            return FALSE;
    }
    if (threads) {
        g_thread_unref(g_thread_new("echo-accept", vdBenchEchoAccept, GINT_TO_POINTER(FALSE)));
        if (with_tls)
            g_thread_unref(g_thread_new("echo-accept-tls", vdBenchEchoAccept,
                                        GINT_TO_POINTER(TRUE)));
    } else {
        g_thread_unref(g_thread_new("echo-epoll", vdBenchEpollRun, NULL));
        if (with_tls)
            g_thread_unref(g_thread_new("echo-gio-tls", vdBenchGioRun, NULL));
    }
    return TRUE;
}

/* ---- a row: N clients for a duration or a request budget ---------------- */

typedef enum {
    VD_BENCH_STOMP,
    VD_BENCH_ECHO,
} VdBenchKind;

typedef struct {
    const char *name;
    VdBenchKind kind;
    gboolean tls;
    int port;
    guint clients;
    /* per round */
    GArray *round_rps; /* of double */
    GArray *round_p50;
    GArray *round_p99;
    GArray *round_mean;
    /* over all rounds: request total, medians of the rounds' figures */
    gint64 count;
    double rps;
    double p50_us;
    double p99_us;
    double mean_us;
    char *error;
} VdBenchRow;

typedef struct {
    VdBenchRow *row;
    guint client_no;
    GArray *lat; /* gint64 ns */
    char *error;
    gint64 start_ns;
    gint64 end_ns;
} VdBenchClient;

typedef struct {
    GMutex lock;
    GCond cond;
    guint ready;
    gboolean go;
    gint64 issued; /* atomic */
    gint64 deadline_ns;
} VdBenchShared;

static VdBenchShared vdBenchShared;

static gboolean
vdBenchTake(void)
{
    if (vdBenchNowNs() >= vdBenchShared.deadline_ns)
        return FALSE;
    return __atomic_fetch_add(&vdBenchShared.issued, 1, __ATOMIC_RELAXED) < vdBenchOpts.requests;
}

/* Report ready (connected and warmed up) and wait for the start signal. */
static void
vdBenchBarrier(void)
{
    g_mutex_lock(&vdBenchShared.lock);
    vdBenchShared.ready++;
    g_cond_broadcast(&vdBenchShared.cond);
    while (!vdBenchShared.go)
        g_cond_wait(&vdBenchShared.cond, &vdBenchShared.lock);
    g_mutex_unlock(&vdBenchShared.lock);
}

static gpointer
vdBenchClientRun(gpointer data)
{
    VdBenchClient *c = data;
    VdBenchRow *row = c->row;
    g_autoptr(GError) error = NULL;
    VdBenchStomp stomp = { .conn.fd = -1 };
    VdBenchConn echo = { .fd = -1 };
    g_autofree char *req = NULL;
    g_autofree char *rep = NULL;
    gboolean ok = TRUE;

    if (row->kind == VD_BENCH_STOMP) {
        ok = vdBenchStompOpen(&stomp, row->port, row->tls, c->client_no, &error);
        for (int i = 0; ok && i < vdBenchOpts.warmup; i++)
            ok = vdBenchStompPing(&stomp, &error);
        if (ok && strstr(stomp.last_reply_body, "\"error\"")) {
            g_set_error(&error, G_IO_ERROR, G_IO_ERROR_FAILED, "Host.ping2 failed: %s",
                        stomp.last_reply_body);
            ok = FALSE;
        }
    } else {
        req = g_malloc(vdBenchFloor.request_size);
        rep = g_malloc(vdBenchFloor.reply_size);
        memset(req, 'q', vdBenchFloor.request_size);
        ok = vdBenchConnOpen(&echo, "127.0.0.1", row->port, row->tls, &error);
        for (int i = 0; ok && i < vdBenchOpts.warmup; i++)
            ok = vdBenchConnWriteAll(&echo, req, vdBenchFloor.request_size, &error) &&
                 vdBenchConnReadAll(&echo, rep, vdBenchFloor.reply_size, &error);
    }
    vdBenchBarrier();

    c->start_ns = vdBenchNowNs();
    while (ok && vdBenchTake()) {
        gint64 t0 = vdBenchNowNs();
        gint64 t1;

        if (row->kind == VD_BENCH_STOMP)
            ok = vdBenchStompPing(&stomp, &error);
        else
            ok = vdBenchConnWriteAll(&echo, req, vdBenchFloor.request_size, &error) &&
                 vdBenchConnReadAll(&echo, rep, vdBenchFloor.reply_size, &error);
        t1 = vdBenchNowNs() - t0;
        if (ok)
            g_array_append_val(c->lat, t1);
    }
    c->end_ns = vdBenchNowNs();
    if (!ok)
        c->error = g_strdup_printf("client %u: %s", c->client_no,
                                   error ? error->message : "failed");
    vdBenchStompClear(&stomp);
    vdBenchConnClose(&echo);
    return NULL;
}

static int
vdBenchCompareNs(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

    return x < y ? -1 : x > y;
}

static double
vdBenchPercentileUs(GArray *sorted, double q)
{
    gsize idx;

    if (sorted->len == 0)
        return 0;
    idx = (gsize)(q * (sorted->len - 1) + 0.5);
    return g_array_index(sorted, gint64, idx) / 1000.0;
}

static void
vdBenchRunRow(VdBenchRow *row)
{
    g_autofree VdBenchClient *clients = g_new0(VdBenchClient, row->clients);
    g_autofree GThread **threads = g_new0(GThread *, row->clients);
    g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(gint64));
    gint64 start = G_MAXINT64, end = 0;

    vdBenchShared.ready = 0;
    vdBenchShared.go = FALSE;
    vdBenchShared.issued = 0;
    vdBenchShared.deadline_ns = G_MAXINT64;
    for (guint i = 0; i < row->clients; i++) {
        clients[i].row = row;
        clients[i].client_no = i;
        clients[i].lat = g_array_sized_new(FALSE, FALSE, sizeof(gint64),
                                           MIN(vdBenchOpts.requests, 1 << 20));
        threads[i] = g_thread_new("client", vdBenchClientRun, &clients[i]);
    }
    g_mutex_lock(&vdBenchShared.lock);
    while (vdBenchShared.ready < row->clients)
        g_cond_wait(&vdBenchShared.cond, &vdBenchShared.lock);
    vdBenchShared.deadline_ns = vdBenchNowNs() + (gint64)(vdBenchOpts.duration * 1e9);
    vdBenchShared.go = TRUE;
    g_cond_broadcast(&vdBenchShared.cond);
    g_mutex_unlock(&vdBenchShared.lock);

    for (guint i = 0; i < row->clients; i++) {
        g_thread_join(threads[i]);
        if (clients[i].error && !row->error)
            row->error = g_steal_pointer(&clients[i].error);
        g_free(clients[i].error);
        start = MIN(start, clients[i].start_ns);
        end = MAX(end, clients[i].end_ns);
        g_array_append_vals(all, clients[i].lat->data, clients[i].lat->len);
        g_array_unref(clients[i].lat);
    }
    g_array_sort(all, vdBenchCompareNs);
    row->count += all->len;
    {
        double rps = end > start ? all->len / ((end - start) / 1e9) : 0;
        double p50 = vdBenchPercentileUs(all, 0.50);
        double p99 = vdBenchPercentileUs(all, 0.99);
        double mean = 0;

        for (guint i = 0; i < all->len; i++)
            mean += g_array_index(all, gint64, i);
        mean = all->len ? mean / all->len / 1000.0 : 0;
        g_array_append_val(row->round_mean, mean);
        g_array_append_val(row->round_rps, rps);
        g_array_append_val(row->round_p50, p50);
        g_array_append_val(row->round_p99, p99);
    }
}

static int
vdBenchCompareDouble(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double
vdBenchMedian(GArray *values)
{
    if (values->len == 0)
        return 0;
    g_array_sort(values, vdBenchCompareDouble);
    if (values->len % 2)
        return g_array_index(values, double, values->len / 2);
    return (g_array_index(values, double, values->len / 2 - 1) +
            g_array_index(values, double, values->len / 2)) / 2;
}

static VdBenchRow *
vdBenchRowNew(const char *name, VdBenchKind kind, gboolean tls, int port, guint clients)
{
    VdBenchRow *row = g_new0(VdBenchRow, 1);

    row->name = name;
    row->kind = kind;
    row->tls = tls;
    row->port = port;
    row->clients = clients;
    row->round_rps = g_array_new(FALSE, FALSE, sizeof(double));
    row->round_p50 = g_array_new(FALSE, FALSE, sizeof(double));
    row->round_p99 = g_array_new(FALSE, FALSE, sizeof(double));
    row->round_mean = g_array_new(FALSE, FALSE, sizeof(double));
    return row;
}

static void
vdBenchRowFree(VdBenchRow *row)
{
    g_array_unref(row->round_rps);
    g_array_unref(row->round_p50);
    g_array_unref(row->round_p99);
    g_array_unref(row->round_mean);
    g_free(row->error);
    g_free(row);
}

static void
vdBenchRowFinish(VdBenchRow *row)
{
    row->rps = vdBenchMedian(row->round_rps);
    row->p50_us = vdBenchMedian(row->round_p50);
    row->p99_us = vdBenchMedian(row->round_p99);
    row->mean_us = vdBenchMedian(row->round_mean);
}

/* ---- main -------------------------------------------------------------- */

static gboolean
vdBenchParseClients(const char *text, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);

    vdBenchOpts.clients = g_array_new(FALSE, FALSE, sizeof(int));
    for (guint i = 0; parts[i]; i++) {
        guint64 n;

        if (!g_ascii_string_to_unsigned(g_strstrip(parts[i]), 10, 1, VD_BENCH_MAX_CLIENTS, &n,
                                        error))
            return FALSE;
        int count = n;

        g_array_append_val(vdBenchOpts.clients, count);
    }
    return vdBenchOpts.clients->len > 0;
}

static void
vdBenchPrintRow(const VdBenchRow *row, const VdBenchRow *floor)
{
    if (row->error) {
        printf("%-12s %7u  FAILED: %s\n", row->name, row->clients, row->error);
        return;
    }
    printf("%-12s %7u %9" G_GINT64_FORMAT " %9.0f %8.1f %8.1f %8.1f", row->name, row->clients,
           row->count, row->rps, row->p50_us, row->p99_us, row->mean_us);
    if (floor && !floor->error && floor->p50_us > 0 && floor->rps > 0)
        printf("  %-9s %6.2fx %7.2fx", floor->name, row->p50_us / floor->p50_us,
               row->rps / floor->rps);
    printf("\n");
}

int
main(int argc, char **argv)
{
    g_autofree char *clients_text = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GPtrArray) rows = g_ptr_array_new();
    gboolean failed = FALSE;
    g_autoptr(GString) goal = g_string_new(NULL);
    GOptionEntry entries[] = {
        { "host", 'a', 0, G_OPTION_ARG_STRING, &vdBenchOpts.host, "vdsmd address (127.0.0.1)",
          "HOST" },
        { "plain-port", 0, 0, G_OPTION_ARG_INT, &vdBenchOpts.plain_port,
          "port of a vdsmd with ssl=false (0: skip)", "PORT" },
        { "tls-port", 0, 0, G_OPTION_ARG_INT, &vdBenchOpts.tls_port,
          "port of a vdsmd with ssl=true (0: skip)", "PORT" },
        { "trust-store", 0, 0, G_OPTION_ARG_FILENAME, &vdBenchOpts.trust_store,
          "trust store of the TLS vdsmd (keys/, certs/)", "DIR" },
        { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &vdBenchOpts.duration,
          "seconds per row at most (3)", "SEC" },
        { "requests", 'n', 0, G_OPTION_ARG_INT64, &vdBenchOpts.requests,
          "requests per row at most (20000)", "N" },
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &vdBenchOpts.rounds,
          "runs of each row, alternating with its floor; medians are shown (3)", "N" },
        { "warmup", 'w', 0, G_OPTION_ARG_INT, &vdBenchOpts.warmup,
          "unrecorded requests per client before a row starts (50)", "N" },
        { "clients", 'c', 0, G_OPTION_ARG_STRING, &clients_text,
          "comma-separated client counts (1,16)", "LIST" },
        { "floor", 0, 0, G_OPTION_ARG_STRING, &vdBenchOpts.floor,
          "echo floor server: loop (one thread: epoll for TCP, GIO main loop for TLS) "
          "or threads (a blocking thread per connection) (loop)", "MODE" },
        { NULL },
    };

    vdBenchOpts.duration = 3;
    vdBenchOpts.requests = 20000;
    vdBenchOpts.warmup = 50;
    vdBenchOpts.rounds = 3;
    ctx = g_option_context_new("- Host.ping2 latency/throughput against vdsmd and an echo floor");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) ||
        !vdBenchParseClients(clients_text ? clients_text : "1,16", &error)) {
        fprintf(stderr, "ping-bench: %s\n", error ? error->message : "no client counts");
        return 2;
    }
    if (!vdBenchOpts.host)
        vdBenchOpts.host = g_strdup("127.0.0.1");
    if (!vdBenchOpts.floor)
        vdBenchOpts.floor = g_strdup("loop");
    if (!g_str_equal(vdBenchOpts.floor, "loop") && !g_str_equal(vdBenchOpts.floor, "threads")) {
        fprintf(stderr, "ping-bench: --floor is loop or threads\n");
        return 2;
    }
    if (!vdBenchOpts.plain_port && !vdBenchOpts.tls_port) {
        fprintf(stderr, "ping-bench: give --plain-port and/or --tls-port\n");
        return 2;
    }
    if (vdBenchOpts.duration <= 0 || vdBenchOpts.requests <= 0 || vdBenchOpts.warmup < 1 ||
        vdBenchOpts.rounds < 1) {
        fprintf(stderr, "ping-bench: --duration, --requests, --rounds and --warmup must be > 0\n");
        return 2;
    }
    if (vdBenchOpts.tls_port) {
        if (!vdBenchOpts.trust_store) {
            fprintf(stderr, "ping-bench: --tls-port needs --trust-store\n");
            return 2;
        }
        if (!vdBenchTlsLoad(vdBenchOpts.trust_store, &error)) {
            fprintf(stderr, "ping-bench: %s: %s\n", vdBenchOpts.trust_store, error->message);
            return 1;
        }
    }
    g_mutex_init(&vdBenchShared.lock);
    g_cond_init(&vdBenchShared.cond);

    /* one probe request measures the wire sizes the floor must move */
    {
        VdBenchStomp probe;
        gboolean tls = vdBenchOpts.plain_port == 0;
        char id[37];

        if (!vdBenchStompOpen(&probe, tls ? vdBenchOpts.tls_port : vdBenchOpts.plain_port, tls,
                              9999, &error) ||
            !vdBenchStompPing(&probe, &error)) {
            fprintf(stderr, "ping-bench: probe request to %s:%d failed: %s\n", vdBenchOpts.host,
                    tls ? vdBenchOpts.tls_port : vdBenchOpts.plain_port, error->message);
            vdBenchStompClear(&probe);
            return 1;
        }
        vdBenchStompBuildSend(&probe, id);
        vdBenchFloor.request_size = probe.out->len;
        vdBenchFloor.reply_size = probe.last_reply_bytes;
        printf("ping-bench: Host.ping2, SEND frame %zu bytes, reply MESSAGE %zu bytes: %s\n",
               vdBenchFloor.request_size, vdBenchFloor.reply_size, probe.last_reply_body);
        vdBenchStompClear(&probe);
    }
    if (!vdBenchFloorStart(vdBenchOpts.tls_port != 0, g_str_equal(vdBenchOpts.floor, "threads"),
                           &error)) {
        fprintf(stderr, "ping-bench: %s\n", error->message);
        return 1;
    }
    {
        g_autofree char *loadavg = NULL;

        g_file_get_contents("/proc/loadavg", &loadavg, NULL, NULL);
        printf("ping-bench: %u CPUs, load average %s", g_get_num_processors(),
               loadavg ? loadavg : "unknown\n");
    }
    printf("ping-bench: each run %.1f s or %" G_GINT64_FORMAT " requests, whichever first, "
           "after %d warm-up requests per client; one request in flight per client; "
           "%d runs per row, alternating with the floor; figures are medians of the runs; "
           "requests = total over the runs\n",
           vdBenchOpts.duration, vdBenchOpts.requests, vdBenchOpts.warmup, vdBenchOpts.rounds);
    printf("ping-bench: floor = echo server in this process on 127.0.0.1, %s "
           "(request %zu B in, reply %zu B out)\n\n",
           g_str_equal(vdBenchOpts.floor, "threads") ? "a blocking thread per connection"
                                                     : "one thread: epoll (TCP), GIO main loop (TLS)",
           vdBenchFloor.request_size, vdBenchFloor.reply_size);
    printf("%-12s %7s %9s %9s %8s %8s %8s  %-9s %7s %8s\n", "row", "clients", "requests",
           "req/s", "p50(us)", "p99(us)", "mean(us)", "floor", "p50 x", "req/s x");

    for (int tls = 0; tls <= 1; tls++) {
        int port = tls ? vdBenchOpts.tls_port : vdBenchOpts.plain_port;

        if (!port)
            continue;
        for (guint i = 0; i < vdBenchOpts.clients->len; i++) {
            guint n = g_array_index(vdBenchOpts.clients, int, i);
            VdBenchRow *floor = vdBenchRowNew(tls ? "echo-tls" : "echo-tcp", VD_BENCH_ECHO, tls,
                                              tls ? vdBenchFloor.tls_port
                                                  : vdBenchFloor.plain_port, n);
            VdBenchRow *row = vdBenchRowNew(tls ? "stomp-tls" : "stomp-plain", VD_BENCH_STOMP,
                                            tls, port, n);

            /* alternate floor and vdsmd so a change in background load hits both */
            for (int r = 0; r < vdBenchOpts.rounds && !floor->error && !row->error; r++) {
                vdBenchRunRow(floor);
                vdBenchRunRow(row);
            }
            vdBenchRowFinish(floor);
            vdBenchRowFinish(row);
            vdBenchPrintRow(floor, NULL);
            vdBenchPrintRow(row, floor);
            fflush(stdout);
            failed |= floor->error || row->error;
            if (!tls && !row->error && !floor->error) {
                gboolean ok = row->p50_us <= 3 * floor->p50_us;

                g_string_append_printf(goal, "%s%u client%s %.2fx %s (mean %.2fx)",
                                       goal->len ? ", " : "", n, n == 1 ? "" : "s",
                                       row->p50_us / floor->p50_us, ok ? "met" : "NOT met",
                                       row->mean_us / floor->mean_us);
            }
            g_ptr_array_add(rows, floor);
            g_ptr_array_add(rows, row);
        }
    }
    if (goal->len)
        printf("\ngoal, plain TCP p50 within 3x the echo floor: %s\n", goal->str);
    for (guint i = 0; g_str_equal(vdBenchOpts.floor, "loop") && i < vdBenchOpts.clients->len;
         i++) {
        if ((guint)g_array_index(vdBenchOpts.clients, int, i) > g_get_num_processors()) {
            printf("note: with more clients than CPUs the one-thread floor answers in bursts and a "
                   "client's latency depends on when it gets a CPU back, so the floor's p50 sits "
                   "far below its mean; compare req/s and mean for those rows (or run with "
                   "--floor threads)\n");
            break;
        }
    }
    for (guint i = 0; i < rows->len; i++)
        vdBenchRowFree(rows->pdata[i]);
    return failed ? 1 : 0;
}
