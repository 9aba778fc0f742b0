/* host-proc.c - see host-proc.h.
 *
 * DESIGN: pure text parsers (no I/O except the vdHostRead* helpers at the
 * top) so they can be unit-tested with fixture text.  No global state:
 * safe from any thread.
 */
#include "host-proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *
vdHostReadFile(const char *path)
{
    GString *buf;
    int fd;

    /* g_file_get_contents() stats the size first, which is 4096 for sysfs
     * and 0 for procfs; read until EOF instead. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    buf = g_string_sized_new(4096);
    for (;;) {
        char chunk[8192];
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || buf->len + (gsize)n > VD_HOST_FILE_MAX) {
            close(fd);
            g_string_free(buf, TRUE);
            return NULL;
        }
        if (n == 0)
            break;
        g_string_append_len(buf, chunk, n);
    }
    close(fd);
    return g_string_free(buf, FALSE);
}

char *
vdHostReadLine(const char *path)
{
    char *text = vdHostReadFile(path);
    char *nl;

    if (!text)
        return NULL;
    nl = strchr(text, '\n');
    if (nl)
        *nl = '\0';
    return g_strstrip(text);
}

gint64
vdHostReadInt(const char *path, gint64 fallback)
{
    g_autofree char *line = vdHostReadLine(path);
    gint64 v;

    if (!line || !g_ascii_string_to_signed(line, 10, G_MININT64, G_MAXINT64, &v, NULL))
        return fallback;
    return v;
}

/* Split @text into lines (without terminators); empty trailing line dropped. */
static GStrv
vdLines(const char *text)
{
    return g_strsplit(text ? text : "", "\n", -1);
}

/* White-space separated fields of one line. */
static GStrv
vdFields(const char *line)
{
    g_auto(GStrv) raw = g_strsplit_set(line, " \t", -1);
    GPtrArray *out = g_ptr_array_new();

    for (gsize i = 0; raw[i]; i++) {
        if (*raw[i])
            g_ptr_array_add(out, g_strdup(raw[i]));
    }
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(out, FALSE);
}

static gboolean
vdParseU64(const char *s, guint64 *out)
{
    return g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, out, NULL);
}

/* ---- /proc/stat ---------------------------------------------------- */

static gboolean
vdCpuTimesParse(GStrv f, VdCpuTimes *t)
{
    guint64 user, nice, sys, idle;

    if (g_strv_length(f) < 5 || !vdParseU64(f[1], &user) || !vdParseU64(f[2], &nice) ||
        !vdParseU64(f[3], &sys) || !vdParseU64(f[4], &idle))
        return FALSE;
    t->user = user + nice;
    t->sys = sys;
    t->idle = idle;
    return TRUE;
}

gboolean
vdProcStatParse(const char *text, VdProcStat *out)
{
    g_auto(GStrv) lines = vdLines(text);
    gboolean have_total = FALSE;

    memset(out, 0, sizeof(*out));
    out->cores = g_array_new(FALSE, TRUE, sizeof(VdCpuCoreTimes));
    out->btime = -1;
    for (gsize i = 0; lines[i]; i++) {
        g_auto(GStrv) f = vdFields(lines[i]);

        if (!f[0])
            continue;
        if (g_str_equal(f[0], "cpu")) {
            have_total = vdCpuTimesParse(f, &out->total);
        } else if (g_str_has_prefix(f[0], "cpu")) {
            VdCpuCoreTimes core = {0};
            guint64 id;

            if (!vdParseU64(f[0] + 3, &id) || id > G_MAXINT || !vdCpuTimesParse(f, &core.t))
                continue;
            core.id = (int)id;
            g_array_append_val(out->cores, core);
        } else if (g_str_equal(f[0], "btime") && f[1]) {
            guint64 bt;

            if (vdParseU64(f[1], &bt))
                out->btime = (gint64)bt;
        }
    }
    return have_total;
}

void
vdProcStatClear(VdProcStat *st)
{
    if (st->cores)
        g_array_unref(st->cores);
    st->cores = NULL;
}

/* ---- meminfo ------------------------------------------------------- */

