/* vm-power.c - see vm-power.h.  Public functions run on rpc workers; the
 * *OnMain functions on the main loop (vdMainCall); vdVmShutdown*Run on the
 * job pool. */
#include "vm-power.h"

#include "hooks.h"
#include "main-call.h"
#include "vm-guest-agent.h"
#include "vd-error.h"
#include "vm-access.h"
#include "vm-hooks.h"
#include "vm-manager.h"
#include "vm-table.h"

#include <libvirt/virterror.h>

/* How long VM.destroy waits for a start-up flow to notice it. */
#define VD_VM_DESTROY_STAGING_WAIT_S 300.0

int
vdVmPause(const char *id, GError **error)
{
    g_autoptr(virDomain) dom = vdVmAccessDomain(id, VD_VM_ACCESS_RUNNING, VD_ERR_UNEXPECTED, error);

    if (!dom)
        return -1;
    if (vdVmHooksRun(dom, id, "before_vm_pause", NULL, error) < 0)
        return -1;
    if (virDomainSuspend(dom) < 0) {
        vdVmSetLibvirtError(error, id, VD_ERR_UNEXPECTED, "cannot pause the VM");
        return -1;
    }
    vdVmHooksRun(dom, id, "after_vm_pause", NULL, NULL);
    return 0;
}

int
vdVmCont(const char *id, GError **error)
{
    g_autoptr(virDomain) dom = vdVmAccessDomain(id, VD_VM_ACCESS_RUNNING, VD_ERR_UNEXPECTED, error);
    int state = 0, reason = 0;

    if (!dom)
        return -1;
    /* Resuming a running VM is a no-op, not an error. */
    if (virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_RUNNING)
        return 0;
    if (vdVmHooksRun(dom, id, "before_vm_cont", NULL, error) < 0)
        return -1;
    if (virDomainResume(dom) < 0) {
        vdVmSetLibvirtError(error, id, VD_ERR_UNEXPECTED, "cannot resume the VM");
        return -1;
    }
    vdVmHooksRun(dom, id, "after_vm_cont", NULL, NULL);
    return 0;
}

int
vdVmReset(const char *id, GError **error)
{
    g_autoptr(virDomain) dom = vdVmAccessDomain(id, VD_VM_ACCESS_RUNNING, VD_ERR_RESET, error);

    if (!dom)
        return -1;
    if (virDomainReset(dom, 0) < 0) {
        vdVmSetLibvirtError(error, id, VD_ERR_RESET, "cannot reset the VM");
        return -1;
    }
    return 0;
}

/* --- destroy ------------------------------------------------------------ */

typedef struct {
    const char *id;
    VdVmWaiter *waiter; /* set when the VM is staging */
    gboolean found;
    gboolean external;
} VdVmDestroyCall;

static gpointer
vdVmDestroyBeginOnMain(gpointer data)
{
    VdVmDestroyCall *c = data;
    VdVm *vm = vdVmTableLookup(c->id);

    if (!vm)
        return NULL;
    c->found = TRUE;
    c->external = vm->external;
    if (vm->staging) {
        /* The flow stops at its next step; wait for it to leave staging. */
        vm->destroy_requested = TRUE;
        c->waiter = vdVmWaiterNew();
        vdVmAddStagingWaiter(vm, c->waiter);
        return NULL;
    }
    vm->destroying = TRUE;
    if (vm->status != VD_VM_STATUS_DOWN)
        vm->intent = VD_VM_INTENT_DESTROY;
    if (vm->shutdown_timer) {
        g_source_remove(vm->shutdown_timer);
        vm->shutdown_timer = 0;
    }
    return NULL;
}

static gpointer
vdVmDestroyFailedOnMain(gpointer data)
{
    VdVm *vm = vdVmTableLookup(data);

    if (vm) {
        vm->destroying = FALSE;
        if (vm->intent == VD_VM_INTENT_DESTROY)
            vm->intent = VD_VM_INTENT_NONE;
    }
    return NULL;
}

static gpointer
vdVmDestroyEndOnMain(gpointer data)
{
    VdVm *vm = vdVmTableLookup(data);

    if (!vm)
        return NULL;
    /* One Down event, unless the STOPPED event already gave it. */
    vdVmTableSetDown(vm, VD_VM_EXIT_CODE_NORMAL, VD_VM_EXIT_ADMIN_SHUTDOWN, NULL);
    g_info("VM %s destroyed and removed", vm->id);
    vdVmTableRemove(vm);
    return NULL;
}

/* Destroy (if running) and undefine the domain of @id; 0 also when there
 * is no domain any more. */
