/* host-sampler.c - see host-sampler.h.
 *
 * DESIGN: state is the 2-slot window (vdSamplerWin, guarded by
 * vdSamplerLock) plus the timer bookkeeping (source, busy flag,
 * generation), which is touched only on the main context: the tick, the
 * task completion, Start and Stop all run there.  vdHostSampleTake runs on
 * a GTask worker (or an rpc worker) and touches no shared state except the
 * cached ksmd pid, an atomic int.
 */
#include "host-sampler.h"

#include "config.h"
#include "host-config.h"
#include "host-net.h"
#include "host-topology.h"
#include "vd-error.h"

#include <gio/gio.h>
#include <string.h>
#include <sys/statvfs.h>

/* Longest accepted host_sample_stats_interval, seconds (one day). */
#define VD_HOST_SAMPLE_INTERVAL_MAX 86400

static GMutex vdSamplerLock;
static VdHostSample *vdSamplerWin[2]; /* [0] older, [1] newer */
static GSource *vdSamplerSource;
static GCancellable *vdSamplerCancel;
static gboolean vdSamplerBusy;
static guint vdSamplerGeneration;
static gint vdKsmdPid; /* 0: not searched yet, -1: none */

static const char *const vdHostDiskKeys[VD_HOST_DISK_PATHS] = {
    "/var/log",
    "/var/run/vdsm/",
    "/tmp",
};

const char *
vdHostDiskKey(guint i)
{
    return i < VD_HOST_DISK_PATHS ? vdHostDiskKeys[i] : NULL;
}

void
vdHostNicSampleFree(VdHostNicSample *nic)
{
    if (!nic)
        return;
    g_free(nic->name);
    g_free(nic->state);
    g_free(nic);
}

static void
vdHostSampleClear(gpointer data)
{
    VdHostSample *s = data;

    vdProcStatClear(&s->stat);
    g_free(s->cpu_load);
    g_free(s->thp_state);
    g_array_unref(s->hugepages);
    g_array_unref(s->node_mem);
    g_ptr_array_unref(s->nics);
}

VdHostSample *
vdHostSampleNew(void)
{
    VdHostSample *s = g_atomic_rc_box_new0(VdHostSample);

    s->stat.cores = g_array_new(FALSE, TRUE, sizeof(VdCpuCoreTimes));
    s->stat.btime = -1;
    s->cpu_load = g_strdup("0.0");
    s->thp_state = g_strdup("never");
    s->hugepages = g_array_new(FALSE, TRUE, sizeof(VdHostHugepageSample));
    s->node_mem = g_array_new(FALSE, TRUE, sizeof(VdHostNodeMemSample));
    s->nics = g_ptr_array_new_with_free_func((GDestroyNotify)vdHostNicSampleFree);
    return s;
}

VdHostSample *
vdHostSampleRef(VdHostSample *sample)
{
    return sample ? g_atomic_rc_box_acquire(sample) : NULL;
}

void
vdHostSampleUnref(VdHostSample *sample)
{
    if (sample)
        g_atomic_rc_box_release_full(sample, vdHostSampleClear);
}

/* ---- taking a sample ----------------------------------------------- */

/* ksmd is a kernel thread: find its pid once by scanning /proc, then
 * check on each use that the pid still is ksmd. */
static int
vdKsmdPidFind(void)
{
    int pid = g_atomic_int_get(&vdKsmdPid);
    g_autoptr(GDir) dir = NULL;

    if (pid > 0) {
        g_autofree char *path = g_strdup_printf("/proc/%d/comm", pid);
        g_autofree char *comm = vdHostReadLine(path);

        if (g_strcmp0(comm, "ksmd") == 0)
            return pid;
    } else if (pid < 0) {
        return -1;
    }
    pid = -1;
    if (g_file_test("/sys/kernel/mm/ksm/run", G_FILE_TEST_EXISTS))
        dir = g_dir_open("/proc", 0, NULL);
    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        guint64 n;
        g_autofree char *path = NULL;
        g_autofree char *comm = NULL;

        if (!g_ascii_string_to_unsigned(name, 10, 1, G_MAXINT, &n, NULL))
            continue;
        path = g_strdup_printf("/proc/%s/comm", name);
        comm = vdHostReadLine(path);
        if (g_strcmp0(comm, "ksmd") == 0) {
            pid = (int)n;
            break;
        }
    }
    g_atomic_int_set(&vdKsmdPid, pid);
    return pid;
}

