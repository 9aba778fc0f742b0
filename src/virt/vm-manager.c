/* vm-manager.c - see vm-manager.h for the threads.  The libvirt callbacks
 * below run on libvirt's event thread; vdVmManagerDeliver and the other
 * vdMainPost targets on the main loop; job bodies on the pools. */
#include "vm-manager.h"

#include "config.h"
#include "host-stats.h"
#include "libvirt-conn.h"
#include "main-call.h"
#include "vd-error.h"
#include "vm-recovery.h"
#include "vm-sampling.h"
#include "vm-table.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <glib/gstdio.h>

/* Threads of the job pool (metadata writes, shutdown steps, hibernation).
 * Each job is one or two short libvirt calls, except a save. */
#define VD_VM_JOB_WORKERS 4

typedef struct {
    VdVmJobFunc func;
    gpointer data;
    GDestroyNotify destroy;
} VdVmJob;

typedef struct {
    char id[VIR_UUID_STRING_BUFLEN];
    int event; /* virDomainEventType, or -1 for a reboot */
    int detail;
} VdVmEvent;

static GThreadPool *vdVmJobPool;
static GThreadPool *vdVmCreationPool;
static gint vdVmCreations;     /* atomic: queued + running creations */
static gboolean vdVmRecovered; /* main loop */
static GArray *vdVmHeldEvents; /* VdVmEvent for unknown VMs, during recovery */
static VdVmReadyFunc vdVmReadyCb;
/* Callback ids on the current connection; only touched by the connection
 * hooks, which libvirt-conn.c calls with its lock held. */
static int vdVmLifecycleCbId = -1;
static int vdVmRebootCbId = -1;
static gpointer vdVmReadyData;

/* --- pools ------------------------------------------------------------ */

static void
vdVmJobRun(gpointer data, gpointer user_data)
{
    VdVmJob *job = data;

    job->func(job->data);
    if (job->destroy)
        job->destroy(job->data);
    g_free(job);
}

static void
vdVmCreationRun(gpointer data, gpointer user_data)
{
    vdVmJobRun(data, user_data);
    g_atomic_int_dec_and_test(&vdVmCreations);
}

static VdVmJob *
vdVmJobNew(VdVmJobFunc func, gpointer data, GDestroyNotify destroy)
{
    VdVmJob *job = g_new0(VdVmJob, 1);

    job->func = func;
    job->data = data;
    job->destroy = destroy;
    return job;
}

void
vdVmManagerRunJob(VdVmJobFunc func, gpointer data, GDestroyNotify destroy)
{
    g_thread_pool_push(vdVmJobPool, vdVmJobNew(func, data, destroy), NULL);
}

void
vdVmManagerRunCreation(VdVmJobFunc func, gpointer data, GDestroyNotify destroy)
{
    g_atomic_int_inc(&vdVmCreations);
    g_thread_pool_push(vdVmCreationPool, vdVmJobNew(func, data, destroy), NULL);
}

static void
vdVmManagerConnectionClose(gpointer conn)
{
    virConnectClose(conn);
}

/* One per creation thread, closed when the pool retires the thread. */
static GPrivate vdVmCreationConn = G_PRIVATE_INIT(vdVmManagerConnectionClose);

virConnectPtr
vdVmManagerCreationConnection(GError **error)
{
    virConnectPtr conn = g_private_get(&vdVmCreationConn);

    if (conn && virConnectIsAlive(conn) != 1) {
        g_private_replace(&vdVmCreationConn, NULL); /* closes it */
        conn = NULL;
    }
    if (!conn) {
        if (!(conn = vdLibvirtOpenPrivate(error)))
            return NULL;
        g_private_set(&vdVmCreationConn, conn);
    }
    virConnectRef(conn);
    return conn;
}

guint
vdVmManagerCreationsInFlight(void)
{
    return (guint)g_atomic_int_get(&vdVmCreations);
}

gboolean
vdVmManagerReady(void)
{
    return vdVmRecovered;
}

/* --- events from libvirt ---------------------------------------------- */

static void
vdVmManagerAdoptRun(gpointer data)
{
    vdVmRecoveryAdoptOne(data);
}

