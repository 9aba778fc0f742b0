/* vm-metadata.c - see vm-metadata.h.  The block is held as an XML tree
 * whose element names are normalized to their local names on parse (the
 * form virDomainSetMetadata takes and virDomainGetMetadata returns:
 * libvirt puts every element of the block in the namespace itself). */
#include "vm-metadata.h"

#include "config.h"
#include "xml-node.h"

#include <stdlib.h>
#include <string.h>

struct _VdVmMetadata {
    VdXmlNode *root; /* <ovirt-vm:vm> */
};

static void
vdVmMetadataNormalize(VdXmlNode *node)
{
    g_autofree char *name = g_strdup(vdXmlNodeLocalName(node));

    g_free(node->name);
    node->name = g_steal_pointer(&name);
    /* Namespace declarations are re-added once, on the root. */
    for (guint i = 0; i + 1 < node->attrs->len;) {
        const char *attr = g_ptr_array_index(node->attrs, i);

        if (g_str_equal(attr, "xmlns") || g_str_has_prefix(attr, "xmlns:"))
            g_ptr_array_remove_range(node->attrs, i, 2);
        else
            i += 2;
    }
    for (guint i = 0; i < node->children->len; i++)
        vdVmMetadataNormalize(g_ptr_array_index(node->children, i));
}

static VdVmMetadata *
vdVmMetadataAdopt(VdXmlNode *root)
{
    VdVmMetadata *md = g_new0(VdVmMetadata, 1);

    vdVmMetadataNormalize(root);
    md->root = root;
    return md;
}

VdVmMetadata *
vdVmMetadataNew(void)
{
    return vdVmMetadataAdopt(vdXmlNodeNew("vm"));
}

void
vdVmMetadataFree(VdVmMetadata *md)
{
    if (!md)
        return;
    vdXmlNodeFree(md->root);
    g_free(md);
}

VdVmMetadata *
vdVmMetadataCopy(const VdVmMetadata *md)
{
    VdVmMetadata *copy = g_new0(VdVmMetadata, 1);

    copy->root = vdXmlNodeCopy(md->root);
    return copy;
}

static gboolean
vdVmMetadataIsBlock(const VdXmlNode *node)
{
    g_autofree char *prefix = vdXmlNodePrefix(node);
    const char *uri;

    if (!g_str_equal(vdXmlNodeLocalName(node), "vm"))
        return FALSE;
    uri = vdXmlNodeLookupNamespace(node, prefix);
    /* virDomainGetMetadata answers with a bare <vm> (no namespace). */
    return g_strcmp0(uri, VD_VM_METADATA_URI) == 0 || (!uri && !*prefix && !node->parent);
}

VdVmMetadata *
vdVmMetadataParse(const char *xml, GError **error)
{
    g_autoptr(VdXmlNode) root = vdXmlParse(xml, -1, error);

    if (!root)
        return NULL;
    if (!vdVmMetadataIsBlock(root)) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "not an ovirt-vm metadata block: <%s>", root->name);
        return NULL;
    }
    return vdVmMetadataAdopt(g_steal_pointer(&root));
}

VdVmMetadata *
vdVmMetadataFromDomainXml(const char *domain_xml, GError **error)
{
    g_autoptr(VdXmlNode) dom = vdXmlParse(domain_xml, -1, error);
    VdXmlNode *metadata;

    if (!dom)
        return NULL;
    metadata = vdXmlNodeChild(dom, "metadata");
    for (guint i = 0; metadata && i < metadata->children->len; i++) {
        VdXmlNode *child = g_ptr_array_index(metadata->children, i);

        if (vdVmMetadataIsBlock(child)) {
            /* Detach from the domain tree; namespace declarations on the
             * domain element no longer apply and are not needed. */
            g_ptr_array_steal_index(metadata->children, i);
            child->parent = NULL;
            return vdVmMetadataAdopt(child);
        }
    }
    return NULL;
}

char *
vdVmMetadataFormat(const VdVmMetadata *md)
{
    return vdXmlNodeToString(md->root);
}

