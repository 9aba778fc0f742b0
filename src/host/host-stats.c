/* host-stats.c - see host-stats.h.
 *
 * DESIGN: state is the registered VM-counters callback (an atomic
 * pointer) and the generation id (set once under g_once).  Everything
 * else is computed per call on the calling rpc worker from sampler
 * references and a few /proc and /sys reads.  Value types follow VDSM's
 * wire format: its convertToStr turns floats into "%.2f" strings and ints
 * into decimal strings for the sample-derived fields, while the fields
 * VDSM adds afterwards (memFree, swap, VM counters, KSM) stay numbers.
 */
#include "host-stats.h"

#include "host-caps.h"
#include "host-config.h"
#include "host-proc.h"

#include <string.h>
#include <unistd.h>

/* VDSM's [vars] host_mem_reserve default, MiB. */
#define VD_HOST_MEM_RESERVE_DEFAULT 256
/* Link speed assumed for rates when the kernel reports none, Mbps (VDSM). */
#define VD_HOST_DEFAULT_LINK_SPEED 1000

static gpointer vdHostVmCountersFn;

void
vdHostStatsSetVmCounters(VdHostVmCountersFunc fn)
{
    g_atomic_pointer_set(&vdHostVmCountersFn, (gpointer)fn);
}

static json_object *
vdJsonFixed(double v, const char *format)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    return json_object_new_string(g_ascii_formatd(buf, sizeof(buf), format, v));
}

static json_object *
vdJsonIntStr(gint64 v)
{
    char buf[32];

    g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, v);
    return json_object_new_string(buf);
}

static json_object *
vdJsonUintStr(guint64 v)
{
    char buf[32];

    g_snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT, v);
    return json_object_new_string(buf);
}

/* Counters are monotonic; a reset (wrap, driver reload) counts as zero. */
static guint64
vdDelta(guint64 before, guint64 after)
{
    return after >= before ? after - before : 0;
}

static const VdCpuCoreTimes *
vdCoreFind(const VdHostSample *s, int id)
{
    for (guint i = 0; i < s->stat.cores->len; i++) {
        const VdCpuCoreTimes *c = &g_array_index(s->stat.cores, VdCpuCoreTimes, i);

        if (c->id == id)
            return c;
    }
    return NULL;
}

static const VdHostNicSample *
vdNicFind(const VdHostSample *s, const char *name)
{
    for (guint i = 0; i < s->nics->len; i++) {
        const VdHostNicSample *n = g_ptr_array_index(s->nics, i);

        if (g_str_equal(n->name, name))
            return n;
    }
    return NULL;
}

static void
vdStatsNetwork(json_object *st, const VdHostSample *first, const VdHostSample *last,
               double interval)
{
    json_object *network = json_object_new_object();
    guint64 rx = 0, tx = 0, rx_dropped = 0, tx_dropped = 0;
    gint64 total_speed = 0;
    char when[G_ASCII_DTOSTR_BUF_SIZE];

    g_ascii_formatd(when, sizeof(when), "%.6f", last->wall);
    for (guint i = 0; i < last->nics->len; i++) {
        const VdHostNicSample *n = g_ptr_array_index(last->nics, i);
        const VdHostNicSample *f = vdNicFind(first, n->name);
        json_object *o;
        gint64 speed = n->speed > 0 ? n->speed : VD_HOST_DEFAULT_LINK_SPEED;
        guint64 drx, dtx;
        double rx_rate = 0, tx_rate = 0;

        /* a NIC that appeared after the first sample has no rate yet */
        if (!f)
            continue;
        drx = vdDelta(f->rx, n->rx);
        dtx = vdDelta(f->tx, n->tx);
        if (interval > 0) {
            double bytes_per_s = speed * 1e6 / 8;

            rx_rate = MIN(100.0, 100.0 * drx / interval / bytes_per_s);
            tx_rate = MIN(100.0, 100.0 * dtx / interval / bytes_per_s);
        }
        o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(n->name));
        json_object_object_add(o, "rx", vdJsonUintStr(n->rx));
        json_object_object_add(o, "tx", vdJsonUintStr(n->tx));
        json_object_object_add(o, "rxDropped", vdJsonUintStr(n->rx_dropped));
        json_object_object_add(o, "txDropped", vdJsonUintStr(n->tx_dropped));
        json_object_object_add(o, "rxErrors", vdJsonUintStr(n->rx_errors));
        json_object_object_add(o, "txErrors", vdJsonUintStr(n->tx_errors));
        json_object_object_add(o, "speed", vdJsonIntStr(speed));
        json_object_object_add(o, "state", json_object_new_string(n->state));
        json_object_object_add(o, "sampleTime", json_object_new_double_s(last->wall, when));
        json_object_object_add(o, "rxRate", vdJsonFixed(rx_rate, "%.1f"));
        json_object_object_add(o, "txRate", vdJsonFixed(tx_rate, "%.1f"));
        json_object_object_add(network, n->name, o);
        rx += drx;
        tx += dtx;
        rx_dropped += n->rx_dropped;
        tx_dropped += n->tx_dropped;
        total_speed += speed;
    }
    json_object_object_add(st, "network", network);
    json_object_object_add(st, "rxDropped", vdJsonUintStr(rx_dropped));
    json_object_object_add(st, "txDropped", vdJsonUintStr(tx_dropped));
    {
        double bytes_per_s = (total_speed ? total_speed : VD_HOST_DEFAULT_LINK_SPEED) * 1e6 / 8;
        double rx_rate = interval > 0 ? MIN(100.0, 100.0 * rx / interval / bytes_per_s) : 0;
        double tx_rate = interval > 0 ? MIN(100.0, 100.0 * tx / interval / bytes_per_s) : 0;

        json_object_object_add(st, "rxRate", vdJsonFixed(rx_rate, "%.2f"));
        json_object_object_add(st, "txRate", vdJsonFixed(tx_rate, "%.2f"));
    }
}

