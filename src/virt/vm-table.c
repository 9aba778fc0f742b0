/* vm-table.c - see vm-table.h.  All functions run on the main loop except
 * vdVmMetadataWriteRun, the body of a metadata write job (job pool). */
#include "vm-table.h"

#include "config.h"
#include "events.h"
#include "libvirt-conn.h"
#include "main-call.h"
#include "vm-manager.h"

#include <libvirt/virterror.h>

static GHashTable *vdVmTable; /* id -> VdVm* (owned) */
static GPtrArray *vdVmOrder;  /* VdVm* in insertion order (borrowed) */

void
vdVmTableInit(void)
{
    if (vdVmTable)
        return;
    vdVmTable = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)vdVmFree);
    vdVmOrder = g_ptr_array_new();
}

void
vdVmTableClear(void)
{
    if (!vdVmTable)
        return;
    g_ptr_array_set_size(vdVmOrder, 0);
    g_hash_table_remove_all(vdVmTable);
}

VdVm *
vdVmTableLookup(const char *id)
{
    return id && vdVmTable ? g_hash_table_lookup(vdVmTable, id) : NULL;
}

gboolean
vdVmTableInsert(VdVm *vm)
{
    vdVmTableInit();
    if (g_hash_table_contains(vdVmTable, vm->id))
        return FALSE;
    g_hash_table_insert(vdVmTable, vm->id, vm);
    g_ptr_array_add(vdVmOrder, vm);
    return TRUE;
}

void
vdVmTableRemove(VdVm *vm)
{
    g_ptr_array_remove(vdVmOrder, vm);
    g_hash_table_remove(vdVmTable, vm->id);
}

GPtrArray *
vdVmTableAll(void)
{
    GPtrArray *out = g_ptr_array_new();

    for (guint i = 0; vdVmOrder && i < vdVmOrder->len; i++)
        g_ptr_array_add(out, g_ptr_array_index(vdVmOrder, i));
    return out;
}

guint
vdVmTableCount(void)
{
    return vdVmTable ? g_hash_table_size(vdVmTable) : 0;
}

/* --- publishing ------------------------------------------------------- */

static void
vdVmTablePublish(VdVm *vm)
{
    g_autofree char *event_id = g_strdup_printf("|virt|VM_status|%s", vm->id);
    json_object *params = json_object_new_object();

    json_object_object_add(params, vm->id, vdVmToEventDetails(vm));
    vdEventPublish(event_id, params);
}

static gboolean
vdVmTableGuestTimer(gpointer data)
{
    VdVm *vm = vdVmTableLookup(data);

    if (vm) {
        vm->guest_timer = 0;
        vdVmTableRefresh(vm, FALSE);
    }
    return G_SOURCE_REMOVE;
}

void
vdVmTableRefresh(VdVm *vm, gboolean force)
{
    VdVmStatus reported = vdVmReportedStatus(vm);
    const char *pause = vm->status == VD_VM_STATUS_PAUSED ? vm->pause_code : NULL;
    double window, age;

    if (force || !vm->published || reported != vm->published_status ||
        g_strcmp0(pause, vm->published_pause_code) != 0) {
        g_info("VM %s: status %s%s%s", vm->id, vdVmStatusName(reported), pause ? " " : "",
               pause ? pause : "");
        vm->published = TRUE;
        vm->published_status = reported;
        vm->published_pause_code = pause;
        vdVmTablePublish(vm);
    }
    if (vm->guest_timer) {
        g_source_remove(vm->guest_timer);
        vm->guest_timer = 0;
    }
    if (reported != vm->status) {
        /* A guest window is showing: come back when it ends. */
        window = vdVmStateGuestWindow(vm->guest_event,
                                      (double)vdConfigGetInt("vars", "guest_wait_timeout"));
        age = (g_get_monotonic_time() - vm->guest_event_us) / 1e6;
        vm->guest_timer =
            g_timeout_add_full(G_PRIORITY_DEFAULT, (guint)MAX((window - age) * 1000 + 10, 10),
                               vdVmTableGuestTimer, g_strdup(vm->id), g_free);
    }
}

/* --- transitions ------------------------------------------------------ */

void
vdVmTableSetDown(VdVm *vm, int exit_code, int exit_reason, const char *message)
{
    if (!vdVmSetDown(vm, exit_code, exit_reason, message))
        return;
    g_info("VM %s is Down: exitCode %d exitReason %d (%s)", vm->id, exit_code, exit_reason,
           vm->exit_message);
    vm->intent = VD_VM_INTENT_NONE;
    if (vm->shutdown_timer) {
        g_source_remove(vm->shutdown_timer);
        vm->shutdown_timer = 0;
    }
    vdVmTableWriteMetadata(vm);
    vdVmTableRefresh(vm, FALSE);
}

void
vdVmTableApply(VdVm *vm, const VdVmTransition *t)
{
    if (t->down) {
        vdVmTableSetDown(vm, t->exit_code, t->exit_reason, NULL);
        return;
    }
    vm->status = t->status;
    vm->pause_code = t->status == VD_VM_STATUS_PAUSED ? t->pause_code : NULL;
    if (t->guest_event_set) {
        vm->guest_event = t->guest_event;
        vm->guest_event_us = g_get_monotonic_time();
    }
    vdVmTableRefresh(vm, FALSE);
}

