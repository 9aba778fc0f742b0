/* vm.c - the VM namespace verbs: create, destroy, pause, cont, shutdown,
 * reset, hibernate, changeCD, setTicket, updateDevice, setBalloonTarget,
 * getInfo, getStats.
 *
 * DESIGN: thin adapters between the rpc contract (api-handler.h) and the
 * VM layer (src/virt).  Each handler runs on an rpc worker thread with
 * schema-validated params and returns what VDSM's bridge extracts from
 * the verb's payload key (vdsm-facts §2.2): the status dict for create,
 * changeCD and updateDevice, {"vmList": {}} for pause and cont, the
 * one-element stats list for getStats, the status dict for
 * setBalloonTarget, true for the rest.  VM.create picks one of the
 * separate start-up flows by vmParams (hibernation restore, migration
 * destination, or a new VM); the flows never share a mode switch.
 */
#include "api-handler.h"

#include "config.h"
#include "hooks.h"
#include "vd-error.h"
#include "vm-create.h"
#include "vm-devices.h"
#include "vm-hibernation.h"
#include "vm-migration-dest.h"
#include "vm-power.h"
#include "vm-query.h"
#include "vm-restore.h"

static json_object *
vdApiVMPausedResult(void)
{
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "vmList", json_object_new_object());
    return obj;
}

static json_object *
vdApiVmDoneStatus(void)
{
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "code", json_object_new_int(0));
    json_object_object_add(obj, "message", json_object_new_string("Done"));
    return obj;
}

json_object *
vdApiVMCreate(VdCallCtx *ctx, json_object *params, GError **error)
{
    const char *id = vdApiParamString(params, "vmID", NULL);
    json_object *vm_params = vdApiParamObject(params, "vmParams");

    if (vdVmRestoreHandle(vm_params))
        return vdVmRestore(id, vm_params, error);
    if (vdVmMigrationDestRequested(vm_params))
        return vdVmMigrationDestCreate(id, vm_params, error);
    return vdVmCreate(id, vm_params, error);
}

json_object *
vdApiVMDestroy(VdCallCtx *ctx, json_object *params, GError **error)
{
    gint64 attempts = vdApiParamInt(params, "gracefulAttempts", 1);

    if (vdVmDestroy(vdApiParamString(params, "vmID", NULL), (guint)CLAMP(attempts, 0, 100), error) <
        0)
        return NULL;
    return json_object_new_boolean(TRUE);
}

json_object *
vdApiVMPause(VdCallCtx *ctx, json_object *params, GError **error)
{
    if (vdVmPause(vdApiParamString(params, "vmID", NULL), error) < 0)
        return NULL;
    return vdApiVMPausedResult();
}

json_object *
vdApiVMCont(VdCallCtx *ctx, json_object *params, GError **error)
{
    if (vdVmCont(vdApiParamString(params, "vmID", NULL), error) < 0)
        return NULL;
    return vdApiVMPausedResult();
}

json_object *
vdApiVMReset(VdCallCtx *ctx, json_object *params, GError **error)
{
    if (vdVmReset(vdApiParamString(params, "vmID", NULL), error) < 0)
        return NULL;
    return json_object_new_boolean(TRUE);
}

json_object *
vdApiVMShutdown(VdCallCtx *ctx, json_object *params, GError **error)
{
    VdVmShutdownArgs args = {
        .delay = vdApiParamInt(params, "delay", vdConfigGetInt("vars", "user_shutdown_timeout")),
        .message = vdApiParamString(params, "message", NULL),
        .reboot = vdApiParamBool(params, "reboot", FALSE),
        .timeout = vdApiParamInt(params, "timeout", vdConfigGetInt("vars", "sys_shutdown_timeout")),
        .force = vdApiParamBool(params, "force", FALSE),
    };

    if (vdVmShutdown(vdApiParamString(params, "vmID", NULL), &args, error) < 0)
        return NULL;
    return json_object_new_boolean(TRUE);
}

json_object *
vdApiVMHibernate(VdCallCtx *ctx, json_object *params, GError **error)
{
    if (vdVmHibernate(vdApiParamString(params, "vmID", NULL),
                      vdApiParamString(params, "hibernationVolHandle", NULL), error) < 0)
        return NULL;
    return json_object_new_boolean(TRUE);
}

json_object *
vdApiVMChangeCD(VdCallCtx *ctx, json_object *params, GError **error)
{
    return vdVmChangeCD(vdApiParamString(params, "vmID", NULL),
                        vdApiParamObject(params, "driveSpec"), error);
}

json_object *
vdApiVMSetTicket(VdCallCtx *ctx, json_object *params, GError **error)
{
    VdVmTicket ticket = {
        .password = vdApiParamString(params, "password", ""),
        .ttl = vdApiParamInt(params, "ttl", 0),
        .existing_conn_action = vdApiParamString(params, "existingConnAction", NULL),
        .params = vdApiParamObject(params, "params"),
    };

    if (vdVmSetTicket(vdApiParamString(params, "vmID", NULL), &ticket, error) < 0)
        return NULL;
    return json_object_new_boolean(TRUE);
}

json_object *
vdApiVMUpdateDevice(VdCallCtx *ctx, json_object *params, GError **error)
{
    return vdVmUpdateDevice(vdApiParamString(params, "vmID", NULL),
                            vdApiParamObject(params, "params"), error);
}

json_object *
vdApiVMSetBalloonTarget(VdCallCtx *ctx, json_object *params, GError **error)
{
    if (vdVmSetBalloonTarget(vdApiParamString(params, "vmID", NULL),
                             (guint64)vdApiParamInt(params, "target", 0), error) < 0)
        return NULL;
    return vdApiVmDoneStatus();
}

json_object *
vdApiVMGetInfo(VdCallCtx *ctx, json_object *params, GError **error)
{
    return vdVmQueryInfo(vdApiParamString(params, "vmID", NULL), error);
}

json_object *
vdApiVMGetStats(VdCallCtx *ctx, json_object *params, GError **error)
{
    json_object *stats;

    if (vdHooksRunJson("before_get_vm_stats", NULL, error) < 0)
        return NULL;
    /* the after_ hook gets the statsList (a list of one), as VDSM */
    if ((stats = vdVmQueryStats(vdApiParamString(params, "vmID", NULL), error)))
        vdHooksRunJson("after_get_vm_stats", &stats, NULL);
    return stats;
}