void
vdMeminfoParse(const char *text, VdMeminfo *out)
{
    static const struct {
        const char *key;
        gsize offset;
    } keys[] = {
        {"MemTotal", G_STRUCT_OFFSET(VdMeminfo, mem_total)},
        {"MemFree", G_STRUCT_OFFSET(VdMeminfo, mem_free)},
        {"MemAvailable", G_STRUCT_OFFSET(VdMeminfo, mem_available)},
        {"Buffers", G_STRUCT_OFFSET(VdMeminfo, buffers)},
        {"Cached", G_STRUCT_OFFSET(VdMeminfo, cached)},
        {"FilePages", G_STRUCT_OFFSET(VdMeminfo, cached)}, /* per-node name */
        {"SReclaimable", G_STRUCT_OFFSET(VdMeminfo, sreclaimable)},
        {"SwapTotal", G_STRUCT_OFFSET(VdMeminfo, swap_total)},
        {"SwapFree", G_STRUCT_OFFSET(VdMeminfo, swap_free)},
        {"AnonHugePages", G_STRUCT_OFFSET(VdMeminfo, anon_huge_pages)},
        {"Committed_AS", G_STRUCT_OFFSET(VdMeminfo, committed_as)},
    };
    g_auto(GStrv) lines = vdLines(text);

    for (gsize k = 0; k < G_N_ELEMENTS(keys); k++)
        G_STRUCT_MEMBER(gint64, out, keys[k].offset) = -1;

    for (gsize i = 0; lines[i]; i++) {
        g_auto(GStrv) f = NULL;
        const char *line = lines[i];
        const char *colon = strchr(line, ':');
        g_autofree char *key = NULL;
        guint64 v;

        if (!colon)
            continue;
        key = g_strndup(line, colon - line);
        /* "Node 0 MemTotal" -> "MemTotal" */
        if (g_str_has_prefix(key, "Node ")) {
            char *sp = strrchr(key, ' ');
            char *tmp = g_strdup(sp + 1);

            g_free(key);
            key = tmp;
        }
        f = vdFields(colon + 1);
        if (!f[0] || !vdParseU64(f[0], &v))
            continue;
        for (gsize k = 0; k < G_N_ELEMENTS(keys); k++) {
            if (g_str_equal(key, keys[k].key)) {
                G_STRUCT_MEMBER(gint64, out, keys[k].offset) = (gint64)v;
                break;
            }
        }
    }
}

/* ---- /proc/<pid>/stat ---------------------------------------------- */

gboolean
vdPidStatParse(const char *text, VdPidStat *out)
{
    const char *rparen;
    g_auto(GStrv) f = NULL;
    VdPidStat st;

    if (!text)
        return FALSE;
    /* comm may hold ')' itself: the last one ends it */
    rparen = strrchr(text, ')');
    if (!rparen)
        return FALSE;
    f = vdFields(rparen + 1);
    /* after comm: state(3) ppid(4) ... utime(14) stime(15) ... starttime(22);
     * f[0] is field 3 */
    if (g_strv_length(f) < 20 || !vdParseU64(f[11], &st.utime) || !vdParseU64(f[12], &st.stime) ||
        !vdParseU64(f[19], &st.starttime))
        return FALSE;
    *out = st;
    return TRUE;
}

/* ---- one-liners ---------------------------------------------------- */

char *
vdLoadavgParse(const char *text)
{
    g_auto(GStrv) f = vdFields(text ? text : "");
    double d;
    char *end = NULL;

    if (g_strv_length(f) < 3)
        return NULL;
    d = g_ascii_strtod(f[1], &end);
    if (end == f[1] || *end || d < 0)
        return NULL;
    return g_strdup(f[1]);
}

char *
vdBracketChoiceParse(const char *text)
{
    const char *open, *close;

    if (!text || !(open = strchr(text, '[')) || !(close = strchr(open, ']')))
        return NULL;
    return g_strndup(open + 1, close - open - 1);
}

double
vdUptimeParse(const char *text)
{
    g_auto(GStrv) f = vdFields(text ? text : "");
    char *end = NULL;
    double d;

    if (!f[0])
        return -1;
    d = g_ascii_strtod(f[0], &end);
    if (end == f[0] || *end || d < 0)
        return -1;
    return d;
}

