/* vm-create.h - start-up flow 1: creating a VM from domain XML.
 *
 * DESIGN: VM.create's normal path (no hibernation, no migration).  On the
 * rpc worker, vdVmCreate checks what can be checked at once and answers
 * with clear VDSM errors: XML that does not parse, has no uuid/name, or
 * names a missing emulator (9); a disk image that does not exist (13); an
 * id already in the table or a running libvirt domain with that uuid or
 * name (4).  It then enters the VM in the staging area (WaitForLaunch,
 * event sent) and queues the rest on the creation pool, returning at
 * once.  The creation job (on its own libvirt connection) removes a stale
 * shut-off domain of the same uuid/name when there is one, defines the
 * domain persistent with the ovirt-vm metadata already inside the XML
 * (startTime, launchPaused, custom properties, the agent tag), starts it
 * (paused with launchPaused) and leaves staging: two libvirt calls, as
 * few as a bare define-and-start.  Any failure leaves a Down VM with
 * exitReason 3 and libvirt's own error text, and undefines what it
 * defined, so no stray domain remains.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

/* rpc worker: VM.create(vmID, vmParams) with vmParams.xml.  Returns the
 * status dict of the new VM. */
json_object *vdVmCreate(const char *vm_id, json_object *vm_params, GError **error);

/* Shared with the other flows: the checks of a domain XML before it is
 * handed to libvirt (9 for the XML/emulator, 13 for an image).  Fills
 * @uuid and @name on success. */
int vdVmCreateCheckXml(const char *xml, char **uuid, char **name, GError **error);

/* Shared: fail with 4 when libvirt runs a domain with @uuid or @name;
 * @stale tells whether a shut-off one holds either (to remove first). */
int vdVmCreateCheckLibvirt(const char *uuid, const char *name, gboolean *stale, GError **error);

/* Creation pool: remove shut-off domains that hold @uuid or @name (left
 * over from an earlier life); -1 when one is running. */
int vdVmCreateRemoveStale(virConnectPtr conn, const char *uuid, const char *name, GError **error);

/* Parse VDSM's launchPaused ("true"/true) from @vm_params. */
gboolean vdVmCreateLaunchPaused(json_object *vm_params);
