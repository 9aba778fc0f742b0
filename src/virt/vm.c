/* vm.c - see vm.h.  Everything but VdVmWaiter and vdVmLiveNew/Free runs
 * on the main loop. */
#include "vm.h"

#include "config.h"
#include "domain-desc.h"
#include "vm-guest-agent.h"
#include "vm-sampling.h"

#include <stdio.h>
#include <stdlib.h>

struct _VdVmWaiter {
    gint ref;
    GMutex lock;
    GCond cond;
    gboolean signalled;
};

VdVmWaiter *
vdVmWaiterNew(void)
{
    VdVmWaiter *w = g_new0(VdVmWaiter, 1);

    w->ref = 1;
    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    return w;
}

static VdVmWaiter *
vdVmWaiterRef(VdVmWaiter *w)
{
    g_atomic_int_inc(&w->ref);
    return w;
}

void
vdVmWaiterFree(VdVmWaiter *w)
{
    if (!w || !g_atomic_int_dec_and_test(&w->ref))
        return;
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
    g_free(w);
}

void
vdVmWaiterSignal(VdVmWaiter *w)
{
    g_mutex_lock(&w->lock);
    w->signalled = TRUE;
    g_cond_broadcast(&w->cond);
    g_mutex_unlock(&w->lock);
}

gboolean
vdVmWaiterWait(VdVmWaiter *w, double timeout_s)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)(timeout_s * G_USEC_PER_SEC);
    gboolean ok;

    g_mutex_lock(&w->lock);
    while (!w->signalled) {
        if (!g_cond_wait_until(&w->cond, &w->lock, deadline))
            break;
    }
    ok = w->signalled;
    g_mutex_unlock(&w->lock);
    return ok;
}

void
vdVmDisplayFree(VdVmDisplay *display)
{
    if (!display)
        return;
    g_free(display->type);
    g_free(display->address);
    g_free(display);
}

VdVm *
vdVmNew(const char *id, const char *name, VdVmStatus status)
{
    VdVm *vm = g_new0(VdVm, 1);

    vm->id = g_strdup(id);
    vm->name = g_strdup(name);
    vm->status = status;
    vm->held_events = g_array_new(FALSE, FALSE, sizeof(int));
    vm->staging_waiters = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmWaiterFree);
    vm->displays = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmDisplayFree);
    vm->exit_message = g_strdup("");
    vm->start_time = g_get_real_time() / 1e6;
    vm->md = vdVmMetadataNew();
    return vm;
}

void
vdVmFree(VdVm *vm)
{
    if (!vm)
        return;
    if (vm->guest_timer)
        g_source_remove(vm->guest_timer);
    if (vm->shutdown_timer)
        g_source_remove(vm->shutdown_timer);
    /* Nobody must wait forever for a VM that is gone. */
    for (guint i = 0; i < vm->staging_waiters->len; i++)
        vdVmWaiterSignal(g_ptr_array_index(vm->staging_waiters, i));
    g_free(vm->id);
    g_free(vm->name);
    g_array_unref(vm->held_events);
    g_ptr_array_unref(vm->staging_waiters);
    g_ptr_array_unref(vm->displays);
    g_free(vm->exit_message);
    g_free(vm->xml);
    vdVmMetadataFree(vm->md);
    g_free(vm);
}

VdVmLive *
vdVmLiveNew(const char *xml)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VdDomainDesc) desc = xml ? vdDomainDescNew(xml, &error) : NULL;
    VdVmLive *live;

    if (!desc) {
        g_warning("cannot parse a domain XML: %s", error ? error->message : "none given");
        return NULL;
    }
    live = g_new0(VdVmLive, 1);
    live->xml = g_strdup(xml);
    live->name = g_strdup(desc->name);
    live->acpi = desc->acpi;
    live->displays = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmDisplayFree);
    for (guint i = 0; i < desc->graphics->len; i++) {
        VdDomainGraphics *g = g_ptr_array_index(desc->graphics, i);
        VdVmDisplay *d = g_new0(VdVmDisplay, 1);

        d->type = g_strdup(g->type);
        d->port = g->port;
        d->tls_port = g->tls_port;
        d->address = g_strdup(g->listen);
        g_ptr_array_add(live->displays, d);
    }
    return live;
}