json_object *
vdHostStatsProduce(const VdHostSample *first, const VdHostSample *last, long hz,
                   const VdHostTopology *topo)
{
    json_object *st = json_object_new_object();
    json_object *cores = json_object_new_object();
    json_object *disks = json_object_new_object();
    json_object *hugepages = json_object_new_object();
    json_object *numa = json_object_new_object();
    double interval = 0;
    double ticks_per_s = hz > 0 ? (double)hz : 100.0;
    double user = 0, sys = 0;
    double vdsm_user = 0, vdsm_sys = 0;
    gint64 ksm_cpu = 0;

    if (!first)
        first = last;
    if (first != last && last->mono_us > first->mono_us)
        interval = (last->mono_us - first->mono_us) / 1e6;

    if (interval > 0) {
        int ncpus = last->ncpus > 0 ? last->ncpus : 1;

        user = 100.0 * vdDelta(first->stat.total.user, last->stat.total.user) / ticks_per_s /
               interval / ncpus;
        sys = 100.0 * vdDelta(first->stat.total.sys, last->stat.total.sys) / ticks_per_s /
              interval / ncpus;
        if (first->pid_valid && last->pid_valid) {
            vdsm_user = 100.0 * vdDelta(first->pid.utime, last->pid.utime) / ticks_per_s / interval;
            vdsm_sys = 100.0 * vdDelta(first->pid.stime, last->pid.stime) / ticks_per_s / interval;
        }
        if (first->ksmd_valid && last->ksmd_valid)
            ksm_cpu = (gint64)(100.0 * vdDelta(first->ksmd_ticks, last->ksmd_ticks) / ticks_per_s /
                                   interval +
                               0.5);
    }
    json_object_object_add(st, "cpuUser", vdJsonFixed(user, "%.2f"));
    json_object_object_add(st, "cpuSys", vdJsonFixed(sys, "%.2f"));
    json_object_object_add(st, "cpuIdle", vdJsonFixed(MAX(0.0, 100.0 - user - sys), "%.2f"));
    json_object_object_add(st, "cpuUserVdsmd", vdJsonFixed(vdsm_user, "%.2f"));
    json_object_object_add(st, "cpuSysVdsmd", vdJsonFixed(vdsm_sys, "%.2f"));
    json_object_object_add(st, "cpuLoad", json_object_new_string(last->cpu_load));

    for (guint i = 0; i < last->stat.cores->len; i++) {
        const VdCpuCoreTimes *c = &g_array_index(last->stat.cores, VdCpuCoreTimes, i);
        const VdCpuCoreTimes *f = vdCoreFind(first, c->id);
        double cu = 0, cs = 0;
        json_object *o;
        char key[16];

        if (!f)
            continue;
        if (interval > 0) {
            cu = 100.0 * vdDelta(f->t.user, c->t.user) / ticks_per_s / interval;
            cs = 100.0 * vdDelta(f->t.sys, c->t.sys) / ticks_per_s / interval;
        }
        o = json_object_new_object();
        json_object_object_add(
            o, "nodeIndex", json_object_new_int(topo ? vdHostTopologyNodeOfCpu(topo, c->id) : 0));
        json_object_object_add(o, "cpuUser", vdJsonFixed(cu, "%.2f"));
        json_object_object_add(o, "cpuSys", vdJsonFixed(cs, "%.2f"));
        json_object_object_add(o, "cpuIdle", vdJsonFixed(MAX(0.0, 100.0 - cu - cs), "%.2f"));
        g_snprintf(key, sizeof(key), "%d", c->id);
        json_object_object_add(cores, key, o);
    }
    json_object_object_add(st, "cpuStatistics", cores);

    json_object_object_add(st, "memUsed", vdJsonIntStr(last->mem_used_pct));
    json_object_object_add(st, "anonHugePages", vdJsonIntStr(last->anon_huge_mib));
    json_object_object_add(st, "thpState", json_object_new_string(last->thp_state));

    for (guint i = 0; i < VD_HOST_DISK_PATHS; i++) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "free", vdJsonIntStr(last->disk_free_mib[i]));
        json_object_object_add(disks, vdHostDiskKey(i), o);
    }
    json_object_object_add(st, "diskStats", disks);

    for (guint i = 0; i < last->hugepages->len; i++) {
        const VdHostHugepageSample *hp = &g_array_index(last->hugepages, VdHostHugepageSample, i);
        json_object *o = json_object_new_object();
        char key[32];

        json_object_object_add(o, "free_hugepages", json_object_new_int64(hp->free_hugepages));
        json_object_object_add(o, "nr_hugepages", json_object_new_int64(hp->nr_hugepages));
        json_object_object_add(o, "nr_hugepages_mempolicy",
                               json_object_new_int64(hp->nr_hugepages_mempolicy));
        json_object_object_add(o, "nr_overcommit_hugepages",
                               json_object_new_int64(hp->nr_overcommit_hugepages));
        json_object_object_add(o, "resv_hugepages", json_object_new_int64(hp->resv_hugepages));
        json_object_object_add(o, "surplus_hugepages",
                               json_object_new_int64(hp->surplus_hugepages));
        /* no hugepages are reserved for vdsm itself */
        json_object_object_add(o, "vm.free_hugepages", json_object_new_int64(hp->free_hugepages));
        g_snprintf(key, sizeof(key), "%" G_GUINT64_FORMAT, hp->size_kib);
        json_object_object_add(hugepages, key, o);
    }
    json_object_object_add(st, "hugepages", hugepages);

    for (guint i = 0; i < last->node_mem->len; i++) {
        const VdHostNodeMemSample *nm = &g_array_index(last->node_mem, VdHostNodeMemSample, i);
        json_object *o = json_object_new_object();
        gint64 pct = 100;
        char key[16];

        /* a node without memory is reported fully used, as VDSM does */
        if (nm->total_kib > 0)
            pct = 100 - (gint64)(100.0 * MAX(nm->free_kib, 0) / nm->total_kib);
        json_object_object_add(o, "memFree", vdJsonIntStr(MAX(nm->free_kib, 0) / 1024));
        json_object_object_add(o, "memPercent", json_object_new_int64(pct));
        g_snprintf(key, sizeof(key), "%d", nm->node);
        json_object_object_add(numa, key, o);
    }
    json_object_object_add(st, "numaNodeMemFree", numa);

    if (last->stat.btime >= 0)
        json_object_object_add(st, "bootTime", vdJsonIntStr(last->stat.btime));
    json_object_object_add(st, "ksmCpu", json_object_new_int64(ksm_cpu));

    vdStatsNetwork(st, first, last, interval);
    return st;
}

