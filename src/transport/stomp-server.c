/* stomp-server.c - see stomp-server.h for the design. */
#include "stomp-server.h"

#include "config.h"
#include "events.h"
#include "stomp-frame.h"
#include "vd-error.h"

#include <string.h>

/* The server forgives a late client heart-beat by this factor.  VDSM has no
 * grace; a little avoids dropping clients on scheduling jitter while still
 * detecting a dead peer within 1.5 intervals. */
#define VD_STOMP_INBOUND_GRACE 1.5

typedef struct _VdStompClient VdStompClient;

typedef struct {
    VdStompClient *client; /* not a reference: the subscription dies with the client */
    char *id;
    char *destination;
} VdStompSub;

struct _VdStompServer {
    VdRpcServer *rpc;
    GStrv request_queues;
    char *event_queue;
    gsize max_frame;
    gsize max_header;
    guint max_subscriptions;
    guint max_pending;
    guint min_heartbeat;
    GHashTable *destinations; /* destination -> GPtrArray of VdStompSub* */
    GHashTable *clients;      /* VdStompClient* set */
};

struct _VdStompClient {
    gint refs;
    VdStompServer *srv; /* NULL once the client is closed */
    VdConn *conn;
    VdStompParser *parser;
    GHashTable *subs; /* id -> VdStompSub* (owned here) */
    guint pending;
    gboolean connected;
    guint64 out_interval_us;
    guint64 in_interval_us;
    GSource *out_beat;
    GSource *in_beat;
};

/* A source that only fires at its ready time. */
static gboolean
vdStompTimerDispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    return callback(user_data);
}

static GSourceFuncs vdStompTimerFuncs = {
    .dispatch = vdStompTimerDispatch,
};

static GSource *
vdStompTimerNew(GSourceFunc cb, gpointer data, gint64 ready_time)
{
    GSource *source = g_source_new(&vdStompTimerFuncs, sizeof(GSource));

    g_source_set_callback(source, cb, data, NULL);
    g_source_set_ready_time(source, ready_time);
    g_source_attach(source, NULL);
    return source;
}

static VdStompClient *
vdStompClientRef(VdStompClient *client)
{
    client->refs++;
    return client;
}

static void
vdStompClientUnref(VdStompClient *client)
{
    if (!client || --client->refs > 0)
        return;
    vdConnUnref(client->conn);
    vdStompParserFree(client->parser);
    g_hash_table_unref(client->subs);
    g_free(client);
}

static void
vdStompSubFree(gpointer data)
{
    VdStompSub *sub = data;

    g_free(sub->id);
    g_free(sub->destination);
    g_free(sub);
}

static void
vdStompBrokerRemove(VdStompServer *srv, VdStompSub *sub)
{
    GPtrArray *list = g_hash_table_lookup(srv->destinations, sub->destination);

    if (!list)
        return;
    g_ptr_array_remove(list, sub);
    if (list->len == 0)
        g_hash_table_remove(srv->destinations, sub->destination);
}

static void
vdStompClientDetach(VdStompClient *client)
{
    GHashTableIter iter;
    gpointer value;

    if (!client->srv)
        return;
    g_hash_table_iter_init(&iter, client->subs);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        vdStompBrokerRemove(client->srv, value);
    g_hash_table_remove_all(client->subs);
    if (client->out_beat) {
        g_source_destroy(client->out_beat);
        g_clear_pointer(&client->out_beat, g_source_unref);
    }
    if (client->in_beat) {
        g_source_destroy(client->in_beat);
        g_clear_pointer(&client->in_beat, g_source_unref);
    }
    g_hash_table_remove(client->srv->clients, client);
    client->srv = NULL;
}

static void
vdStompClientOnClose(VdConn *conn, gpointer user_data)
{
    VdStompClient *client = user_data;

    vdStompClientDetach(client);
    vdStompClientUnref(client);
}

/* Send a frame to one client. */
static void
vdStompClientSend(VdStompClient *client, const char *command, const char *const *headers,
                  const char *body, gsize len)
{
    GByteArray *out = g_byte_array_sized_new(128 + len);
    GBytes *bytes;

    vdStompEncode(out, command, headers, body, len);
    bytes = g_byte_array_free_to_bytes(out);
    vdConnWrite(client->conn, bytes);
    g_bytes_unref(bytes);
}