void
vdVmManagerAdopt(const char *id)
{
    vdVmManagerRunJob(vdVmManagerAdoptRun, g_strdup(id), g_free);
}

static gpointer
vdVmManagerDeliver(gpointer data)
{
    VdVmEvent *ev = data;
    VdVm *vm = vdVmTableLookup(ev->id);

    if (!vm) {
        if (!vdVmRecovered) {
            g_array_append_val(vdVmHeldEvents, *ev);
        } else if (ev->event == VIR_DOMAIN_EVENT_STARTED) {
            /* A domain started behind our back: report it too. */
            vdVmManagerAdopt(ev->id);
        }
        return NULL;
    }
    if (ev->event == -1)
        vdVmTableOnReboot(vm);
    else
        vdVmTableOnLifecycle(vm, ev->event, ev->detail);
    return NULL;
}

static int
vdVmOnLifecycleCb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    VdVmEvent *ev = g_new0(VdVmEvent, 1);

    if (virDomainGetUUIDString(dom, ev->id) < 0) {
        g_free(ev);
        return 0;
    }
    ev->event = event;
    ev->detail = detail;
    if (event == VIR_DOMAIN_EVENT_STARTED || event == VIR_DOMAIN_EVENT_STOPPED)
        vdVmSamplingDomainsChanged(); /* the set of active domains changed */
    g_debug("libvirt event: domain %s event %d detail %d", ev->id, event, detail);
    vdMainPost(vdVmManagerDeliver, ev, g_free);
    return 0;
}

static void
vdVmOnRebootCb(virConnectPtr conn, virDomainPtr dom, void *opaque)
{
    VdVmEvent *ev = g_new0(VdVmEvent, 1);

    if (virDomainGetUUIDString(dom, ev->id) < 0) {
        g_free(ev);
        return;
    }
    ev->event = -1;
    vdMainPost(vdVmManagerDeliver, ev, g_free);
}

static void
vdVmResyncRun(gpointer data)
{
    vdVmRecoveryResync();
}

static gpointer
vdVmManagerConnected(gpointer data)
{
    if (vdVmRecovered)
        vdVmManagerRunJob(vdVmResyncRun, NULL, NULL);
    return NULL;
}

/* Any thread, with the connection lock held: only register callbacks. */
static void
vdVmManagerOnConnect(virConnectPtr conn, gpointer data)
{
    vdVmLifecycleCbId =
        virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(vdVmOnLifecycleCb), NULL, NULL);
    vdVmRebootCbId =
        virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_REBOOT,
                                         VIR_DOMAIN_EVENT_CALLBACK(vdVmOnRebootCb), NULL, NULL);
    if (vdVmLifecycleCbId < 0 || vdVmRebootCbId < 0)
        g_warning("cannot register for libvirt domain events: %s", virGetLastErrorMessage());
    vdVmSamplingDomainsChanged(); /* events may have been missed meanwhile */
    vdVmRecoveryKick();
    vdMainPost(vdVmManagerConnected, NULL, NULL);
}

/* With the connection lock held, before a connection is closed. */
static void
vdVmManagerOnClose(virConnectPtr conn, gpointer data)
{
    if (vdVmLifecycleCbId >= 0)
        virConnectDomainEventDeregisterAny(conn, vdVmLifecycleCbId);
    if (vdVmRebootCbId >= 0)
        virConnectDomainEventDeregisterAny(conn, vdVmRebootCbId);
    vdVmLifecycleCbId = vdVmRebootCbId = -1;
}

static gpointer
vdVmManagerDisconnected(gpointer data)
{
    g_warning("libvirt connection lost: VMs keep their last known state until it is back");
    vdVmTableSetStale(TRUE);
    return NULL;
}

/* libvirt's event thread: no libvirt calls. */
static void
vdVmManagerOnDisconnect(gpointer data)
{
    vdMainPost(vdVmManagerDisconnected, NULL, NULL);
}

/* --- recovery and readiness --------------------------------------------- */

