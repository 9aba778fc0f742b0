/* vm-devices.c - see vm-devices.h.  Public functions run on rpc workers,
 * *OnMain functions on the main loop. */
#include "vm-devices.h"

#include "domain-desc.h"
#include "hooks.h"
#include "main-call.h"
#include "vd-error.h"
#include "vm-access.h"
#include "vm-hooks.h"
#include "vm-sampling.h"
#include "vm-table.h"

#include <libvirt/virterror.h>

typedef struct {
    const char *id;
    VdVmLive *live;
    json_object *status;
    VdVmMetadata *md_update; /* balloonTarget etc. to merge, or NULL */
} VdVmDevCall;

static gpointer
vdVmDevRefreshOnMain(gpointer data)
{
    VdVmDevCall *c = data;
    VdVm *vm = vdVmTableLookup(c->id);

    if (!vm)
        return NULL;
    vdVmSetLive(vm, c->live);
    c->status = vdVmToFullStatus(vm);
    return NULL;
}

json_object *
vdVmFullStatus(const char *id, GError **error)
{
    VdVmDevCall c = {.id = id};

    vdMainCall(vdVmDevRefreshOnMain, &c);
    if (!c.status)
        vdErrorSetCode(error, VD_ERR_NO_SUCH_VM, "{'vmId': '%s'}", id);
    return c.status;
}

/* Read the live XML again into the VM and return its status dict. */
static json_object *
vdVmDevRefresh(const char *id, virDomainPtr dom, GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(VdVmLive) live = vdVmLiveNew(xml);
    VdVmDevCall c = {.id = id, .live = live};

    vdMainCall(vdVmDevRefreshOnMain, &c);
    if (!c.status)
        vdErrorSetCode(error, VD_ERR_NO_SUCH_VM, "{'vmId': '%s'}", id);
    return c.status;
}

static unsigned int
vdVmDevLiveFlags(virDomainPtr dom)
{
    return virDomainIsActive(dom) == 1 ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
}

/* --- changeCD ----------------------------------------------------------- */

json_object *
vdVmChangeCD(const char *id, json_object *drive_spec, GError **error)
{
    g_autoptr(virDomain) dom =
        vdVmAccessDomain(id, VD_VM_ACCESS_RUNNING, VD_ERR_CHANGE_DISK, error);
    g_autofree char *xml = NULL;
    g_autofree char *dev_xml = NULL;
    g_autoptr(VdDomainDesc) desc = NULL;
    g_autoptr(GError) parse_error = NULL;
    json_object *v = NULL;
    const char *path;
    VdXmlNode *cdrom, *source, *backing;

    if (!dom)
        return NULL;
    if (!json_object_object_get_ex(drive_spec, "path", &v) ||
        !json_object_is_type(v, json_type_string)) {
        vdErrorSetCode(error, VD_ERR_CHANGE_DISK,
                       "{'vmId': '%s', 'reason': 'only {\"path\": ...} drive specs are supported "
                       "until storage domains exist'}",
                       id);
        return NULL;
    }
    path = json_object_get_string(v);
    if (*path && !g_file_test(path, G_FILE_TEST_EXISTS)) {
        vdErrorSetCode(error, VD_ERR_CHANGE_DISK,
                       "{'vmId': '%s', 'path': '%s', 'reason': "
                       "'no such file'}",
                       id, path);
        return NULL;
    }
    if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        vdVmSetLibvirtError(error, id, VD_ERR_CHANGE_DISK, "cannot read the domain XML");
        return NULL;
    }
    if (!(desc = vdDomainDescNew(xml, &parse_error))) {
        vdErrorSetCode(error, VD_ERR_CHANGE_DISK, "{'vmId': '%s', 'reason': '%s'}", id,
                       parse_error->message);
        return NULL;
    }
    if (!(cdrom = vdDomainDescDiskNode(desc, "cdrom"))) {
        vdErrorSetCode(error, VD_ERR_CHANGE_DISK, "{'vmId': '%s', 'reason': 'no cdrom device'}",
                       id);
        return NULL;
    }
    while ((source = vdXmlNodeChild(cdrom, "source")))
        vdXmlNodeRemove(source);
    while ((backing = vdXmlNodeChild(cdrom, "backingStore")))
        vdXmlNodeRemove(backing);
    vdXmlNodeSetAttr(cdrom, "type", "file");
    if (*path) {
        source = vdXmlNodeNew("source");
        vdXmlNodeSetAttr(source, "file", path);
        /* <source> goes before <target>: keep libvirt's element order. */
        g_ptr_array_insert(cdrom->children, 0, source);
        source->parent = cdrom;
    }
    dev_xml = vdXmlNodeToString(cdrom);
    if (virDomainUpdateDeviceFlags(dom, dev_xml,
                                   vdVmDevLiveFlags(dom) | VIR_DOMAIN_DEVICE_MODIFY_FORCE) < 0) {
        vdVmSetLibvirtError(error, id, VD_ERR_CHANGE_DISK, "cannot change the CD");
        return NULL;
    }
    g_info("VM %s: CD %s", id, *path ? path : "ejected");
    return vdVmDevRefresh(id, dom, error);
}

/* --- tickets ------------------------------------------------------------ */

