/* libvirt-conn.c - see libvirt-conn.h.
 *
 * DESIGN: one cached virConnectPtr guarded by vdLibvirtLock.  Callers (rpc
 * workers, sampler threads, VM flows; never the main loop, since opening
 * a connection blocks) get their own reference, so a reconnect never
 * frees a connection another thread still uses.  The lock is held while
 * connecting: concurrent callers wait for that one attempt instead of each
 * opening a connection.  libvirt's default error handler, which prints
 * every error to stderr, is replaced once by a no-op; errors are read
 * per thread with virGetLastErrorMessage() and reported once, as a GError.
 *
 * With vdLibvirtStartEvents (the VM layer) three more threads of concern:
 *   - "libvirt-events" runs libvirt's event loop on a GMainContext of its
 *     own (libvirt-events.c; libvirt's default implementation would put
 *     it on the main loop's context), which carries domain events,
 *     keepalive pings and the close callback.  Callbacks must not block:
 *     the VM layer's copy their data and post it to the main loop.
 *   - "libvirt-keeper" (re)connects: at start and whenever the close
 *     callback reports the connection dead (libvirtd restarted, keepalive
 *     timed out), with a backoff from VD_LIBVIRT_RECONNECT_MIN_S doubling
 *     up to VD_LIBVIRT_RECONNECT_MAX_S.  Until it succeeds vdLibvirtGet
 *     fails fast with a "cannot connect" error, and callers keep using
 *     what they know.
 *   - whichever thread opens the connection calls the connect hook with
 *     the lock held, so the VM layer registers its domain events on every
 *     new connection before anyone else uses it.
 */
#include "libvirt-conn.h"

#include "config.h"
#include "libvirt-events.h"
#include "vd-error.h"

#include <libvirt/virterror.h>

/* Keepalive: a ping every 5 s, the connection is dead after 3 unanswered
 * ones (~15-20 s of a hung libvirtd). */
#define VD_LIBVIRT_KEEPALIVE_INTERVAL 5
#define VD_LIBVIRT_KEEPALIVE_COUNT 3
/* Reconnection backoff. */
#define VD_LIBVIRT_RECONNECT_MIN_S 0.1
#define VD_LIBVIRT_RECONNECT_MAX_S 2.0

static GMutex vdLibvirtLock;
static virConnectPtr vdLibvirtConn;

/* Event loop and keeper (vdLibvirtStartEvents). */
static gboolean vdLibvirtEventsOn;
static gint vdLibvirtQuit;  /* atomic */
static gint vdLibvirtAlive; /* atomic: the cached connection is believed alive */
static GThread *vdLibvirtKeeperThread;
static GMutex vdLibvirtKeeperLock;
static GCond vdLibvirtKeeperCond;
static gboolean vdLibvirtKeeperWake;
static VdLibvirtConnectHook vdLibvirtConnectHook;
static VdLibvirtDisconnectHook vdLibvirtDisconnectHook;
static VdLibvirtConnectHook vdLibvirtCloseHook;
static gpointer vdLibvirtHookData;

static void
vdLibvirtErrorIgnore(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
    /* errors are reported by the caller through vdLibvirtSetError */
}

static void
vdLibvirtInitOnce(void)
{
    static gsize once;

    if (g_once_init_enter(&once)) {
        if (virInitialize() < 0)
            g_warning("libvirt initialisation failed: %s", virGetLastErrorMessage());
        virSetErrorFunc(NULL, vdLibvirtErrorIgnore);
        g_once_init_leave(&once, 1);
    }
}

void
vdLibvirtSetError(GError **error, int code, const char *what)
{
    g_set_error(error, VD_ERROR, code, "%s: %s", what, virGetLastErrorMessage());
}

static void
vdLibvirtKeeperKick(void)
{
    g_mutex_lock(&vdLibvirtKeeperLock);
    vdLibvirtKeeperWake = TRUE;
    g_cond_signal(&vdLibvirtKeeperCond);
    g_mutex_unlock(&vdLibvirtKeeperLock);
}

