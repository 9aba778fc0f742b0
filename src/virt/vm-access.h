/* vm-access.h - how a verb on a worker reaches one VM and its domain.
 *
 * DESIGN: a verb first asks the main loop (vdMainCall) whether the VM may
 * be acted on, then makes its libvirt call on the worker with a domain
 * looked up by UUID on the shared connection.  The check is the staging
 * area's guard: a VM that a start-up flow is still building, or one being
 * destroyed, is refused, so no verb ever acts on a half-built VM.  The
 * libvirt error of a failed call becomes the verb's VDSM code here, with
 * "the domain is gone" always mapped to 1 (noVM).  Worker threads only.
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "libvirt-conn.h"
#include "vm-state.h"

typedef enum {
    VD_VM_ACCESS_ANY,     /* exists (even while staging, even Down) */
    VD_VM_ACCESS_READY,   /* exists and no start-up flow or destroy runs */
    VD_VM_ACCESS_RUNNING, /* READY, and not Down/Saving/Migrating */
} VdVmAccess;

/* Check @id on the main loop.  Errors: 1 (no such VM), 16 (being created
 * or destroyed), 6 (Down, for RUNNING).  @status_out, when not NULL, gets
 * the internal status. */
int vdVmCheck(const char *id, VdVmAccess access, VdVmStatus *status_out, GError **error);

/* Look up the libvirt domain of VM @id (a new reference); NULL with error
 * 1 when it does not exist, @fail_code for other libvirt failures. */
virDomainPtr vdVmLookupDomain(const char *id, int fail_code, GError **error);

/* vdVmCheck then vdVmLookupDomain. */
virDomainPtr vdVmAccessDomain(const char *id, VdVmAccess access, int fail_code, GError **error);

/* Turn this thread's last libvirt error into @error: code 1 when the
 * domain is gone, @code otherwise; message "<what>: <libvirt text>". */
void vdVmSetLibvirtError(GError **error, const char *id, int code, const char *what);
