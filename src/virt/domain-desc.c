/* domain-desc.c - see domain-desc.h. */
#include "domain-desc.h"

#include "vm-metadata.h"

#include <stdlib.h>
#include <string.h>

static void
vdDomainDiskFree(gpointer data)
{
    VdDomainDisk *disk = data;

    g_free(disk->device);
    g_free(disk->type);
    g_free(disk->source);
    g_free(disk->target);
    g_free(disk->bus);
    g_free(disk);
}

static void
vdDomainGraphicsFree(gpointer data)
{
    VdDomainGraphics *g = data;

    g_free(g->type);
    g_free(g->listen);
    g_free(g);
}

void
vdDomainDescFree(VdDomainDesc *desc)
{
    if (!desc)
        return;
    vdXmlNodeFree(desc->root);
    g_free(desc->uuid);
    g_free(desc->name);
    g_free(desc->type);
    g_free(desc->emulator);
    g_ptr_array_unref(desc->disks);
    g_ptr_array_unref(desc->graphics);
    g_free(desc);
}

gboolean
vdUuidIsValid(const char *uuid)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    const char *p = uuid;

    if (!uuid)
        return FALSE;
    for (guint g = 0; g < G_N_ELEMENTS(groups); g++) {
        for (int i = 0; i < groups[g]; i++, p++) {
            if (!g_ascii_isxdigit(*p))
                return FALSE;
        }
        if (g + 1 < G_N_ELEMENTS(groups) && *p++ != '-')
            return FALSE;
    }
    return *p == '\0';
}

static int
vdDomainPort(const char *text)
{
    char *end = NULL;
    long v;

    if (!text || !*text)
        return -1;
    v = strtol(text, &end, 10);
    return (*end || v <= 0 || v > 65535) ? -1 : (int)v;
}

static void
vdDomainDescParseDisk(VdDomainDesc *desc, VdXmlNode *node)
{
    VdDomainDisk *disk = g_new0(VdDomainDisk, 1);
    VdXmlNode *source = vdXmlNodeChild(node, "source");
    VdXmlNode *target = vdXmlNodeChild(node, "target");

    disk->device = g_strdup(vdXmlNodeAttr(node, "device") ?: "disk");
    disk->type = g_strdup(vdXmlNodeAttr(node, "type") ?: "file");
    if (source) {
        const char *path = vdXmlNodeAttr(source, "file") ?: vdXmlNodeAttr(source, "dev");

        if (path && *path)
            disk->source = g_strdup(path);
    }
    if (target) {
        disk->target = g_strdup(vdXmlNodeAttr(target, "dev"));
        disk->bus = g_strdup(vdXmlNodeAttr(target, "bus"));
    }
    g_ptr_array_add(desc->disks, disk);
}

static void
vdDomainDescParseGraphics(VdDomainDesc *desc, VdXmlNode *node)
{
    VdDomainGraphics *g = g_new0(VdDomainGraphics, 1);
    VdXmlNode *listen = vdXmlNodeChild(node, "listen");
    const char *addr = vdXmlNodeAttr(node, "listen");

    g->type = g_strdup(vdXmlNodeAttr(node, "type") ?: "");
    g->port = vdDomainPort(vdXmlNodeAttr(node, "port"));
    g->tls_port = vdDomainPort(vdXmlNodeAttr(node, "tlsPort"));
    if (!addr && listen)
        addr = vdXmlNodeAttr(listen, "address");
    g->listen = g_strdup(addr);
    g->has_passwd = vdXmlNodeAttr(node, "passwd") != NULL;
    g_ptr_array_add(desc->graphics, g);
}

