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

/* Turn the last libvirt error of this thread into @error with @code,
 * message "<what>: <libvirt message>". */
void vdLibvirtSetError(GError **error, int code, const char *what);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