static gboolean
vdVmManagerRecoveryDone(gpointer data)
{
    g_autoptr(GArray) held = vdVmHeldEvents;

    vdVmRecovered = TRUE;
    vdVmHeldEvents = NULL;
    for (guint i = 0; i < held->len; i++) {
        VdVmEvent *ev = &g_array_index(held, VdVmEvent, i);

        vdVmManagerDeliver(ev);
    }
    g_info("VM recovery done: %u VMs", vdVmTableCount());
    if (vdVmReadyCb)
        vdVmReadyCb(vdVmReadyData);
    return G_SOURCE_REMOVE;
}

/* --- Host.getStats counters -------------------------------------------- */

static gpointer
vdVmManagerCountOnMain(gpointer data)
{
    VdHostVmCounters *c = data;
    g_autoptr(GPtrArray) all = vdVmTableAll();

    for (guint i = 0; i < all->len; i++) {
        VdVm *vm = g_ptr_array_index(all, i);

        c->vm_count++;
        switch (vm->status) {
        case VD_VM_STATUS_UP:
            c->vm_active++;
            break;
        case VD_VM_STATUS_MIGRATION_SOURCE:
            c->outgoing_migrations++;
            c->vm_migrating++;
            break;
        case VD_VM_STATUS_MIGRATION_DESTINATION:
            c->incoming_migrations++;
            c->vm_migrating++;
            break;
        default:
            break;
        }
    }
    return NULL;
}

/* rpc worker thread (Host.getStats). */
static void
vdVmManagerCounters(VdHostVmCounters *counters)
{
    vdMainCall(vdVmManagerCountOnMain, counters);
}

/* --- start/stop -------------------------------------------------------- */

int
vdVmManagerConfigure(GError **error)
{
    gint64 creations = vdConfigGetInt("vars", "max_concurrent_vm_creations");

    if (creations < 1 || creations > 256) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION,
                    "[vars] max_concurrent_vm_creations must be 1..256, not %" G_GINT64_FORMAT,
                    creations);
        return -1;
    }
    return 0;
}

int
vdVmManagerStart(VdVmReadyFunc ready, gpointer data, GError **error)
{
    gint64 creations = vdConfigGetInt("vars", "max_concurrent_vm_creations");
    const char *hiber_dir = vdConfigGetString("vars", "hibernation_dir");

    if (vdVmManagerConfigure(error) < 0)
        return -1;
    vdVmReadyCb = ready;
    vdVmReadyData = data;
    vdVmHeldEvents = g_array_new(FALSE, FALSE, sizeof(VdVmEvent));
    vdVmTableInit();
    if (!(vdVmJobPool = g_thread_pool_new(vdVmJobRun, NULL, VD_VM_JOB_WORKERS, FALSE, error)) ||
        !(vdVmCreationPool =
              g_thread_pool_new(vdVmCreationRun, NULL, (gint)creations, FALSE, error)))
        return -1;
    /* Hibernation images go here until storage domains exist. */
    if (g_mkdir_with_parents(hiber_dir, 0755) < 0)
        g_info("cannot create [vars] hibernation_dir %s: %s (VM.hibernate will fail)", hiber_dir,
               g_strerror(errno));

    vdHostStatsSetVmCounters(vdVmManagerCounters);
    vdLibvirtSetHooks(vdVmManagerOnConnect, vdVmManagerOnDisconnect, vdVmManagerOnClose, NULL);
    vdLibvirtStartEvents();
    vdVmRecoveryStart(vdVmManagerRecoveryDone, NULL);
    return 0;
}

void
vdVmManagerStop(void)
{
    vdHostStatsSetVmCounters(NULL);
    vdLibvirtStopEvents();
    if (vdVmCreationPool) {
        g_thread_pool_free(vdVmCreationPool, TRUE, FALSE);
        vdVmCreationPool = NULL;
    }
    if (vdVmJobPool) {
        g_thread_pool_free(vdVmJobPool, TRUE, FALSE);
        vdVmJobPool = NULL;
    }
    vdVmTableClear();
    if (vdVmHeldEvents) {
        g_array_unref(vdVmHeldEvents);
        vdVmHeldEvents = NULL;
    }
}
