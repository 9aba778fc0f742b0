/* host-virt-caps.c - see host-virt-caps.h.
 *
 * DESIGN: GMarkup parsers that track the element path as a slash-joined
 * string ("capabilities/guest/arch/machine") and collect text or
 * attributes at the paths they care about.  No global state; thread-safe.
 */
#include "host-virt-caps.h"

#include <string.h>

typedef struct {
    GString *path;     /* element path, '/'-joined */
    GArray *path_lens; /* path->len before each push, to pop */
    GString *text;     /* text of the current element */
} VdXmlWalk;

static void
vdXmlWalkInit(VdXmlWalk *w)
{
    w->path = g_string_new(NULL);
    w->path_lens = g_array_new(FALSE, FALSE, sizeof(gsize));
    w->text = g_string_new(NULL);
}

static void
vdXmlWalkClear(VdXmlWalk *w)
{
    g_string_free(w->path, TRUE);
    g_array_unref(w->path_lens);
    g_string_free(w->text, TRUE);
}

static void
vdXmlWalkPush(VdXmlWalk *w, const char *name)
{
    gsize len = w->path->len;

    g_array_append_val(w->path_lens, len);
    if (w->path->len)
        g_string_append_c(w->path, '/');
    g_string_append(w->path, name);
    g_string_truncate(w->text, 0);
}

static void
vdXmlWalkPop(VdXmlWalk *w)
{
    gsize len;

    if (!w->path_lens->len)
        return;
    len = g_array_index(w->path_lens, gsize, w->path_lens->len - 1);
    g_array_set_size(w->path_lens, w->path_lens->len - 1);
    g_string_truncate(w->path, len);
}

static const char *
vdXmlAttr(const char **names, const char **values, const char *name)
{
    for (gsize i = 0; names[i]; i++) {
        if (g_str_equal(names[i], name))
            return values[i];
    }
    return NULL;
}

static void
vdXmlText(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data, GError **error)
{
    VdXmlWalk *w = data;

    g_string_append_len(w->text, text, len);
}

static void
vdStrListAddUnique(GPtrArray *list, const char *s)
{
    if (!s || !*s)
        return;
    for (guint i = 0; i < list->len; i++) {
        if (g_str_equal(g_ptr_array_index(list, i), s))
            return;
    }
    g_ptr_array_add(list, g_strdup(s));
}

/* ---- capabilities -------------------------------------------------- */

typedef struct {
    VdXmlWalk w;
    VdVirtCaps *out;
    char *guest_arch;   /* name of the <arch> being read */
    char *guest_domain; /* type of the <domain> being read */
    char *machine_canonical;
    GHashTable *machines; /* "arch" or "arch/domaintype" -> GPtrArray */
} VdCapsParse;

static GPtrArray *
vdCapsMachineList(VdCapsParse *p, const char *key)
{
    GPtrArray *list = g_hash_table_lookup(p->machines, key);

    if (!list) {
        list = g_ptr_array_new_with_free_func(g_free);
        g_hash_table_insert(p->machines, g_strdup(key), list);
    }
    return list;
}

static void
vdCapsStart(GMarkupParseContext *ctx, const char *name, const char **attr_names,
            const char **attr_values, gpointer data, GError **error)
{
    VdCapsParse *p = data;
    const char *path;

    vdXmlWalkPush(&p->w, name);
    path = p->w.path->str;
    if (g_str_equal(path, "capabilities/host/cpu/counter")) {
        const char *cname = vdXmlAttr(attr_names, attr_values, "name");

        if (g_strcmp0(cname, "tsc") == 0) {
            const char *freq = vdXmlAttr(attr_names, attr_values, "frequency");

            g_free(p->out->tsc_frequency);
            p->out->tsc_frequency = g_strdup(freq ? freq : "");
            p->out->tsc_scaling =
                g_strcmp0(vdXmlAttr(attr_names, attr_values, "scaling"), "yes") == 0;
        }
    } else if (g_str_equal(path, "capabilities/guest/arch")) {
        g_free(p->guest_arch);
        p->guest_arch = g_strdup(vdXmlAttr(attr_names, attr_values, "name"));
    } else if (g_str_equal(path, "capabilities/guest/arch/domain")) {
        g_free(p->guest_domain);
        p->guest_domain = g_strdup(vdXmlAttr(attr_names, attr_values, "type"));
    } else if (g_str_equal(path, "capabilities/guest/arch/machine") ||
               g_str_equal(path, "capabilities/guest/arch/domain/machine")) {
        g_free(p->machine_canonical);
        p->machine_canonical = g_strdup(vdXmlAttr(attr_names, attr_values, "canonical"));
    }
}

