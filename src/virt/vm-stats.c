/* vm-stats.c - see vm-stats.h.  Pure functions; any thread.
 *
 * Parsing is on the sampler's hot path (every VM, every interval), so it
 * dispatches on the parameter name's first letters instead of looking
 * each name up in a table, and allocates only the sample and its device
 * arrays.  Producing the VmStats members happens per request.
 */
#include "vm-stats.h"

#include "xml-node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    VD_VM_HAVE_DISK_CACHES = 1 << 16, /* balloon.disk_caches (private bit) */
};

/* ---- samples ----------------------------------------------------------- */

/* A sample is one block: the VdVmSample, its NIC and disk arrays, then
 * their names and paths.  One allocation (g_malloc, not calloc: glibc's
 * calloc skips its per-thread cache) and one free per VM and sample,
 * where separate arrays and strings made up to seven, interleaved with
 * the thousands of chunks a libvirt call allocates and frees. */

VdVmSample *
vdVmSampleRef(VdVmSample *sample)
{
    return sample ? g_atomic_rc_box_acquire(sample) : NULL;
}

void
vdVmSampleUnref(VdVmSample *sample)
{
    if (sample)
        g_atomic_rc_box_release(sample);
}

gsize
vdVmSampleSize(const VdVmSample *s)
{
    gsize size = sizeof(*s) + s->n_nics * sizeof(VdVmNicSample) +
                 s->n_disks * sizeof(VdVmDiskSample);

    for (guint i = 0; i < s->n_nics; i++)
        size += s->nics[i].name ? strlen(s->nics[i].name) + 1 : 0;
    for (guint i = 0; i < s->n_disks; i++) {
        size += s->disks[i].name ? strlen(s->disks[i].name) + 1 : 0;
        size += s->disks[i].path ? strlen(s->disks[i].path) + 1 : 0;
    }
    return size;
}

static guint64
vdParamU64(const virTypedParameter *p)
{
    switch (p->type) {
    case VIR_TYPED_PARAM_INT:
        return p->value.i < 0 ? 0 : (guint64)p->value.i;
    case VIR_TYPED_PARAM_UINT:
        return p->value.ui;
    case VIR_TYPED_PARAM_LLONG:
        return p->value.l < 0 ? 0 : (guint64)p->value.l;
    case VIR_TYPED_PARAM_ULLONG:
        return p->value.ul;
    case VIR_TYPED_PARAM_DOUBLE:
        return p->value.d < 0 ? 0 : (guint64)p->value.d;
    case VIR_TYPED_PARAM_BOOLEAN:
        return p->value.b ? 1 : 0;
    default:
        return 0;
    }
}

static gint64
vdParamI64(const virTypedParameter *p)
{
    switch (p->type) {
    case VIR_TYPED_PARAM_INT:
        return p->value.i;
    case VIR_TYPED_PARAM_LLONG:
        return p->value.l;
    default:
        return (gint64)MIN(vdParamU64(p), (guint64)G_MAXINT64);
    }
}

/* Whether the rest of a parameter name at @k is the literal @lit.  @k
 * points into a virTypedParameter's fixed-size field array, so comparing
 * sizeof(@lit) bytes (the NUL included) stays inside it, and the compiler
 * turns the constant-size comparison into a few loads instead of a call:
 * every VM's record has some 40 names to tell apart. */
#define VD_FIELD_IS(k, lit) (memcmp((k), "" lit, sizeof(lit)) == 0)

/* "12.rx.bytes" -> 12 and "rx.bytes"; -1 when there is no index. */
static int
vdParamIndex(const char *s, const char **rest)
{
    int idx = 0;

    if (!g_ascii_isdigit(*s))
        return -1;
    for (; g_ascii_isdigit(*s); s++) {
        idx = idx * 10 + (*s - '0');
        if (idx >= VD_VM_SAMPLE_MAX_DEVICES)
            return -1;
    }
    if (*s != '.')
        return -1;
    *rest = s + 1;
    return idx;
}

/* A sample being parsed: its devices on the parsing thread's stack, their
 * names borrowed from the record's parameters until vdVmParseFinish
 * copies everything into the sample's block. */
typedef struct {
    VdVmSample s;
    VdVmNicSample nics[VD_VM_SAMPLE_MAX_DEVICES];
    VdVmDiskSample disks[VD_VM_SAMPLE_MAX_DEVICES];
} VdVmParse;

/* Device @idx of an array with *@n in use: the ones up to it are zeroed
 * as they come into use (the arrays are not cleared beforehand). */