static gint64
vdDiskFreeMib(const char *path)
{
    struct statvfs st;

    if (statvfs(path, &st) < 0)
        return 0;
    return (gint64)((guint64)st.f_bavail * st.f_bsize / (1024 * 1024));
}

static void
vdSampleHugepages(VdHostSample *s)
{
    const char *root = "/sys/kernel/mm/hugepages";
    g_autoptr(GDir) dir = g_dir_open(root, 0, NULL);

    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        VdHostHugepageSample hp = {0};
        g_autofree char *num = NULL;
        guint64 size;

        if (!g_str_has_prefix(name, "hugepages-") || !g_str_has_suffix(name, "kB"))
            continue;
        num = g_strndup(name + 10, strlen(name) - 12);
        if (!g_ascii_string_to_unsigned(num, 10, 1, G_MAXUINT64, &size, NULL))
            continue;
        hp.size_kib = size;
#define VD_HP(field)                                                                               \
    do {                                                                                           \
        g_autofree char *p_ = g_build_filename(root, name, #field, NULL);                          \
        hp.field = vdHostReadInt(p_, 0);                                                           \
    } while (0)
        VD_HP(free_hugepages);
        VD_HP(nr_hugepages);
        VD_HP(nr_hugepages_mempolicy);
        VD_HP(nr_overcommit_hugepages);
        VD_HP(resv_hugepages);
        VD_HP(surplus_hugepages);
#undef VD_HP
        g_array_append_val(s->hugepages, hp);
    }
}

static void
vdSampleNics(VdHostSample *s)
{
    const char *net = "/sys/class/net";
    g_auto(GStrv) hidden = vdHostConfigList("vars", "hidden_nics", "w*,usb*");
    g_auto(GStrv) names = vdHostNetLinkNames(net, (const char *const *)hidden);
    g_autofree char *text = vdHostReadFile("/proc/net/dev");
    g_autoptr(GPtrArray) counters = text ? vdNetDevParse(text) : NULL;

    for (guint i = 0; counters && i < counters->len; i++) {
        VdNetDevCounters *c = g_ptr_array_index(counters, i);
        g_autofree char *state_path = NULL;
        VdHostNicSample *nic;

        if (!g_strv_contains((const char *const *)names, c->name))
            continue;
        nic = g_new0(VdHostNicSample, 1);
        nic->name = g_strdup(c->name);
        nic->rx = c->rx_bytes;
        nic->tx = c->tx_bytes;
        nic->rx_dropped = c->rx_dropped;
        nic->tx_dropped = c->tx_dropped;
        nic->rx_errors = c->rx_errors;
        nic->tx_errors = c->tx_errors;
        nic->speed = vdHostNetLinkSpeed(net, c->name);
        state_path = g_build_filename(net, c->name, "operstate", NULL);
        nic->state = vdHostReadLine(state_path);
        if (!nic->state)
            nic->state = g_strdup("unknown");
        g_ptr_array_add(s->nics, nic);
    }
}