static void
vdCapsEnd(GMarkupParseContext *ctx, const char *name, gpointer data, GError **error)
{
    VdCapsParse *p = data;
    const char *path = p->w.path->str;
    g_autofree char *text = g_strstrip(g_strdup(p->w.text->str));

    if (g_str_equal(path, "capabilities/host/cpu/arch")) {
        g_free(p->out->host_arch);
        p->out->host_arch = g_steal_pointer(&text);
    } else if (p->guest_arch && g_str_equal(path, "capabilities/guest/arch/machine")) {
        GPtrArray *list = vdCapsMachineList(p, p->guest_arch);

        vdStrListAddUnique(list, text);
        vdStrListAddUnique(list, p->machine_canonical);
    } else if (p->guest_arch && p->guest_domain &&
               g_str_equal(path, "capabilities/guest/arch/domain/machine")) {
        g_autofree char *key = g_strdup_printf("%s/%s", p->guest_arch, p->guest_domain);
        GPtrArray *list = vdCapsMachineList(p, key);

        vdStrListAddUnique(list, text);
        vdStrListAddUnique(list, p->machine_canonical);
    } else if (g_str_equal(path, "capabilities/guest/arch/domain")) {
        g_clear_pointer(&p->guest_domain, g_free);
    } else if (g_str_equal(path, "capabilities/guest/arch")) {
        g_clear_pointer(&p->guest_arch, g_free);
    }
    vdXmlWalkPop(&p->w);
    g_string_truncate(p->w.text, 0);
}

gboolean
vdVirtCapsParse(const char *xml, const char *arch, VdVirtCaps *out, GError **error)
{
    static const GMarkupParser parser = {
        .start_element = vdCapsStart,
        .end_element = vdCapsEnd,
        .text = vdXmlText,
    };
    VdCapsParse p = {0};
    g_autoptr(GMarkupParseContext) ctx = NULL;
    GPtrArray *list;
    g_autofree char *kvm_key = NULL;
    gboolean ok;

    memset(out, 0, sizeof(*out));
    vdXmlWalkInit(&p.w);
    p.out = out;
    p.machines =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
    ctx = g_markup_parse_context_new(&parser, G_MARKUP_IGNORE_QUALIFIED, &p, NULL);
    ok = g_markup_parse_context_parse(ctx, xml, -1, error) &&
         g_markup_parse_context_end_parse(ctx, error);

    if (!out->host_arch)
        out->host_arch = g_strdup("");
    if (!out->tsc_frequency)
        out->tsc_frequency = g_strdup("");
    out->machines = g_ptr_array_new_with_free_func(g_free);
    if (ok) {
        if (!arch)
            arch = out->host_arch;
        kvm_key = g_strdup_printf("%s/kvm", arch);
        list = g_hash_table_lookup(p.machines, kvm_key);
        if (!list || !list->len)
            list = g_hash_table_lookup(p.machines, arch);
        for (guint i = 0; list && i < list->len; i++)
            g_ptr_array_add(out->machines, g_strdup(g_ptr_array_index(list, i)));
    }

    vdXmlWalkClear(&p.w);
    g_free(p.guest_arch);
    g_free(p.guest_domain);
    g_free(p.machine_canonical);
    g_hash_table_unref(p.machines);
    if (!ok) {
        g_prefix_error(error, "cannot parse libvirt capabilities: ");
        vdVirtCapsClear(out);
    }
    return ok;
}