static void
vdParseReach(gpointer arr, guint *n, guint idx, gsize elem)
{
    if (idx < *n)
        return;
    memset((char *)arr + *n * elem, 0, (idx + 1 - *n) * elem);
    *n = idx + 1;
}

static void
vdParseNet(VdVmParse *ps, const char *f, const virTypedParameter *p)
{
    const char *k;
    int idx = vdParamIndex(f, &k);
    VdVmNicSample *n;
    guint64 v;

    if (idx < 0)
        return; /* net.count */
    vdParseReach(ps->nics, &ps->s.n_nics, (guint)idx, sizeof(VdVmNicSample));
    n = &ps->nics[idx];
    if (VD_FIELD_IS(k, "name")) {
        if (p->type == VIR_TYPED_PARAM_STRING && !n->name)
            n->name = p->value.s; /* borrowed */
        return;
    }
    v = vdParamU64(p);
    if (k[0] == 'r' && k[1] == 'x' && k[2] == '.') {
        k += 3;
        if (VD_FIELD_IS(k, "bytes"))
            n->rx_bytes = v;
        else if (VD_FIELD_IS(k, "pkts"))
            n->rx_pkts = v;
        else if (VD_FIELD_IS(k, "errs"))
            n->rx_errs = v;
        else if (VD_FIELD_IS(k, "drop"))
            n->rx_drop = v;
    } else if (k[0] == 't' && k[1] == 'x' && k[2] == '.') {
        k += 3;
        if (VD_FIELD_IS(k, "bytes"))
            n->tx_bytes = v;
        else if (VD_FIELD_IS(k, "pkts"))
            n->tx_pkts = v;
        else if (VD_FIELD_IS(k, "errs"))
            n->tx_errs = v;
        else if (VD_FIELD_IS(k, "drop"))
            n->tx_drop = v;
    }
}

static void
vdParseBlock(VdVmParse *ps, const char *f, const virTypedParameter *p)
{
    const char *k;
    int idx = vdParamIndex(f, &k);
    VdVmDiskSample *d;
    guint64 v;

    if (idx < 0)
        return; /* block.count */
    vdParseReach(ps->disks, &ps->s.n_disks, (guint)idx, sizeof(VdVmDiskSample));
    d = &ps->disks[idx];
    if (p->type == VIR_TYPED_PARAM_STRING) {
        if (VD_FIELD_IS(k, "name") && !d->name)
            d->name = p->value.s; /* borrowed */
        else if (VD_FIELD_IS(k, "path") && !d->path)
            d->path = p->value.s;
        return;
    }
    v = vdParamU64(p);
    switch (k[0]) {
    case 'r': /* rd.reqs rd.bytes rd.times */
        if (VD_FIELD_IS(k, "rd.reqs"))
            d->rd_reqs = v;
        else if (VD_FIELD_IS(k, "rd.bytes"))
            d->rd_bytes = v;
        else if (VD_FIELD_IS(k, "rd.times"))
            d->rd_times = v;
        break;
    case 'w':
        if (VD_FIELD_IS(k, "wr.reqs"))
            d->wr_reqs = v;
        else if (VD_FIELD_IS(k, "wr.bytes"))
            d->wr_bytes = v;
        else if (VD_FIELD_IS(k, "wr.times"))
            d->wr_times = v;
        break;
    case 'f':
        if (VD_FIELD_IS(k, "fl.reqs"))
            d->fl_reqs = v;
        else if (VD_FIELD_IS(k, "fl.times"))
            d->fl_times = v;
        break;
    case 'a':
        if (VD_FIELD_IS(k, "allocation"))
            d->allocation = v;
        break;
    case 'c':
        if (VD_FIELD_IS(k, "capacity"))
            d->capacity = v;
        break;
    case 'p':
        if (VD_FIELD_IS(k, "physical"))
            d->physical = v;
        break;
    default:
        break;
    }
}

