/* http.c - see http.h for the design. */
#include "http.h"

#include "config.h"
#include "vd-error.h"

#include <string.h>

typedef struct {
    char *method;
    char *path;
    VdHttpRouteFunc func;
    gpointer user_data;
} VdHttpRoute;

struct _VdHttpServer {
    VdRpcServer *rpc; /* NULL: no JSON-RPC endpoint */
    gsize max_body;
    gsize max_header;
};

static GPtrArray *vdHttpRoutes; /* of VdHttpRoute, main loop only */

typedef struct {
    gint refs;
    VdHttpServer *srv; /* NULL once closed */
    VdConn *conn;
    GByteArray *buf;
    gboolean busy; /* a request is running */
    gboolean keep_alive;
} VdHttpClient;

static void vdHttpClientProcess(VdHttpClient *client);

static void
vdHttpClientUnref(VdHttpClient *client)
{
    if (!client || --client->refs > 0)
        return;
    vdConnUnref(client->conn);
    g_byte_array_unref(client->buf);
    g_free(client);
}

static void
vdHttpRespond(VdHttpClient *client, int status, const char *reason, const char *content_type,
              const void *body, gsize len)
{
    g_autofree char *head = NULL;

    head = g_strdup_printf("HTTP/1.1 %d %s\r\n"
                           "Content-Type: %s\r\n"
                           "Content-Length: %zu\r\n"
                           "Connection: %s\r\n\r\n",
                           status, reason, content_type ? content_type : "text/plain", len,
                           client->keep_alive ? "keep-alive" : "close");
    vdConnWriteData(client->conn, head, strlen(head));
    if (len)
        vdConnWriteData(client->conn, body, len);
    if (!client->keep_alive)
        vdConnCloseAfterFlush(client->conn, "HTTP response sent");
}

static void
vdHttpFail(VdHttpClient *client, int status, const char *reason)
{
    client->keep_alive = FALSE;
    vdHttpRespond(client, status, reason, "text/plain", reason, strlen(reason));
}

static void
vdHttpRpcReply(GBytes *reply, gpointer data)
{
    VdHttpClient *client = data;
    gsize len = 0;
    const char *body = reply ? g_bytes_get_data(reply, &len) : NULL;

    if (!client->srv || vdConnIsClosed(client->conn))
        return;
    if (reply)
        vdHttpRespond(client, 200, "OK", "application/json", body, len);
    else
        vdHttpRespond(client, 204, "No Content", "application/json", NULL, 0);
    client->busy = FALSE;
    vdHttpClientProcess(client);
}

static void
vdHttpRpcDone(gpointer data)
{
    vdHttpClientUnref(data);
}

/* Find the value of header @name in the header block (case-insensitive). */
static char *
vdHttpHeader(const char *block, const char *name)
{
    g_auto(GStrv) lines = g_strsplit(block, "\r\n", -1);
    gsize n = strlen(name);

    for (gsize i = 1; lines[i]; i++) {
        if (g_ascii_strncasecmp(lines[i], name, n) == 0 && lines[i][n] == ':')
            return g_strstrip(g_strdup(lines[i] + n + 1));
    }
    return NULL;
}

