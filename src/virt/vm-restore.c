/* vm-restore.c - see vm-restore.h.  vdVmRestore runs on an rpc worker,
 * vdVmRestoreRun on the creation pool. */
#include "vm-restore.h"

#include "hooks.h"
#include "libvirt-conn.h"
#include "qemu-pid.h"
#include "vd-error.h"
#include "vm-create.h"
#include "vm-hibernation.h"
#include "vm-hooks.h"
#include "vm-manager.h"
#include "vm-staging.h"

#include <libvirt/virterror.h>

#define VD_VM_RESTORE_FAILED "Wake up from hibernation failed"

typedef struct {
    char *id;
    char *name;
    char *path;
    char *xml;
    char *md_xml;
    gboolean paused;
    GHashTable *hook_env; /* for after_vm_dehibernate */
} VdVmRestoreJob;

static void
vdVmRestoreJobFree(gpointer data)
{
    VdVmRestoreJob *job = data;

    g_free(job->id);
    g_free(job->name);
    g_free(job->path);
    g_free(job->xml);
    g_free(job->md_xml);
    if (job->hook_env)
        g_hash_table_unref(job->hook_env);
    g_free(job);
}

const char *
vdVmRestoreHandle(json_object *vm_params)
{
    static const char *const keys[] = {"hiberVolHandle", "restoreState"};
    json_object *v = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        if (json_object_object_get_ex(vm_params, keys[i], &v) &&
            json_object_is_type(v, json_type_string) && *json_object_get_string(v))
            return json_object_get_string(v);
    }
    return NULL;
}

static void
vdVmRestoreFail(VdVmRestoreJob *job, const char *why)
{
    g_autofree char *message = g_strdup_printf(VD_VM_RESTORE_FAILED ": %s", why ? why : "");

    vdVmStagingFail(job->id, VD_VM_EXIT_CODE_ERROR, VD_VM_EXIT_LIBVIRT_START_FAILED, message);
}

static void
vdVmRestoreRun(gpointer data)
{
    VdVmRestoreJob *job = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *failure = NULL;
    g_autofree char *live_xml = NULL;
    virDomainPtr restored;

    if (vdVmStagingAborted(job->id)) {
        vdVmStagingFail(job->id, VD_VM_EXIT_CODE_NORMAL, VD_VM_EXIT_DESTROYED_ON_STARTUP, NULL);
        return;
    }
    if (!(conn = vdVmManagerCreationConnection(&error)) ||
        vdVmCreateRemoveStale(conn, job->id, job->name, &error) < 0) {
        vdVmRestoreFail(job, error->message);
        return;
    }
    if (!(dom = virDomainDefineXML(conn, job->xml))) {
        vdVmRestoreFail(job, virGetLastErrorMessage());
        return;
    }
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, job->md_xml, VD_VM_METADATA_PREFIX,
                             VD_VM_METADATA_URI, VIR_DOMAIN_AFFECT_CONFIG) < 0 ||
        virDomainRestoreFlags(conn, job->path, NULL,
                              job->paused ? VIR_DOMAIN_SAVE_PAUSED : VIR_DOMAIN_SAVE_RUNNING) < 0) {
        failure = g_strdup(virGetLastErrorMessage());
        if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM) < 0)
            g_warning("VM %s: cannot undefine after the failed restore: %s", job->id,
                      virGetLastErrorMessage());
        vdVmRestoreFail(job, failure);
        return;
    }
    /* The restored domain is the one defined above (same uuid). */
    if ((restored = virDomainLookupByUUIDString(conn, job->id))) {
        /* The running domain carries the image's copy of the block. */
        if (virDomainSetMetadata(restored, VIR_DOMAIN_METADATA_ELEMENT, job->md_xml,
                                 VD_VM_METADATA_PREFIX, VD_VM_METADATA_URI,
                                 VIR_DOMAIN_AFFECT_LIVE) < 0)
            g_warning("VM %s: cannot update the restored metadata: %s", job->id,
                      virGetLastErrorMessage());
        live_xml = virDomainGetXMLDesc(restored, 0);
        virDomainFree(restored);
    }
    g_info("VM %s restored from %s", job->id, job->path);
    vdVmStagingSucceed(job->id, live_xml, vdQemuPidRead(job->name), job->paused);
    vdHooksRun("after_vm_dehibernate", live_xml, job->hook_env, NULL, NULL);
}