static void
vdParseBalloon(VdVmSample *s, const char *k, const virTypedParameter *p)
{
    guint64 v = vdParamU64(p);

    switch (k[0]) {
    case 'c':
        if (VD_FIELD_IS(k, "current")) {
            s->balloon_current = v;
            s->have |= VD_VM_HAVE_BALLOON;
        }
        break;
    case 'm':
        if (VD_FIELD_IS(k, "maximum"))
            s->balloon_maximum = v;
        else if (VD_FIELD_IS(k, "major_fault"))
            s->major_fault = v;
        else if (VD_FIELD_IS(k, "minor_fault"))
            s->minor_fault = v;
        break;
    case 's':
        if (VD_FIELD_IS(k, "swap_in"))
            s->swap_in = v;
        else if (VD_FIELD_IS(k, "swap_out"))
            s->swap_out = v;
        break;
    case 'u':
        if (VD_FIELD_IS(k, "unused"))
            s->mem_unused = v;
        else if (VD_FIELD_IS(k, "usable"))
            s->mem_usable = v;
        break;
    case 'a':
        if (VD_FIELD_IS(k, "available")) {
            s->mem_available = v;
            s->have |= VD_VM_HAVE_GUESTMEM;
        }
        break;
    case 'r':
        if (VD_FIELD_IS(k, "rss"))
            s->mem_rss = v;
        break;
    case 'd':
        if (VD_FIELD_IS(k, "disk_caches")) {
            s->mem_disk_caches = v;
            s->have |= VD_VM_HAVE_DISK_CACHES;
        }
        break;
    default:
        break;
    }
}

static gsize
vdStrSize(const char *str)
{
    return str ? strlen(str) + 1 : 0;
}

/* Copy @str (may be NULL) to *@at, advancing it; the copy, or NULL. */
static char *
vdStrPlace(char **at, const char *str)
{
    char *copy = *at;
    gsize n = vdStrSize(str);

    if (!str)
        return NULL;
    memcpy(copy, str, n);
    *at += n;
    return copy;
}

/* The parsed sample as one block (see above), with its NIC signature. */
static VdVmSample *
vdVmParseFinish(const VdVmParse *ps)
{
    const VdVmSample *h = &ps->s;
    gsize nics = h->n_nics * sizeof(VdVmNicSample), disks = h->n_disks * sizeof(VdVmDiskSample);
    gsize size = sizeof(VdVmSample) + nics + disks;
    guint64 sig = 14695981039346656037ULL; /* FNV-1a over the NIC names, NUL-separated */
    VdVmSample *s;
    char *at;

    G_STATIC_ASSERT(sizeof(VdVmSample) % 8 == 0 && sizeof(VdVmNicSample) % 8 == 0);
    for (guint i = 0; i < h->n_nics; i++)
        size += vdStrSize(ps->nics[i].name);
    for (guint i = 0; i < h->n_disks; i++)
        size += vdStrSize(ps->disks[i].name) + vdStrSize(ps->disks[i].path);
    s = g_atomic_rc_box_alloc(size);
    *s = *h;
    s->nics = h->n_nics ? (VdVmNicSample *)(s + 1) : NULL;
    s->disks = h->n_disks ? (VdVmDiskSample *)((char *)(s + 1) + nics) : NULL;
    at = (char *)(s + 1) + nics + disks;
    if (nics)
        memcpy(s->nics, ps->nics, nics);
    if (disks)
        memcpy(s->disks, ps->disks, disks);
    for (guint i = 0; i < h->n_nics; i++) {
        const char *name = s->nics[i].name ? s->nics[i].name : "";

        s->nics[i].name = vdStrPlace(&at, s->nics[i].name);
        for (const char *c = name;; c++) {
            sig = (sig ^ (guchar)*c) * 1099511628211ULL;
            if (!*c)
                break;
        }
    }
    s->nic_sig = sig | 1;
    for (guint i = 0; i < h->n_disks; i++) {
        s->disks[i].name = vdStrPlace(&at, s->disks[i].name);
        s->disks[i].path = vdStrPlace(&at, s->disks[i].path);
    }
    return s;
}