gint64
vdHostStatsElapsedTime(void)
{
    g_autofree char *self = vdHostReadFile("/proc/self/stat");
    g_autofree char *uptime_text = vdHostReadFile("/proc/uptime");
    double uptime = vdUptimeParse(uptime_text);
    long hz = sysconf(_SC_CLK_TCK);
    VdPidStat ps;
    double elapsed;

    if (!vdPidStatParse(self, &ps) || uptime < 0 || hz <= 0)
        return 0;
    elapsed = uptime - (double)ps.starttime / hz;
    return elapsed > 0 ? (gint64)elapsed : 0;
}

static const char *
vdHostGenerationId(void)
{
    static gsize once;
    static char *id;

    /* VDSM: a random id per process start, so the engine sees restarts */
    if (g_once_init_enter(&once)) {
        id = g_uuid_string_random();
        g_once_init_leave(&once, 1);
    }
    return id;
}

static void
vdStatsKsm(json_object *st)
{
    const char *ksm = "/sys/kernel/mm/ksm";
    g_autofree char *run = g_build_filename(ksm, "run", NULL);
    g_autofree char *pages = g_build_filename(ksm, "pages_to_scan", NULL);
    g_autofree char *merge = g_build_filename(ksm, "merge_across_nodes", NULL);
    g_autofree char *sharing = g_build_filename(ksm, "pages_sharing", NULL);
    gint64 page_size = sysconf(_SC_PAGESIZE);

    json_object_object_add(st, "ksmState", json_object_new_boolean(vdHostReadInt(run, 0) == 1));
    json_object_object_add(st, "ksmPages", json_object_new_int64(vdHostReadInt(pages, 0)));
    json_object_object_add(st, "ksmMergeAcrossNodes",
                           json_object_new_boolean(vdHostReadInt(merge, 1) == 1));
    json_object_object_add(st, "memShared",
                           json_object_new_int64(MAX(vdHostReadInt(sharing, 0), 0) *
                                                 MAX(page_size, 0) / (1024 * 1024)));
}