/* VDSM's environment for the dehibernate points: the VM's, plus
 * FROM_SNAPSHOT as Python writes the flag (restoring from a snapshot's
 * memory is the engine's restoreFromSnapshot). */
static GHashTable *
vdVmRestoreHookEnv(const char *id, const char *xml, json_object *vm_params)
{
    GHashTable *env = vdVmHooksEnv(id, xml);
    json_object *v = NULL;
    gboolean snapshot = json_object_object_get_ex(vm_params, "restoreFromSnapshot", &v) &&
                        (json_object_is_type(v, json_type_string)
                             ? g_ascii_strcasecmp(json_object_get_string(v), "true") == 0
                             : json_object_get_boolean(v));

    g_hash_table_replace(env, g_strdup("FROM_SNAPSHOT"), g_strdup(snapshot ? "True" : "False"));
    return env;
}

json_object *
vdVmRestore(const char *vm_id, json_object *vm_params, GError **error)
{
    const char *handle = vdVmRestoreHandle(vm_params);
    g_autofree char *path = vdVmHibernationPath(handle, error);
    g_autoptr(virConnect) conn = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *name = NULL;
    g_autoptr(VdVmMetadata) md = NULL;
    VdVmStagingEntry entry = {0};
    json_object *status, *v = NULL;
    VdVmRestoreJob *job;
    gboolean stale = FALSE;
    double start;
    g_autoptr(GHashTable) hook_env = NULL;

    if (!path)
        return NULL;
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        vdErrorSetCode(error, VD_ERR_IMAGE_FILE_NOT_FOUND, "{'path': '%s'}", path);
        return NULL;
    }
    if (!(conn = vdLibvirtGet(error)))
        return NULL;
    if (!(xml = virDomainSaveImageGetXMLDesc(conn, path, VIR_DOMAIN_SAVE_IMAGE_XML_SECURE))) {
        vdErrorSetCode(error, VD_ERR_CANNOT_CREATE_VM,
                       "{'reason': '" VD_VM_RESTORE_FAILED ": cannot read %s: %s'}", path,
                       virGetLastErrorMessage());
        return NULL;
    }
    if (vdVmCreateCheckXml(xml, &uuid, &name, error) < 0)
        return NULL;
    if (vm_id && g_ascii_strcasecmp(vm_id, uuid) != 0) {
        vdErrorSetCode(error, VD_ERR_CANNOT_CREATE_VM,
                       "{'vmId': '%s', 'reason': 'the image at %s holds VM %s'}", vm_id, path,
                       uuid);
        return NULL;
    }
    if (vdVmCreateCheckLibvirt(uuid, name, &stale, error) < 0)
        return NULL;
    /* A refusing script fails the verb before the VM exists anywhere.  As
     * in VDSM the scripts' XML is not used: the image holds the domain. */
    hook_env = vdVmRestoreHookEnv(uuid, xml, vm_params);
    if (vdHooksRun("before_vm_dehibernate", xml, hook_env, NULL, error) < 0)
        return NULL;

    if (!(md = vdVmMetadataFromDomainXml(xml, NULL)))
        md = vdVmMetadataNew();
    vdVmMetadataClearExitInfo(md);
    if (json_object_object_get_ex(vm_params, "elapsedTimeOffset", &v) && v)
        start = g_get_real_time() / 1e6 - json_object_get_double(v);
    else if (!vdVmMetadataGetDouble(md, "startTime", &start))
        start = g_get_real_time() / 1e6;
    vdVmMetadataSetDouble(md, "startTime", start);
    vdVmMetadataSetString(md, VD_VM_METADATA_AGENT_KEY, vdVmMetadataAgentTag());

    entry.id = uuid;
    entry.name = name;
    entry.xml = xml;
    entry.status = VD_VM_STATUS_RESTORING_STATE;
    entry.start_time = start;
    entry.md = md;
    if (!(status = vdVmStagingEnter(&entry, error)))
        return NULL;

    job = g_new0(VdVmRestoreJob, 1);
    job->id = g_strdup(uuid);
    job->name = g_strdup(name);
    job->path = g_steal_pointer(&path);
    job->xml = g_steal_pointer(&xml);
    job->md_xml = vdVmMetadataFormat(md);
    job->paused = vdVmCreateLaunchPaused(vm_params);
    job->hook_env = g_steal_pointer(&hook_env);
    g_info("VM %s: restoring from %s", job->id, job->path);
    vdVmManagerRunCreation(vdVmRestoreRun, job, vdVmRestoreJobFree);
    return status;
}