/* libvirt's event thread: only flags and a wake-up, no libvirt calls. */
static void
vdLibvirtOnClose(virConnectPtr conn, int reason, void *opaque)
{
    static const char *const reasons[] = {"error", "end of file", "keepalive timeout",
                                          "client closed"};

    if (reason == VIR_CONNECT_CLOSE_REASON_CLIENT)
        return; /* our own virConnectClose */
    g_warning("libvirt connection closed: %s",
              reason >= 0 && (guint)reason < G_N_ELEMENTS(reasons) ? reasons[reason] : "unknown");
    g_atomic_int_set(&vdLibvirtAlive, 0);
    if (vdLibvirtDisconnectHook)
        vdLibvirtDisconnectHook(vdLibvirtHookData);
    vdLibvirtKeeperKick();
}

/* With vdLibvirtLock held. */
static void
vdLibvirtDropLocked(void)
{
    if (!vdLibvirtConn)
        return;
    if (vdLibvirtEventsOn) {
        if (vdLibvirtCloseHook)
            vdLibvirtCloseHook(vdLibvirtConn, vdLibvirtHookData);
        virConnectUnregisterCloseCallback(vdLibvirtConn, vdLibvirtOnClose);
    }
    virConnectClose(vdLibvirtConn);
    vdLibvirtConn = NULL;
    g_atomic_int_set(&vdLibvirtAlive, 0);
}

/* With vdLibvirtLock held. */
static virConnectPtr
vdLibvirtOpenLocked(const char *uri, GError **error)
{
    virConnectPtr conn = virConnectOpen(uri);

    if (!conn) {
        g_set_error(error, VD_ERROR, VD_ERR_UNEXPECTED, "cannot connect to libvirt at %s: %s", uri,
                    virGetLastErrorMessage());
        return NULL;
    }
    if (vdLibvirtEventsOn) {
        if (virConnectSetKeepAlive(conn, VD_LIBVIRT_KEEPALIVE_INTERVAL,
                                   VD_LIBVIRT_KEEPALIVE_COUNT) < 0)
            g_warning("libvirt keepalive not enabled: %s", virGetLastErrorMessage());
        if (virConnectRegisterCloseCallback(conn, vdLibvirtOnClose, NULL, NULL) < 0)
            g_warning("cannot watch the libvirt connection: %s", virGetLastErrorMessage());
    }
    g_atomic_int_set(&vdLibvirtAlive, 1);
    g_info("connected to libvirt at %s", uri);
    if (vdLibvirtEventsOn && vdLibvirtConnectHook)
        vdLibvirtConnectHook(conn, vdLibvirtHookData);
    return conn;
}

virConnectPtr
vdLibvirtGet(GError **error)
{
    const char *uri = vdConfigGetString("vars", "libvirt_uri");
    virConnectPtr conn;

    vdLibvirtInitOnce();
    g_mutex_lock(&vdLibvirtLock);
    if (vdLibvirtConn &&
        (!g_atomic_int_get(&vdLibvirtAlive) || virConnectIsAlive(vdLibvirtConn) != 1)) {
        g_warning("connection to libvirt (%s) lost; reconnecting", uri);
        vdLibvirtDropLocked();
    }
    if (!vdLibvirtConn)
        vdLibvirtConn = vdLibvirtOpenLocked(uri, error);
    conn = vdLibvirtConn;
    if (conn)
        virConnectRef(conn);
    g_mutex_unlock(&vdLibvirtLock);
    return conn;
}

static virConnectPtr
vdLibvirtOpenOwn(gboolean watched, GError **error)
{
    const char *uri = vdConfigGetString("vars", "libvirt_uri");
    virConnectPtr conn;

    vdLibvirtInitOnce();
    if (!watched)
        vdLibvirtEventsDeclineHandles(TRUE);
    conn = virConnectOpen(uri);
    if (!watched)
        vdLibvirtEventsDeclineHandles(FALSE);
    if (!conn)
        g_set_error(error, VD_ERROR, VD_ERR_UNEXPECTED, "cannot connect to libvirt at %s: %s", uri,
                    virGetLastErrorMessage());
    return conn;
}

