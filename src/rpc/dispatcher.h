/* dispatcher.h - runs JSON-RPC requests on a bounded worker pool.
 *
 * DESIGN: vdRpcServerHandle is called on the main loop with one request
 * body.  Everything cheap happens there: parsing, the ready gate (99),
 * method lookup (-32601), parameter binding (-32602) and the queue check
 * (1100).  Each valid call becomes one task on a GThreadPool of
 * [rpc] worker_threads threads with at most worker_threads*tasks_per_worker
 * tasks waiting.  The worker that finishes the last call of a message
 * serializes the reply (an array for a batch) and hands it to the main
 * loop, where the transport's reply callback runs.  No state is shared
 * with workers except the per-message response slots, each written by one
 * worker, and an atomic counter of calls still running.
 */
#pragma once

#include <gio/gio.h>

typedef struct _VdRpcServer VdRpcServer;

typedef struct {
    const char *flow_id;       /* ovirtCorrelationId or NULL */
    const char *peer_address;  /* client IP or NULL */
    const char *local_address; /* our IP the request came to, or NULL */
} VdRpcOrigin;

/* Called on the main loop once per request body; @reply is NULL when
 * nothing is to be sent (only notifications). */
typedef void (*VdRpcReplyFunc)(GBytes *reply, gpointer user_data);

/* Reads [rpc] worker_threads, tasks_per_worker, slow_call_threshold. */
VdRpcServer *vdRpcServerNew(GMainContext *context, GError **error);
void vdRpcServerFree(VdRpcServer *srv);

/* Until set ready every request is answered 99 and events are dropped. */
void vdRpcServerSetReady(VdRpcServer *srv, gboolean ready);

/* @over_limit: the transport's per-connection pending limit is reached;
 * every call of this body is answered 1100 without running. */
void vdRpcServerHandle(VdRpcServer *srv, const char *body, gsize len, const VdRpcOrigin *origin,
                       gboolean over_limit, VdRpcReplyFunc cb, gpointer user_data,
                       GDestroyNotify destroy);

/* Calls queued or running right now (for tests and stats). */
guint vdRpcServerInFlight(VdRpcServer *srv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdRpcServer, vdRpcServerFree)