static void
vdVmMetadataPrefix(VdXmlNode *node)
{
    g_autofree char *name = g_strdup_printf(VD_VM_METADATA_PREFIX ":%s", node->name);

    g_free(node->name);
    node->name = g_steal_pointer(&name);
    for (guint i = 0; i < node->children->len; i++)
        vdVmMetadataPrefix(g_ptr_array_index(node->children, i));
}

static VdXmlNode *
vdVmMetadataPrefixedTree(const VdVmMetadata *md)
{
    VdXmlNode *root = vdXmlNodeCopy(md->root);

    vdVmMetadataPrefix(root);
    vdXmlNodeSetAttr(root, "xmlns:" VD_VM_METADATA_PREFIX, VD_VM_METADATA_URI);
    return root;
}

char *
vdVmMetadataFormatPrefixed(const VdVmMetadata *md)
{
    g_autoptr(VdXmlNode) root = vdVmMetadataPrefixedTree(md);

    return vdXmlNodeToString(root);
}

char *
vdVmMetadataEmbed(const char *domain_xml, const VdVmMetadata *md, GError **error)
{
    g_autoptr(VdXmlNode) dom = vdXmlParse(domain_xml, -1, error);
    VdXmlNode *metadata;

    if (!dom)
        return NULL;
    if (!(metadata = vdXmlNodeChild(dom, "metadata")))
        metadata = vdXmlNodeAppend(dom, vdXmlNodeNew("metadata"));
    for (guint i = 0; i < metadata->children->len;) {
        VdXmlNode *child = g_ptr_array_index(metadata->children, i);

        if (vdVmMetadataIsBlock(child))
            g_ptr_array_remove_index(metadata->children, i);
        else
            i++;
    }
    vdXmlNodeAppend(metadata, vdVmMetadataPrefixedTree(md));
    return vdXmlNodeToString(dom);
}

/* --- scalars -------------------------------------------------------- */

static VdXmlNode *
vdVmMetadataFind(const VdVmMetadata *md, const char *key)
{
    return vdXmlNodeChild(md->root, key);
}

gboolean
vdVmMetadataHas(const VdVmMetadata *md, const char *key)
{
    return vdVmMetadataFind(md, key) != NULL;
}

const char *
vdVmMetadataGetString(const VdVmMetadata *md, const char *key)
{
    VdXmlNode *node = vdVmMetadataFind(md, key);

    return node ? vdXmlNodeText(node) : NULL;
}

gboolean
vdVmMetadataGetInt(const VdVmMetadata *md, const char *key, gint64 *out)
{
    const char *text = vdVmMetadataGetString(md, key);
    char *end = NULL;
    gint64 v;

    if (!text || !*text)
        return FALSE;
    v = g_ascii_strtoll(text, &end, 10);
    if (*end)
        return FALSE;
    *out = v;
    return TRUE;
}

gboolean
vdVmMetadataGetDouble(const VdVmMetadata *md, const char *key, double *out)
{
    const char *text = vdVmMetadataGetString(md, key);
    char *end = NULL;
    double v;

    if (!text || !*text)
        return FALSE;
    v = g_ascii_strtod(text, &end);
    if (*end)
        return FALSE;
    *out = v;
    return TRUE;
}

gboolean
vdVmMetadataGetBool(const VdVmMetadata *md, const char *key, gboolean *out)
{
    const char *text = vdVmMetadataGetString(md, key);

    if (!text)
        return FALSE;
    if (!g_ascii_strcasecmp(text, "true") || g_str_equal(text, "1")) {
        *out = TRUE;
        return TRUE;
    }
    if (!g_ascii_strcasecmp(text, "false") || g_str_equal(text, "0")) {
        *out = FALSE;
        return TRUE;
    }
    return FALSE;
}

static void
vdVmMetadataSetTyped(VdVmMetadata *md, const char *key, const char *type, const char *text)
{
    VdXmlNode *node = vdVmMetadataFind(md, key);

    if (!node)
        node = vdXmlNodeAppend(md->root, vdXmlNodeNew(key));
    g_ptr_array_set_size(node->children, 0);
    vdXmlNodeSetAttr(node, "type", type);
    vdXmlNodeSetText(node, text);
}