virConnectPtr
vdLibvirtOpenPrivate(GError **error)
{
    return vdLibvirtOpenOwn(TRUE, error);
}

virConnectPtr
vdLibvirtOpenUnwatched(GError **error)
{
    return vdLibvirtOpenOwn(FALSE, error);
}

gboolean
vdLibvirtIsConnected(void)
{
    return g_atomic_int_get(&vdLibvirtAlive) != 0;
}

void
vdLibvirtSetHooks(VdLibvirtConnectHook on_connect, VdLibvirtDisconnectHook on_disconnect,
                  VdLibvirtConnectHook on_close, gpointer data)
{
    g_mutex_lock(&vdLibvirtLock);
    vdLibvirtConnectHook = on_connect;
    vdLibvirtDisconnectHook = on_disconnect;
    vdLibvirtCloseHook = on_close;
    vdLibvirtHookData = data;
    g_mutex_unlock(&vdLibvirtLock);
}

/* --- the event loop and the keeper --------------------------------------- */

static gpointer
vdLibvirtKeeper(gpointer data)
{
    double delay = VD_LIBVIRT_RECONNECT_MIN_S;

    g_mutex_lock(&vdLibvirtKeeperLock);
    while (!g_atomic_int_get(&vdLibvirtQuit)) {
        if (!g_atomic_int_get(&vdLibvirtAlive)) {
            g_autoptr(GError) error = NULL;
            virConnectPtr conn;

            g_mutex_unlock(&vdLibvirtKeeperLock);
            conn = vdLibvirtGet(&error);
            g_mutex_lock(&vdLibvirtKeeperLock);
            if (conn) {
                virConnectClose(conn);
                delay = VD_LIBVIRT_RECONNECT_MIN_S;
                continue;
            }
            g_debug("libvirt reconnect failed, next try in %.1f s: %s", delay, error->message);
            vdLibvirtKeeperWake = FALSE;
            g_cond_wait_until(&vdLibvirtKeeperCond, &vdLibvirtKeeperLock,
                              g_get_monotonic_time() + (gint64)(delay * G_USEC_PER_SEC));
            delay = MIN(delay * 2, VD_LIBVIRT_RECONNECT_MAX_S);
            continue;
        }
        while (!vdLibvirtKeeperWake && !g_atomic_int_get(&vdLibvirtQuit))
            g_cond_wait(&vdLibvirtKeeperCond, &vdLibvirtKeeperLock);
        vdLibvirtKeeperWake = FALSE;
    }
    g_mutex_unlock(&vdLibvirtKeeperLock);
    return NULL;
}

void
vdLibvirtStartEvents(void)
{
    vdLibvirtInitOnce();
    g_mutex_lock(&vdLibvirtLock);
    if (vdLibvirtEventsOn) {
        g_mutex_unlock(&vdLibvirtLock);
        return;
    }
    if (vdLibvirtConn) {
        /* Opened before the event loop existed: reopen with keepalive. */
        vdLibvirtDropLocked();
    }
    vdLibvirtEventsStart("libvirt-events");
    vdLibvirtEventsOn = TRUE;
    g_atomic_int_set(&vdLibvirtQuit, 0);
    g_mutex_unlock(&vdLibvirtLock);
    vdLibvirtKeeperThread = g_thread_new("libvirt-keeper", vdLibvirtKeeper, NULL);
}

void
vdLibvirtStopEvents(void)
{
    if (!vdLibvirtKeeperThread) /* the events were not started */
        return;
    g_atomic_int_set(&vdLibvirtQuit, 1);
    vdLibvirtKeeperKick();
    g_thread_join(vdLibvirtKeeperThread);
    vdLibvirtKeeperThread = NULL;

    g_mutex_lock(&vdLibvirtLock);
    vdLibvirtDropLocked();
    g_mutex_unlock(&vdLibvirtLock);

    vdLibvirtEventsStop();
}
