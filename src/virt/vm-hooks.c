/* vm-hooks.c - see vm-hooks.h.  Worker threads only. */
#include "vm-hooks.h"

#include "hooks.h"
#include "vd-error.h"
#include "vm-metadata.h"
#include "xml-node.h"

static void
vdVmHooksEnvAdd(GHashTable *env, GHashTable *vars)
{
    GHashTableIter iter;
    gpointer name, value;

    if (!vars)
        return;
    g_hash_table_iter_init(&iter, vars);
    while (g_hash_table_iter_next(&iter, &name, &value))
        g_hash_table_replace(env, g_strdup(name), g_strdup(value));
}

GHashTable *
vdVmHooksEnv(const char *id, const char *domain_xml)
{
    GHashTable *env = vdHooksEnvNew(id, NULL);
    g_autoptr(VdVmMetadata) md = domain_xml ? vdVmMetadataFromDomainXml(domain_xml, NULL) : NULL;

    if (md) {
        g_autoptr(GHashTable) custom = vdVmMetadataCustom(md);

        vdVmHooksEnvAdd(env, custom);
        /* vmId is ours, whatever a custom property says */
        g_hash_table_replace(env, g_strdup("vmId"), g_strdup(id));
    }
    return env;
}

int
vdVmHooksRun(virDomainPtr dom, const char *id, const char *point, GHashTable *params,
             GError **error)
{
    g_autofree char *xml = NULL;
    g_autoptr(GHashTable) env = NULL;

    if (!vdHooksPointActive(point))
        return 0;
    xml = virDomainGetXMLDesc(dom, 0);
    env = vdVmHooksEnv(id, xml);
    vdVmHooksEnvAdd(env, params);
    return vdHooksRun(point, xml, env, NULL, error);
}

/* The ovirt-vm block under <metadata>, or NULL. */
static VdXmlNode *
vdVmHooksMetadataBlock(VdXmlNode *root)
{
    VdXmlNode *metadata = vdXmlNodeChild(root, "metadata");

    for (guint i = 0; metadata && i < metadata->children->len; i++) {
        VdXmlNode *child = g_ptr_array_index(metadata->children, i);
        g_autofree char *prefix = vdXmlNodePrefix(child);

        if (g_str_equal(vdXmlNodeLocalName(child), "vm") &&
            g_strcmp0(vdXmlNodeLookupNamespace(child, prefix), VD_VM_METADATA_URI) == 0)
            return child;
    }
    return NULL;
}

/* MAC address (lower case) -> custom properties (name -> value) of every
 * <device mac_address=...> of the block that has a <custom> child. */
static GHashTable *
vdVmHooksNicCustom(VdXmlNode *block)
{
    GHashTable *nics =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
    g_autoptr(GPtrArray) devices = vdXmlNodeChildren(block, "device");

    for (guint i = 0; i < devices->len; i++) {
        VdXmlNode *dev = g_ptr_array_index(devices, i);
        VdXmlNode *custom = vdXmlNodeChild(dev, "custom");
        const char *mac = vdXmlNodeAttr(dev, "mac_address");
        GHashTable *props;

        if (!custom || !mac || custom->children->len == 0)
            continue;
        props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        for (guint j = 0; j < custom->children->len; j++) {
            VdXmlNode *prop = g_ptr_array_index(custom->children, j);

            g_hash_table_replace(props, g_strdup(vdXmlNodeLocalName(prop)),
                                 g_strdup(vdXmlNodeText(prop)));
        }
        g_hash_table_replace(nics, g_ascii_strdown(mac, -1), props);
    }
    return nics;
}

/* Run @point on one NIC; with @replace, put the scripts' XML in its place. */
static int
vdVmHooksRunNic(VdXmlNode *devices, guint index, const char *point, GHashTable *env,
                gboolean replace, GError **error)
{
    VdXmlNode *nic = g_ptr_array_index(devices->children, index);
    g_autofree char *nic_xml = vdXmlNodeToString(nic);
    g_autofree char *hooked = NULL;
    g_autoptr(GError) parse_error = NULL;
    VdXmlNode *new_nic;

    if (vdHooksRun(point, nic_xml, env, replace ? &hooked : NULL, error) < 0)
        return -1;
    if (!replace)
        return 0;
    if (!(new_nic = vdXmlParse(hooked, -1, &parse_error))) {
        vdErrorSetCode(error, VD_ERR_HOOK_ERROR, "%s left device XML that does not parse: %s",
                       point, parse_error->message);
        return -1;
    }
    new_nic->parent = devices;
    devices->children->pdata[index] = new_nic;
    nic->parent = NULL;
    vdXmlNodeFree(nic);
    return 0;
}

int
vdVmHooksRunDevices(const char *id, const char *domain_xml, const char *point, char **out,
                    GError **error)
{
    g_autoptr(VdXmlNode) root = NULL;
    g_autoptr(GHashTable) nics = NULL;
    g_autoptr(GHashTable) vm_env = NULL;
    VdXmlNode *block, *devices;
    guint ran = 0;

    if (out)
        *out = NULL;
    if (!vdHooksPointActive(point) || !domain_xml ||
        !(root = vdXmlParse(domain_xml, -1, NULL)) || !(block = vdVmHooksMetadataBlock(root)) ||
        !(devices = vdXmlNodeChild(root, "devices"))) {
        if (out)
            *out = g_strdup(domain_xml);
        return 0;
    }
    nics = vdVmHooksNicCustom(block);
    vm_env = vdVmHooksEnv(id, domain_xml);
    for (guint i = 0; i < devices->children->len && g_hash_table_size(nics); i++) {
        VdXmlNode *dev = g_ptr_array_index(devices->children, i);
        VdXmlNode *mac = vdXmlNodeChild(dev, "mac");
        g_autofree char *address = NULL;
        g_autoptr(GHashTable) env = NULL;
        GHashTable *custom;

        if (!g_str_equal(vdXmlNodeLocalName(dev), "interface") || !mac ||
            !vdXmlNodeAttr(mac, "address"))
            continue;
        address = g_ascii_strdown(vdXmlNodeAttr(mac, "address"), -1);
        if (!(custom = g_hash_table_lookup(nics, address)))
            continue;
        /* VDSM: the VM's environment, then the device's properties */
        env = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        vdVmHooksEnvAdd(env, vm_env);
        vdVmHooksEnvAdd(env, custom);
        if (vdVmHooksRunNic(devices, i, point, env, out != NULL, error) < 0)
            return -1;
        ran++;
    }
    if (out)
        *out = ran ? vdXmlNodeToString(root) : g_strdup(domain_xml);
    return 0;
}