static gint
vdIntCompare(gconstpointer a, gconstpointer b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

/* Upper bound of a CPU id we accept in a list (Linux NR_CPUS max is 8192). */
#define VD_CPU_ID_MAX 65535

GArray *
vdCpuListParse(const char *text)
{
    g_autofree char *copy = g_strstrip(g_strdup(text ? text : ""));
    g_auto(GStrv) parts = NULL;
    GArray *out = g_array_new(FALSE, FALSE, sizeof(int));

    if (!*copy)
        return out;
    parts = g_strsplit(copy, ",", -1);
    for (gsize i = 0; parts[i]; i++) {
        g_auto(GStrv) range = g_strsplit(parts[i], "-", 2);
        guint64 lo, hi;

        if (!range[0] || !vdParseU64(range[0], &lo))
            goto error;
        hi = lo;
        if (range[1] && !vdParseU64(range[1], &hi))
            goto error;
        if (hi < lo || hi > VD_CPU_ID_MAX)
            goto error;
        for (guint64 c = lo; c <= hi; c++) {
            int v = (int)c;

            g_array_append_val(out, v);
        }
    }
    g_array_sort(out, vdIntCompare);
    /* drop duplicates ("0-2,1") */
    for (guint i = 1; i < out->len;) {
        if (g_array_index(out, int, i) == g_array_index(out, int, i - 1))
            g_array_remove_index(out, i);
        else
            i++;
    }
    return out;

error:
    g_array_unref(out);
    return NULL;
}

char *
vdIntListFormat(GArray *ints)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; ints && i < ints->len; i++)
        g_string_append_printf(s, "%s%d", i ? "," : "", g_array_index(ints, int, i));
    return g_string_free(s, FALSE);
}

/* ---- /proc/net/dev ------------------------------------------------- */

void
vdNetDevCountersFree(VdNetDevCounters *c)
{
    if (!c)
        return;
    g_free(c->name);
    g_free(c);
}

GPtrArray *
vdNetDevParse(const char *text)
{
    g_auto(GStrv) lines = vdLines(text);
    GPtrArray *out;

    if (g_strv_length(lines) < 2 || !strstr(lines[0], "Receive") || !strstr(lines[1], "bytes"))
        return NULL;
    out = g_ptr_array_new_with_free_func((GDestroyNotify)vdNetDevCountersFree);
    for (gsize i = 2; lines[i]; i++) {
        const char *colon = strchr(lines[i], ':');
        g_auto(GStrv) f = NULL;
        g_autofree char *name = NULL;
        VdNetDevCounters *c;
        guint64 v[16];

        if (!colon)
            continue;
        name = g_strstrip(g_strndup(lines[i], colon - lines[i]));
        f = vdFields(colon + 1);
        if (!*name || g_strv_length(f) < 16)
            continue;
        for (int k = 0; k < 16; k++) {
            if (!vdParseU64(f[k], &v[k]))
                goto next;
        }
        c = g_new0(VdNetDevCounters, 1);
        c->name = g_steal_pointer(&name);
        c->rx_bytes = v[0];
        c->rx_packets = v[1];
        c->rx_errors = v[2];
        c->rx_dropped = v[3];
        c->tx_bytes = v[8];
        c->tx_packets = v[9];
        c->tx_errors = v[10];
        c->tx_dropped = v[11];
        g_ptr_array_add(out, c);
    next:;
    }
    return out;
}

/* ---- routes -------------------------------------------------------- */

#define VD_RTF_UP 0x0001
#define VD_RTF_GATEWAY 0x0002
#define VD_RTF_REJECT 0x0200

void
vdDefaultRouteFree(VdDefaultRoute *r)
{
    if (!r)
        return;
    g_free(r->dev);
    g_free(r->gateway);
    g_free(r);
}

static gint
vdDefaultRouteCompare(gconstpointer a, gconstpointer b)
{
    const VdDefaultRoute *x = *(VdDefaultRoute *const *)a;
    const VdDefaultRoute *y = *(VdDefaultRoute *const *)b;

    return (x->metric > y->metric) - (x->metric < y->metric);
}

static gboolean
vdParseHexU32(const char *s, guint32 *out)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(s, 16, 0, G_MAXUINT32, &v, NULL))
        return FALSE;
    *out = (guint32)v;
    return TRUE;
}