VdVmSample *
vdVmSampleParse(const virTypedParameter *params, int nparams, unsigned int groups, gint64 mono_us)
{
    VdVmParse ps; /* only the header is cleared; devices as they come */
    VdVmSample *s = &ps.s;

    memset(s, 0, sizeof(*s));
    s->mono_us = mono_us;
    s->vcpu_current = -1;
    s->vcpu_maximum = -1;
    if (groups & VIR_DOMAIN_STATS_INTERFACE)
        s->have |= VD_VM_HAVE_NET;
    if (groups & VIR_DOMAIN_STATS_BLOCK)
        s->have |= VD_VM_HAVE_BLOCK;
    for (int i = 0; i < nparams; i++) {
        const virTypedParameter *p = &params[i];
        const char *f = p->field;

        switch (f[0]) {
        case 's': /* state.state, state.reason */
            if (VD_FIELD_IS(f, "state.state")) {
                s->state = (int)vdParamI64(p);
                s->have |= VD_VM_HAVE_STATE;
            } else if (VD_FIELD_IS(f, "state.reason")) {
                s->reason = (int)vdParamI64(p);
            }
            break;
        case 'c': /* cpu.time, cpu.user, cpu.system */
            if (VD_FIELD_IS(f, "cpu.time")) {
                s->cpu_time = vdParamU64(p);
                s->have |= VD_VM_HAVE_CPU;
            } else if (VD_FIELD_IS(f, "cpu.user")) {
                s->cpu_user = vdParamU64(p);
            } else if (VD_FIELD_IS(f, "cpu.system")) {
                s->cpu_system = vdParamU64(p);
            }
            break;
        case 'b': /* balloon.*, block.* */
            if (memcmp(f, "balloon.", 8) == 0)
                vdParseBalloon(s, f + 8, p);
            else if (memcmp(f, "block.", 6) == 0)
                vdParseBlock(&ps, f + 6, p);
            break;
        case 'n':
            if (memcmp(f, "net.", 4) == 0)
                vdParseNet(&ps, f + 4, p);
            break;
        case 'v': /* vcpu.current, vcpu.maximum; vcpu.N.* are not used */
            if (VD_FIELD_IS(f, "vcpu.current")) {
                s->vcpu_current = vdParamI64(p);
                s->have |= VD_VM_HAVE_VCPU;
            } else if (VD_FIELD_IS(f, "vcpu.maximum")) {
                s->vcpu_maximum = vdParamI64(p);
            }
            break;
        default:
            break;
        }
    }
    return vdVmParseFinish(&ps);
}

VdVmDiskSizes *
vdVmDiskSizesStat(const VdVmSample *sample)
{
    VdVmDiskSizes *sizes;
    gsize names = 0;
    char *at;

    if (!sample || sample->n_disks == 0)
        return NULL;
    for (guint i = 0; i < sample->n_disks; i++)
        names += vdStrSize(sample->disks[i].name);
    sizes = g_atomic_rc_box_alloc(sizeof(*sizes) + sample->n_disks * sizeof(VdVmDiskSize) + names);
    sizes->n = sample->n_disks;
    sizes->disks = (VdVmDiskSize *)(sizes + 1);
    at = (char *)(sizes->disks + sizes->n);
    for (guint i = 0; i < sample->n_disks; i++) {
        const VdVmDiskSample *d = &sample->disks[i];
        VdVmDiskSize *z = &sizes->disks[i];
        struct stat st;

        z->name = vdStrPlace(&at, d->name);
        z->truesize = z->apparentsize = -1;
        if (!d->path || d->path[0] != '/' || stat(d->path, &st) < 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            z->apparentsize = st.st_size;
            z->truesize = (gint64)st.st_blocks * 512;
        } else {
            /* A block device: its size is the volume's, as libvirt sees it. */
            z->apparentsize = z->truesize = (gint64)d->physical;
        }
    }
    return sizes;
}

VdVmDiskSizes *
vdVmDiskSizesRef(VdVmDiskSizes *sizes)
{
    return sizes ? g_atomic_rc_box_acquire(sizes) : NULL;
}

void
vdVmDiskSizesUnref(VdVmDiskSizes *sizes)
{
    if (sizes)
        g_atomic_rc_box_release(sizes);
}

gsize
vdVmDiskSizesSize(const VdVmDiskSizes *sizes)
{
    return sizes ? g_atomic_rc_box_get_size((gpointer)sizes) : 0;
}

const VdVmDiskSize *
vdVmDiskSizesFind(const VdVmDiskSizes *sizes, const char *name)
{
    for (guint i = 0; sizes && name && i < sizes->n; i++) {
        if (g_strcmp0(sizes->disks[i].name, name) == 0)
            return &sizes->disks[i];
    }
    return NULL;
}

void
vdVmDiskSizesOf(const VdVmDiskSizes *sizes, const VdVmDiskSample *d, gint64 *truesize,
                gint64 *apparentsize)
{
    const VdVmDiskSize *z = vdVmDiskSizesFind(sizes, d->name);

    *truesize = z && z->truesize >= 0 ? z->truesize : (gint64)d->allocation;
    *apparentsize = z && z->apparentsize >= 0 ? z->apparentsize : (gint64)d->physical;
}

const VdVmNicSample *
vdVmSampleNic(const VdVmSample *sample, const char *name)
{
    for (guint i = 0; sample && name && i < sample->n_nics; i++) {
        if (g_strcmp0(sample->nics[i].name, name) == 0)
            return &sample->nics[i];
    }
    return NULL;
}