static int
vdVmDestroyDomain(const char *id, guint graceful_attempts, gboolean undefine, GError **error)
{
    g_autoptr(GError) lookup_error = NULL;
    g_autoptr(virDomain) dom = vdVmLookupDomain(id, VD_ERR_DESTROY, &lookup_error);

    if (!dom) {
        if (lookup_error->code == VD_ERR_NO_SUCH_VM)
            return 0; /* nothing left in libvirt */
        g_propagate_error(error, g_steal_pointer(&lookup_error));
        return -1;
    }
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(GHashTable) env = vdVmHooksEnv(id, xml);

    /* VDSM passes no XML to before_vm_destroy and the domain's to after */
    if (vdHooksRun("before_vm_destroy", NULL, env, NULL, error) < 0 ||
        vdVmHooksRunDevices(id, xml, "before_device_destroy", NULL, error) < 0)
        return -1;
    if (virDomainIsActive(dom) == 1) {
        gboolean done = FALSE;

        for (guint i = 0; i < graceful_attempts && !done; i++) {
            if (virDomainDestroyFlags(dom, VIR_DOMAIN_DESTROY_GRACEFUL) == 0)
                done = TRUE;
            else
                g_info("VM %s: graceful destroy %u failed: %s", id, i + 1,
                       virGetLastErrorMessage());
        }
        if (!done && virDomainDestroyFlags(dom, 0) < 0 &&
            virGetLastErrorCode() != VIR_ERR_OPERATION_INVALID) {
            vdVmSetLibvirtError(error, id, VD_ERR_DESTROY, "cannot destroy the VM");
            return -1;
        }
    }
    if (undefine && virDomainIsPersistent(dom) == 1 &&
        virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                        VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                        VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0 &&
        virGetLastErrorCode() != VIR_ERR_NO_DOMAIN) {
        vdVmSetLibvirtError(error, id, VD_ERR_DESTROY, "cannot undefine the VM");
        return -1;
    }
    vdHooksRun("after_vm_destroy", xml, env, NULL, NULL);
    vdVmHooksRunDevices(id, xml, "after_device_destroy", NULL, NULL);
    return 0;
}

int
vdVmDestroy(const char *id, guint graceful_attempts, GError **error)
{
    VdVmDestroyCall c = {.id = id};

    vdMainCall(vdVmDestroyBeginOnMain, &c);
    if (c.found && c.waiter) {
        g_autoptr(VdVmWaiter) waiter = c.waiter;

        if (!vdVmWaiterWait(waiter, VD_VM_DESTROY_STAGING_WAIT_S)) {
            vdErrorSetCode(error, VD_ERR_DESTROY,
                           "{'vmId': '%s', 'reason': 'the VM is still starting'}", id);
            return -1;
        }
        c = (VdVmDestroyCall){.id = id};
        vdMainCall(vdVmDestroyBeginOnMain, &c);
        if (c.waiter) { /* cannot happen: staging ends once */
            vdVmWaiterFree(c.waiter);
            vdErrorSetCode(error, VD_ERR_DESTROY, "{'vmId': '%s'}", id);
            return -1;
        }
    }
    if (!c.found) {
        vdErrorSetCode(error, VD_ERR_NO_SUCH_VM, "{'vmId': '%s'}", id);
        return -1;
    }
    /* An external domain is not ours to undefine. */
    if (vdVmDestroyDomain(id, graceful_attempts, !c.external, error) < 0) {
        vdMainCall(vdVmDestroyFailedOnMain, (gpointer)id);
        return -1;
    }
    vdMainCall(vdVmDestroyEndOnMain, (gpointer)id);
    return 0;
}

/* --- shutdown ----------------------------------------------------------- */

/* VDSM's chain: each step asks the guest in its own way and waits its
 * timeout for the powered-down event before the next one is tried. */
typedef enum {
    VD_VM_SHUTDOWN_STEP_QGA,   /* qemu-guest-agent, through libvirt */
    VD_VM_SHUTDOWN_STEP_OVIRT, /* the oVirt guest agent's "shutdown" message */
    VD_VM_SHUTDOWN_STEP_ACPI,  /* the ACPI power button */
    VD_VM_SHUTDOWN_STEP_DONE,  /* only force (destroy or reset) is left */
} VdVmShutdownStep;

typedef struct {
    char *id;
    gboolean reboot;
    gboolean force;
    gint64 timeout;
    gint64 delay;
    char *message;
    gboolean acpi;
    VdVmShutdownStep step; /* the next step to try */
    gint64 wait;           /* seconds the step just taken waits */
} VdVmShutdownJob;

static void
vdVmShutdownJobFree(gpointer data)
{
    VdVmShutdownJob *job = data;

    g_free(job->id);
    g_free(job->message);
    g_free(job);
}

static VdVmShutdownJob *
vdVmShutdownJobCopy(const VdVmShutdownJob *job)
{
    VdVmShutdownJob *copy = g_new0(VdVmShutdownJob, 1);

    *copy = *job;
    copy->id = g_strdup(job->id);
    copy->message = g_strdup(job->message);
    return copy;
}

