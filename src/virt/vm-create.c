/* vm-create.c - see vm-create.h.  vdVmCreate runs on an rpc worker,
 * vdVmCreateRun on the creation pool. */
#include "vm-create.h"

#include "domain-desc.h"
#include "hooks.h"
#include "libvirt-conn.h"
#include "qemu-pid.h"
#include "vd-error.h"
#include "vm-hooks.h"
#include "vm-manager.h"
#include "vm-staging.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>

typedef struct {
    char *id;
    char *name;
    char *xml;             /* with the ovirt-vm block embedded, after before_vm_start */
    GHashTable *hook_env;  /* vmId and custom properties for after_vm_start */
    gboolean remove_stale; /* a shut-off domain holds the uuid or name */
    gboolean launch_paused;
} VdVmCreateJob;

static void
vdVmCreateJobFree(gpointer data)
{
    VdVmCreateJob *job = data;

    g_free(job->id);
    g_free(job->name);
    g_free(job->xml);
    if (job->hook_env)
        g_hash_table_unref(job->hook_env);
    g_free(job);
}

gboolean
vdVmCreateLaunchPaused(json_object *vm_params)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(vm_params, "launchPaused", &v) || !v)
        return FALSE;
    if (json_object_is_type(v, json_type_string))
        return g_ascii_strcasecmp(json_object_get_string(v), "true") == 0;
    return json_object_get_boolean(v);
}

int
vdVmCreateCheckXml(const char *xml, char **uuid, char **name, GError **error)
{
    g_autoptr(GError) parse_error = NULL;
    g_autoptr(VdDomainDesc) desc = vdDomainDescNew(xml, &parse_error);

    if (!desc) {
        vdErrorSetCode(error, VD_ERR_CANNOT_CREATE_VM, "{'reason': 'invalid domain XML: %s'}",
                       parse_error->message);
        return -1;
    }
    if (!vdUuidIsValid(desc->uuid)) {
        vdErrorSetCode(error, VD_ERR_CANNOT_CREATE_VM,
                       "{'reason': 'the domain XML has no valid <uuid>'}");
        return -1;
    }
    if (!desc->name) {
        vdErrorSetCode(error, VD_ERR_CANNOT_CREATE_VM,
                       "{'reason': 'the domain XML has no <name>'}");
        return -1;
    }
    if (desc->emulator && !g_file_test(desc->emulator, G_FILE_TEST_IS_EXECUTABLE)) {
        vdErrorSetCode(error, VD_ERR_CANNOT_CREATE_VM,
                       "{'reason': 'emulator %s does not exist or is not executable'}",
                       desc->emulator);
        return -1;
    }
    for (guint i = 0; i < desc->disks->len; i++) {
        VdDomainDisk *disk = g_ptr_array_index(desc->disks, i);
        struct stat st;

        if (!disk->source ||
            (!g_str_equal(disk->type, "file") && !g_str_equal(disk->type, "block")))
            continue;
        /* Only a definite "not there" is ours to report; a file we may not
         * stat (root-only directory) is left to libvirt. */
        if (stat(disk->source, &st) < 0 && errno == ENOENT) {
            vdErrorSetCode(error, VD_ERR_IMAGE_FILE_NOT_FOUND, "{'path': '%s', 'target': '%s'}",
                           disk->source, disk->target ? disk->target : "");
            return -1;
        }
    }
    *uuid = g_steal_pointer(&desc->uuid);
    *name = g_steal_pointer(&desc->name);
    return 0;
}

static gboolean
vdVmCreateDomainActive(virConnectPtr conn, virDomainPtr dom)
{
    return dom && virDomainIsActive(dom) == 1;
}

int
vdVmCreateCheckLibvirt(const char *uuid, const char *name, gboolean *stale, GError **error)
{
    g_autoptr(virConnect) conn = vdLibvirtGet(error);
    g_autoptr(virDomain) by_uuid = NULL;
    g_autoptr(virDomain) by_name = NULL;

    if (!conn)
        return -1;
    by_uuid = virDomainLookupByUUIDString(conn, uuid);
    by_name = virDomainLookupByName(conn, name);
    if (vdVmCreateDomainActive(conn, by_uuid) || vdVmCreateDomainActive(conn, by_name)) {
        vdErrorSetCode(error, VD_ERR_VM_EXISTS,
                       "{'vmId': '%s', 'reason': 'a libvirt domain with this uuid or name "
                       "(%s) is running'}",
                       uuid, name);
        return -1;
    }
    *stale = by_uuid || by_name;
    return 0;
}