const VdVmDiskSample *
vdVmSampleDisk(const VdVmSample *sample, const char *name)
{
    for (guint i = 0; sample && name && i < sample->n_disks; i++) {
        if (g_strcmp0(sample->disks[i].name, name) == 0)
            return &sample->disks[i];
    }
    return NULL;
}

/* ---- device info from the domain XML --------------------------------- */

static void
vdVmNicInfoFree(gpointer data)
{
    VdVmNicInfo *n = data;

    g_free(n->name);
    g_free(n->mac);
    g_free(n->model);
    g_free(n);
}

void
vdVmDevInfoFree(VdVmDevInfo *info)
{
    if (!info)
        return;
    g_ptr_array_unref(info->nics);
    g_free(info);
}

gsize
vdVmDevInfoSize(const VdVmDevInfo *info)
{
    gsize size = sizeof(*info) + sizeof(GPtrArray) + info->nics->len * sizeof(gpointer);

    for (guint i = 0; i < info->nics->len; i++) {
        const VdVmNicInfo *n = g_ptr_array_index(info->nics, i);

        size += sizeof(*n) + (n->name ? strlen(n->name) + 1 : 0) + strlen(n->mac) + 1 +
                strlen(n->model) + 1;
    }
    return size;
}

/* A libvirt memory element in KiB (its unit attribute, KiB by default). */
static gint64
vdXmlMemKib(const VdXmlNode *node)
{
    const char *unit;
    gint64 v;
    char *end = NULL;

    if (!node)
        return 0;
    v = g_ascii_strtoll(vdXmlNodeText(node), &end, 10);
    if (end == vdXmlNodeText(node) || v < 0)
        return 0;
    unit = vdXmlNodeAttr(node, "unit");
    if (!unit || g_ascii_strcasecmp(unit, "KiB") == 0 || g_ascii_strcasecmp(unit, "k") == 0)
        return v;
    if (g_ascii_strcasecmp(unit, "b") == 0 || g_ascii_strcasecmp(unit, "bytes") == 0)
        return v / 1024;
    if (g_ascii_strcasecmp(unit, "MiB") == 0 || g_ascii_strcasecmp(unit, "M") == 0)
        return v * 1024;
    if (g_ascii_strcasecmp(unit, "GiB") == 0 || g_ascii_strcasecmp(unit, "G") == 0)
        return v * 1024 * 1024;
    if (g_ascii_strcasecmp(unit, "KB") == 0)
        return v * 1000 / 1024;
    if (g_ascii_strcasecmp(unit, "MB") == 0)
        return v * 1000000 / 1024;
    return v;
}

static gint64
vdXmlInt(const VdXmlNode *node)
{
    return node ? g_ascii_strtoll(vdXmlNodeText(node), NULL, 10) : 0;
}

VdVmDevInfo *
vdVmDevInfoParse(const char *xml, GError **error)
{
    g_autoptr(GError) local = NULL;
    VdXmlNode *root = vdXmlParse(xml, -1, &local);
    VdVmDevInfo *info;
    VdXmlNode *devices;
    VdXmlNode *node;
    const char *id;

    if (!root || g_strcmp0(vdXmlNodeLocalName(root), "domain") != 0) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "not a domain XML%s%s", local ? ": " : "", local ? local->message : "");
        vdXmlNodeFree(root);
        return NULL;
    }
    info = g_new0(VdVmDevInfo, 1);
    info->nics = g_ptr_array_new_with_free_func(vdVmNicInfoFree);
    id = vdXmlNodeAttr(root, "id");
    info->dom_id = id ? (int)g_ascii_strtoll(id, NULL, 10) : -1;
    info->memory_kib = vdXmlMemKib(vdXmlNodeChild(root, "memory"));
    info->current_memory_kib = vdXmlMemKib(vdXmlNodeChild(root, "currentMemory"));
    if (!info->current_memory_kib)
        info->current_memory_kib = info->memory_kib;
    info->vcpu_quota = vdXmlInt(vdXmlNodeFind(root, "cputune/quota"));
    info->vcpu_period = vdXmlInt(vdXmlNodeFind(root, "cputune/period"));
    info->min_guaranteed_mib = vdXmlInt(vdXmlNodeFind(root, "metadata/vm/minGuaranteedMemoryMb"));

    devices = vdXmlNodeChild(root, "devices");
    node = devices ? vdXmlNodeChild(devices, "memballoon") : NULL;
    info->balloon = node && g_strcmp0(vdXmlNodeAttr(node, "model"), "none") != 0;
    if (devices) {
        g_autoptr(GPtrArray) ifaces = vdXmlNodeChildren(devices, "interface");

        for (guint i = 0; i < ifaces->len; i++) {
            VdXmlNode *iface = g_ptr_array_index(ifaces, i);
            VdXmlNode *mac = vdXmlNodeChild(iface, "mac");
            VdXmlNode *target = vdXmlNodeChild(iface, "target");
            VdXmlNode *model = vdXmlNodeChild(iface, "model");
            VdVmNicInfo *n = g_new0(VdVmNicInfo, 1);

            n->name = g_strdup(target ? vdXmlNodeAttr(target, "dev") : NULL);
            n->mac = g_strdup(mac && vdXmlNodeAttr(mac, "address") ? vdXmlNodeAttr(mac, "address")
                                                                    : "");
            n->model = g_strdup(model && vdXmlNodeAttr(model, "type") ? vdXmlNodeAttr(model, "type")
                                                                      : "");
            g_ptr_array_add(info->nics, n);
        }
    }
    vdXmlNodeFree(root);
    return info;
}