static void vdVmShutdownRun(gpointer data);

typedef struct {
    const VdVmShutdownArgs *args;
    const char *id;
    int code;
    gboolean acpi;
} VdVmShutdownCall;

static gpointer
vdVmShutdownBeginOnMain(gpointer data)
{
    VdVmShutdownCall *c = data;
    VdVm *vm = vdVmTableLookup(c->id);

    if (!vm)
        return NULL;
    /* qemu-ga is tried first, but as in VDSM only ACPI or a responsive
     * oVirt agent make the request acceptable without force. */
    if (!vm->acpi && !c->args->force && !vdVmGuestAgentResponsive(c->id)) {
        c->code = VD_ERR_VM_EXISTS; /* VDSM answers this case with code 4 */
        return NULL;
    }
    c->acpi = vm->acpi;
    vm->intent = c->args->reboot ? VD_VM_INTENT_REBOOT : VD_VM_INTENT_SHUTDOWN;
    vm->shutdown_force = c->args->force;
    if (vm->shutdown_timer) {
        g_source_remove(vm->shutdown_timer);
        vm->shutdown_timer = 0;
    }
    vm->guest_event = c->args->reboot ? VD_VM_GUEST_REBOOTING : VD_VM_GUEST_POWERING_DOWN;
    vm->guest_event_us = g_get_monotonic_time();
    vdVmTableRefresh(vm, FALSE);
    return NULL;
}

/* Job pool: the forced last step. */
static void
vdVmShutdownForceRun(gpointer data)
{
    VdVmShutdownJob *job = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = vdVmLookupDomain(job->id, VD_ERR_DESTROY, &error);

    if (!dom)
        return;
    if (job->reboot) {
        g_info("VM %s: no reboot within %" G_GINT64_FORMAT " s: resetting it", job->id,
               job->timeout);
        if (virDomainReset(dom, 0) < 0)
            g_warning("VM %s: forced reboot failed: %s", job->id, virGetLastErrorMessage());
    } else {
        g_info("VM %s: not down within %" G_GINT64_FORMAT " s: destroying it", job->id,
               job->timeout);
        if (virDomainDestroy(dom) < 0)
            g_warning("VM %s: forced shutdown failed: %s", job->id, virGetLastErrorMessage());
    }
}

/* Main loop: the request of @job has ended (the VM went down, or the
 * reboot it asked for happened and cleared the intent). */
static gboolean
vdVmShutdownOver(const VdVm *vm, const VdVmShutdownJob *job)
{
    return vm->status == VD_VM_STATUS_DOWN || (job->reboot && vm->intent != VD_VM_INTENT_REBOOT);
}

static gboolean
vdVmShutdownTimeout(gpointer data)
{
    VdVmShutdownJob *job = data;
    VdVm *vm = vdVmTableLookup(job->id);
    VdVmShutdownJob *force;

    if (!vm)
        return G_SOURCE_REMOVE;
    vm->shutdown_timer = 0;
    if (vdVmShutdownOver(vm, job))
        return G_SOURCE_REMOVE;
    if (job->step < VD_VM_SHUTDOWN_STEP_DONE) {
        /* this step got no reaction: try the next way of asking */
        vdVmManagerRunJob(vdVmShutdownRun, vdVmShutdownJobCopy(job), vdVmShutdownJobFree);
        return G_SOURCE_REMOVE;
    }
    if (!job->force) {
        /* The guest did not react: the request is over, it stays Up. */
        g_info("VM %s: the guest ignored the %s request", vm->id,
               job->reboot ? "reboot" : "shutdown");
        vm->intent = VD_VM_INTENT_NONE;
        vm->guest_event = VD_VM_GUEST_NONE;
        vdVmTableRefresh(vm, FALSE);
        return G_SOURCE_REMOVE;
    }
    force = vdVmShutdownJobCopy(job);
    if (!job->reboot)
        vm->intent = VD_VM_INTENT_SHUTDOWN; /* the STOPPED event says admin shutdown */
    else
        vm->intent = VD_VM_INTENT_NONE;
    vdVmManagerRunJob(vdVmShutdownForceRun, force, vdVmShutdownJobFree);
    return G_SOURCE_REMOVE;
}

static gpointer
vdVmShutdownArmOnMain(gpointer data)
{
    VdVmShutdownJob *job = data;
    VdVm *vm = vdVmTableLookup(job->id);
    VdVmShutdownJob *timer;

    if (!vm || vdVmShutdownOver(vm, job))
        return NULL;
    timer = vdVmShutdownJobCopy(job);
    vm->shutdown_timer = g_timeout_add_seconds_full(
        G_PRIORITY_DEFAULT, (guint)MAX(job->wait, 0), vdVmShutdownTimeout, timer,
        vdVmShutdownJobFree);
    return NULL;
}

