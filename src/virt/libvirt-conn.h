/* libvirt-conn.h - the daemon's one connection to libvirtd.
 *
 * vdLibvirtGet opens the connection on first use ([vars] libvirt_uri) and
 * returns a new reference that the caller releases with virConnectClose
 * (g_autoptr(virConnect) works).  It is safe from any thread and never runs
 * on the main loop.  When libvirtd went away the next call reconnects.
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

virConnectPtr vdLibvirtGet(GError **error);

/* A new, private connection to the same URI (no keepalive, no events, no
 * hooks) that the caller owns and closes.  For pools that issue many
 * concurrent calls: libvirtd serves at most max_client_requests (5) calls
 * of one client connection at a time (docs/benchmarks-vm.md). */
virConnectPtr vdLibvirtOpenPrivate(GError **error);

/* The same, but a connection libvirt's event loop does not watch
 * (vdLibvirtEventsDeclineHandles): no keepalive, no events, no close
 * callback, and no wake-up of the event thread around each call, whose
 * thread does the socket I/O itself.  It finds out that libvirtd went away
 * only at its next call, which fails; virConnectIsAlive says so after that.
 * For callers that only make calls and check virConnectIsAlive before each
 * use (the VM sampler, the guest agent poller). */
virConnectPtr vdLibvirtOpenUnwatched(GError **error);

/* Turn the last libvirt error of this thread into @error with @code,
 * message "<what>: <libvirt message>". */
void vdLibvirtSetError(GError **error, int code, const char *what);

/* --- events, keepalive, reconnection (used by the VM layer) ------------
 * vdLibvirtStartEvents registers vdsmd's libvirt event loop (libvirt-events.h)
 * and runs it in a dedicated thread, enables keepalive on the connection, and starts
 * a keeper thread that connects at once and reconnects (with backoff)
 * whenever libvirt reports the connection closed.  Call it from main()
 * before anything else opens the connection; a connection opened earlier
 * is reopened.  vdLibvirtGet keeps working as before in both modes. */

/* Called with the connection lock held on the thread that just opened
 * (@on_connect) or is about to close (@on_close) a connection: register or
 * deregister callbacks only; never call vdLibvirtGet from it. */
typedef void (*VdLibvirtConnectHook)(virConnectPtr conn, gpointer data);
/* Called on libvirt's event thread when the connection died: must not
 * call libvirt. */
typedef void (*VdLibvirtDisconnectHook)(gpointer data);

void vdLibvirtSetHooks(VdLibvirtConnectHook on_connect, VdLibvirtDisconnectHook on_disconnect,
                       VdLibvirtConnectHook on_close, gpointer data);
void vdLibvirtStartEvents(void);
/* Stop the keeper and the event thread and close the connection (at exit). */
void vdLibvirtStopEvents(void);
/* TRUE while the connection is believed alive (any thread, no blocking). */
gboolean vdLibvirtIsConnected(void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