static void
vdStompClientError(VdStompClient *client, const VdStompFrame *frame, const char *message,
                   gboolean fatal)
{
    const char *receipt = frame ? vdStompFrameGetHeader(frame, "receipt") : NULL;
    const char *headers[] = { "message", message, "content-type", "text/plain",
                              receipt ? "receipt-id" : NULL, receipt, NULL };

    g_info("STOMP error to %s: %s", vdConnName(client->conn), message);
    vdStompClientSend(client, "ERROR", headers, message, strlen(message));
    if (fatal)
        vdConnCloseAfterFlush(client->conn, message);
}

static void
vdStompClientReceipt(VdStompClient *client, const VdStompFrame *frame)
{
    const char *receipt = vdStompFrameGetHeader(frame, "receipt");
    const char *headers[] = { "receipt-id", receipt, NULL };

    if (receipt)
        vdStompClientSend(client, "RECEIPT", headers, NULL, 0);
}

/* Send a MESSAGE to every subscriber of @destination.  The frame's
 * destination header is @header_destination (the mini-broker keeps the
 * SEND's own destination when delivering to a prefix subscriber). */
static guint
vdStompDeliver(VdStompServer *srv, const char *destination, const char *header_destination,
               const char *const *extra_headers, const char *body, gsize len)
{
    GPtrArray *list = g_hash_table_lookup(srv->destinations, destination);
    guint count = 0;

    if (!list)
        return 0;
    /* A copy: a write error may close a client and edit the list. */
    g_autoptr(GPtrArray) subs = g_ptr_array_copy(list, NULL, NULL);
    const char *headers[64];
    guint n = 0;

    headers[n++] = "destination";
    headers[n++] = header_destination;
    headers[n++] = "content-type";
    headers[n++] = "application/json";
    headers[n++] = "subscription";
    n++; /* the subscription id, per subscriber */
    for (guint j = 0; extra_headers && extra_headers[j] && n + 3 < G_N_ELEMENTS(headers); j += 2) {
        if (g_str_equal(extra_headers[j], "destination") ||
            g_str_equal(extra_headers[j], "subscription") ||
            g_str_equal(extra_headers[j], "content-type") ||
            g_str_equal(extra_headers[j], "content-length"))
            continue;
        headers[n++] = extra_headers[j];
        headers[n++] = extra_headers[j + 1];
    }
    headers[n] = NULL;
    for (guint i = 0; i < subs->len; i++) {
        VdStompSub *sub = g_ptr_array_index(subs, i);
        GPtrArray *live = g_hash_table_lookup(srv->destinations, destination);

        /* An earlier send may have closed (and freed) this subscription. */
        if (!live || !g_ptr_array_find(live, sub, NULL))
            continue;
        headers[5] = sub->id;
        vdStompClientSend(sub->client, "MESSAGE", headers, body, len);
        count++;
    }
    return count;
}

guint
vdStompServerPublish(VdStompServer *srv, const char *destination, const char *body, gsize len)
{
    return vdStompDeliver(srv, destination, destination, NULL, body, len);
}

static void
vdStompEventSink(const char *text, gsize len, gpointer user_data)
{
    VdStompServer *srv = user_data;

    vdStompServerPublish(srv, srv->event_queue, text, len);
}

/* ---- heart-beats ---- */

static gboolean
vdStompOutBeat(gpointer data)
{
    VdStompClient *client = data;
    gint64 due = vdConnLastWrite(client->conn) + (gint64)client->out_interval_us;

    if (g_get_monotonic_time() >= due) {
        vdConnWriteData(client->conn, "\n", 1);
        due = g_get_monotonic_time() + (gint64)client->out_interval_us;
    }
    if (client->out_beat)
        g_source_set_ready_time(client->out_beat, due);
    return G_SOURCE_CONTINUE;
}

static gboolean
vdStompInBeat(gpointer data)
{
    VdStompClient *client = data;
    gint64 limit = (gint64)(client->in_interval_us * VD_STOMP_INBOUND_GRACE);
    gint64 due = vdConnLastRead(client->conn) + limit;

    if (g_get_monotonic_time() >= due) {
        g_info("client %s sent no heart-beat for %.1f s: disconnecting",
               vdConnName(client->conn), limit / 1e6);
        vdConnClose(client->conn, "heart-beat timeout");
        return G_SOURCE_REMOVE;
    }
    if (client->in_beat)
        g_source_set_ready_time(client->in_beat, due);
    return G_SOURCE_CONTINUE;
}

