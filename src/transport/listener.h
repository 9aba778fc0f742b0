/* listener.h - the one API listener: TCP, optional TLS, protocol detection.
 *
 * DESIGN: main loop only.  A GSocketService accepts connections on
 * [addresses] management_ip:management_port ("::" falls back to 0.0.0.0
 * without IPv6).  With [vars] ssl each socket first completes an async TLS
 * handshake as server, with a client certificate required and checked
 * against the CA of the trust store.  The first bytes then pick the
 * protocol: "POST /", "GET /" or "PUT /" go to HTTP, a STOMP command line
 * to STOMP, anything else is closed.  Handshake plus detection must finish
 * within [vars] ssl_handshake_timeout seconds.  A second, plain listener
 * that serves only HTTP routes (GET /metrics for scrapers without client
 * certificates) is built from [metrics] http_port.  At most
 * [stomp] max_connections connections are open; more are closed at once.
 */
#pragma once

#include "http.h"
#include "stomp-server.h"

typedef struct _VdListener VdListener;

typedef struct {
    const char *address;  /* "::" falls back to 0.0.0.0 without IPv6 */
    gint64 port;          /* 0: any free port */
    gboolean tls;         /* TLS with a required client certificate */
    gboolean stomp;       /* accept STOMP */
    gboolean http;        /* accept HTTP */
} VdListenerOptions;

/* Loads the certificates and binds the port (so it can run before
 * privileges are dropped); accepting starts with vdListenerStart.  The
 * API listener takes its options from [addresses] and [vars]. */
VdListener *vdListenerNew(VdStompServer *stomp, VdHttpServer *http, GError **error);
VdListener *vdListenerNewWith(const VdListenerOptions *opts, VdStompServer *stomp,
                              VdHttpServer *http, GError **error);
void vdListenerStart(VdListener *listener);
guint16 vdListenerPort(VdListener *listener);
void vdListenerFree(VdListener *listener);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdListener, vdListenerFree)
