/* vm-staging.c - see vm-staging.h.  The *OnMain functions run on the main
 * loop; the public ones on workers. */
#include "vm-staging.h"

#include "main-call.h"
#include "vd-error.h"
#include "vm-table.h"

#include <libvirt/libvirt.h>

typedef struct {
    const VdVmStagingEntry *entry;
    VdVmLive *live;
    json_object *status;
} VdVmEnterCall;

static gpointer
vdVmStagingEnterOnMain(gpointer data)
{
    VdVmEnterCall *c = data;
    const VdVmStagingEntry *e = c->entry;
    VdVm *vm;

    if (vdVmTableLookup(e->id))
        return NULL;
    vm = vdVmNew(e->id, e->name, e->status);
    vm->staging = TRUE;
    vm->start_time = e->start_time;
    vdVmSetLive(vm, c->live);
    vdVmMetadataFree(vm->md);
    vm->md = vdVmMetadataCopy(e->md);
    vdVmTableInsert(vm);
    vdVmTableRefresh(vm, TRUE);
    c->status = vdVmToFullStatus(vm);
    return NULL;
}

json_object *
vdVmStagingEnter(const VdVmStagingEntry *entry, GError **error)
{
    g_autoptr(VdVmLive) live = vdVmLiveNew(entry->xml);
    VdVmEnterCall c = {.entry = entry, .live = live};

    vdMainCall(vdVmStagingEnterOnMain, &c);
    if (!c.status)
        vdErrorSetCode(error, VD_ERR_VM_EXISTS, "{'vmId': '%s'}", entry->id);
    return c.status;
}

static gpointer
vdVmStagingAbortedOnMain(gpointer data)
{
    VdVm *vm = vdVmTableLookup(data);

    return GINT_TO_POINTER(!vm || vm->destroy_requested);
}

gboolean
vdVmStagingAborted(const char *id)
{
    return GPOINTER_TO_INT(vdMainCall(vdVmStagingAbortedOnMain, (gpointer)id));
}

typedef struct {
    const char *id;
    VdVmLive *live;
    gint64 pid;
    gboolean paused;
} VdVmSucceedCall;

static gpointer
vdVmStagingSucceedOnMain(gpointer data)
{
    VdVmSucceedCall *c = data;
    VdVm *vm = vdVmTableLookup(c->id);
    VdVmTransition t;
    int detail;

    if (!vm)
        return NULL;
    vdVmSetLive(vm, c->live);
    vm->pid = c->pid;
    /* What the flow knows for sure; libvirt's own (held) events are
     * replayed after it and only move the VM on from there. */
    detail = vm->status == VD_VM_STATUS_RESTORING_STATE ? VIR_DOMAIN_EVENT_STARTED_RESTORED
                                                        : VIR_DOMAIN_EVENT_STARTED_BOOTED;
    if (vdVmStateOnLifecycle(vm->status, vm->intent, VIR_DOMAIN_EVENT_STARTED, detail, &t))
        vdVmTableApply(vm, &t);
    if (c->paused && vdVmStateOnLifecycle(vm->status, vm->intent, VIR_DOMAIN_EVENT_SUSPENDED,
                                          VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, &t))
        vdVmTableApply(vm, &t);
    vdVmTableEndStaging(vm);
    return NULL;
}

void
vdVmStagingSucceed(const char *id, const char *live_xml, gint64 pid, gboolean paused)
{
    g_autoptr(VdVmLive) live = live_xml ? vdVmLiveNew(live_xml) : NULL;
    VdVmSucceedCall c = {.id = id, .live = live, .pid = pid, .paused = paused};

    vdMainCall(vdVmStagingSucceedOnMain, &c);
}

typedef struct {
    const char *id;
    int exit_code;
    int exit_reason;
    const char *message;
} VdVmFailCall;

static gpointer
vdVmStagingFailOnMain(gpointer data)
{
    VdVmFailCall *c = data;
    VdVm *vm = vdVmTableLookup(c->id);

    if (!vm)
        return NULL;
    /* The domain is gone: whatever libvirt said about it no longer counts. */
    g_array_set_size(vm->held_events, 0);
    vdVmTableSetDown(vm, c->exit_code, c->exit_reason, c->message);
    vdVmTableEndStaging(vm);
    return NULL;
}

void
vdVmStagingFail(const char *id, int exit_code, int exit_reason, const char *message)
{
    VdVmFailCall c = {
        .id = id, .exit_code = exit_code, .exit_reason = exit_reason, .message = message};

    g_warning("VM %s: start-up failed: %s", id, message ? message : "");
    vdMainCall(vdVmStagingFailOnMain, &c);
}