static guint64
vdStompParseBeat(const char *text, guint min)
{
    guint64 v;
    char *end = NULL;

    if (!text || !*text)
        return 0;
    v = g_ascii_strtoull(text, &end, 10);
    if (end == text || v > 24ULL * 3600 * 1000)
        return 0;
    if (v > 0 && v < min)
        v = min;
    return v;
}

/* ---- commands ---- */

static void
vdStompCmdConnect(VdStompClient *client, const VdStompFrame *frame)
{
    const char *version = vdStompFrameGetHeader(frame, "accept-version");
    const char *beat = vdStompFrameGetHeader(frame, "heart-beat");
    g_auto(GStrv) versions = NULL;
    g_auto(GStrv) beats = NULL;
    guint64 cx = 0, cy = 0;
    g_autofree char *reply_beat = NULL;
    gboolean ok = FALSE;

    if (version) {
        versions = g_strsplit(version, ",", -1);
        for (gsize i = 0; versions[i]; i++)
            ok |= g_str_equal(g_strstrip(versions[i]), "1.2");
    }
    if (!ok) {
        vdStompClientError(client, frame, "Version unsupported", TRUE);
        return;
    }
    if (beat) {
        beats = g_strsplit(beat, ",", 2);
        cx = vdStompParseBeat(beats[0], client->srv->min_heartbeat);
        if (beats[0] && beats[1])
            cy = vdStompParseBeat(beats[1], client->srv->min_heartbeat);
        if (!beats[0] || !beats[1])
            cx = cy = 0;
    }
    client->connected = TRUE;
    reply_beat = g_strdup_printf("%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT, cy, cx);
    {
        const char *headers[] = { "version", "1.2", "heart-beat", reply_beat, NULL };

        vdStompClientSend(client, "CONNECTED", headers, NULL, 0);
    }
    if (client->out_beat) {
        g_source_destroy(client->out_beat);
        g_clear_pointer(&client->out_beat, g_source_unref);
    }
    if (client->in_beat) {
        g_source_destroy(client->in_beat);
        g_clear_pointer(&client->in_beat, g_source_unref);
    }
    client->out_interval_us = cy * 1000;
    client->in_interval_us = cx * 1000;
    if (cy)
        client->out_beat = vdStompTimerNew(vdStompOutBeat, client,
                                           g_get_monotonic_time() + (gint64)cy * 1000);
    if (cx)
        client->in_beat = vdStompTimerNew(vdStompInBeat, client,
                                          g_get_monotonic_time() +
                                              (gint64)(cx * 1000 * VD_STOMP_INBOUND_GRACE));
}

static void
vdStompCmdSubscribe(VdStompClient *client, const VdStompFrame *frame)
{
    VdStompServer *srv = client->srv;
    const char *destination = vdStompFrameGetHeader(frame, "destination");
    const char *id = vdStompFrameGetHeader(frame, "id");
    VdStompSub *sub;
    GPtrArray *list;

    if (!destination || !id) {
        vdStompClientError(client, frame, "Missing destination or subscription id header",
                           FALSE);
        return;
    }
    if (g_hash_table_contains(client->subs, id)) {
        vdStompClientError(client, frame, "Subscription id already exists", FALSE);
        return;
    }
    if (g_hash_table_size(client->subs) >= srv->max_subscriptions) {
        vdStompClientError(client, frame, "Too many subscriptions on this connection", FALSE);
        return;
    }
    sub = g_new0(VdStompSub, 1);
    sub->client = client;
    sub->id = g_strdup(id);
    sub->destination = g_strdup(destination);
    g_hash_table_insert(client->subs, sub->id, sub);
    list = g_hash_table_lookup(srv->destinations, destination);
    if (!list) {
        list = g_ptr_array_new();
        g_hash_table_insert(srv->destinations, g_strdup(destination), list);
    }
    g_ptr_array_add(list, sub);
    vdStompClientReceipt(client, frame);
}

static void
vdStompCmdUnsubscribe(VdStompClient *client, const VdStompFrame *frame)
{
    const char *id = vdStompFrameGetHeader(frame, "id");
    VdStompSub *sub;

    if (!id) {
        vdStompClientError(client, frame, "Missing id header", FALSE);
        return;
    }
    sub = g_hash_table_lookup(client->subs, id);
    if (sub) {
        vdStompBrokerRemove(client->srv, sub);
        g_hash_table_remove(client->subs, id);
    }
    vdStompClientReceipt(client, frame);
}

typedef struct {
    VdStompClient *client; /* a reference */
    VdStompServer *srv;
    char *reply_to;
} VdStompRequest;

static void
vdStompRequestFree(gpointer data)
{
    VdStompRequest *req = data;

    req->client->pending--;
    vdStompClientUnref(req->client);
    g_free(req->reply_to);
    g_free(req);
}

static void
vdStompRequestReply(GBytes *reply, gpointer data)
{
    VdStompRequest *req = data;
    gsize len = 0;
    const char *body;

    if (!reply)
        return;
    if (!req->reply_to) {
        g_debug("reply dropped: request had no reply-to");
        return;
    }
    body = g_bytes_get_data(reply, &len);
    if (vdStompServerPublish(req->srv, req->reply_to, body, len) == 0)
        g_debug("reply dropped: nobody subscribes to %s", req->reply_to);
}

static gboolean
vdStompIsRequestQueue(VdStompServer *srv, const char *destination)
{
    for (gsize i = 0; srv->request_queues[i]; i++) {
        const char *q = srv->request_queues[i];
        gsize n = strlen(q);

        if (g_str_equal(destination, q) ||
            (g_str_has_prefix(destination, q) && destination[n] == '.'))
            return TRUE;
    }
    return FALSE;
}

static void
vdStompCmdSend(VdStompClient *client, const VdStompFrame *frame)
{
    VdStompServer *srv = client->srv;
    const char *destination = vdStompFrameGetHeader(frame, "destination");
    g_autoptr(GPtrArray) headers = g_ptr_array_new();
    g_autofree char *prefix = NULL;
    guint delivered = 0;

    if (!destination) {
        vdStompClientError(client, frame, "Missing destination header", FALSE);
        return;
    }
    /* The mini-broker: every subscriber of the destination or of one of its
     * dot-separated prefixes gets a copy with the original headers. */
    for (guint i = 0; i < frame->headers->len; i++) {
        VdStompHeader *h = &g_array_index(frame->headers, VdStompHeader, i);

        g_ptr_array_add(headers, h->key);
        g_ptr_array_add(headers, h->value);
    }
    g_ptr_array_add(headers, NULL);
    prefix = g_strdup(destination);
    for (char *dot = prefix; dot;) {
        dot = strchr(dot, '.');
        if (dot)
            *dot = '\0';
        delivered += vdStompDeliver(srv, prefix, destination, (const char *const *)headers->pdata,
                                    frame->body, frame->body_len);
        if (dot) {
            *dot = '.';
            dot++;
        }
    }

    if (vdStompIsRequestQueue(srv, destination)) {
        VdStompRequest *req = g_new0(VdStompRequest, 1);
        VdRpcOrigin origin = {
            .flow_id = vdStompFrameGetHeader(frame, "ovirtCorrelationId"),
            .peer_address = vdConnPeerAddress(client->conn),
            .local_address = vdConnLocalAddress(client->conn),
        };
        gboolean over = client->pending >= srv->max_pending;

        req->client = vdStompClientRef(client);
        req->srv = srv;
        req->reply_to = g_strdup(vdStompFrameGetHeader(frame, "reply-to"));
        client->pending++;
        vdStompClientReceipt(client, frame);
        vdRpcServerHandle(srv->rpc, frame->body, frame->body_len, &origin, over,
                          vdStompRequestReply, req, vdStompRequestFree);
        return;
    }
    if (delivered == 0) {
        vdStompClientError(client, frame, "Subscription not available", FALSE);
        return;
    }
    vdStompClientReceipt(client, frame);
}

static void
vdStompCmdDisconnect(VdStompClient *client, const VdStompFrame *frame)
{
    vdStompClientReceipt(client, frame);
    vdStompClientDetach(client);
    vdConnCloseAfterFlush(client->conn, "DISCONNECT");
}

static void
vdStompClientHandleFrame(VdStompClient *client, const VdStompFrame *frame)
{
    const char *cmd = frame->command;

    if (g_str_equal(cmd, "CONNECT") || g_str_equal(cmd, "STOMP"))
        vdStompCmdConnect(client, frame);
    else if (g_str_equal(cmd, "SEND"))
        vdStompCmdSend(client, frame);
    else if (g_str_equal(cmd, "SUBSCRIBE"))
        vdStompCmdSubscribe(client, frame);
    else if (g_str_equal(cmd, "UNSUBSCRIBE"))
        vdStompCmdUnsubscribe(client, frame);
    else if (g_str_equal(cmd, "DISCONNECT"))
        vdStompCmdDisconnect(client, frame);
    else {
        g_autofree char *msg = g_strdup_printf("Unknown command %.32s", cmd);

        vdStompClientError(client, frame, msg, TRUE);
    }
}

static void
vdStompClientOnData(VdConn *conn, const char *data, gsize len, gpointer user_data)
{
    VdStompClient *client = user_data;
    g_autoptr(GError) error = NULL;
    VdStompFrame *frame;
    int rc;

    if (!client->srv)
        return;
    vdStompClientRef(client);
    rc = vdStompParserFeed(client->parser, data, len, &error);
    vdStompParserTakeHeartbeats(client->parser);
    /* Frames completed before a parse error are still served. */
    while (client->srv && !vdConnIsClosed(conn) && (frame = vdStompParserPop(client->parser))) {
        vdStompClientHandleFrame(client, frame);
        vdStompFrameFree(frame);
    }
    if (rc < 0 && client->srv && !vdConnIsClosed(conn))
        vdStompClientError(client, NULL, error->message, TRUE);
    vdStompClientUnref(client);
}

void
vdStompServerAttach(VdStompServer *srv, VdConn *conn, const char *data, gsize len)
{
    VdStompClient *client = g_new0(VdStompClient, 1);

    client->refs = 1; /* owned by the connection until it closes */
    client->srv = srv;
    client->conn = vdConnRef(conn);
    client->parser = vdStompParserNew(srv->max_frame, srv->max_header);
    client->subs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, vdStompSubFree);
    g_hash_table_add(srv->clients, client);
    vdConnSetHandlers(conn, vdStompClientOnData, vdStompClientOnClose, client);
    if (len > 0)
        vdStompClientOnData(conn, data, len, client);
}

