/* host-config.c - see host-config.h.  No state of its own; the config is
 * loaded before threads start and read-only afterwards. */
#include "host-config.h"

#include "config.h"

static gboolean
vdHostConfigKnown(const char *section, const char *key)
{
    for (const VdConfigKey *k = vdConfigKeys(); k->section; k++) {
        if (g_str_equal(k->section, section) && g_str_equal(k->key, key))
            return TRUE;
    }
    return FALSE;
}

const char *
vdHostConfigString(const char *section, const char *key, const char *fallback)
{
    if (!vdHostConfigKnown(section, key))
        return fallback;
    return vdConfigGetString(section, key);
}

gint64
vdHostConfigInt(const char *section, const char *key, gint64 fallback)
{
    const char *v = vdHostConfigString(section, key, NULL);
    gint64 n;

    if (!v || !g_ascii_string_to_signed(v, 10, G_MININT64, G_MAXINT64, &n, NULL))
        return fallback;
    return n;
}

GStrv
vdHostConfigList(const char *section, const char *key, const char *fallback)
{
    const char *v = vdHostConfigString(section, key, fallback);
    g_auto(GStrv) parts = g_strsplit(v ? v : "", ",", -1);
    GPtrArray *out = g_ptr_array_new();

    for (gsize i = 0; parts[i]; i++) {
        g_strstrip(parts[i]);
        if (*parts[i])
            g_ptr_array_add(out, g_strdup(parts[i]));
    }
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(out, FALSE);
}
