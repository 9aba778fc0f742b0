/* vm-query.c - see vm-query.h.  Public functions on rpc workers, *OnMain
 * on the main loop. */
#include "vm-query.h"

#include "libvirt-conn.h"
#include "main-call.h"
#include "vd-error.h"
#include "vm-table.h"

typedef enum {
    VD_VM_QUERY_STATS,
    VD_VM_QUERY_SHORT,
    VD_VM_QUERY_FULL,
} VdVmQueryKind;

typedef struct {
    VdVmQueryKind kind;
    const char *id;      /* one VM, or NULL for all */
    json_object *filter; /* array of ids, or NULL */
    json_object *result;
    GPtrArray *xml_ids;    /* dumpxmls: ids found */
    GPtrArray *xml_cached; /* dumpxmls: the cached XML of each */
    const char *missing;
} VdVmQueryCall;

static json_object *
vdVmQueryOne(VdVm *vm, VdVmQueryKind kind)
{
    switch (kind) {
    case VD_VM_QUERY_STATS:
        return vdVmToStats(vm);
    case VD_VM_QUERY_SHORT:
        return vdVmToShortStatus(vm);
    default:
        return vdVmToFullStatus(vm);
    }
}

static gboolean
vdVmQueryFilterHas(json_object *filter, const char *id)
{
    size_t n = filter ? json_object_array_length(filter) : 0;

    if (n == 0)
        return TRUE;
    for (size_t i = 0; i < n; i++) {
        if (g_strcmp0(json_object_get_string(json_object_array_get_idx(filter, i)), id) == 0)
            return TRUE;
    }
    return FALSE;
}

static gpointer
vdVmQueryOnMain(gpointer data)
{
    VdVmQueryCall *c = data;
    g_autoptr(GPtrArray) all = NULL;

    if (c->id) {
        VdVm *vm = vdVmTableLookup(c->id);

        c->result = vm ? vdVmQueryOne(vm, c->kind) : NULL;
        return NULL;
    }
    all = vdVmTableAll();
    c->result = json_object_new_array();
    for (guint i = 0; i < all->len; i++) {
        VdVm *vm = g_ptr_array_index(all, i);

        if (vdVmQueryFilterHas(c->filter, vm->id))
            json_object_array_add(c->result, vdVmQueryOne(vm, c->kind));
    }
    return NULL;
}

json_object *
vdVmQueryStats(const char *id, GError **error)
{
    VdVmQueryCall c = {.kind = VD_VM_QUERY_STATS, .id = id};
    json_object *list;

    vdMainCall(vdVmQueryOnMain, &c);
    if (!c.result) {
        vdErrorSetCode(error, VD_ERR_NO_SUCH_VM, "{'vmId': '%s'}", id);
        return NULL;
    }
    list = json_object_new_array();
    json_object_array_add(list, c.result);
    return list;
}

json_object *
vdVmQueryAllStats(void)
{
    VdVmQueryCall c = {.kind = VD_VM_QUERY_STATS};

    vdMainCall(vdVmQueryOnMain, &c);
    return c.result;
}

json_object *
vdVmQueryList(gboolean full, json_object *filter)
{
    VdVmQueryCall c = {.kind = full ? VD_VM_QUERY_FULL : VD_VM_QUERY_SHORT, .filter = filter};

    vdMainCall(vdVmQueryOnMain, &c);
    return c.result;
}

json_object *
vdVmQueryInfo(const char *id, GError **error)
{
    VdVmQueryCall c = {.kind = VD_VM_QUERY_FULL, .id = id};

    vdMainCall(vdVmQueryOnMain, &c);
    if (!c.result)
        vdErrorSetCode(error, VD_ERR_NO_SUCH_VM, "{'vmId': '%s'}", id);
    return c.result;
}

static gpointer
vdVmQueryXmlsOnMain(gpointer data)
{
    VdVmQueryCall *c = data;
    size_t n = json_object_array_length(c->filter);

    for (size_t i = 0; i < n; i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(c->filter, i));
        VdVm *vm = vdVmTableLookup(id);

        if (!vm) {
            c->missing = id;
            return NULL;
        }
        g_ptr_array_add(c->xml_ids, g_strdup(vm->id));
        g_ptr_array_add(c->xml_cached, g_strdup(vm->xml));
    }
    return NULL;
}

json_object *
vdVmQueryDumpXmls(json_object *ids, GError **error)
{
    g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) cached = g_ptr_array_new_with_free_func(g_free);
    VdVmQueryCall c = {.filter = ids, .xml_ids = found, .xml_cached = cached};
    g_autoptr(virConnect) conn = NULL;
    json_object *result;

    vdMainCall(vdVmQueryXmlsOnMain, &c);
    if (c.missing) {
        vdErrorSetCode(error, VD_ERR_NO_SUCH_VM, "{'vmId': '%s'}", c.missing);
        return NULL;
    }
    conn = vdLibvirtGet(NULL);
    result = json_object_new_object();
    for (guint i = 0; i < found->len; i++) {
        const char *id = g_ptr_array_index(found, i);
        g_autoptr(virDomain) dom = conn ? virDomainLookupByUUIDString(conn, id) : NULL;
        g_autofree char *xml = dom ? virDomainGetXMLDesc(dom, 0) : NULL;
        const char *text = xml ? xml : g_ptr_array_index(cached, i);

        /* No domain any more (a failed creation): the XML we were given. */
        json_object_object_add(result, id, json_object_new_string(text ? text : ""));
    }
    return result;
}
