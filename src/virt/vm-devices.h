/* vm-devices.h - device verbs: CD change, console tickets (setTicket and
 * updateDevice for graphics), balloon target.
 *
 * DESIGN: on the rpc worker: the access check on the main loop, then the
 * domain's live XML is read, the one device element is edited in an XML
 * tree (xml-node.h) and handed to virDomainUpdateDeviceFlags.  The VM's
 * cached XML and display list are refreshed on the main loop afterwards.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* VM.changeCD: @drive_spec {"path": "/x.iso"} ("" ejects).  Returns the
 * VM's full status dict.  Error 41. */
json_object *vdVmChangeCD(const char *id, json_object *drive_spec, GError **error);

typedef struct {
    const char *graphics_type; /* vnc, spice, or NULL for the first display */
    const char *password;
    gint64 ttl;                       /* seconds; <= 0: no expiry */
    const char *existing_conn_action; /* disconnect, keep, fail (SPICE), or NULL */
    json_object *params; /* the call's "params" map, for the set_ticket hooks; may be NULL */
} VdVmTicket;

/* VM.setTicket: error 18.  Runs before/after_vm_set_ticket (never fatal)
 * with @ticket->params in the scripts' environment, as VDSM. */
int vdVmSetTicket(const char *id, const VdVmTicket *ticket, GError **error);

/* VM.updateDevice: @params with deviceType "graphics" (others: 56).
 * Returns the full status dict. */
json_object *vdVmUpdateDevice(const char *id, json_object *params, GError **error);

/* VM.setBalloonTarget: @target_kib; error 53. */
int vdVmSetBalloonTarget(const char *id, guint64 target_kib, GError **error);

/* The full status dict of @id (error 1 when gone). */
json_object *vdVmFullStatus(const char *id, GError **error);