static int
vdVmApplyTicket(const char *id, virDomainPtr dom, const VdVmTicket *t, int code, GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE);
    g_autofree char *dev_xml = NULL;
    g_autoptr(VdDomainDesc) desc = NULL;
    g_autoptr(GError) parse_error = NULL;
    g_autoptr(GHashTable) hook_params = NULL;
    VdXmlNode *graphics;

    if (!xml) {
        vdVmSetLibvirtError(error, id, code, "cannot read the domain XML");
        return -1;
    }
    if (!(desc = vdDomainDescNew(xml, &parse_error))) {
        vdErrorSetCode(error, code, "{'vmId': '%s', 'reason': '%s'}", id, parse_error->message);
        return -1;
    }
    if (!(graphics = vdDomainDescGraphicsNode(desc, t->graphics_type))) {
        vdErrorSetCode(error, code, "{'vmId': '%s', 'reason': 'no %s graphics device'}", id,
                       t->graphics_type ? t->graphics_type : "");
        return -1;
    }
    vdXmlNodeSetAttr(graphics, "passwd", t->password ? t->password : "");
    if (t->ttl > 0) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autoptr(GDateTime) until = g_date_time_add_seconds(now, (gdouble)t->ttl);
        g_autofree char *text = g_date_time_format(until, "%Y-%m-%dT%H:%M:%S");

        vdXmlNodeSetAttr(graphics, "passwdValidTo", text);
    } else {
        vdXmlNodeSetAttr(graphics, "passwdValidTo", NULL);
    }
    if (g_strcmp0(vdXmlNodeAttr(graphics, "type"), "spice") == 0 && t->existing_conn_action &&
        *t->existing_conn_action)
        vdXmlNodeSetAttr(graphics, "connected", t->existing_conn_action);
    dev_xml = vdXmlNodeToString(graphics);
    /* VDSM: the set_ticket points only log their failures */
    hook_params = vdHooksEnvNew(NULL, t->params);
    vdVmHooksRun(dom, id, "before_vm_set_ticket", hook_params, NULL);
    if (virDomainUpdateDeviceFlags(dom, dev_xml, vdVmDevLiveFlags(dom)) < 0) {
        vdVmSetLibvirtError(error, id, code, "cannot set the console ticket");
        return -1;
    }
    vdVmHooksRun(dom, id, "after_vm_set_ticket", hook_params, NULL);
    g_info("VM %s: %s ticket set (ttl %" G_GINT64_FORMAT " s)", id, vdXmlNodeAttr(graphics, "type"),
           t->ttl);
    return 0;
}

int
vdVmSetTicket(const char *id, const VdVmTicket *ticket, GError **error)
{
    g_autoptr(virDomain) dom = vdVmAccessDomain(id, VD_VM_ACCESS_RUNNING, VD_ERR_TICKET, error);

    if (!dom)
        return -1;
    return vdVmApplyTicket(id, dom, ticket, VD_ERR_TICKET, error);
}

json_object *
vdVmUpdateDevice(const char *id, json_object *params, GError **error)
{
    g_autoptr(virDomain) dom = NULL;
    json_object *v = NULL;
    VdVmTicket t = {0};
    const char *type = NULL;

    if (json_object_object_get_ex(params, "deviceType", &v))
        type = json_object_get_string(v);
    if (g_strcmp0(type, "graphics") != 0) {
        vdErrorSetCode(error, VD_ERR_UPDATE_DEVICE,
                       "{'vmId': '%s', 'reason': 'deviceType %s is not supported here (only "
                       "graphics)'}",
                       id, type ? type : "(missing)");
        return NULL;
    }
    if (json_object_object_get_ex(params, "graphicsType", &v))
        t.graphics_type = json_object_get_string(v);
    if (json_object_object_get_ex(params, "password", &v))
        t.password = json_object_get_string(v);
    if (json_object_object_get_ex(params, "ttl", &v))
        t.ttl = json_object_get_int64(v);
    if (json_object_object_get_ex(params, "existingConnAction", &v))
        t.existing_conn_action = json_object_get_string(v);
    if (json_object_object_get_ex(params, "params", &v))
        t.params = v;
    if (!t.password) {
        vdErrorSetCode(error, VD_ERR_UPDATE_DEVICE,
                       "{'vmId': '%s', 'reason': 'graphics params need a password'}", id);
        return NULL;
    }
    if (!(dom = vdVmAccessDomain(id, VD_VM_ACCESS_RUNNING, VD_ERR_UPDATE_DEVICE, error)))
        return NULL;
    if (vdVmApplyTicket(id, dom, &t, VD_ERR_UPDATE_DEVICE, error) < 0)
        return NULL;
    return vdVmDevRefresh(id, dom, error);
}

/* --- balloon ------------------------------------------------------------- */

static gpointer
vdVmBalloonOnMain(gpointer data)
{
    VdVmDevCall *c = data;
    VdVm *vm = vdVmTableLookup(c->id);
    gint64 target;

    if (vm && vdVmMetadataGetInt(c->md_update, "balloonTarget", &target)) {
        vdVmMetadataSetInt(vm->md, "balloonTarget", target);
        vdVmTableWriteMetadata(vm);
    }
    return NULL;
}

int
vdVmSetBalloonTarget(const char *id, guint64 target_kib, GError **error)
{
    g_autoptr(virDomain) dom = vdVmAccessDomain(id, VD_VM_ACCESS_RUNNING, VD_ERR_BALLOON, error);
    g_autoptr(VdVmMetadata) md = vdVmMetadataNew();
    VdVmDevCall c = {.id = id, .md_update = md};

    if (!dom)
        return -1;
    if (virDomainSetMemoryFlags(dom, target_kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        vdVmSetLibvirtError(error, id, VD_ERR_BALLOON, "cannot set the balloon target");
        return -1;
    }
    vdVmMetadataSetInt(md, "balloonTarget", (gint64)target_kib);
    vdMainCall(vdVmBalloonOnMain, &c);
    vdVmSamplingInvalidate(id); /* balloonInfo's target comes from the XML */
    return 0;
}
