/* vm-migration-dest.c - see vm-migration-dest.h (a stub: rpc worker). */
#include "vm-migration-dest.h"

#include "vd-error.h"

gboolean
vdVmMigrationDestRequested(json_object *vm_params)
{
    json_object *v = NULL;

    return json_object_object_get_ex(vm_params, "migrationDest", &v) && v;
}

json_object *
vdVmMigrationDestCreate(const char *vm_id, json_object *params, GError **error)
{
    g_set_error(error, VD_ERROR, VD_ERR_METHOD_NOT_IMPLEMENTED,
                "incoming migration is not implemented yet: {'vmId': '%s'}", vm_id ? vm_id : "");
    return NULL;
}