int
vdVmCreateRemoveStale(virConnectPtr conn, const char *uuid, const char *name, GError **error)
{
    virDomainPtr doms[2] = {virDomainLookupByUUIDString(conn, uuid),
                            virDomainLookupByName(conn, name)};
    int ret = 0;

    for (guint i = 0; i < G_N_ELEMENTS(doms); i++) {
        if (!doms[i])
            continue;
        if (virDomainIsActive(doms[i]) == 1) {
            g_set_error(error, VD_ERROR, VD_ERR_VM_EXISTS,
                        "a libvirt domain with uuid %s or name %s is running", uuid, name);
            ret = -1;
        } else if (virDomainUndefineFlags(doms[i], VIR_DOMAIN_UNDEFINE_NVRAM |
                                                       VIR_DOMAIN_UNDEFINE_MANAGED_SAVE) == 0) {
            g_info("removed stale shut-off domain %s", virDomainGetName(doms[i]));
        }
    }
    for (guint i = 0; i < G_N_ELEMENTS(doms); i++) {
        if (doms[i])
            virDomainFree(doms[i]);
    }
    return ret;
}

/* Creation pool: define (with the metadata inside), start. */
static void
vdVmCreateRun(gpointer data)
{
    VdVmCreateJob *job = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *live_xml = NULL;
    g_autofree char *failure = NULL;
    int exit_reason = VD_VM_EXIT_LIBVIRT_START_FAILED;

    if (vdVmStagingAborted(job->id)) {
        vdVmStagingFail(job->id, VD_VM_EXIT_CODE_NORMAL, VD_VM_EXIT_DESTROYED_ON_STARTUP, NULL);
        return;
    }
    if (!(conn = vdVmManagerCreationConnection(&error))) {
        vdVmStagingFail(job->id, VD_VM_EXIT_CODE_ERROR, exit_reason, error->message);
        return;
    }
    if (job->remove_stale && vdVmCreateRemoveStale(conn, job->id, job->name, &error) < 0) {
        vdVmStagingFail(job->id, VD_VM_EXIT_CODE_ERROR, exit_reason, error->message);
        return;
    }
    if (!(dom = virDomainDefineXML(conn, job->xml))) {
        vdVmStagingFail(job->id, VD_VM_EXIT_CODE_ERROR, exit_reason, virGetLastErrorMessage());
        return;
    }
    if (vdVmStagingAborted(job->id)) {
        exit_reason = VD_VM_EXIT_DESTROYED_ON_STARTUP;
    } else if (virDomainCreateWithFlags(dom, job->launch_paused ? VIR_DOMAIN_START_PAUSED : 0) <
               0) {
        failure = g_strdup(virGetLastErrorMessage());
    } else if (vdVmStagingAborted(job->id)) {
        exit_reason = VD_VM_EXIT_DESTROYED_ON_STARTUP;
        virDomainDestroy(dom);
    } else {
        live_xml = virDomainGetXMLDesc(dom, 0);
        vdVmStagingSucceed(job->id, live_xml, vdQemuPidRead(job->name), job->launch_paused);
        /* after_* hooks only log their failures */
        vdHooksRun("after_vm_start", live_xml, job->hook_env, NULL, NULL);
        vdVmHooksRunDevices(job->id, live_xml, "after_device_create", NULL, NULL);
        return;
    }
    /* No stray domain: undefine what we defined. */
    if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM) < 0)
        g_warning("VM %s: cannot undefine the failed domain: %s", job->id,
                  virGetLastErrorMessage());
    if (exit_reason == VD_VM_EXIT_DESTROYED_ON_STARTUP)
        vdVmStagingFail(job->id, VD_VM_EXIT_CODE_NORMAL, exit_reason, NULL);
    else
        vdVmStagingFail(job->id, VD_VM_EXIT_CODE_ERROR, exit_reason, failure);
}

