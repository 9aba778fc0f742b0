/* qemu-pid.h - the pid of a running domain's QEMU process.
 *
 * DESIGN: libvirt's public API does not expose it; like VDSM, read the
 * pid file libvirtd's QEMU driver keeps in its state directory.  A small
 * file read: call it on a worker, never on the main loop.
 */
#pragma once

#include <glib.h>

/* Directory of the QEMU driver's pid files (qemu:///system). */
#define VD_QEMU_PID_DIR "/run/libvirt/qemu"

/* The pid of domain @name, or 0 when unknown. */
gint64 vdQemuPidRead(const char *name);