void
vdVmMetadataSetInt(VdVmMetadata *md, const char *key, gint64 value)
{
    g_autofree char *text = g_strdup_printf("%" G_GINT64_FORMAT, value);

    vdVmMetadataSetTyped(md, key, "int", text);
}

void
vdVmMetadataSetDouble(VdVmMetadata *md, const char *key, double value)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    vdVmMetadataSetTyped(md, key, "float", g_ascii_dtostr(buf, sizeof(buf), value));
}

void
vdVmMetadataSetBool(VdVmMetadata *md, const char *key, gboolean value)
{
    vdVmMetadataSetTyped(md, key, "bool", value ? "True" : "False");
}

void
vdVmMetadataSetString(VdVmMetadata *md, const char *key, const char *value)
{
    vdVmMetadataSetTyped(md, key, NULL, value);
}

void
vdVmMetadataRemove(VdVmMetadata *md, const char *key)
{
    VdXmlNode *node;

    while ((node = vdVmMetadataFind(md, key)))
        vdXmlNodeRemove(node);
}

/* --- custom properties -------------------------------------------------- */

void
vdVmMetadataSetCustom(VdVmMetadata *md, const char *name, const char *value)
{
    VdXmlNode *custom = vdVmMetadataFind(md, "custom");
    VdXmlNode *prop;

    if (!custom)
        custom = vdXmlNodeAppend(md->root, vdXmlNodeNew("custom"));
    prop = vdXmlNodeChild(custom, name);
    if (!prop)
        prop = vdXmlNodeAppend(custom, vdXmlNodeNew(name));
    vdXmlNodeSetText(prop, value);
}

const char *
vdVmMetadataGetCustom(const VdVmMetadata *md, const char *name)
{
    VdXmlNode *prop = vdXmlNodeChild(vdVmMetadataFind(md, "custom"), name);

    return prop ? vdXmlNodeText(prop) : NULL;
}

GHashTable *
vdVmMetadataCustom(const VdVmMetadata *md)
{
    GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    VdXmlNode *custom = vdVmMetadataFind(md, "custom");

    for (guint i = 0; custom && i < custom->children->len; i++) {
        VdXmlNode *prop = g_ptr_array_index(custom->children, i);

        g_hash_table_replace(out, g_strdup(vdXmlNodeLocalName(prop)),
                             g_strdup(vdXmlNodeText(prop)));
    }
    return out;
}

/* --- exit information ----------------------------------------------------- */

void
vdVmMetadataSetExitInfo(VdVmMetadata *md, int exit_code, int exit_reason, const char *exit_message)
{
    vdVmMetadataSetInt(md, "exitCode", exit_code);
    vdVmMetadataSetInt(md, "exitReason", exit_reason);
    vdVmMetadataSetString(md, "exitMessage", exit_message ? exit_message : "");
}

gboolean
vdVmMetadataGetExitInfo(const VdVmMetadata *md, int *exit_code, int *exit_reason,
                        char **exit_message)
{
    gint64 code, reason;

    if (!vdVmMetadataGetInt(md, "exitCode", &code) ||
        !vdVmMetadataGetInt(md, "exitReason", &reason))
        return FALSE;
    *exit_code = (int)code;
    *exit_reason = (int)reason;
    *exit_message = g_strdup(vdVmMetadataGetString(md, "exitMessage"));
    if (!*exit_message)
        *exit_message = g_strdup("");
    return TRUE;
}

void
vdVmMetadataClearExitInfo(VdVmMetadata *md)
{
    vdVmMetadataRemove(md, "exitCode");
    vdVmMetadataRemove(md, "exitReason");
    vdVmMetadataRemove(md, "exitMessage");
}

const char *
vdVmMetadataAgentTag(void)
{
    return vdConfigGetString("vars", "run_dir");
}
