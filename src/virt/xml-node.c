/* xml-node.c - see xml-node.h.  The parser keeps a stack of open elements
 * in the GMarkup user data; text is accumulated per element and dropped
 * from elements that turn out to have children. */
#include "xml-node.h"

#include <string.h>

typedef struct {
    VdXmlNode *root;
    VdXmlNode *current;
    GString *text;
} VdXmlParseState;

VdXmlNode *
vdXmlNodeNew(const char *name)
{
    VdXmlNode *node = g_new0(VdXmlNode, 1);

    node->name = g_strdup(name);
    node->attrs = g_ptr_array_new_with_free_func(g_free);
    node->children = g_ptr_array_new_with_free_func((GDestroyNotify)vdXmlNodeFree);
    return node;
}

void
vdXmlNodeFree(VdXmlNode *node)
{
    if (!node)
        return;
    g_free(node->name);
    g_ptr_array_unref(node->attrs);
    g_ptr_array_unref(node->children);
    g_free(node->text);
    g_free(node);
}

VdXmlNode *
vdXmlNodeCopy(const VdXmlNode *node)
{
    VdXmlNode *copy = vdXmlNodeNew(node->name);

    for (guint i = 0; i < node->attrs->len; i++)
        g_ptr_array_add(copy->attrs, g_strdup(g_ptr_array_index(node->attrs, i)));
    for (guint i = 0; i < node->children->len; i++)
        vdXmlNodeAppend(copy, vdXmlNodeCopy(g_ptr_array_index(node->children, i)));
    copy->text = g_strdup(node->text);
    return copy;
}

const char *
vdXmlNodeLocalName(const VdXmlNode *node)
{
    const char *colon = strchr(node->name, ':');

    return colon ? colon + 1 : node->name;
}

char *
vdXmlNodePrefix(const VdXmlNode *node)
{
    const char *colon = strchr(node->name, ':');

    return colon ? g_strndup(node->name, colon - node->name) : g_strdup("");
}

const char *
vdXmlNodeAttr(const VdXmlNode *node, const char *name)
{
    for (guint i = 0; i + 1 < node->attrs->len; i += 2) {
        if (g_str_equal(g_ptr_array_index(node->attrs, i), name))
            return g_ptr_array_index(node->attrs, i + 1);
    }
    return NULL;
}

void
vdXmlNodeSetAttr(VdXmlNode *node, const char *name, const char *value)
{
    for (guint i = 0; i + 1 < node->attrs->len; i += 2) {
        if (!g_str_equal(g_ptr_array_index(node->attrs, i), name))
            continue;
        if (value) {
            g_free(g_ptr_array_index(node->attrs, i + 1));
            g_ptr_array_index(node->attrs, i + 1) = g_strdup(value);
        } else {
            g_ptr_array_remove_range(node->attrs, i, 2);
        }
        return;
    }
    if (value) {
        g_ptr_array_add(node->attrs, g_strdup(name));
        g_ptr_array_add(node->attrs, g_strdup(value));
    }
}

const char *
vdXmlNodeText(const VdXmlNode *node)
{
    return node->text ? node->text : "";
}

void
vdXmlNodeSetText(VdXmlNode *node, const char *text)
{
    g_free(node->text);
    node->text = g_strdup(text);
}

VdXmlNode *
vdXmlNodeAppend(VdXmlNode *parent, VdXmlNode *child)
{
    child->parent = parent;
    g_ptr_array_add(parent->children, child);
    return child;
}

void
vdXmlNodeRemove(VdXmlNode *child)
{
    if (!child->parent) {
        vdXmlNodeFree(child);
        return;
    }
    g_ptr_array_remove(child->parent->children, child);
}

VdXmlNode *
vdXmlNodeChild(const VdXmlNode *node, const char *local_name)
{
    for (guint i = 0; node && i < node->children->len; i++) {
        VdXmlNode *child = g_ptr_array_index(node->children, i);

        if (g_str_equal(vdXmlNodeLocalName(child), local_name))
            return child;
    }
    return NULL;
}

VdXmlNode *
vdXmlNodeFind(const VdXmlNode *node, const char *path)
{
    g_auto(GStrv) steps = g_strsplit(path, "/", -1);
    const VdXmlNode *cur = node;

    for (gsize i = 0; cur && steps[i]; i++) {
        if (*steps[i])
            cur = vdXmlNodeChild(cur, steps[i]);
    }
    return (VdXmlNode *)cur;
}

GPtrArray *
vdXmlNodeChildren(const VdXmlNode *node, const char *local_name)
{
    GPtrArray *out = g_ptr_array_new();

    for (guint i = 0; node && i < node->children->len; i++) {
        VdXmlNode *child = g_ptr_array_index(node->children, i);

        if (!local_name || g_str_equal(vdXmlNodeLocalName(child), local_name))
            g_ptr_array_add(out, child);
    }
    return out;
}