void
vdVmLiveFree(VdVmLive *live)
{
    if (!live)
        return;
    g_free(live->xml);
    g_free(live->name);
    g_ptr_array_unref(live->displays);
    g_free(live);
}

void
vdVmSetLive(VdVm *vm, VdVmLive *live)
{
    if (!live)
        return;
    g_free(vm->xml);
    vm->xml = g_steal_pointer(&live->xml);
    vm->acpi = live->acpi;
    if (live->name && g_strcmp0(live->name, vm->name) != 0) {
        g_free(vm->name);
        vm->name = g_steal_pointer(&live->name);
    }
    g_ptr_array_unref(vm->displays);
    vm->displays = g_steal_pointer(&live->displays);
    live->displays = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmDisplayFree);
}

gboolean
vdVmSetDown(VdVm *vm, int exit_code, int exit_reason, const char *message)
{
    if (vm->status == VD_VM_STATUS_DOWN)
        return FALSE;
    vm->status = VD_VM_STATUS_DOWN;
    vm->pause_code = NULL;
    vm->guest_event = VD_VM_GUEST_NONE;
    vm->exit_code = exit_code;
    vm->exit_reason = exit_reason;
    g_free(vm->exit_message);
    vm->exit_message = g_strdup(message && *message ? message : vdVmExitReasonMessage(exit_reason));
    vm->pid = 0;
    vdVmMetadataSetExitInfo(vm->md, exit_code, exit_reason, vm->exit_message);
    return TRUE;
}

VdVmStatus
vdVmReportedStatus(VdVm *vm)
{
    double age = (g_get_monotonic_time() - vm->guest_event_us) / 1e6;

    return vdVmStateReported(vm->status, vm->guest_event, age,
                             (double)vdConfigGetInt("vars", "guest_wait_timeout"));
}

gint64
vdVmElapsed(VdVm *vm)
{
    gint64 elapsed = (gint64)(g_get_real_time() / 1e6 - vm->start_time);

    return MAX(elapsed, 0);
}

char *
vdVmStatusTime(void)
{
    return g_strdup_printf("%" G_GINT64_FORMAT, g_get_monotonic_time() / 1000);
}

static void
vdVmAddString(json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value ? value : ""));
}

static void
vdVmAddInt64Text(json_object *obj, const char *key, gint64 value)
{
    g_autofree char *text = g_strdup_printf("%" G_GINT64_FORMAT, value);

    vdVmAddString(obj, key, text);
}

static void
vdVmAddStatus(VdVm *vm, json_object *obj)
{
    g_autofree char *status_time = vdVmStatusTime();
    VdVmStatus reported = vdVmReportedStatus(vm);

    vdVmAddString(obj, "status", vdVmStatusName(reported));
    vdVmAddString(obj, "statusTime", status_time);
    if (vm->status == VD_VM_STATUS_PAUSED && vm->pause_code)
        vdVmAddString(obj, "pauseCode", vm->pause_code);
}

static void
vdVmAddExitInfo(VdVm *vm, json_object *obj)
{
    json_object_object_add(obj, "exitCode", json_object_new_int(vm->exit_code));
    json_object_object_add(obj, "exitReason", json_object_new_int(vm->exit_reason));
    vdVmAddString(obj, "exitMessage", vm->exit_message);
}

static void
vdVmAddDisplay(VdVm *vm, json_object *obj)
{
    json_object *list = json_object_new_array();

    for (guint i = 0; i < vm->displays->len; i++) {
        VdVmDisplay *d = g_ptr_array_index(vm->displays, i);
        json_object *item = json_object_new_object();

        vdVmAddString(item, "type", d->type);
        vdVmAddInt64Text(item, "port", d->port);
        vdVmAddInt64Text(item, "tlsPort", d->tls_port);
        vdVmAddString(item, "ipAddress", d->address ? d->address : "0");
        json_object_array_add(list, item);
    }
    json_object_object_add(obj, "displayInfo", list);
    /* The legacy single-display keys, from the first display. */
    if (vm->displays->len) {
        VdVmDisplay *d = g_ptr_array_index(vm->displays, 0);

        vdVmAddString(obj, "displayType", g_str_equal(d->type, "spice") ? "qxl" : "vnc");
        vdVmAddInt64Text(obj, "displayPort", d->port);
        vdVmAddInt64Text(obj, "displaySecurePort", d->tls_port);
        vdVmAddString(obj, "displayIp", d->address ? d->address : "0");
    }
}