void
vdVmTableOnLifecycle(VdVm *vm, int event, int detail)
{
    VdVmTransition t;

    if (vm->staging) {
        g_array_append_val(vm->held_events, event);
        g_array_append_val(vm->held_events, detail);
        return;
    }
    if (vdVmStateOnLifecycle(vm->status, vm->intent, event, detail, &t))
        vdVmTableApply(vm, &t);
}

void
vdVmTableOnReboot(VdVm *vm)
{
    VdVmTransition t;
    int marker = -1, none = 0;

    if (vm->staging) {
        g_array_append_val(vm->held_events, marker);
        g_array_append_val(vm->held_events, none);
        return;
    }
    if (vm->intent == VD_VM_INTENT_REBOOT) {
        /* The reboot VM.shutdown asked for happened. */
        vm->intent = VD_VM_INTENT_NONE;
        if (vm->shutdown_timer) {
            g_source_remove(vm->shutdown_timer);
            vm->shutdown_timer = 0;
        }
    }
    if (vdVmStateOnReboot(vm->status, &t))
        vdVmTableApply(vm, &t);
}

void
vdVmTableEndStaging(VdVm *vm)
{
    g_autoptr(GArray) held = vm->held_events;
    g_autoptr(GPtrArray) waiters = vm->staging_waiters;

    vm->staging = FALSE;
    vm->held_events = g_array_new(FALSE, FALSE, sizeof(int));
    vm->staging_waiters = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmWaiterFree);
    for (guint i = 0; i + 1 < held->len; i += 2) {
        int event = g_array_index(held, int, i);

        if (event == -1)
            vdVmTableOnReboot(vm);
        else
            vdVmTableOnLifecycle(vm, event, g_array_index(held, int, i + 1));
    }
    for (guint i = 0; i < waiters->len; i++)
        vdVmWaiterSignal(g_ptr_array_index(waiters, i));
}

void
vdVmTableSetStale(gboolean stale)
{
    g_autoptr(GPtrArray) all = vdVmTableAll();

    for (guint i = 0; i < all->len; i++)
        ((VdVm *)g_ptr_array_index(all, i))->stale = stale;
}

/* --- metadata writes ---------------------------------------------------- */

typedef struct {
    char *id;
    char *xml;
} VdVmMetadataWrite;

static void
vdVmMetadataWriteFree(gpointer data)
{
    VdVmMetadataWrite *w = data;

    g_free(w->id);
    g_free(w->xml);
    g_free(w);
}

static gpointer
vdVmMetadataWriteDone(gpointer data)
{
    VdVm *vm = vdVmTableLookup(data);

    if (!vm)
        return NULL;
    vm->md_writing = FALSE;
    if (vm->md_dirty) {
        vm->md_dirty = FALSE;
        vdVmTableWriteMetadata(vm);
    }
    return NULL;
}

/* Job pool thread. */
static void
vdVmMetadataWriteRun(gpointer data)
{
    VdVmMetadataWrite *w = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = vdLibvirtGet(&error);
    g_autoptr(virDomain) dom = NULL;

    if (conn && (dom = virDomainLookupByUUIDString(conn, w->id))) {
        for (int attempt = 0; attempt < 2; attempt++) {
            unsigned int flags = 0;

            if (virDomainIsActive(dom) == 1)
                flags |= VIR_DOMAIN_AFFECT_LIVE;
            if (virDomainIsPersistent(dom) == 1)
                flags |= VIR_DOMAIN_AFFECT_CONFIG;
            if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, w->xml,
                                     VD_VM_METADATA_PREFIX, VD_VM_METADATA_URI, flags) == 0)
                break;
            /* The domain may have stopped between the check and the write. */
            if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
                g_debug("VM %s: domain gone before its metadata was written", w->id);
                break;
            }
            if (attempt == 1 || virGetLastErrorCode() != VIR_ERR_OPERATION_INVALID)
                g_warning("VM %s: cannot write its metadata: %s", w->id, virGetLastErrorMessage());
        }
    } else if (conn) {
        g_debug("VM %s: no libvirt domain to write metadata to", w->id);
    } else {
        g_warning("VM %s: metadata not written: %s", w->id, error->message);
    }
    vdMainPost(vdVmMetadataWriteDone, g_strdup(w->id), g_free);
}

void
vdVmTableWriteMetadata(VdVm *vm)
{
    VdVmMetadataWrite *w;

    const char *agent = vdVmMetadataGetString(vm->md, VD_VM_METADATA_AGENT_KEY);

    if (vm->external)
        return; /* not ours to write */
    if (agent && g_strcmp0(agent, vdVmMetadataAgentTag()) != 0) {
        /* Started by another vdsmd on this libvirtd (tests run several):
         * its own daemon writes what it knows. */
        g_debug("VM %s: metadata belongs to the agent at %s; not written", vm->id, agent);
        return;
    }
    if (vm->md_writing) {
        vm->md_dirty = TRUE;
        return;
    }
    vm->md_writing = TRUE;
    w = g_new0(VdVmMetadataWrite, 1);
    w->id = g_strdup(vm->id);
    w->xml = vdVmMetadataFormat(vm->md);
    vdVmManagerRunJob(vdVmMetadataWriteRun, w, vdVmMetadataWriteFree);
}
