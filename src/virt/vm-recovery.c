/* vm-recovery.c - see vm-recovery.h.  vdVmRecoveryInspect and the flow
 * bodies run on worker threads (libvirt calls); vdVmRecoveryBuild and the
 * *OnMain functions on the main loop through vdMainCall. */
#include "vm-recovery.h"

#include "config.h"
#include "domain-desc.h"
#include "libvirt-conn.h"
#include "main-call.h"
#include "qemu-pid.h"
#include "vm-table.h"

#include <libvirt/virterror.h>

/* Seconds between recovery attempts while libvirt cannot be reached
 * (VDSM retries every 5 s). */
#define VD_VM_RECOVERY_RETRY_S 5

/* What recovery learned about one domain (worker side). */
typedef struct {
    char *id;
    char *name;
    VdVmLive *live;
    int state;
    int reason;
    gboolean external;
    VdVmMetadata *md;
    gint64 pid;
    const char *pause_code;
} VdVmFound;

static void
vdVmFoundFree(gpointer data)
{
    VdVmFound *f = data;

    g_free(f->id);
    g_free(f->name);
    vdVmLiveFree(f->live);
    vdVmMetadataFree(f->md);
    g_free(f);
}

/* ENOSPC/EOTHER/EIO for a domain paused on an I/O error (VDSM's
 * _readPauseCode). */
static const char *
vdVmRecoveryIoPauseCode(virDomainPtr dom)
{
    virDomainDiskError errors[16];
    int n = virDomainGetDiskErrors(dom, errors, G_N_ELEMENTS(errors), 0);
    const char *code = "EIO";

    for (int i = 0; i < n; i++) {
        if (errors[i].error == VIR_DOMAIN_DISK_ERROR_NO_SPACE)
            code = "ENOSPC";
        else if (errors[i].error == VIR_DOMAIN_DISK_ERROR_UNSPEC && g_str_equal(code, "EIO"))
            code = "EOTHER";
        free(errors[i].disk);
    }
    return code;
}

/* Worker: read one domain; NULL for domains recovery leaves alone. */
static VdVmFound *
vdVmRecoveryInspect(virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autoptr(GError) error = NULL;
    g_autoptr(VdDomainDesc) desc = NULL;
    g_autofree char *xml = NULL;
    VdVmFound *f;
    int state = 0, reason = 0;
    gboolean owned, active;

    if (virDomainGetUUIDString(dom, uuid) < 0 || virDomainGetState(dom, &state, &reason, 0) < 0 ||
        !(xml = virDomainGetXMLDesc(dom, 0))) {
        g_warning("recovery: cannot read domain %s: %s", virDomainGetName(dom),
                  virGetLastErrorMessage());
        return NULL;
    }
    if (!(desc = vdDomainDescNew(xml, &error))) {
        g_warning("recovery: domain %s has XML we cannot parse: %s", uuid, error->message);
        return NULL;
    }
    if (desc->libguestfs)
        return NULL;
    owned = desc->has_ovirt_metadata || desc->legacy_vdsm_channel;
    active = state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_CRASHED;
    if (!owned && !active)
        return NULL;

    f = g_new0(VdVmFound, 1);
    f->id = g_strdup(uuid);
    f->name = g_strdup(virDomainGetName(dom));
    f->state = state;
    f->reason = reason;
    f->external = !owned;
    if (owned && !(f->md = vdVmMetadataFromDomainXml(xml, NULL)))
        f->md = vdVmMetadataNew();
    if (state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_IOERROR)
        f->pause_code = vdVmRecoveryIoPauseCode(dom);
    if (active)
        f->pid = vdQemuPidRead(f->name);
    f->live = vdVmLiveNew(xml);
    return f;
}

/* Main loop: the VM for @f, inserted in the table (NULL when the id is
 * already there). */