/* ---- VmStats ------------------------------------------------------------- */

static void
vdAddStr(json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value));
}

static void
vdAddU64Str(json_object *obj, const char *key, guint64 value)
{
    char buf[24];

    g_snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT, value);
    vdAddStr(obj, key, buf);
}

static void
vdAddI64Str(json_object *obj, const char *key, gint64 value)
{
    char buf[24];

    g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, value);
    vdAddStr(obj, key, buf);
}

/* VDSM's convertToStr for floats: "%.2f". */
static void
vdAddFixed(json_object *obj, const char *key, double value, const char *format)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    vdAddStr(obj, key, g_ascii_formatd(buf, sizeof(buf), format, value));
}

/* Counters only grow; a reset (the VM restarted, a device re-plugged)
 * counts as no change. */
static guint64
vdDelta(guint64 before, guint64 after)
{
    return after >= before ? after - before : 0;
}

static double
vdInterval(const VdVmSample *first, const VdVmSample *last)
{
    if (!first || !last)
        return 0;
    return (double)(last->mono_us - first->mono_us) / G_USEC_PER_SEC;
}

static void
vdVmStatsCpu(json_object *stats, const VdVmSample *first, const VdVmSample *last)
{
    double interval = vdInterval(first, last);
    gboolean actual = FALSE;
    double user = 0, sys = 0;

    if (interval > 0 && (first->have & VD_VM_HAVE_CPU) && (last->have & VD_VM_HAVE_CPU)) {
        /* As VDSM: the QEMU process's user+system time is "sys" (the
         * hypervisor's overhead), the rest of cpu.time is the guest's. */
        guint64 hyp = vdDelta(first->cpu_user, last->cpu_user) +
                      vdDelta(first->cpu_system, last->cpu_system);
        guint64 total = vdDelta(first->cpu_time, last->cpu_time);

        sys = 100.0 * (double)hyp / interval / 1e9;
        user = 100.0 * (double)(total > hyp ? total - hyp : 0) / interval / 1e9;
        actual = TRUE;
    }
    vdAddFixed(stats, "cpuUser", user, "%.2f");
    vdAddFixed(stats, "cpuSys", sys, "%.2f");
    if (last && (last->have & VD_VM_HAVE_CPU) && actual)
        vdAddU64Str(stats, "cpuUsage", last->cpu_user + last->cpu_system);
    else
        vdAddStr(stats, "cpuUsage", "0.00");
    json_object_object_add(stats, "cpuActual", json_object_new_boolean(actual));
}