VdHostSample *
vdHostSampleTake(void)
{
    VdHostSample *s = vdHostSampleNew();
    const VdHostTopology *topo = vdHostTopologyGet();
    g_autofree char *stat_text = NULL;
    g_autofree char *self_text = NULL;
    g_autofree char *mem_text = NULL;
    g_autofree char *load_text = NULL;
    g_autofree char *thp_text = NULL;
    VdMeminfo mi;
    int ksmd;

    /* the timestamp comes first: a sample that got stuck is older than
     * one taken after it, and the window drops it */
    s->mono_us = g_get_monotonic_time();
    s->wall = g_get_real_time() / 1e6;

    stat_text = vdHostReadFile("/proc/stat");
    if (stat_text) {
        vdProcStatClear(&s->stat);
        if (!vdProcStatParse(stat_text, &s->stat))
            g_debug("cannot parse /proc/stat");
    }
    s->ncpus = topo->threads;

    self_text = vdHostReadFile("/proc/self/stat");
    s->pid_valid = vdPidStatParse(self_text, &s->pid);

    ksmd = vdKsmdPidFind();
    if (ksmd > 0) {
        g_autofree char *path = g_strdup_printf("/proc/%d/stat", ksmd);
        g_autofree char *text = vdHostReadFile(path);
        VdPidStat ps;

        if (vdPidStatParse(text, &ps)) {
            s->ksmd_valid = TRUE;
            s->ksmd_ticks = ps.utime + ps.stime;
        }
    }

    mem_text = vdHostReadFile("/proc/meminfo");
    vdMeminfoParse(mem_text, &mi);
    if (mi.mem_total > 0) {
        gint64 free_or_cached = MAX(mi.mem_free, 0) + MAX(mi.cached, 0) + MAX(mi.buffers, 0);

        /* VDSM: 100 - int(100.0 * freeOrCached / MemTotal) */
        s->mem_used_pct = 100 - (gint64)(100.0 * (double)free_or_cached / (double)mi.mem_total);
    }
    s->anon_huge_mib = MAX(mi.anon_huge_pages, 0) / 1024;

    load_text = vdHostReadFile("/proc/loadavg");
    {
        char *load = vdLoadavgParse(load_text);

        if (load) {
            g_free(s->cpu_load);
            s->cpu_load = load;
        }
    }

    thp_text = vdHostReadFile("/sys/kernel/mm/transparent_hugepage/enabled");
    if (!thp_text)
        thp_text = vdHostReadFile("/sys/kernel/mm/redhat_transparent_hugepage/enabled");
    {
        char *thp = vdBracketChoiceParse(thp_text);

        if (thp) {
            g_free(s->thp_state);
            s->thp_state = thp;
        }
    }

    s->disk_free_mib[0] = vdDiskFreeMib("/var/log");
    s->disk_free_mib[1] = vdDiskFreeMib(vdConfigGetString("vars", "run_dir"));
    s->disk_free_mib[2] = vdDiskFreeMib("/tmp");

    vdSampleHugepages(s);

    for (guint i = 0; i < topo->nodes->len; i++) {
        const VdHostNumaNode *node = g_ptr_array_index(topo->nodes, i);
        VdHostNodeMemSample nm = {.node = node->id};
        g_autofree char *path =
            g_strdup_printf("/sys/devices/system/node/node%d/meminfo", node->id);
        g_autofree char *text = vdHostReadFile(path);
        VdMeminfo nmi;

        /* a kernel without NUMA has no node files: the whole host is node 0 */
        if (text)
            vdMeminfoParse(text, &nmi);
        else
            nmi = mi;
        nm.total_kib = nmi.mem_total;
        nm.free_kib = nmi.mem_free;
        g_array_append_val(s->node_mem, nm);
    }

    vdSampleNics(s);
    return s;
}

/* ---- the window and its timer -------------------------------------- */

static void
vdSamplerStore(VdHostSample *sample)
{
    g_mutex_lock(&vdSamplerLock);
    if (vdSamplerWin[1] && sample->mono_us < vdSamplerWin[1]->mono_us) {
        g_mutex_unlock(&vdSamplerLock);
        g_warning("dropped stale host sample taken %.3f s before the newest one",
                  (vdSamplerWin[1]->mono_us - sample->mono_us) / 1e6);
        vdHostSampleUnref(sample);
        return;
    }
    vdHostSampleUnref(vdSamplerWin[0]);
    vdSamplerWin[0] = vdSamplerWin[1];
    vdSamplerWin[1] = sample;
    g_mutex_unlock(&vdSamplerLock);
}