static VdVm *
vdVmRecoveryBuild(VdVmFound *f)
{
    const char *pause_code = NULL;
    VdVmStatus status = vdVmStateFromLibvirt(f->state, f->reason, &pause_code);
    double window = (double)vdConfigGetInt("vars", "guest_wait_timeout");
    gboolean known_start = FALSE;
    VdVm *vm;

    if (vdVmTableLookup(f->id))
        return NULL;
    vm = vdVmNew(f->id, f->name, status == VD_VM_STATUS_DOWN ? VD_VM_STATUS_UP : status);
    vm->external = f->external;
    vm->pid = f->pid;
    if (f->md) {
        double start;

        vdVmMetadataFree(vm->md);
        vm->md = g_steal_pointer(&f->md);
        if (vdVmMetadataGetDouble(vm->md, "startTime", &start)) {
            vm->start_time = start;
            known_start = TRUE;
        }
    }
    vdVmSetLive(vm, f->live);
    if (status == VD_VM_STATUS_PAUSED)
        vm->pause_code = f->pause_code ? f->pause_code : pause_code;
    if (status == VD_VM_STATUS_SAVING_STATE)
        vm->intent = VD_VM_INTENT_SAVE; /* a save we started before we died */
    if (status == VD_VM_STATUS_DOWN) {
        int code, reason;
        g_autofree char *message = NULL;

        if (vdVmMetadataGetExitInfo(vm->md, &code, &reason, &message)) {
            vdVmSetDown(vm, code, reason, message);
        } else {
            /* Died while we were away: libvirt's shut-off reason tells why;
             * keep it in the metadata so the next restart agrees. */
            vdVmStateShutoffExit(f->reason, &code, &reason);
            vdVmSetDown(vm, code, reason, NULL);
            vdVmTableWriteMetadata(vm);
        }
    } else if (status == VD_VM_STATUS_UP && known_start) {
        /* Still inside the "Powering up" window it had before we died. */
        double age = g_get_real_time() / 1e6 - vm->start_time;

        if (age >= 0 && age < window) {
            vm->guest_event = VD_VM_GUEST_POWERING_UP;
            vm->guest_event_us = g_get_monotonic_time() - (gint64)(age * G_USEC_PER_SEC);
        }
    }
    if (!vdVmTableInsert(vm)) {
        vdVmFree(vm);
        return NULL;
    }
    g_info("recovered VM %s (%s)%s: %s", vm->id, vm->name, vm->external ? " external" : "",
           vdVmStatusName(vm->status));
    vdVmTableRefresh(vm, FALSE);
    return vm;
}

static gpointer
vdVmRecoveryInsertOnMain(gpointer data)
{
    GPtrArray *found = data;

    for (guint i = 0; i < found->len; i++)
        vdVmRecoveryBuild(g_ptr_array_index(found, i));
    return NULL;
}

/* Worker: every domain of @conn, inspected; NULL when listing failed. */
static GPtrArray *
vdVmRecoveryScan(virConnectPtr conn)
{
    virDomainPtr *doms = NULL;
    GPtrArray *found;
    int n = virConnectListAllDomains(conn, &doms, 0);

    if (n < 0) {
        g_warning("recovery: cannot list libvirt domains: %s", virGetLastErrorMessage());
        return NULL;
    }
    found = g_ptr_array_new_with_free_func(vdVmFoundFree);
    for (int i = 0; i < n; i++) {
        VdVmFound *f = vdVmRecoveryInspect(doms[i]);

        if (f)
            g_ptr_array_add(found, f);
        virDomainFree(doms[i]);
    }
    free(doms);
    return found;
}

typedef struct {
    GSourceFunc done;
    gpointer data;
} VdVmRecoveryStartArgs;

/* Wakes a recovery thread waiting to retry. */
static GMutex vdVmRecoveryLock;
static GCond vdVmRecoveryCond;
static gboolean vdVmRecoveryKicked;

void
vdVmRecoveryKick(void)
{
    g_mutex_lock(&vdVmRecoveryLock);
    vdVmRecoveryKicked = TRUE;
    g_cond_broadcast(&vdVmRecoveryCond);
    g_mutex_unlock(&vdVmRecoveryLock);
}

static gpointer
vdVmRecoveryThread(gpointer data)
{
    VdVmRecoveryStartArgs *args = data;
    gint64 t0 = g_get_monotonic_time();

    for (;;) {
        g_autoptr(GError) error = NULL;
        g_autoptr(virConnect) conn = vdLibvirtGet(&error);
        g_autoptr(GPtrArray) found = NULL;

        if (conn && (found = vdVmRecoveryScan(conn))) {
            vdMainCall(vdVmRecoveryInsertOnMain, found);
            g_info("recovery read %u domains in %.3f s", found->len,
                   (g_get_monotonic_time() - t0) / 1e6);
            break;
        }
        if (error)
            g_warning("recovery: %s; retrying in %d s", error->message, VD_VM_RECOVERY_RETRY_S);
        /* ...or as soon as the keeper has a connection again. */
        g_mutex_lock(&vdVmRecoveryLock);
        if (!vdVmRecoveryKicked)
            g_cond_wait_until(&vdVmRecoveryCond, &vdVmRecoveryLock,
                              g_get_monotonic_time() + VD_VM_RECOVERY_RETRY_S * G_USEC_PER_SEC);
        vdVmRecoveryKicked = FALSE;
        g_mutex_unlock(&vdVmRecoveryLock);
    }
    g_main_context_invoke(NULL, args->done, args->data);
    g_free(args);
    return NULL;
}

void
vdVmRecoveryStart(GSourceFunc done, gpointer data)
{
    VdVmRecoveryStartArgs *args = g_new0(VdVmRecoveryStartArgs, 1);

    args->done = done;
    args->data = data;
    g_thread_unref(g_thread_new("vm-recovery", vdVmRecoveryThread, args));
}

