/* http.h - the plain JSON-RPC-over-HTTP endpoint (POST /jsonrpc).
 *
 * DESIGN: main loop only.  One request at a time per connection (HTTP/1.1
 * keep-alive without pipelining: bytes that arrive while a request runs are
 * buffered, bounded by the frame limit).  A body goes to the same rpc
 * dispatcher as STOMP; the reply is the JSON-RPC response with status 200
 * (204 when there is nothing to answer).  Other paths can be routed to
 * handlers registered with vdHttpRoutesAdd (used for GET /metrics); the
 * route table is process-wide and only touched on the main loop.
 */
#pragma once

#include "connection.h"
#include "dispatcher.h"

typedef struct _VdHttpServer VdHttpServer;

/* A route handler runs on the main loop and must not block; it returns the
 * body and sets *content_type (static string), or NULL with an HTTP status
 * in *status. */
typedef GBytes *(*VdHttpRouteFunc)(const char *path, const char **content_type, int *status,
                                   gpointer user_data);

/* @rpc NULL: a server without the JSON-RPC endpoint (the plain metrics
 * port), which serves only the routes. */
VdHttpServer *vdHttpServerNew(VdRpcServer *rpc, GError **error);
void vdHttpServerFree(VdHttpServer *srv);

/* Register a route for every HTTP server of the process (the API port
 * and the plain metrics port alike).  Main loop only; before serving. */
void vdHttpRoutesAdd(const char *method, const char *path, VdHttpRouteFunc func,
                     gpointer user_data);
void vdHttpServerAttach(VdHttpServer *srv, VdConn *conn, const char *data, gsize len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdHttpServer, vdHttpServerFree)