/* "-1" while libvirt is unreachable (the status is the last known one)
 * or while the sampler finds the VM unresponsive; "0" otherwise. */
static const char *
vdVmMonitorResponse(VdVm *vm)
{
    return vm->stale || !vdVmSamplingResponsive(vm->id) ? "-1" : "0";
}

json_object *
vdVmToShortStatus(VdVm *vm)
{
    json_object *obj = json_object_new_object();

    vdVmAddString(obj, "vmId", vm->id);
    vdVmAddStatus(vm, obj);
    return obj;
}

json_object *
vdVmToFullStatus(VdVm *vm)
{
    json_object *obj = json_object_new_object();

    vdVmAddString(obj, "vmId", vm->id);
    vdVmAddString(obj, "vmName", vm->name);
    vdVmAddString(obj, "vmType", "kvm");
    vdVmAddStatus(vm, obj);
    if (vm->xml)
        vdVmAddString(obj, "xml", vm->xml);
    json_object_object_add(obj, "guestDiskMapping", json_object_new_object());
    vdVmAddString(obj, "acpiEnable", vm->acpi ? "true" : "false");
    vdVmAddString(obj, "clientIp", "");
    if (vm->pid > 0)
        vdVmAddInt64Text(obj, "pid", vm->pid);
    if (vm->external)
        json_object_object_add(obj, "external", json_object_new_boolean(TRUE));
    if (vm->status == VD_VM_STATUS_DOWN)
        vdVmAddExitInfo(vm, obj);
    return obj;
}

json_object *
vdVmToStats(VdVm *vm)
{
    json_object *obj = json_object_new_object();

    vdVmAddString(obj, "vmId", vm->id);
    vdVmAddStatus(vm, obj);
    if (vm->status == VD_VM_STATUS_DOWN) {
        vdVmAddExitInfo(vm, obj);
        vdVmAddString(obj, "timeOffset", "0");
        return obj;
    }
    vdVmAddString(obj, "vmName", vm->name);
    vdVmAddString(obj, "vmType", "kvm");
    vdVmAddString(obj, "kvmEnable", "true");
    vdVmAddString(obj, "acpiEnable", vm->acpi ? "true" : "false");
    vdVmAddInt64Text(obj, "elapsedTime", vdVmElapsed(vm));
    vdVmAddString(obj, "monitorResponse", vdVmMonitorResponse(vm));
    vdVmAddString(obj, "clientIp", "");
    vdVmAddString(obj, "timeOffset", "0");
    if (vm->pid > 0)
        vdVmAddInt64Text(obj, "pid", vm->pid);
    if (vm->external)
        json_object_object_add(obj, "external", json_object_new_boolean(TRUE));
    vdVmAddDisplay(vm, obj);
    /* cpu, memory, balloon, network, disks: from the sampler's cache, no
     * libvirt call (vm-sampling.h). */
    vdVmSamplingAddStats(vm->id, obj);
    /* Guest agents' fields, from their caches (vm-guest-agent.h). */
    vdVmGuestFillStats(vm->id, obj);
    return obj;
}

json_object *
vdVmToEventDetails(VdVm *vm)
{
    json_object *obj = json_object_new_object();

    vdVmAddStatus(vm, obj);
    if (vm->status == VD_VM_STATUS_DOWN) {
        vdVmAddExitInfo(vm, obj);
        return obj;
    }
    vdVmAddInt64Text(obj, "elapsedTime", vdVmElapsed(vm));
    vdVmAddString(obj, "monitorResponse", vdVmMonitorResponse(vm));
    vdVmAddString(obj, "clientIp", "");
    vdVmAddString(obj, "timeOffset", "0");
    vdVmAddDisplay(vm, obj);
    return obj;
}

void
vdVmAddStagingWaiter(VdVm *vm, VdVmWaiter *waiter)
{
    g_ptr_array_add(vm->staging_waiters, vdVmWaiterRef(waiter));
}
