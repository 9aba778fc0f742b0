/* libvirt-conn.c - see libvirt-conn.h.
 *
 * DESIGN: one cached virConnectPtr guarded by vdLibvirtLock.  Callers (rpc
 * workers, sampler threads; never the main loop, since opening a
 * connection blocks) get their own reference, so a reconnect never frees
 * a connection another thread still uses.  The lock is held while
 * connecting: concurrent callers wait for that one attempt instead of each
 * opening a connection.  libvirt's default error handler, which prints
 * every error to stderr, is replaced once by a no-op; errors are read
 * per thread with virGetLastErrorMessage() and reported once, as a GError.
 */
#include "libvirt-conn.h"

#include "config.h"
#include "vd-error.h"

#include <libvirt/virterror.h>

static GMutex vdLibvirtLock;
static virConnectPtr vdLibvirtConn;

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

virConnectPtr
vdLibvirtGet(GError **error)
{
    const char *uri = vdConfigGetString("vars", "libvirt_uri");
    virConnectPtr conn;

    vdLibvirtInitOnce();
    g_mutex_lock(&vdLibvirtLock);
    if (vdLibvirtConn && virConnectIsAlive(vdLibvirtConn) != 1) {
        g_warning("connection to libvirt (%s) lost; reconnecting", uri);
        virConnectClose(vdLibvirtConn);
        vdLibvirtConn = NULL;
    }
    if (!vdLibvirtConn) {
        vdLibvirtConn = virConnectOpen(uri);
        if (!vdLibvirtConn) {
            g_mutex_unlock(&vdLibvirtLock);
            g_set_error(error, VD_ERROR, VD_ERR_UNEXPECTED, "cannot connect to libvirt at %s: %s",
                        uri, virGetLastErrorMessage());
            return NULL;
        }
        g_info("connected to libvirt at %s", uri);
    }
    conn = vdLibvirtConn;
    virConnectRef(conn);
    g_mutex_unlock(&vdLibvirtLock);
    return conn;
}
