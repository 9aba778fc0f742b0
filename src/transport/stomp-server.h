/* stomp-server.h - VDSM's STOMP 1.2 server and its built-in mini-broker.
 *
 * DESIGN: main loop only.  Each STOMP client is a VdStompClient bound to a
 * VdConn; its frames are decoded with the pure codec (stomp-frame.h) and
 * handled in order.  Subscriptions live in one process-wide map
 * destination -> subscriptions (VDSM's StompServer) plus a per-client map
 * id -> subscription; closing a client removes all of its subscriptions.
 * SEND to a request queue hands the body to the rpc dispatcher with the
 * frame's reply-to; the reply is sent, when it is ready, as a MESSAGE to
 * every subscriber of that destination on any connection.  Heart-beats use
 * one ready-time GSource per direction, re-armed lazily from the
 * connection's last read/write time, so an idle client costs no wake-ups
 * beyond its own heart-beat interval.
 */
#pragma once

#include "connection.h"
#include "dispatcher.h"

typedef struct _VdStompServer VdStompServer;

/* Reads [addresses] request_queues, event_queue and the [stomp] limits;
 * installs itself as the event sink. */
VdStompServer *vdStompServerNew(VdRpcServer *rpc, GError **error);
void vdStompServerFree(VdStompServer *srv);

/* Take over @conn; @data are the bytes already read by protocol detection. */
void vdStompServerAttach(VdStompServer *srv, VdConn *conn, const char *data, gsize len);

/* Send @body as a MESSAGE to every subscriber of @destination; returns the
 * number of subscriptions it went to. */
guint vdStompServerPublish(VdStompServer *srv, const char *destination, const char *body,
                           gsize len);

/* Number of STOMP clients connected (for stats and tests). */
guint vdStompServerClientCount(VdStompServer *srv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdStompServer, vdStompServerFree)