const char *
vdXmlNodeLookupNamespace(const VdXmlNode *node, const char *prefix)
{
    g_autofree char *attr = *prefix ? g_strdup_printf("xmlns:%s", prefix) : g_strdup("xmlns");

    for (; node; node = node->parent) {
        const char *uri = vdXmlNodeAttr(node, attr);

        if (uri)
            return uri;
    }
    return NULL;
}

/* --- parsing --------------------------------------------------------- */

static void
vdXmlStart(GMarkupParseContext *ctx, const char *name, const char **attr_names,
           const char **attr_values, gpointer user_data, GError **error)
{
    VdXmlParseState *st = user_data;
    VdXmlNode *node;

    if (!st->current && st->root) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "more than one root element");
        return;
    }
    node = vdXmlNodeNew(name);
    for (gsize i = 0; attr_names[i]; i++) {
        g_ptr_array_add(node->attrs, g_strdup(attr_names[i]));
        g_ptr_array_add(node->attrs, g_strdup(attr_values[i]));
    }
    if (st->current) {
        /* The parent has element content: its text was only layout. */
        g_clear_pointer(&st->current->text, g_free);
        vdXmlNodeAppend(st->current, node);
    } else {
        st->root = node;
    }
    st->current = node;
    g_string_truncate(st->text, 0);
}

static void
vdXmlEnd(GMarkupParseContext *ctx, const char *name, gpointer user_data, GError **error)
{
    VdXmlParseState *st = user_data;
    VdXmlNode *node = st->current;

    if (node->children->len == 0) {
        g_autofree char *text = g_strdup(st->text->str);

        g_strstrip(text);
        if (*text)
            node->text = g_steal_pointer(&text);
    }
    g_string_truncate(st->text, 0);
    st->current = node->parent;
}

static void
vdXmlText(GMarkupParseContext *ctx, const char *text, gsize len, gpointer user_data, GError **error)
{
    VdXmlParseState *st = user_data;

    if (st->current && st->current->children->len == 0)
        g_string_append_len(st->text, text, (gssize)len);
}

VdXmlNode *
vdXmlParse(const char *text, gssize len, GError **error)
{
    static const GMarkupParser parser = {
        .start_element = vdXmlStart,
        .end_element = vdXmlEnd,
        .text = vdXmlText,
    };
    VdXmlParseState st = {.text = g_string_new(NULL)};
    GMarkupParseContext *ctx;
    gboolean ok;

    if (!text) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_EMPTY, "no XML text");
        g_string_free(st.text, TRUE);
        return NULL;
    }
    ctx = g_markup_parse_context_new(&parser, G_MARKUP_TREAT_CDATA_AS_TEXT, &st, NULL);
    ok = g_markup_parse_context_parse(ctx, text, len, error) &&
         g_markup_parse_context_end_parse(ctx, error);
    g_markup_parse_context_free(ctx);
    g_string_free(st.text, TRUE);
    if (ok && !st.root) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_EMPTY, "no root element");
        ok = FALSE;
    }
    if (!ok) {
        vdXmlNodeFree(st.root);
        return NULL;
    }
    return st.root;
}

/* --- serializing ------------------------------------------------------ */

static void
vdXmlWrite(GString *out, const VdXmlNode *node, int depth)
{
    for (int i = 0; i < depth; i++)
        g_string_append(out, "  ");
    g_string_append_printf(out, "<%s", node->name);
    for (guint i = 0; i + 1 < node->attrs->len; i += 2) {
        g_autofree char *value = g_markup_escape_text(g_ptr_array_index(node->attrs, i + 1), -1);

        g_string_append_printf(out, " %s=\"%s\"", (char *)g_ptr_array_index(node->attrs, i), value);
    }
    if (node->children->len) {
        g_string_append(out, ">\n");
        for (guint i = 0; i < node->children->len; i++)
            vdXmlWrite(out, g_ptr_array_index(node->children, i), depth + 1);
        for (int i = 0; i < depth; i++)
            g_string_append(out, "  ");
        g_string_append_printf(out, "</%s>\n", node->name);
    } else if (node->text && *node->text) {
        g_autofree char *text = g_markup_escape_text(node->text, -1);

        g_string_append_printf(out, ">%s</%s>\n", text, node->name);
    } else {
        g_string_append(out, "/>\n");
    }
}

char *
vdXmlNodeToString(const VdXmlNode *node)
{
    GString *out = g_string_new(NULL);

    vdXmlWrite(out, node, 0);
    return g_string_free(out, FALSE);
}
