/* vm-table.h - the VM table: every VM this host reports, by vmId.
 *
 * DESIGN: owned by the main loop.  Every function here must be called on
 * the main loop (workers go through vdMainCall); none blocks.  The table
 * is where lifecycle events become state: vdVmTableOnLifecycle runs the
 * pure state machine (vm-state.h), applies its transition, publishes a
 * `|virt|VM_status|<vmId>` event when the reported status changed, and
 * schedules the metadata write that persists exit information.  Writes
 * run on the VM job pool (vm-manager.h) one at a time per VM; a change
 * made while a write is in flight is written again afterwards.
 */
#pragma once

#include <glib.h>

#include "vm.h"

void vdVmTableInit(void);
/* Free every VM (at exit). */
void vdVmTableClear(void);

VdVm *vdVmTableLookup(const char *id);
/* Takes ownership; FALSE (and @vm untouched) when the id is taken. */
gboolean vdVmTableInsert(VdVm *vm);
/* Remove and free. */
void vdVmTableRemove(VdVm *vm);
/* Borrowed VdVm*, in insertion order (free the array only). */
GPtrArray *vdVmTableAll(void);
guint vdVmTableCount(void);

/* A libvirt lifecycle event (virDomainEventType, detail) for domain @id. */
void vdVmTableOnLifecycle(VdVm *vm, int event, int detail);
/* A libvirt reboot event. */
void vdVmTableOnReboot(VdVm *vm);
/* Apply a state-machine transition to @vm. */
void vdVmTableApply(VdVm *vm, const VdVmTransition *t);

/* Recompute the reported status; publish a VM_status event when it (or
 * the pause code) changed since the last event, or always with @force.
 * Re-arms the timer that ends a guest window ("Powering up"). */
void vdVmTableRefresh(VdVm *vm, gboolean force);

/* End staging: replay the held lifecycle events and wake the waiters. */
void vdVmTableEndStaging(VdVm *vm);

/* Set Down (see vdVmSetDown), persist and publish. */
void vdVmTableSetDown(VdVm *vm, int exit_code, int exit_reason, const char *message);

/* Persist vm->md (asynchronously, on the VM job pool). */
void vdVmTableWriteMetadata(VdVm *vm);

/* Mark every VM's state as last-known (libvirt unreachable) or live. */
void vdVmTableSetStale(gboolean stale);
