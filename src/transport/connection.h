/* connection.h - one client connection: async reads, a bounded write queue.
 *
 * DESIGN: everything here runs on the main loop.  A VdConn wraps the
 * GIOStream of an accepted socket (plain, or the GTlsServerConnection on
 * top of it) and uses its pollable, non-blocking side: one persistent
 * source reads whatever arrived and hands each chunk to the protocol's
 * on_data callback; a write goes straight to the socket, and only what
 * the socket does not take is queued, with an output source attached
 * until the queue drains.  When more than max_outgoing bytes are queued
 * the client is not reading and the connection is closed (it can never
 * block the daemon or grow memory without bound).  A VdConn is reference
 * counted because replies computed on workers may outlive the socket;
 * after close every write is dropped.
 */
#pragma once

#include <gio/gio.h>

typedef struct _VdConn VdConn;

typedef void (*VdConnDataFunc)(VdConn *conn, const char *data, gsize len, gpointer user_data);
typedef void (*VdConnCloseFunc)(VdConn *conn, gpointer user_data);

VdConn *vdConnNew(GIOStream *stream, GSocketConnection *socket_conn, gsize max_outgoing);
VdConn *vdConnRef(VdConn *conn);
void vdConnUnref(VdConn *conn);

/* Install the protocol callbacks and start reading.  @on_close runs once,
 * when the peer goes away, a read or write fails, or vdConnClose is called. */
void vdConnStart(VdConn *conn, VdConnDataFunc on_data, VdConnCloseFunc on_close,
                 gpointer user_data);
/* Change the callbacks (protocol detection hands the connection over). */
void vdConnSetHandlers(VdConn *conn, VdConnDataFunc on_data, VdConnCloseFunc on_close,
                       gpointer user_data);

/* A hook that runs after on_close, whoever owns the protocol (the listener
 * uses it to count open connections). */
void vdConnSetCloseHook(VdConn *conn, VdConnCloseFunc hook, gpointer user_data);

/* Queue @bytes; returns -1 (and closes) when the queue limit is passed. */
int vdConnWrite(VdConn *conn, GBytes *bytes);
int vdConnWriteData(VdConn *conn, const void *data, gsize len);

/* Close now (pending writes are dropped). */
void vdConnClose(VdConn *conn, const char *reason);
/* Stop reading, flush what is queued, then close. */
void vdConnCloseAfterFlush(VdConn *conn, const char *reason);

/* TRUE once closed or closing (no more input is handled). */
gboolean vdConnIsClosed(VdConn *conn);
const char *vdConnPeerAddress(VdConn *conn);  /* "1.2.3.4" or "::1" */
const char *vdConnLocalAddress(VdConn *conn);
const char *vdConnName(VdConn *conn);         /* "1.2.3.4:5678" for logs */
gint64 vdConnLastRead(VdConn *conn);          /* monotonic µs */
gint64 vdConnLastWrite(VdConn *conn);         /* monotonic µs of last queued write */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdConn, vdConnUnref)
