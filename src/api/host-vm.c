/* host-vm.c - the Host namespace verbs about VMs: getVMList,
 * getVMFullList, getAllVmStats, dumpxmls.
 *
 * DESIGN: adapters on rpc worker threads over vm-query.h, which reads the
 * VM table on the main loop.  Results are the payloads VDSM's bridge
 * extracts: the vmList list, the statsList list, the domxmls map.
 */
#include "api-handler.h"

#include "hooks.h"
#include "vm-query.h"

static json_object *
vdApiHostVmFilter(json_object *params)
{
    json_object *v = NULL;

    if (json_object_object_get_ex(params, "vmList", &v) && v &&
        json_object_is_type(v, json_type_array))
        return v;
    return NULL;
}

json_object *
vdApiHostGetVMList(VdCallCtx *ctx, json_object *params, GError **error)
{
    /* fullStatus and onlyUUID are ignored, as VDSM's bridge does. */
    return vdVmQueryList(FALSE, vdApiHostVmFilter(params));
}

json_object *
vdApiHostGetVMFullList(VdCallCtx *ctx, json_object *params, GError **error)
{
    return vdVmQueryList(TRUE, vdApiHostVmFilter(params));
}

json_object *
vdApiHostGetAllVmStats(VdCallCtx *ctx, json_object *params, GError **error)
{
    json_object *stats;

    /* No script installed: no serialisation of the list (hooks.h). */
    if (vdHooksRunJson("before_get_all_vm_stats", NULL, error) < 0)
        return NULL;
    stats = vdVmQueryAllStats();
    vdHooksRunJson("after_get_all_vm_stats", &stats, NULL);
    return stats;
}

json_object *
vdApiHostDumpxmls(VdCallCtx *ctx, json_object *params, GError **error)
{
    json_object *ids = vdApiHostVmFilter(params);
    g_autoptr(json_object) empty = NULL;

    if (!ids)
        ids = empty = json_object_new_array();
    return vdVmQueryDumpXmls(ids, error);
}
