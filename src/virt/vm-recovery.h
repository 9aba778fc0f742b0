/* vm-recovery.h - rebuilding the VM table from libvirt: at start-up
 * (recovery), for a domain that appears later (adoption) and after a
 * reconnect to libvirtd (resynchronisation).
 *
 * DESIGN: its own start-up flow, separate from creation and restore.  The
 * domains' live XML and state are read on a worker thread (the recovery
 * thread at start-up, the job pool later); the VMs are then built and
 * inserted in one vdMainCall, so the table never shows a half-recovered
 * VM.  A domain is VDSM's when its XML carries the ovirt-vm metadata
 * block (or the legacy com.redhat.rhevm.vdsm channel); others that run are
 * reported as external, shut-off external ones and libguestfs appliances
 * are ignored.  Recovery never starts, stops or destroys a domain:
 * running -> Up, paused -> Paused with its pause code, shut off -> Down
 * with the exit information saved in the metadata (or, when none was
 * saved, the one libvirt's shut-off reason implies, which is then saved).
 */
#pragma once

#include <glib.h>

/* Start recovery on its own thread.  It retries every
 * VD_VM_RECOVERY_RETRY_S seconds while libvirt cannot be reached; @done
 * runs on the main loop once every domain is in the table. */
void vdVmRecoveryStart(GSourceFunc done, gpointer data);

/* Any thread: a connection to libvirt exists again; a recovery waiting to
 * retry goes on at once. */
void vdVmRecoveryKick(void);

/* Job pool: adopt the one domain @id (not in the table yet) that started
 * after recovery, as an external VM.  A domain carrying ovirt-vm metadata
 * is left alone: this daemon starts all of those itself. */
void vdVmRecoveryAdoptOne(const char *id);

/* Job pool: compare every VM with libvirt after a reconnect and apply
 * what changed while events could not arrive; clears the stale marks. */
void vdVmRecoveryResync(void);
