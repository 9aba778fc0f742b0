/* vm-query.h - read-only verbs: stats, lists, info, domain XML dumps.
 *
 * DESIGN: rpc worker side.  The dictionaries are built on the main loop
 * in one vdMainCall each (a consistent snapshot of the table, no libvirt
 * call); only Host.dumpxmls asks libvirt for the live XML, on the worker.
 * While libvirt is unreachable these keep answering from the table (the
 * last known state, monitorResponse "-1").
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* VM.getStats: a one-element list. */
json_object *vdVmQueryStats(const char *id, GError **error);
/* Host.getAllVmStats: a list of VmStats. */
json_object *vdVmQueryAllStats(void);
/* Host.getVMList (full FALSE) / getVMFullList (full TRUE); @filter: a
 * JSON array of vmIds or NULL/empty for all. */
json_object *vdVmQueryList(gboolean full, json_object *filter);
/* VM.getInfo: the full status dict. */
json_object *vdVmQueryInfo(const char *id, GError **error);
/* Host.dumpxmls: {vmId: domain XML}; error 1 for an unknown id. */
json_object *vdVmQueryDumpXmls(json_object *ids, GError **error);