void
vdHostSamplerWindow(VdHostSample **first, VdHostSample **last)
{
    g_mutex_lock(&vdSamplerLock);
    *first = vdHostSampleRef(vdSamplerWin[0]);
    *last = vdHostSampleRef(vdSamplerWin[1]);
    g_mutex_unlock(&vdSamplerLock);
}

static void
vdSamplerThread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    g_task_return_pointer(task, vdHostSampleTake(), (GDestroyNotify)vdHostSampleUnref);
}

static void
vdSamplerDone(GObject *source, GAsyncResult *res, gpointer data)
{
    guint generation = GPOINTER_TO_UINT(data);
    VdHostSample *sample = g_task_propagate_pointer(G_TASK(res), NULL);

    if (generation != vdSamplerGeneration || !vdSamplerSource) {
        /* stopped (and maybe restarted) meanwhile */
        vdHostSampleUnref(sample);
        return;
    }
    vdSamplerBusy = FALSE;
    if (sample)
        vdSamplerStore(sample);
}

static gboolean
vdSamplerTick(gpointer data)
{
    GTask *task;

    if (vdSamplerBusy) {
        g_warning("host sampling still running after a full interval; tick skipped");
        return G_SOURCE_CONTINUE;
    }
    vdSamplerBusy = TRUE;
    task = g_task_new(NULL, vdSamplerCancel, vdSamplerDone, GUINT_TO_POINTER(vdSamplerGeneration));
    g_task_set_name(task, "host-sample");
    g_task_run_in_thread(task, vdSamplerThread);
    g_object_unref(task);
    return G_SOURCE_CONTINUE;
}

int
vdHostSamplerConfigure(GError **error)
{
    gint64 interval = vdConfigGetInt("vars", "host_sample_stats_interval");

    if (interval <= 0 || interval > VD_HOST_SAMPLE_INTERVAL_MAX) {
        g_set_error(
            error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION,
            "[vars] host_sample_stats_interval must be 1..%d seconds, not %" G_GINT64_FORMAT,
            VD_HOST_SAMPLE_INTERVAL_MAX, interval);
        return -1;
    }
    return 0;
}

int
vdHostSamplerStart(GError **error)
{
    gint64 interval = vdConfigGetInt("vars", "host_sample_stats_interval");
    g_autoptr(GMainContext) ctx = NULL;

    if (vdHostSamplerConfigure(error) < 0)
        return -1;
    if (vdSamplerSource)
        return 0;

    vdSamplerStore(vdHostSampleTake());

    vdSamplerGeneration++;
    vdSamplerBusy = FALSE;
    vdSamplerCancel = g_cancellable_new();
    ctx = g_main_context_ref_thread_default();
    vdSamplerSource = g_timeout_source_new_seconds((guint)interval);
    g_source_set_callback(vdSamplerSource, vdSamplerTick, NULL, NULL);
    g_source_set_static_name(vdSamplerSource, "host-sampler");
    g_source_attach(vdSamplerSource, ctx);
    g_debug("host sampling every %" G_GINT64_FORMAT " s", interval);
    return 0;
}

void
vdHostSamplerStop(void)
{
    if (vdSamplerSource) {
        g_source_destroy(vdSamplerSource);
        g_clear_pointer(&vdSamplerSource, g_source_unref);
    }
    if (vdSamplerCancel) {
        g_cancellable_cancel(vdSamplerCancel);
        g_clear_object(&vdSamplerCancel);
    }
    vdSamplerGeneration++;
    vdSamplerBusy = FALSE;

    g_mutex_lock(&vdSamplerLock);
    g_clear_pointer(&vdSamplerWin[0], vdHostSampleUnref);
    g_clear_pointer(&vdSamplerWin[1], vdHostSampleUnref);
    g_mutex_unlock(&vdSamplerLock);
}