json_object *
vdHostStatsGet(void)
{
    g_autoptr(VdHostSample) first = NULL;
    g_autoptr(VdHostSample) last = NULL;
    VdHostVmCountersFunc counters_fn;
    VdHostVmCounters counters = {0};
    g_autofree char *mem_text = NULL;
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *date = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S GMT");
    json_object *st;
    json_object *ha;
    VdMeminfo mi;
    gint64 mem_free;

    vdHostSamplerWindow(&first, &last);
    if (!last) {
        /* the sampler is not running: no interval, VDSM's zero rates */
        last = vdHostSampleTake();
    } else if (!first) {
        first = g_steal_pointer(&last);
        last = vdHostSampleTake();
    }
    st = vdHostStatsProduce(first, last, sysconf(_SC_CLK_TCK), vdHostTopologyGet());

    mem_text = vdHostReadFile("/proc/meminfo");
    vdMeminfoParse(mem_text, &mi);
    mem_free =
        (MAX(mi.mem_free, 0) + MAX(mi.cached, 0) + MAX(mi.buffers, 0) + MAX(mi.sreclaimable, 0)) /
        1024;

    counters_fn = (VdHostVmCountersFunc)g_atomic_pointer_get(&vdHostVmCountersFn);
    if (counters_fn)
        counters_fn(&counters);

    json_object_object_add(st, "memFree", json_object_new_int64(mem_free));
    json_object_object_add(
        st, "memAvailable",
        json_object_new_int64(
            mem_free + counters.resident_mib - counters.mem_committed_mib -
            vdHostConfigInt("vars", "host_mem_reserve", VD_HOST_MEM_RESERVE_DEFAULT)));
    json_object_object_add(st, "memCommitted", json_object_new_int64(counters.mem_committed_mib));
    json_object_object_add(st, "swapTotal", json_object_new_int64(MAX(mi.swap_total, 0) / 1024));
    json_object_object_add(st, "swapFree", json_object_new_int64(MAX(mi.swap_free, 0) / 1024));
    vdStatsKsm(st);
    json_object_object_add(st, "momStatus", json_object_new_string("inactive"));

    json_object_object_add(st, "vmCount", json_object_new_int64(counters.vm_count));
    json_object_object_add(st, "vmActive", json_object_new_int64(counters.vm_active));
    json_object_object_add(st, "vmMigrating", json_object_new_int64(counters.vm_migrating));
    json_object_object_add(st, "incomingVmMigrations",
                           json_object_new_int64(counters.incoming_migrations));
    json_object_object_add(st, "outgoingVmMigrations",
                           json_object_new_int64(counters.outgoing_migrations));

    json_object_object_add(st, "elapsedTime", json_object_new_int64(vdHostStatsElapsedTime()));
    json_object_object_add(st, "dateTime", json_object_new_string(date));
    json_object_object_add(st, "netConfigDirty",
                           json_object_new_string(vdHostNetConfigDirty() ? "True" : "False"));

    ha = json_object_new_object();
    json_object_object_add(ha, "active", json_object_new_boolean(FALSE));
    json_object_object_add(ha, "configured", json_object_new_boolean(FALSE));
    json_object_object_add(ha, "score", json_object_new_int(0));
    json_object_object_add(ha, "globalMaintenance", json_object_new_boolean(FALSE));
    json_object_object_add(ha, "localMaintenance", json_object_new_boolean(FALSE));
    json_object_object_add(st, "haStats", ha);
    json_object_object_add(st, "haScore", json_object_new_int(0));
    json_object_object_add(st, "generationID", json_object_new_string(vdHostGenerationId()));
    json_object_object_add(st, "storageDomains", json_object_new_object());
    json_object_object_add(st, "v2vJobs", json_object_new_object());
    json_object_object_add(st, "multipathHealth", json_object_new_object());
    return st;
}