static void
vdVmStatsNetwork(json_object *stats, const VdVmSample *first, const VdVmSample *last,
                 const VdVmDevInfo *dev)
{
    json_object *net;

    if (!first || !last || vdInterval(first, last) <= 0 || !(last->have & VD_VM_HAVE_NET) ||
        last->n_nics == 0)
        return;
    net = json_object_new_object();
    for (guint i = 0; i < last->n_nics; i++) {
        const VdVmNicSample *n = &last->nics[i];
        const VdVmNicInfo *info = NULL;
        json_object *obj;

        /* A NIC hot-plugged since the older sample waits for the next one. */
        if (!n->name || !vdVmSampleNic(first, n->name))
            continue;
        for (guint j = 0; dev && j < dev->nics->len; j++) {
            const VdVmNicInfo *cand = g_ptr_array_index(dev->nics, j);

            if (g_strcmp0(cand->name, n->name) == 0) {
                info = cand;
                break;
            }
        }
        obj = json_object_new_object();
        vdAddStr(obj, "macAddr", info ? info->mac : "");
        vdAddStr(obj, "name", n->name);
        /* VDSM's nominal speeds: paravirtual and e1000 1 Gb/s, others 100 Mb/s. */
        vdAddStr(obj, "speed",
                 !info || g_str_equal(info->model, "virtio") || g_str_equal(info->model, "e1000")
                     ? "1000"
                     : "100");
        vdAddStr(obj, "state", "unknown");
        vdAddU64Str(obj, "rxErrors", n->rx_errs);
        vdAddU64Str(obj, "rxDropped", n->rx_drop);
        vdAddU64Str(obj, "txErrors", n->tx_errs);
        vdAddU64Str(obj, "txDropped", n->tx_drop);
        vdAddU64Str(obj, "rx", n->rx_bytes);
        vdAddU64Str(obj, "tx", n->tx_bytes);
        json_object_object_add(obj, "sampleTime",
                               json_object_new_double((double)last->mono_us / G_USEC_PER_SEC));
        json_object_object_add(net, n->name, obj);
    }
    if (json_object_object_length(net) > 0)
        json_object_object_add(stats, "network", net);
    else
        json_object_put(net);
}

static void
vdVmStatsLatency(json_object *obj, const char *key, guint64 reqs0, guint64 reqs1, guint64 t0,
                 guint64 t1, gboolean have_first)
{
    guint64 ops = have_first ? vdDelta(reqs0, reqs1) : 0;

    if (ops)
        vdAddFixed(obj, key, (double)vdDelta(t0, t1) / (double)ops, "%.1f");
    else
        vdAddStr(obj, key, "0");
}

static void
vdVmStatsDisks(json_object *stats, const VdVmSample *bfirst, const VdVmSample *blast,
               const VdVmDiskSizes *sizes)
{
    double interval = vdInterval(bfirst, blast);
    json_object *disks;

    if (!blast || !(blast->have & VD_VM_HAVE_BLOCK) || blast->n_disks == 0)
        return;
    disks = json_object_new_object();
    for (guint i = 0; i < blast->n_disks; i++) {
        const VdVmDiskSample *d = &blast->disks[i];
        const VdVmDiskSample *f = interval > 0 ? vdVmSampleDisk(bfirst, d->name) : NULL;
        gint64 truesize, apparentsize;
        json_object *obj;

        if (!d->name)
            continue;
        vdVmDiskSizesOf(sizes, d, &truesize, &apparentsize);
        obj = json_object_new_object();
        vdAddI64Str(obj, "truesize", truesize);
        vdAddI64Str(obj, "apparentsize", apparentsize);
        if (f) {
            vdAddFixed(obj, "readRate", (double)vdDelta(f->rd_bytes, d->rd_bytes) / interval,
                       "%.1f");
            vdAddFixed(obj, "writeRate", (double)vdDelta(f->wr_bytes, d->wr_bytes) / interval,
                       "%.1f");
        } else {
            vdAddStr(obj, "readRate", "0.0");
            vdAddStr(obj, "writeRate", "0.0");
        }
        vdVmStatsLatency(obj, "readLatency", f ? f->rd_reqs : 0, d->rd_reqs, f ? f->rd_times : 0,
                         d->rd_times, f != NULL);
        vdVmStatsLatency(obj, "writeLatency", f ? f->wr_reqs : 0, d->wr_reqs,
                         f ? f->wr_times : 0, d->wr_times, f != NULL);
        vdVmStatsLatency(obj, "flushLatency", f ? f->fl_reqs : 0, d->fl_reqs,
                         f ? f->fl_times : 0, d->fl_times, f != NULL);
        vdAddU64Str(obj, "readOps", d->rd_reqs);
        vdAddU64Str(obj, "writeOps", d->wr_reqs);
        vdAddU64Str(obj, "readBytes", d->rd_bytes);
        vdAddU64Str(obj, "writtenBytes", d->wr_bytes);
        json_object_object_add(disks, d->name, obj);
    }
    json_object_object_add(stats, "disks", disks);
}

static gint64
vdVmStatsMemSizeMib(const VdVmSample *last, const VdVmDevInfo *dev)
{
    if (dev && dev->memory_kib > 0)
        return dev->memory_kib / 1024;
    return last ? (gint64)(last->balloon_maximum / 1024) : 0;
}

