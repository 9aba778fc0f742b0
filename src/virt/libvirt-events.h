/* libvirt-events.h - libvirt's event loop on a GMainContext of its own.
 *
 * libvirt's default event implementation (virEventRegisterDefaultImpl) is
 * GLib's and attaches its sources to the process's default GMainContext,
 * which vdsmd's main loop owns: the main loop would then run libvirt's
 * socket, keepalive and event-queue handlers, and be woken every time a
 * call on the connection re-arms its socket watch (twice per call).  This
 * unit registers an implementation (virEventRegisterImpl) whose sources
 * live on a private context, dispatched by one thread of its own; the
 * callbacks libvirt passes (domain events, keepalive, close) therefore run
 * on that thread, never on the main loop.
 */
#pragma once

#include <glib.h>

/* Registers the implementation with libvirt (once per process; before the
 * first connection that should carry events) and starts the thread named
 * thread_name (again after vdLibvirtEventsStop). */
void vdLibvirtEventsStart(const char *thread_name);

/* Stops and joins the thread (after the last connection using it closed).
 * libvirt keeps the registration; sources added afterwards are not run. */
void vdLibvirtEventsStop(void);

/* While @decline is set, handles that libvirt adds on the calling thread
 * are refused (virEventAddHandle returns -1); timeouts are not affected.
 * A connection opened meanwhile is one libvirt's event loop never watches:
 * its remote driver then runs without keepalive and events, and every call
 * does its own socket I/O without re-arming a watch (which wakes this
 * loop's thread twice per call). */
void vdLibvirtEventsDeclineHandles(gboolean decline);

/* How many handle and timeout sources are registered (for tests). */
guint vdLibvirtEventsCount(void);