typedef struct {
    const VdVmShutdownJob *job;
    int rc;
} VdVmShutdownOvirtCall;

static gpointer
vdVmShutdownOvirtOnMain(gpointer data)
{
    VdVmShutdownOvirtCall *c = data;
    json_object *args = json_object_new_object();

    json_object_object_add(args, "timeout", json_object_new_int64(c->job->delay));
    json_object_object_add(args, "message",
                           json_object_new_string(c->job->message ? c->job->message : ""));
    json_object_object_add(args, "reboot", json_object_new_string(c->job->reboot ? "True"
                                                                                 : "False"));
    c->rc = vdVmGuestAgentSend(c->job->id, "shutdown", args, NULL);
    return NULL;
}

/* Ask the guest in the way of @step; 0 when the request went out. */
static int
vdVmShutdownTry(VdVmShutdownJob *job, virDomainPtr dom, VdVmShutdownStep step)
{
    const char *what = job->reboot ? "reboot" : "shutdown";
    int rc = -1;

    switch (step) {
    case VD_VM_SHUTDOWN_STEP_QGA:
        rc = job->reboot ? virDomainReboot(dom, VIR_DOMAIN_REBOOT_GUEST_AGENT)
                         : virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_GUEST_AGENT);
        if (rc < 0)
            g_info("VM %s: qemu-guest-agent %s: %s", job->id, what, virGetLastErrorMessage());
        break;
    case VD_VM_SHUTDOWN_STEP_OVIRT: {
        VdVmShutdownOvirtCall c = {.job = job, .rc = -1};

        vdMainCall(vdVmShutdownOvirtOnMain, &c);
        rc = c.rc;
        if (rc < 0)
            g_info("VM %s: the oVirt guest agent is not responsive", job->id);
        break;
    }
    case VD_VM_SHUTDOWN_STEP_ACPI:
        if (!job->acpi)
            break;
        rc = job->reboot ? virDomainReboot(dom, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN)
                         : virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN);
        if (rc < 0)
            g_warning("VM %s: ACPI %s request failed: %s", job->id, what,
                      virGetLastErrorMessage());
        break;
    case VD_VM_SHUTDOWN_STEP_DONE:
        break;
    }
    if (rc == 0)
        g_info("VM %s: %s requested through %s", job->id, what,
               step == VD_VM_SHUTDOWN_STEP_QGA     ? "qemu-guest-agent"
               : step == VD_VM_SHUTDOWN_STEP_OVIRT ? "the oVirt guest agent"
                                                   : "ACPI");
    return rc;
}

/* Job pool: take the next step of the chain that works, then arm its
 * timeout; with none left, arm an immediate timeout that forces (or ends
 * the request when not forced). */
static void
vdVmShutdownRun(gpointer data)
{
    VdVmShutdownJob *job = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = vdVmLookupDomain(job->id, VD_ERR_UNEXPECTED, &error);

    if (!dom)
        return;
    job->wait = 0;
    while (job->step < VD_VM_SHUTDOWN_STEP_DONE) {
        VdVmShutdownStep step = job->step++;

        if (vdVmShutdownTry(job, dom, step) == 0) {
            /* the oVirt agent gets the guest's delay on top, as in VDSM */
            job->wait = job->timeout + (step == VD_VM_SHUTDOWN_STEP_OVIRT ? job->delay : 0);
            break;
        }
    }
    vdMainCall(vdVmShutdownArmOnMain, job);
}

int
vdVmShutdown(const char *id, const VdVmShutdownArgs *args, GError **error)
{
    VdVmShutdownCall c = {.args = args, .id = id};
    VdVmShutdownJob *job;

    if (vdVmCheck(id, VD_VM_ACCESS_RUNNING, NULL, error) < 0)
        return -1;
    vdMainCall(vdVmShutdownBeginOnMain, &c);
    if (c.code) {
        g_set_error(error, VD_ERROR, c.code,
                    "VM without ACPI or active oVirt guest agent. Try Forced Shutdown.");
        return -1;
    }
    job = g_new0(VdVmShutdownJob, 1);
    job->id = g_strdup(id);
    job->reboot = args->reboot;
    job->force = args->force;
    job->timeout = MAX(args->timeout, 0);
    job->delay = MAX(args->delay, 0);
    job->message = g_strdup(args->message);
    job->acpi = c.acpi;
    job->step = VD_VM_SHUTDOWN_STEP_QGA;
    g_info("VM %s: %s requested (timeout %" G_GINT64_FORMAT " s%s)", id,
           args->reboot ? "reboot" : "shutdown", job->timeout, args->force ? ", forced" : "");
    vdVmManagerRunJob(vdVmShutdownRun, job, vdVmShutdownJobFree);
    return 0;
}