static int
vdPerSecond(guint64 before, guint64 after, double interval)
{
    return (int)(vdDelta(before, after) / interval + 0.5);
}

static void
vdVmStatsMemory(json_object *stats, const VdVmSample *first, const VdVmSample *last,
                const VdVmDevInfo *dev)
{
    double interval = vdInterval(first, last);
    gint64 mem_mib = vdVmStatsMemSizeMib(last, dev);
    gint64 usage = 0;

    if (last && (last->have & VD_VM_HAVE_GUESTMEM)) {
        json_object *ms = json_object_new_object();
        int majflt = 0, minflt = 0;

        vdAddU64Str(ms, "mem_total", last->mem_available);
        vdAddU64Str(ms, "mem_unused", last->mem_unused);
        vdAddU64Str(ms, "mem_free", last->mem_unused);
        if (last->have & VD_VM_HAVE_DISK_CACHES)
            vdAddU64Str(ms, "mem_cached", last->mem_disk_caches);
        if (interval > 0 && (first->have & VD_VM_HAVE_GUESTMEM)) {
            majflt = vdPerSecond(first->major_fault, last->major_fault, interval);
            minflt = vdPerSecond(first->minor_fault, last->minor_fault, interval);
            json_object_object_add(ms, "swap_in", json_object_new_int(vdPerSecond(
                                                      first->swap_in, last->swap_in, interval)));
            json_object_object_add(ms, "swap_out",
                                   json_object_new_int(
                                       vdPerSecond(first->swap_out, last->swap_out, interval)));
        } else {
            json_object_object_add(ms, "swap_in", json_object_new_int(0));
            json_object_object_add(ms, "swap_out", json_object_new_int(0));
        }
        json_object_object_add(ms, "majflt", json_object_new_int(majflt));
        json_object_object_add(ms, "minflt", json_object_new_int(minflt));
        json_object_object_add(ms, "pageflt", json_object_new_int(majflt + minflt));
        json_object_object_add(stats, "memoryStats", ms);
        /* VDSM, without a guest agent figure: from the balloon's free memory. */
        if (mem_mib > 0)
            usage = (gint64)(100.0 - (double)(last->mem_unused / 1024) / (double)mem_mib * 100.0);
    }
    vdAddI64Str(stats, "memUsage", CLAMP(usage, 0, 100));
}

static void
vdVmStatsBalloon(json_object *stats, const VdVmSample *last, const VdVmDevInfo *dev)
{
    json_object *bi;
    gint64 max_kib;

    /* VDSM leaves balloonInfo empty (and so out) until it has all of it:
     * a balloon device, its target and a sample. */
    if (!dev || !dev->balloon || !last || !(last->have & VD_VM_HAVE_BALLOON))
        return;
    max_kib = dev->memory_kib > 0 ? dev->memory_kib : (gint64)last->balloon_maximum;
    bi = json_object_new_object();
    vdAddI64Str(bi, "balloon_max", max_kib);
    vdAddI64Str(bi, "balloon_min", dev->min_guaranteed_mib * 1024);
    vdAddU64Str(bi, "balloon_cur", last->balloon_current);
    vdAddI64Str(bi, "balloon_target", dev->current_memory_kib);
    json_object_object_add(bi, "ballooning_enabled", json_object_new_boolean(TRUE));
    json_object_object_add(stats, "balloonInfo", bi);
}

void
vdVmStatsAdd(json_object *stats, const VdVmSample *first, const VdVmSample *last,
             const VdVmSample *bfirst, const VdVmSample *blast, const VdVmDevInfo *dev,
             const VdVmDiskSizes *sizes)
{
    vdVmStatsCpu(stats, first, last);
    vdVmStatsNetwork(stats, first, last, dev);
    vdVmStatsDisks(stats, bfirst, blast, sizes);
    vdVmStatsBalloon(stats, last, dev);
    {
        /* The VCPU group may come at the block cadence only. */
        const VdVmSample *v = last && (last->have & VD_VM_HAVE_VCPU) ? last : blast;

        if (v && (v->have & VD_VM_HAVE_VCPU) && v->vcpu_current >= 0)
            vdAddI64Str(stats, "vcpuCount", v->vcpu_current);
    }
    if (dev && dev->vcpu_quota != 0)
        vdAddI64Str(stats, "vcpuQuota", dev->vcpu_quota);
    if (dev && dev->vcpu_period != 0)
        vdAddI64Str(stats, "vcpuPeriod", dev->vcpu_period);
    vdVmStatsMemory(stats, first, last, dev);
}