GPtrArray *
vdRouteV4DefaultsParse(const char *text)
{
    g_auto(GStrv) lines = vdLines(text);
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vdDefaultRouteFree);

    /* Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT;
     * addresses are in host (little-endian on x86) byte order as the kernel
     * prints the raw __be32 with %08X: the first byte in memory is the
     * last hex pair. */
    for (gsize i = 1; lines[0] && lines[i]; i++) {
        g_auto(GStrv) f = vdFields(lines[i]);
        guint32 dst, gw, flags, metric, mask;
        VdDefaultRoute *r;
        guint8 b[4];

        guint64 metric64;

        if (g_strv_length(f) < 8 || !vdParseHexU32(f[1], &dst) || !vdParseHexU32(f[2], &gw) ||
            !vdParseHexU32(f[3], &flags) || !vdParseHexU32(f[7], &mask) ||
            !g_ascii_string_to_unsigned(f[6], 10, 0, G_MAXUINT32, &metric64, NULL))
            continue;
        metric = (guint32)metric64;
        if (dst != 0 || mask != 0 || !(flags & VD_RTF_UP) || !(flags & VD_RTF_GATEWAY) ||
            (flags & VD_RTF_REJECT))
            continue;
        b[0] = gw & 0xff;
        b[1] = (gw >> 8) & 0xff;
        b[2] = (gw >> 16) & 0xff;
        b[3] = (gw >> 24) & 0xff;
        r = g_new0(VdDefaultRoute, 1);
        r->dev = g_strdup(f[0]);
        r->gateway = g_strdup_printf("%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        r->metric = metric;
        g_ptr_array_add(out, r);
    }
    g_ptr_array_sort(out, vdDefaultRouteCompare);
    return out;
}

static gboolean
vdHex128ToText(const char *hex, char **out)
{
    GString *s;
    guint16 words[8];

    if (strlen(hex) != 32)
        return FALSE;
    for (int i = 0; i < 8; i++) {
        char part[5];
        guint64 v;

        memcpy(part, hex + 4 * i, 4);
        part[4] = '\0';
        if (!g_ascii_string_to_unsigned(part, 16, 0, 0xffff, &v, NULL))
            return FALSE;
        words[i] = (guint16)v;
    }
    /* RFC 5952: compress the longest run (>= 2) of zero words */
    {
        int best = -1, best_len = 0;

        for (int i = 0; i < 8;) {
            int j = i;

            while (j < 8 && words[j] == 0)
                j++;
            if (j - i > best_len && j - i >= 2) {
                best = i;
                best_len = j - i;
            }
            i = (j == i) ? i + 1 : j;
        }
        s = g_string_new(NULL);
        for (int i = 0; i < 8; i++) {
            if (i == best) {
                g_string_append(s, "::");
                i += best_len - 1;
                continue;
            }
            if (s->len && s->str[s->len - 1] != ':')
                g_string_append_c(s, ':');
            g_string_append_printf(s, "%x", words[i]);
        }
    }
    *out = g_string_free(s, FALSE);
    return TRUE;
}

GPtrArray *
vdRouteV6DefaultsParse(const char *text)
{
    g_auto(GStrv) lines = vdLines(text);
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vdDefaultRouteFree);

    /* dst dstlen src srclen nexthop metric refcnt use flags dev */
    for (gsize i = 0; lines[i]; i++) {
        g_auto(GStrv) f = vdFields(lines[i]);
        guint32 dstlen, metric, flags;
        char *gw = NULL;
        VdDefaultRoute *r;

        if (g_strv_length(f) < 10 || !vdParseHexU32(f[1], &dstlen) ||
            !vdParseHexU32(f[5], &metric) || !vdParseHexU32(f[8], &flags))
            continue;
        if (dstlen != 0 || strspn(f[0], "0") != 32 || !(flags & VD_RTF_UP) ||
            !(flags & VD_RTF_GATEWAY) || (flags & VD_RTF_REJECT))
            continue;
        if (!vdHex128ToText(f[4], &gw))
            continue;
        r = g_new0(VdDefaultRoute, 1);
        r->dev = g_strdup(f[9]);
        r->gateway = gw;
        r->metric = metric;
        g_ptr_array_add(out, r);
    }
    g_ptr_array_sort(out, vdDefaultRouteCompare);
    return out;
}