/* --- adoption ---------------------------------------------------------- */

void
vdVmRecoveryAdoptOne(const char *id)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = vdLibvirtGet(&error);
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(vdVmFoundFree);
    VdVmFound *f;

    if (!conn || !(dom = virDomainLookupByUUIDString(conn, id)))
        return;
    if (!(f = vdVmRecoveryInspect(dom)))
        return;
    if (!f->external) {
        /* Only this daemon starts domains with the ovirt-vm block (and they
         * are in the table before they start); one that appears otherwise
         * belongs to another manager of this libvirtd. */
        g_info("not adopting domain %s: it carries ovirt-vm metadata we did not write", f->id);
        vdVmFoundFree(f);
        return;
    }
    g_ptr_array_add(found, f);
    vdMainCall(vdVmRecoveryInsertOnMain, found);
}

/* --- resynchronisation after a reconnect ---------------------------------- */

typedef struct {
    char *id;
    gboolean missing;
    int state;
    int reason;
} VdVmSeen;

static void
vdVmSeenFree(gpointer data)
{
    VdVmSeen *s = data;

    g_free(s->id);
    g_free(s);
}

static gpointer
vdVmRecoveryListOnMain(gpointer data)
{
    GPtrArray *ids = data;
    g_autoptr(GPtrArray) all = vdVmTableAll();

    for (guint i = 0; i < all->len; i++) {
        VdVm *vm = g_ptr_array_index(all, i);

        if (!vm->staging)
            g_ptr_array_add(ids, g_strdup(vm->id));
    }
    return NULL;
}

static void
vdVmRecoveryApplySeen(VdVm *vm, VdVmSeen *s)
{
    const char *pause_code = NULL;
    VdVmStatus now;
    VdVmTransition t = {0};

    if (s->missing) {
        if (vm->status != VD_VM_STATUS_DOWN)
            vdVmTableSetDown(vm, VD_VM_EXIT_CODE_ERROR, VD_VM_EXIT_LIBVIRT_DOMAIN_MISSING, NULL);
        return;
    }
    now = vdVmStateFromLibvirt(s->state, s->reason, &pause_code);
    if (now == VD_VM_STATUS_DOWN && vm->status != VD_VM_STATUS_DOWN) {
        int code, reason;

        if (vm->intent == VD_VM_INTENT_DESTROY || vm->intent == VD_VM_INTENT_SHUTDOWN) {
            code = VD_VM_EXIT_CODE_NORMAL;
            reason = VD_VM_EXIT_ADMIN_SHUTDOWN;
        } else {
            vdVmStateShutoffExit(s->reason, &code, &reason);
        }
        vdVmTableSetDown(vm, code, reason, NULL);
    } else if (now == VD_VM_STATUS_PAUSED && vm->status == VD_VM_STATUS_UP) {
        t.status = VD_VM_STATUS_PAUSED;
        t.pause_code = pause_code;
        vdVmTableApply(vm, &t);
    } else if (now == VD_VM_STATUS_UP && vm->status == VD_VM_STATUS_PAUSED) {
        t.status = VD_VM_STATUS_UP;
        vdVmTableApply(vm, &t);
    }
}

static gpointer
vdVmRecoveryApplyOnMain(gpointer data)
{
    GPtrArray *seen = data;

    for (guint i = 0; i < seen->len; i++) {
        VdVmSeen *s = g_ptr_array_index(seen, i);
        VdVm *vm = vdVmTableLookup(s->id);

        if (vm && !vm->staging)
            vdVmRecoveryApplySeen(vm, s);
    }
    vdVmTableSetStale(FALSE);
    g_info("libvirt connection back: %u VMs resynchronised", seen->len);
    return NULL;
}

void
vdVmRecoveryResync(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = vdLibvirtGet(&error);
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(vdVmSeenFree);

    if (!conn)
        return; /* the next connection triggers another resync */
    vdMainCall(vdVmRecoveryListOnMain, ids);
    for (guint i = 0; i < ids->len; i++) {
        g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, g_ptr_array_index(ids, i));
        VdVmSeen *s = g_new0(VdVmSeen, 1);

        s->id = g_strdup(g_ptr_array_index(ids, i));
        if (!dom) {
            s->missing = virGetLastErrorCode() == VIR_ERR_NO_DOMAIN;
            if (!s->missing) {
                vdVmSeenFree(s);
                return; /* connection trouble again: wait for the next one */
            }
        } else if (virDomainGetState(dom, &s->state, &s->reason, 0) < 0) {
            vdVmSeenFree(s);
            return;
        }
        g_ptr_array_add(seen, s);
    }
    vdMainCall(vdVmRecoveryApplyOnMain, seen);
}