void
vdVirtCapsClear(VdVirtCaps *caps)
{
    g_clear_pointer(&caps->host_arch, g_free);
    g_clear_pointer(&caps->tsc_frequency, g_free);
    g_clear_pointer(&caps->machines, g_ptr_array_unref);
}

/* ---- domain capabilities ------------------------------------------- */

typedef struct {
    VdXmlWalk w;
    VdDomCaps *out;
    char *mode; /* name of the <mode> being read */
    gboolean mode_supported;
    gboolean model_usable;
} VdDomCapsParse;

static void
vdDomCapsStart(GMarkupParseContext *ctx, const char *name, const char **attr_names,
               const char **attr_values, gpointer data, GError **error)
{
    VdDomCapsParse *p = data;
    const char *path;

    vdXmlWalkPush(&p->w, name);
    path = p->w.path->str;
    if (g_str_equal(path, "domainCapabilities/cpu/mode")) {
        g_free(p->mode);
        p->mode = g_strdup(vdXmlAttr(attr_names, attr_values, "name"));
        p->mode_supported = g_strcmp0(vdXmlAttr(attr_names, attr_values, "supported"), "yes") == 0;
    } else if (g_str_equal(path, "domainCapabilities/cpu/mode/model")) {
        p->model_usable = g_strcmp0(vdXmlAttr(attr_names, attr_values, "usable"), "yes") == 0;
    } else if (g_str_equal(path, "domainCapabilities/cpu/mode/feature") &&
               g_strcmp0(p->mode, "host-model") == 0 &&
               g_strcmp0(vdXmlAttr(attr_names, attr_values, "policy"), "require") == 0) {
        vdStrListAddUnique(p->out->features, vdXmlAttr(attr_names, attr_values, "name"));
    }
}

static void
vdDomCapsEnd(GMarkupParseContext *ctx, const char *name, gpointer data, GError **error)
{
    VdDomCapsParse *p = data;
    const char *path = p->w.path->str;
    g_autofree char *text = g_strstrip(g_strdup(p->w.text->str));

    if (g_str_equal(path, "domainCapabilities/machine")) {
        g_free(p->out->machine);
        p->out->machine = g_steal_pointer(&text);
    } else if (g_str_equal(path, "domainCapabilities/cpu/mode/model")) {
        if (g_strcmp0(p->mode, "custom") == 0 && p->mode_supported && p->model_usable)
            vdStrListAddUnique(p->out->usable_models, text);
    } else if (g_str_equal(path, "domainCapabilities/cpu/mode")) {
        g_clear_pointer(&p->mode, g_free);
    }
    vdXmlWalkPop(&p->w);
    g_string_truncate(p->w.text, 0);
}

gboolean
vdDomCapsParse(const char *xml, VdDomCaps *out, GError **error)
{
    static const GMarkupParser parser = {
        .start_element = vdDomCapsStart,
        .end_element = vdDomCapsEnd,
        .text = vdXmlText,
    };
    VdDomCapsParse p = {0};
    g_autoptr(GMarkupParseContext) ctx = NULL;
    gboolean ok;

    memset(out, 0, sizeof(*out));
    out->usable_models = g_ptr_array_new_with_free_func(g_free);
    out->features = g_ptr_array_new_with_free_func(g_free);
    vdXmlWalkInit(&p.w);
    p.out = out;
    ctx = g_markup_parse_context_new(&parser, G_MARKUP_IGNORE_QUALIFIED, &p, NULL);
    ok = g_markup_parse_context_parse(ctx, xml, -1, error) &&
         g_markup_parse_context_end_parse(ctx, error);
    if (!out->machine)
        out->machine = g_strdup("");
    vdXmlWalkClear(&p.w);
    g_free(p.mode);
    if (!ok) {
        g_prefix_error(error, "cannot parse libvirt domain capabilities: ");
        vdDomCapsClear(out);
    }
    return ok;
}

void
vdDomCapsClear(VdDomCaps *caps)
{
    g_clear_pointer(&caps->usable_models, g_ptr_array_unref);
    g_clear_pointer(&caps->features, g_ptr_array_unref);
    g_clear_pointer(&caps->machine, g_free);
}