/* ---- /proc/net/vlan/config ----------------------------------------- */

void
vdVlanEntryFree(VdVlanEntry *v)
{
    if (!v)
        return;
    g_free(v->name);
    g_free(v->dev);
    g_free(v);
}

GPtrArray *
vdVlanConfigParse(const char *text)
{
    g_auto(GStrv) lines = vdLines(text);
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vdVlanEntryFree);

    /* "VLAN Dev name    | VLAN ID\nName-Type: ...\neth0.10        | 10  | eth0" */
    for (gsize i = 0; lines[i]; i++) {
        g_auto(GStrv) cols = g_strsplit(lines[i], "|", -1);
        guint64 vid;
        VdVlanEntry *v;

        if (g_strv_length(cols) != 3)
            continue;
        for (int k = 0; k < 3; k++)
            g_strstrip(cols[k]);
        if (!*cols[0] || !*cols[2] || !vdParseU64(cols[1], &vid) || vid > 4095)
            continue;
        v = g_new0(VdVlanEntry, 1);
        v->name = g_strdup(cols[0]);
        v->vid = (int)vid;
        v->dev = g_strdup(cols[2]);
        g_ptr_array_add(out, v);
    }
    return out;
}

/* ---- KEY=value ----------------------------------------------------- */

GHashTable *
vdKeyValueParse(const char *text)
{
    g_auto(GStrv) lines = vdLines(text);
    GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    for (gsize i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        char *eq = strchr(line, '=');
        char *value;
        gsize len;

        if (!*line || *line == '#' || !eq || eq == line)
            continue;
        *eq = '\0';
        value = g_strstrip(eq + 1);
        len = strlen(value);
        if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
            value[len - 1] = '\0';
            value++;
        }
        g_hash_table_replace(out, g_strdup(g_strstrip(line)), g_strdup(value));
    }
    return out;
}

/* ---- resolv.conf --------------------------------------------------- */

GStrv
vdResolvConfNameservers(const char *text)
{
    g_auto(GStrv) lines = vdLines(text);
    GPtrArray *out = g_ptr_array_new();

    for (gsize i = 0; lines[i]; i++) {
        g_auto(GStrv) f = vdFields(lines[i]);

        if (f[0] && f[1] && g_str_equal(f[0], "nameserver"))
            g_ptr_array_add(out, g_strdup(f[1]));
    }
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(out, FALSE);
}

/* ---- /proc/cpuinfo ------------------------------------------------- */

void
vdCpuInfoParse(const char *text, VdCpuInfo *out)
{
    g_auto(GStrv) lines = vdLines(text);
    int processors = 0;

    out->model = NULL;
    out->mhz = NULL;
    out->flags = NULL;
    for (gsize i = 0; lines[i]; i++) {
        char *colon = strchr(lines[i], ':');
        g_autofree char *key = NULL;
        const char *value;

        if (!colon)
            continue;
        key = g_strstrip(g_strndup(lines[i], colon - lines[i]));
        value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        if (g_str_equal(key, "processor")) {
            /* only the first processor's block is read */
            if (++processors > 1)
                break;
        } else if (!out->model && (g_str_equal(key, "model name") || g_str_equal(key, "cpu"))) {
            out->model = g_strdup(value);
        } else if (!out->mhz && (g_str_equal(key, "cpu MHz") || g_str_equal(key, "clock"))) {
            out->mhz = g_strdup(value);
        } else if (!out->flags && g_str_equal(key, "flags")) {
            out->flags = vdFields(value);
        }
    }
    if (!out->model)
        out->model = g_strdup("");
    else
        g_strstrip(out->model);
    if (!out->mhz)
        out->mhz = g_strdup("");
    else
        g_strstrip(out->mhz);
    /* POWER prints "clock : 3425.000000MHz" */
    if (g_str_has_suffix(out->mhz, "MHz"))
        out->mhz[strlen(out->mhz) - 3] = '\0';
    if (!out->flags)
        out->flags = g_new0(char *, 1);
}

void
vdCpuInfoClear(VdCpuInfo *ci)
{
    g_clear_pointer(&ci->model, g_free);
    g_clear_pointer(&ci->mhz, g_free);
    g_clear_pointer(&ci->flags, g_strfreev);
}