VdDomainDesc *
vdDomainDescNew(const char *xml, GError **error)
{
    g_autoptr(VdXmlNode) root = vdXmlParse(xml, -1, error);
    g_autoptr(VdDomainDesc) desc = NULL;
    VdXmlNode *devices, *node, *metadata;

    if (!root)
        return NULL;
    if (!g_str_equal(root->name, "domain")) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "the root element is <%s>, not <domain>", root->name);
        return NULL;
    }
    desc = g_new0(VdDomainDesc, 1);
    desc->disks = g_ptr_array_new_with_free_func(vdDomainDiskFree);
    desc->graphics = g_ptr_array_new_with_free_func(vdDomainGraphicsFree);
    desc->type = g_strdup(vdXmlNodeAttr(root, "type"));
    if ((node = vdXmlNodeChild(root, "uuid")) && *vdXmlNodeText(node))
        desc->uuid = g_ascii_strdown(vdXmlNodeText(node), -1);
    if ((node = vdXmlNodeChild(root, "name")) && *vdXmlNodeText(node))
        desc->name = g_strdup(vdXmlNodeText(node));
    if ((node = vdXmlNodeChild(root, "memory"))) {
        gint64 v = g_ascii_strtoll(vdXmlNodeText(node), NULL, 10);
        const char *unit = vdXmlNodeAttr(node, "unit");

        if (unit && (!g_ascii_strcasecmp(unit, "MiB") || !g_ascii_strcasecmp(unit, "M")))
            v *= 1024;
        else if (unit && (!g_ascii_strcasecmp(unit, "GiB") || !g_ascii_strcasecmp(unit, "G")))
            v *= 1024 * 1024;
        else if (unit && (!g_ascii_strcasecmp(unit, "b") || !g_ascii_strcasecmp(unit, "bytes")))
            v /= 1024;
        desc->memory_kib = v;
    }
    if ((node = vdXmlNodeChild(root, "vcpu")))
        desc->vcpus = g_ascii_strtoll(vdXmlNodeText(node), NULL, 10);
    desc->acpi = vdXmlNodeFind(root, "features/acpi") != NULL;

    devices = vdXmlNodeChild(root, "devices");
    for (guint i = 0; devices && i < devices->children->len; i++) {
        VdXmlNode *dev = g_ptr_array_index(devices->children, i);
        const char *local = vdXmlNodeLocalName(dev);

        if (g_str_equal(local, "emulator") && !desc->emulator && *vdXmlNodeText(dev)) {
            desc->emulator = g_strdup(vdXmlNodeText(dev));
        } else if (g_str_equal(local, "disk")) {
            vdDomainDescParseDisk(desc, dev);
        } else if (g_str_equal(local, "graphics")) {
            vdDomainDescParseGraphics(desc, dev);
        } else if (g_str_equal(local, "channel")) {
            VdXmlNode *target = vdXmlNodeChild(dev, "target");
            const char *cname = target ? vdXmlNodeAttr(target, "name") : NULL;

            if (g_strcmp0(cname, "com.redhat.rhevm.vdsm") == 0)
                desc->legacy_vdsm_channel = TRUE;
            else if (g_strcmp0(cname, "org.libguestfs.channel.0") == 0)
                desc->libguestfs = TRUE;
        }
    }

    metadata = vdXmlNodeChild(root, "metadata");
    for (guint i = 0; metadata && i < metadata->children->len; i++) {
        VdXmlNode *child = g_ptr_array_index(metadata->children, i);
        g_autofree char *prefix = vdXmlNodePrefix(child);

        if (g_str_equal(vdXmlNodeLocalName(child), "vm") &&
            g_strcmp0(vdXmlNodeLookupNamespace(child, prefix), VD_VM_METADATA_URI) == 0)
            desc->has_ovirt_metadata = TRUE;
    }
    desc->root = g_steal_pointer(&root);
    return g_steal_pointer(&desc);
}

VdDomainDisk *
vdDomainDescFindDisk(VdDomainDesc *desc, const char *device)
{
    for (guint i = 0; i < desc->disks->len; i++) {
        VdDomainDisk *disk = g_ptr_array_index(desc->disks, i);

        if (g_str_equal(disk->device, device))
            return disk;
    }
    return NULL;
}

VdXmlNode *
vdDomainDescDiskNode(VdDomainDesc *desc, const char *device)
{
    VdXmlNode *devices = vdXmlNodeChild(desc->root, "devices");

    for (guint i = 0; devices && i < devices->children->len; i++) {
        VdXmlNode *dev = g_ptr_array_index(devices->children, i);

        if (g_str_equal(vdXmlNodeLocalName(dev), "disk") &&
            g_strcmp0(vdXmlNodeAttr(dev, "device") ?: "disk", device) == 0)
            return dev;
    }
    return NULL;
}

VdXmlNode *
vdDomainDescGraphicsNode(VdDomainDesc *desc, const char *type)
{
    VdXmlNode *devices = vdXmlNodeChild(desc->root, "devices");

    for (guint i = 0; devices && i < devices->children->len; i++) {
        VdXmlNode *dev = g_ptr_array_index(devices->children, i);

        if (g_str_equal(vdXmlNodeLocalName(dev), "graphics") &&
            (!type || g_strcmp0(vdXmlNodeAttr(dev, "type"), type) == 0))
            return dev;
    }
    return NULL;
}
