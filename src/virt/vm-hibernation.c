/* vm-hibernation.c - see vm-hibernation.h.  vdVmHibernate runs on an rpc
 * worker, vdVmHibernateRun on the job pool, *OnMain on the main loop. */
#include "vm-hibernation.h"

#include "config.h"
#include "domain-desc.h"
#include "hooks.h"
#include "main-call.h"
#include "vd-error.h"
#include "vm-access.h"
#include "vm-hooks.h"
#include "vm-manager.h"
#include "vm-table.h"

#include <libvirt/virterror.h>
#include <string.h>

char *
vdVmHibernationPath(const char *handle, GError **error)
{
    const char *dir = vdConfigGetString("vars", "hibernation_dir");
    g_auto(GStrv) parts = NULL;

    if (!handle || !*handle) {
        vdErrorSetCode(error, VD_ERR_INVALID_PARAMETER, "{'hibernation handle': ''}");
        return NULL;
    }
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        vdErrorSetCode(error, VD_ERR_UNEXPECTED,
                       "{'reason': 'hibernation directory %s does not exist'}", dir);
        return NULL;
    }
    parts = g_strsplit(handle, ",", -1);
    if (g_strv_length(parts) == 6) {
        for (guint i = 0; i < 6; i++) {
            if (!vdUuidIsValid(g_strstrip(parts[i]))) {
                vdErrorSetCode(error, VD_ERR_INVALID_PARAMETER,
                               "{'hibernation handle': '%s', 'reason': 'not six UUIDs'}", handle);
                return NULL;
            }
        }
        return g_build_filename(dir, parts[3], NULL);
    }
    if (g_path_is_absolute(handle)) {
        g_autofree char *parent = g_path_get_dirname(handle);
        g_autofree char *base = g_path_get_basename(handle);
        g_autofree char *canon_dir = g_canonicalize_filename(dir, NULL);
        g_autofree char *canon_parent = g_canonicalize_filename(parent, NULL);

        if (g_str_equal(canon_dir, canon_parent) && !g_str_equal(base, "..") &&
            !g_str_equal(base, "."))
            return g_build_filename(canon_dir, base, NULL);
    } else if (!strchr(handle, '/') && !g_str_equal(handle, "..") && !g_str_equal(handle, ".")) {
        return g_build_filename(dir, handle, NULL);
    }
    vdErrorSetCode(error, VD_ERR_INVALID_PARAMETER,
                   "{'hibernation handle': '%s', 'reason': 'must be a file name in %s, a path "
                   "in it, or six UUIDs'}",
                   handle, dir);
    return NULL;
}

typedef struct {
    char *id;
    char *path;
    char *xml; /* for after_vm_hibernate (VDSM: the last XML before the save) */
} VdVmHibernateJob;

static void
vdVmHibernateJobFree(gpointer data)
{
    VdVmHibernateJob *job = data;

    g_free(job->id);
    g_free(job->path);
    g_free(job->xml);
    g_free(job);
}

typedef struct {
    const char *id;
    int code;
    int state;
    int reason;
} VdVmHibernateCall;

static gpointer
vdVmHibernateBeginOnMain(gpointer data)
{
    VdVmHibernateCall *c = data;
    VdVm *vm = vdVmTableLookup(c->id);

    if (!vm || vm->staging || vm->destroying || !vdVmStatusIsRunning(vm->status)) {
        c->code = !vm                               ? VD_ERR_NO_SUCH_VM
                  : vm->status == VD_VM_STATUS_DOWN ? VD_ERR_VM_IS_DOWN
                                                    : VD_ERR_UNEXPECTED;
        return NULL;
    }
    vm->intent = VD_VM_INTENT_SAVE;
    vm->status = VD_VM_STATUS_SAVING_STATE;
    vm->pause_code = NULL;
    vdVmTableRefresh(vm, FALSE);
    return NULL;
}

/* The save failed: libvirt resumed (or kept paused) the domain. */
static gpointer
vdVmHibernateFailedOnMain(gpointer data)
{
    VdVmHibernateCall *c = data;
    VdVm *vm = vdVmTableLookup(c->id);
    const char *pause_code = NULL;
    VdVmStatus now;

    if (!vm || vm->status != VD_VM_STATUS_SAVING_STATE)
        return NULL;
    vm->intent = VD_VM_INTENT_NONE;
    now = c->state ? vdVmStateFromLibvirt(c->state, c->reason, &pause_code) : VD_VM_STATUS_UP;
    if (now == VD_VM_STATUS_DOWN) {
        int code, reason;

        vdVmStateShutoffExit(c->reason, &code, &reason);
        vdVmTableSetDown(vm, code, reason, NULL);
        return NULL;
    }
    vm->status = now == VD_VM_STATUS_PAUSED ? VD_VM_STATUS_PAUSED : VD_VM_STATUS_UP;
    vm->pause_code = vm->status == VD_VM_STATUS_PAUSED ? pause_code : NULL;
    vdVmTableRefresh(vm, FALSE);
    return NULL;
}

static void
vdVmHibernateRun(gpointer data)
{
    VdVmHibernateJob *job = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = vdVmLookupDomain(job->id, VD_ERR_UNEXPECTED, &error);
    VdVmHibernateCall c = {.id = job->id};
    gint64 t0 = g_get_monotonic_time();

    if (dom && virDomainSaveFlags(dom, job->path, NULL, 0) == 0) {
        g_autoptr(GHashTable) env = NULL;

        g_info("VM %s saved to %s in %.1f s", job->id, job->path,
               (g_get_monotonic_time() - t0) / 1e6);
        if (job->xml) {
            env = vdVmHooksEnv(job->id, job->xml);
            vdHooksRun("after_vm_hibernate", job->xml, env, NULL, NULL);
        }
        return; /* the STOPPED(SAVED) event makes it Down */
    }
    g_warning("VM %s: hibernation to %s failed: %s", job->id, job->path,
              dom ? virGetLastErrorMessage() : error->message);
    if (dom)
        virDomainGetState(dom, &c.state, &c.reason, 0);
    vdMainCall(vdVmHibernateFailedOnMain, &c);
}

int
vdVmHibernate(const char *id, const char *handle, GError **error)
{
    g_autofree char *path = vdVmHibernationPath(handle, error);
    VdVmHibernateCall c = {.id = id};
    VdVmHibernateJob *job;

    g_autoptr(virDomain) dom = NULL;
    g_autofree char *xml = NULL;

    if (!path)
        return -1;
    if (!(dom = vdVmAccessDomain(id, VD_VM_ACCESS_RUNNING, VD_ERR_UNEXPECTED, error)))
        return -1;
    /* A refusing script fails the verb before anything changed: still Up. */
    if (vdVmHooksRun(dom, id, "before_vm_hibernate", NULL, error) < 0)
        return -1;
    if (vdHooksPointActive("after_vm_hibernate"))
        xml = virDomainGetXMLDesc(dom, 0);
    vdMainCall(vdVmHibernateBeginOnMain, &c);
    if (c.code) {
        vdErrorSetCode(error, c.code, "{'vmId': '%s'}", id);
        return -1;
    }
    job = g_new0(VdVmHibernateJob, 1);
    job->id = g_strdup(id);
    job->path = g_steal_pointer(&path);
    job->xml = g_steal_pointer(&xml);
    g_info("VM %s: hibernating to %s", id, job->path);
    vdVmManagerRunJob(vdVmHibernateRun, job, vdVmHibernateJobFree);
    return 0;
}