static void
vdHttpClientProcess(VdHttpClient *client)
{
    VdHttpServer *srv = client->srv;
    const char *data = (const char *)client->buf->data;
    const char *end;
    gsize head_len;
    g_autofree char *head = NULL;
    g_autofree char *clen = NULL;
    g_autofree char *connection = NULL;
    g_auto(GStrv) request_line = NULL;
    gint64 body_len = 0;

    if (!srv || client->busy || vdConnIsClosed(client->conn))
        return;
    end = g_strstr_len(data, client->buf->len, "\r\n\r\n");
    if (!end) {
        if (client->buf->len > srv->max_header)
            vdHttpFail(client, 431, "Request Header Fields Too Large");
        return;
    }
    head_len = (gsize)(end - data) + 4;
    head = g_strndup(data, head_len - 4);
    request_line = g_strsplit(head, " ", 3);
    if (!request_line[0] || !request_line[1] || !request_line[2] ||
        !g_str_has_prefix(request_line[2], "HTTP/1.")) {
        vdHttpFail(client, 400, "Bad Request");
        return;
    }
    connection = vdHttpHeader(head, "Connection");
    client->keep_alive = g_str_has_prefix(request_line[2], "HTTP/1.1")
                             ? !(connection && g_ascii_strcasecmp(connection, "close") == 0)
                             : (connection && g_ascii_strcasecmp(connection, "keep-alive") == 0);
    clen = vdHttpHeader(head, "Content-Length");
    if (clen) {
        char *stop = NULL;

        body_len = g_ascii_strtoll(clen, &stop, 10);
        if (stop == clen || *stop || body_len < 0) {
            vdHttpFail(client, 400, "Bad Content-Length");
            return;
        }
    }
    if ((gsize)body_len > srv->max_body) {
        vdHttpFail(client, 413, "Payload Too Large");
        return;
    }
    if (client->buf->len < head_len + (gsize)body_len)
        return; /* wait for the body */

    if (srv->rpc && g_str_equal(request_line[0], "POST") &&
        g_str_equal(request_line[1], "/jsonrpc")) {
        VdRpcOrigin origin = {
            .peer_address = vdConnPeerAddress(client->conn),
            .local_address = vdConnLocalAddress(client->conn),
        };
        g_autofree char *flow = vdHttpHeader(head, "ovirtCorrelationId");
        g_autofree char *body = NULL;

        if (!clen) {
            vdHttpFail(client, 411, "Length Required");
            return;
        }
        body = g_strndup(data + head_len, (gsize)body_len);
        origin.flow_id = flow;
        g_byte_array_remove_range(client->buf, 0, (guint)(head_len + (gsize)body_len));
        client->busy = TRUE;
        client->refs++;
        vdRpcServerHandle(srv->rpc, body, (gsize)body_len, &origin, FALSE, vdHttpRpcReply,
                          client, vdHttpRpcDone);
        return;
    }
    for (guint i = 0; vdHttpRoutes && i < vdHttpRoutes->len; i++) {
        VdHttpRoute *route = g_ptr_array_index(vdHttpRoutes, i);
        const char *content_type = NULL;
        int status = 500;
        g_autoptr(GBytes) out = NULL;
        gsize n = 0;
        const void *p;

        if (!g_str_equal(route->method, request_line[0]))
            continue;
        if (!g_str_equal(route->path, request_line[1]) &&
            !(g_str_has_prefix(request_line[1], route->path) &&
              request_line[1][strlen(route->path)] == '?'))
            continue;
        g_byte_array_remove_range(client->buf, 0, (guint)(head_len + (gsize)body_len));
        out = route->func(request_line[1], &content_type, &status, route->user_data);
        if (!out) {
            vdHttpFail(client, status, "Error");
            return;
        }
        p = g_bytes_get_data(out, &n);
        vdHttpRespond(client, 200, "OK", content_type, p, n);
        vdHttpClientProcess(client);
        return;
    }
    vdHttpFail(client, 404, "Not Found");
}

static void
vdHttpClientOnData(VdConn *conn, const char *data, gsize len, gpointer user_data)
{
    VdHttpClient *client = user_data;

    if (!client->srv)
        return;
    if (client->buf->len + len > client->srv->max_body + client->srv->max_header) {
        vdHttpFail(client, 413, "Payload Too Large");
        return;
    }
    g_byte_array_append(client->buf, (const guint8 *)data, (guint)len);
    vdHttpClientProcess(client);
}

static void
vdHttpClientOnClose(VdConn *conn, gpointer user_data)
{
    VdHttpClient *client = user_data;

    client->srv = NULL;
    vdHttpClientUnref(client);
}

void
vdHttpServerAttach(VdHttpServer *srv, VdConn *conn, const char *data, gsize len)
{
    VdHttpClient *client = g_new0(VdHttpClient, 1);

    client->refs = 1;
    client->srv = srv;
    client->conn = vdConnRef(conn);
    client->buf = g_byte_array_new();
    vdConnSetHandlers(conn, vdHttpClientOnData, vdHttpClientOnClose, client);
    if (len)
        vdHttpClientOnData(conn, data, len, client);
}

static void
vdHttpRouteFree(gpointer data)
{
    VdHttpRoute *route = data;

    g_free(route->method);
    g_free(route->path);
    g_free(route);
}

void
vdHttpRoutesAdd(const char *method, const char *path, VdHttpRouteFunc func, gpointer user_data)
{
    VdHttpRoute *route = g_new0(VdHttpRoute, 1);

    if (!vdHttpRoutes)
        vdHttpRoutes = g_ptr_array_new_with_free_func(vdHttpRouteFree);
    route->method = g_strdup(method);
    route->path = g_strdup(path);
    route->func = func;
    route->user_data = user_data;
    g_ptr_array_add(vdHttpRoutes, route);
}

VdHttpServer *
vdHttpServerNew(VdRpcServer *rpc, GError **error)
{
    VdHttpServer *srv = g_new0(VdHttpServer, 1);

    srv->rpc = rpc;
    srv->max_body = (gsize)vdConfigGetInt("stomp", "max_frame_size");
    srv->max_header = (gsize)vdConfigGetInt("stomp", "max_header_size");
    return srv;
}

void
vdHttpServerFree(VdHttpServer *srv)
{
    if (!srv)
        return;
    g_free(srv);
}
