/* vm-power.h - running-state verbs: pause, cont, reset, destroy, shutdown.
 *
 * DESIGN: each verb runs on its rpc worker: a check on the main loop
 * (vm-access.h), then the libvirt call on the worker.  The state change
 * itself arrives as a lifecycle event (SUSPENDED, RESUMED, STOPPED) and is
 * applied by the table; the verbs only record their intent first, so the
 * STOPPED event of a destroy says "admin shutdown" (6) and not "lost qemu
 * connection".  VM.destroy waits (bounded) for a VM still in staging,
 * destroys the domain (gracefulAttempts graceful tries, then forced),
 * undefines it and removes the VM; a VM that was not Down yet gets one
 * Down event with exitReason 6.  VM.shutdown starts VDSM's chain and
 * returns: the job pool asks through qemu-ga, else the oVirt agent, else
 * ACPI (a step that cannot be taken passes on at once); a main-loop timer
 * gives each step `timeout` seconds (the oVirt step `timeout + delay`), then
 * the job pool tries the next one; with none left, force destroys or resets.
 * The chain stops when the VM is Down or the reboot happened.
 */
#pragma once

#include <glib.h>

int vdVmPause(const char *id, GError **error);
int vdVmCont(const char *id, GError **error);
int vdVmReset(const char *id, GError **error);
int vdVmDestroy(const char *id, guint graceful_attempts, GError **error);

typedef struct {
    gint64 delay;        /* s, for the guest agent message (not used by ACPI) */
    const char *message; /* for the guest agent (not used by ACPI) */
    gboolean reboot;
    gint64 timeout; /* s each method gets before the next one */
    gboolean force; /* end with destroy (or reset for a reboot) */
} VdVmShutdownArgs;

/* Errors: 1, 6, and 4 "VM without ACPI or active oVirt guest agent. Try
 * Forced Shutdown." when there is no way to ask the guest and no force. */
int vdVmShutdown(const char *id, const VdVmShutdownArgs *args, GError **error);