guint
vdStompServerClientCount(VdStompServer *srv)
{
    return g_hash_table_size(srv->clients);
}

VdStompServer *
vdStompServerNew(VdRpcServer *rpc, GError **error)
{
    g_autoptr(VdStompServer) srv = g_new0(VdStompServer, 1);
    gint64 max_frame = vdConfigGetInt("stomp", "max_frame_size");
    gint64 max_header = vdConfigGetInt("stomp", "max_header_size");

    if (max_frame < 1024 || max_header < 256 || max_header > max_frame) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION,
                    "[stomp] max_frame_size must be >= 1024 and max_header_size between 256 "
                    "and max_frame_size");
        return NULL;
    }
    srv->rpc = rpc;
    srv->max_frame = (gsize)max_frame;
    srv->max_header = (gsize)max_header;
    srv->max_subscriptions = (guint)CLAMP(vdConfigGetInt("stomp", "max_subscriptions"), 1, 100000);
    srv->max_pending = (guint)CLAMP(vdConfigGetInt("stomp", "max_pending_requests"), 1, 1000000);
    srv->min_heartbeat = (guint)CLAMP(vdConfigGetInt("stomp", "min_heartbeat"), 1, 3600000);
    srv->request_queues = g_strsplit(vdConfigGetString("addresses", "request_queues"), ",", -1);
    for (gsize i = 0; srv->request_queues[i]; i++)
        g_strstrip(srv->request_queues[i]);
    srv->event_queue = g_strdup(vdConfigGetString("addresses", "event_queue"));
    srv->destinations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify)g_ptr_array_unref);
    srv->clients = g_hash_table_new(NULL, NULL);
    vdEventSetSink(vdStompEventSink, srv, g_main_context_default());
    return g_steal_pointer(&srv);
}

void
vdStompServerFree(VdStompServer *srv)
{
    if (!srv)
        return;
    vdEventSetSink(NULL, NULL, NULL);
    if (srv->clients) {
        g_autoptr(GList) clients = g_hash_table_get_keys(srv->clients);

        for (GList *l = clients; l; l = l->next)
            vdConnClose(((VdStompClient *)l->data)->conn, "server shutdown");
        g_hash_table_unref(srv->clients);
    }
    if (srv->destinations)
        g_hash_table_unref(srv->destinations);
    g_strfreev(srv->request_queues);
    g_free(srv->event_queue);
    g_free(srv);
}