/* ---- dpkg ---------------------------------------------------------- */

GHashTable *
vdDpkgStatusParse(const char *text, const char *const *wanted)
{
    GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) lines = vdLines(text);
    g_autofree char *pkg = NULL;
    g_autofree char *version = NULL;
    gboolean installed = FALSE;

    /* Stanzas separated by empty lines; the (sentinel) NULL line ends the
     * last one. */
    for (gsize i = 0;; i++) {
        const char *line = lines[i];

        if (!line || !*line) {
            if (pkg && version && installed && g_strv_contains(wanted, pkg))
                g_hash_table_replace(out, g_steal_pointer(&pkg), g_steal_pointer(&version));
            g_clear_pointer(&pkg, g_free);
            g_clear_pointer(&version, g_free);
            installed = FALSE;
            if (!line)
                break;
            continue;
        }
        if (g_str_has_prefix(line, "Package:")) {
            g_free(pkg);
            pkg = g_strstrip(g_strdup(line + 8));
        } else if (g_str_has_prefix(line, "Version:")) {
            g_free(version);
            version = g_strstrip(g_strdup(line + 8));
        } else if (g_str_has_prefix(line, "Status:")) {
            /* "Status: install ok installed"; "deinstall ok config-files" is not */
            installed = strstr(line, " ok installed") != NULL;
        }
    }
    return out;
}

void
vdDebVersionSplit(const char *full, char **version, char **release)
{
    const char *colon = strchr(full, ':');
    const char *start = colon ? colon + 1 : full;
    const char *dash = strrchr(start, '-');

    if (dash) {
        *version = g_strndup(start, dash - start);
        *release = g_strdup(dash + 1);
    } else {
        *version = g_strdup(start);
        *release = g_strdup("");
    }
}

/* ---- kernel -------------------------------------------------------- */

void
vdKernelReleaseSplit(const char *release, char **version, char **rel)
{
    const char *dash = strchr(release, '-');

    if (!dash) {
        *version = g_strdup("0");
        *rel = g_strdup("0");
        return;
    }
    *version = g_strndup(release, dash - release);
    *rel = g_strdup(dash + 1);
}

gint64
vdKernelBuildTimeParse(const char *uname_version)
{
    static const char *const months[] = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    };
    g_auto(GStrv) f = NULL;
    gsize n;

    if (!uname_version)
        return 0;

    /* Debian: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)" */
    {
        const char *open = strrchr(uname_version, '(');
        int y, m, d;
        char tail;

        if (open && sscanf(open, "(%4d-%2d-%2d%c", &y, &m, &d, &tail) == 4 && tail == ')') {
            g_autoptr(GDateTime) dt = g_date_time_new_utc(y, m, d, 0, 0, 0);

            if (dt)
                return g_date_time_to_unix(dt);
        }
    }

    /* "... Mon Oct 16 14:21:08 UTC 2023": month day time zone year at the end */
    f = vdFields(uname_version);
    n = g_strv_length(f);
    for (gsize i = 0; i + 4 < n; i++) {
        int mon = -1, day, hh, mm, ss;
        guint64 year;

        for (int k = 0; k < 12; k++) {
            if (g_str_equal(f[i], months[k]))
                mon = k + 1;
        }
        if (mon < 0)
            continue;
        if (sscanf(f[i + 1], "%d", &day) != 1 || sscanf(f[i + 2], "%d:%d:%d", &hh, &mm, &ss) != 3)
            continue;
        if (!vdParseU64(f[i + 4], &year) || year < 1970 || year > 9999)
            continue;
        {
            g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(f[i + 3]);
            g_autoptr(GDateTime) dt = NULL;

            if (!tz)
                tz = g_time_zone_new_utc();
            dt = g_date_time_new(tz, (int)year, mon, day, hh, mm, ss);
            if (dt)
                return g_date_time_to_unix(dt);
        }
    }
    return 0;
}

/* ---- identifiers --------------------------------------------------- */

char *
vdMachineIdToUuid(const char *text)
{
    g_autofree char *s = g_strstrip(g_ascii_strdown(text ? text : "", -1));

    if (strlen(s) != 32 || strspn(s, "0123456789abcdef") != 32)
        return NULL;
    return g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", s, s + 8, s + 12, s + 16, s + 20);
}
