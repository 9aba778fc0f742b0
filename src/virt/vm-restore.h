/* vm-restore.h - start-up flow 3: waking a VM from hibernation.
 *
 * DESIGN: VM.create with vmParams.hiberVolHandle (or restoreState) comes
 * here, not to vm-create.c.  On the rpc worker: resolve the handle to the
 * image (vm-hibernation.h; 13 when the file is missing), read the domain
 * XML saved inside it (virDomainSaveImageGetXMLDesc), run creation's XML
 * checks on it, and enter the VM in staging as "Restoring state" (event
 * sent).  On the creation pool: replace the shut-off definition left by
 * the hibernation, define the saved XML with its ovirt-vm metadata
 * (startTime kept, exit information cleared), virDomainRestoreFlags
 * (paused with launchPaused), and leave staging Up.  A failure leaves a
 * Down VM (exitReason 3, message "Wake up from hibernation failed: ...")
 * and no domain.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* The vmParams key that selects this flow, or NULL. */
const char *vdVmRestoreHandle(json_object *vm_params);

json_object *vdVmRestore(const char *vm_id, json_object *vm_params, GError **error);