static void
vdVmCreateAddCustom(VdVmMetadata *md, json_object *vm_params)
{
    json_object *custom = NULL;

    if (!json_object_object_get_ex(vm_params, "custom", &custom) ||
        !json_object_is_type(custom, json_type_object))
        return;
    json_object_object_foreach(custom, key, value)
    {
        /* Element names: skip what XML cannot carry as a name. */
        if (!g_regex_match_simple("^[A-Za-z_][A-Za-z0-9_.-]*$", key, 0, 0))
            continue;
        vdVmMetadataSetCustom(md, key, json_object_get_string(value));
    }
}

json_object *
vdVmCreate(const char *vm_id, json_object *vm_params, GError **error)
{
    const char *xml = NULL;
    json_object *v = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *name = NULL;
    g_autoptr(VdVmMetadata) md = NULL;
    json_object *status;
    VdVmCreateJob *job;
    double offset = 0;
    gboolean stale = FALSE;
    g_autofree char *full_xml = NULL;
    g_autoptr(GHashTable) hook_env = NULL;
    VdVmStagingEntry entry = {0};

    if (json_object_object_get_ex(vm_params, "xml", &v) && json_object_is_type(v, json_type_string))
        xml = json_object_get_string(v);
    if (!xml) {
        vdErrorSetCode(error, VD_ERR_CANNOT_CREATE_VM,
                       "{'reason': 'vmParams.xml (the libvirt domain XML) is required'}");
        return NULL;
    }
    if (vdVmCreateCheckXml(xml, &uuid, &name, error) < 0)
        return NULL;
    if (vm_id && g_ascii_strcasecmp(vm_id, uuid) != 0)
        g_warning("VM.create: vmID %s differs from the XML uuid %s; using the XML's", vm_id, uuid);
    if (vdVmCreateCheckLibvirt(uuid, name, &stale, error) < 0)
        return NULL;
    if (json_object_object_get_ex(vm_params, "elapsedTimeOffset", &v) && v)
        offset = json_object_get_double(v);

    if (!(md = vdVmMetadataFromDomainXml(xml, NULL)))
        md = vdVmMetadataNew();
    entry.start_time = g_get_real_time() / 1e6 - offset;
    vdVmMetadataClearExitInfo(md);
    vdVmMetadataSetDouble(md, "startTime", entry.start_time);
    vdVmMetadataSetBool(md, "launchPaused", vdVmCreateLaunchPaused(vm_params));
    vdVmMetadataSetString(md, VD_VM_METADATA_AGENT_KEY, vdVmMetadataAgentTag());
    vdVmCreateAddCustom(md, vm_params);
    /* Defined with its metadata in one libvirt call. */
    if (!(full_xml = vdVmMetadataEmbed(xml, md, NULL))) {
        vdErrorSetCode(error, VD_ERR_CANNOT_CREATE_VM, "{'reason': 'invalid domain XML'}");
        return NULL;
    }

    /* The device hooks (per NIC with custom properties), then
     * before_vm_start, see the final XML and may rewrite it, as VDSM's
     * domain XML preprocessing; a failing script fails the verb (1500)
     * before anything exists in libvirt. */
    {
        json_object *custom = NULL;
        g_autofree char *hooked = NULL;

        if (vdVmHooksRunDevices(uuid, full_xml, "before_device_create", &hooked, error) < 0)
            return NULL;
        g_free(full_xml);
        full_xml = g_steal_pointer(&hooked);
        json_object_object_get_ex(vm_params, "custom", &custom);
        hook_env = vdHooksEnvNew(uuid, json_object_is_type(custom, json_type_object) ? custom
                                                                                     : NULL);
        if (vdHooksRun("before_vm_start", full_xml, hook_env, &hooked, error) < 0)
            return NULL;
        g_free(full_xml);
        full_xml = g_steal_pointer(&hooked);
    }

    entry.id = uuid;
    entry.name = name;
    entry.xml = full_xml;
    entry.status = VD_VM_STATUS_WAIT_FOR_LAUNCH;
    entry.md = md;
    if (!(status = vdVmStagingEnter(&entry, error)))
        return NULL;

    job = g_new0(VdVmCreateJob, 1);
    job->id = g_strdup(uuid);
    job->name = g_strdup(name);
    job->xml = g_steal_pointer(&full_xml);
    job->remove_stale = stale;
    job->launch_paused = vdVmCreateLaunchPaused(vm_params);
    job->hook_env = g_steal_pointer(&hook_env);
    vdVmManagerRunCreation(vdVmCreateRun, job, vdVmCreateJobFree);
    return status;
}
