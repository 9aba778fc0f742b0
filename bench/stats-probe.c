/* stats-probe.c - the reference libvirt clients of bench/stats-bench.sh.
 *
 * DESIGN: one process, one connection, no event loop (so its CPU time is
 * the client side of the calls alone).  It takes --samples full samples
 * of every active domain, --pause seconds apart, in one of three ways:
 *   bulk       one virConnectGetAllDomainStats(ACTIVE) with --groups
 *              (0 = every group libvirt has: the reference);
 *   split      the active domains split into --split concurrent
 *              virDomainListGetStats calls (threads) with --groups;
 *   pattern    vdsmd's default tick on 2 CPUs without vdsmd: two
 *              concurrent virDomainListGetStats (NOWAIT) on two pool
 *              threads started once, one with VDSM's groups for a quarter
 *              of the domains (a different quarter each sample), one with
 *              STATE|CPU_TOTAL|BALLOON|INTERFACE for the others; what the
 *              calls themselves cost vdsmd's sampler (--groups unused);
 *   perdomain  the pre-bulk way, per domain: virDomainGetInfo,
 *              virDomainGetCPUStats, virDomainInterfaceStats per NIC,
 *              virDomainGetBlockInfo + virDomainBlockStats per disk (the
 *              device names are read from the XML once, before timing).
 * It prints one JSON object: per-sample averages of wall time, its own
 * CPU time, libvirtd's CPU time (from /proc/<pid>/stat, --libvirtd-pid),
 * records and parameters seen, and its peak RSS.
 *
 * --prefix keeps only the domains whose name starts with it (bulk mode then
 * makes its one call with virDomainListGetStats on them).
 *
 * Two switches measure what a daemon's client pays beyond the calls (not
 * part of the reference): --own-conns gives each concurrent call of split
 * mode a connection of its own (no I/O hand-over between the threads of
 * one connection); --event-loop registers libvirt's default event loop
 * and runs it on a thread before connecting, as a daemon that receives
 * domain events must (libvirt then re-arms the socket watch and the
 * keepalive timer around every call).
 *
 * Usage: stats-probe [--uri URI] [--mode bulk|split|pattern|perdomain] [--groups N]
 *                    [--split K] [--samples N] [--pause S] [--libvirtd-pid PID]
 *                    [--prefix NAME] [--own-conns] [--event-loop]
 */
#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

static double
nowMono(void)
{
    return g_get_monotonic_time() / 1e6;
}

static double
selfCpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double
pidCpu(int pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
    g_autofree char *text = NULL;
    char *p;
    unsigned long long ut = 0, st = 0;

    if (pid <= 0 || !g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    p = strrchr(text, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

typedef struct {
    virDomainPtr *doms; /* NULL-terminated */
    unsigned int groups;
    int records, params;
} SplitJob;

static gpointer
splitRun(gpointer data)
{
    SplitJob *job = data;
    virDomainStatsRecordPtr *recs = NULL;
    int n = virDomainListGetStats(job->doms, job->groups, &recs,
                                  VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);

    job->records = n;
    for (int i = 0; i < n; i++)
        job->params += recs[i]->nparams;
    if (recs)
        virDomainStatsRecordListFree(recs);
    return NULL;
}

/* --mode pattern: the jobs of one sample, run on a pool, and their count */
typedef struct {
    GMutex lock;
    GCond cond;
    int pending;
} PatternWait;

static void
patternRun(gpointer data, gpointer user_data)
{
    PatternWait *w = user_data;

    splitRun(data);
    g_mutex_lock(&w->lock);
    w->pending--;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
}

/* Sample @s of pattern mode: quarter s % 4 of @doms with VDSM's groups,
 * the rest with the light ones, concurrently; adds to @records/@params,
 * returns the calls made. */
static int
patternSample(GThreadPool *pool, PatternWait *w, virDomainPtr *doms, int ndoms, int s,
              long *records, long *params)
{
    const unsigned int light = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                               VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_INTERFACE;
    const unsigned int all = light | VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BLOCK;
    int from = ndoms * (s % 4) / 4, to = ndoms * (s % 4 + 1) / 4, calls = 0;
    SplitJob jobs[2] = { { 0 } };

    jobs[0].groups = all;
    jobs[0].doms = g_new0(virDomainPtr, ndoms + 1);
    jobs[1].groups = light;
    jobs[1].doms = g_new0(virDomainPtr, ndoms + 1);
    for (int i = 0, nb = 0, nl = 0; i < ndoms; i++) {
        if (i >= from && i < to)
            jobs[0].doms[nb++] = doms[i];
        else
            jobs[1].doms[nl++] = doms[i];
    }
    for (int j = 0; j < 2; j++) {
        if (!jobs[j].doms[0])
            continue;
        g_mutex_lock(&w->lock);
        w->pending++;
        g_mutex_unlock(&w->lock);
        g_thread_pool_push(pool, &jobs[j], NULL);
        calls++;
    }
    g_mutex_lock(&w->lock);
    while (w->pending > 0)
        g_cond_wait(&w->cond, &w->lock);
    g_mutex_unlock(&w->lock);
    for (int j = 0; j < 2; j++) {
        *records += MAX(jobs[j].records, 0);
        *params += jobs[j].params;
        g_free(jobs[j].doms);
    }
    return calls;
}

typedef struct {
    virDomainPtr dom;
    GPtrArray *nics;  /* char* */
    GPtrArray *disks; /* char* */
} PerDom;

/* Device names between <target dev='...'> of <interface>/<disk> elements:
 * a crude scan is enough for the XML libvirt writes. */
static void
perDomDevices(PerDom *pd)
{
    g_autofree char *xml = virDomainGetXMLDesc(pd->dom, 0);
    const char *p = xml;

    pd->nics = g_ptr_array_new_with_free_func(g_free);
    pd->disks = g_ptr_array_new_with_free_func(g_free);
    while (p && (p = strchr(p, '<'))) {
        gboolean nic = g_str_has_prefix(p, "<interface "), disk = g_str_has_prefix(p, "<disk ");
        const char *end, *t;

        p++;
        if (!nic && !disk)
            continue;
        end = strstr(p, nic ? "</interface>" : "</disk>");
        t = strstr(p, "<target dev='");
        if (end && t && t < end) {
            const char *q = t + strlen("<target dev='");
            const char *e = strchr(q, '\'');

            g_ptr_array_add(nic ? pd->nics : pd->disks, g_strndup(q, e - q));
        }
    }
}

static int
perDomSample(PerDom *pds, int n, int *calls)
{
    for (int i = 0; i < n; i++) {
        PerDom *pd = &pds[i];
        virDomainInfo info;
        virTypedParameterPtr params;
        int np;

        virDomainGetInfo(pd->dom, &info);
        (*calls)++;
        np = virDomainGetCPUStats(pd->dom, NULL, 0, -1, 1, 0);
        if (np > 0) {
            params = g_new0(virTypedParameter, np);
            virDomainGetCPUStats(pd->dom, params, np, -1, 1, 0);
            virTypedParamsClear(params, np);
            g_free(params);
        }
        (*calls)++;
        for (guint j = 0; j < pd->nics->len; j++) {
            virDomainInterfaceStatsStruct st;

            virDomainInterfaceStats(pd->dom, g_ptr_array_index(pd->nics, j), &st, sizeof(st));
            (*calls)++;
        }
        for (guint j = 0; j < pd->disks->len; j++) {
            virDomainBlockInfo bi;
            virDomainBlockStatsStruct bs;

            virDomainGetBlockInfo(pd->dom, g_ptr_array_index(pd->disks, j), &bi, 0);
            virDomainBlockStats(pd->dom, g_ptr_array_index(pd->disks, j), &bs, sizeof(bs));
            (*calls) += 2;
        }
    }
    return n;
}

static void
ignoreError(void *opaque, virErrorPtr err)
{
}

static gpointer
eventLoopRun(gpointer data)
{
    for (;;)
        virEventRunDefaultImpl();
    return NULL;
}

/* The domains of @doms (@n) on a connection of their own, NULL-terminated. */
static virDomainPtr *
ownConnDomains(const char *uri, virDomainPtr *doms, int n)
{
    virConnectPtr c = virConnectOpen(uri);
    virDomainPtr *out = g_new0(virDomainPtr, n + 1);
    int k = 0;

    if (!c) {
        fprintf(stderr, "stats-probe: cannot connect to %s: %s\n", uri, virGetLastErrorMessage());
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        unsigned char uuid[VIR_UUID_BUFLEN];

        if (virDomainGetUUID(doms[i], uuid) == 0 && (out[k] = virDomainLookupByUUID(c, uuid)))
            k++;
    }
    virConnectClose(c); /* the domains keep it open */
    return out;
}

int
main(int argc, char **argv)
{
    g_autofree char *uri = g_strdup("qemu:///system");
    g_autofree char *mode = g_strdup("bulk");
    g_autofree char *prefix = NULL;
    int groups = 0, split = 4, samples = 10, libvirtd_pid = 0;
    gboolean own_conns = FALSE, event_loop = FALSE;
    virDomainPtr **own = NULL;
    double pause = 0.5;
    GOptionEntry entries[] = {
        { "uri", 0, 0, G_OPTION_ARG_STRING, &uri, "libvirt URI", "URI" },
        { "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "bulk, split, pattern or perdomain", "MODE" },
        { "groups", 0, 0, G_OPTION_ARG_INT, &groups, "VIR_DOMAIN_STATS_* mask (0: all)", "N" },
        { "split", 0, 0, G_OPTION_ARG_INT, &split, "concurrent calls (split mode)", "K" },
        { "samples", 0, 0, G_OPTION_ARG_INT, &samples, "samples to take", "N" },
        { "pause", 0, 0, G_OPTION_ARG_DOUBLE, &pause, "seconds between samples", "S" },
        { "libvirtd-pid", 0, 0, G_OPTION_ARG_INT, &libvirtd_pid, "libvirtd's pid", "PID" },
        { "prefix", 0, 0, G_OPTION_ARG_STRING, &prefix, "only domains named PREFIX*", "PREFIX" },
        { "own-conns", 0, 0, G_OPTION_ARG_NONE, &own_conns, "a connection per call (split)", NULL },
        { "event-loop", 0, 0, G_OPTION_ARG_NONE, &event_loop, "run libvirt's event loop", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) octx = g_option_context_new("- libvirt stats reference client");
    g_autoptr(GError) error = NULL;
    virConnectPtr conn;
    virDomainPtr *doms = NULL;
    int ndoms;
    double wall = 0, cpu = 0, lcpu = 0, t0, c0, l0;
    long records = 0, params = 0;
    int calls = 0;
    PerDom *pds = NULL;
    GThreadPool *pool = NULL;
    PatternWait pwait = { 0 };
    struct rusage ru;

    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error)) {
        fprintf(stderr, "stats-probe: %s\n", error->message);
        return 2;
    }
    if (!g_str_equal(mode, "bulk") && !g_str_equal(mode, "split") &&
        !g_str_equal(mode, "pattern") && !g_str_equal(mode, "perdomain")) {
        fprintf(stderr, "stats-probe: --mode must be bulk, split, pattern or perdomain, not '%s'\n",
                mode);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    virSetErrorFunc(NULL, ignoreError);
    if (event_loop) {
        virEventRegisterDefaultImpl();
        g_thread_unref(g_thread_new("events", eventLoopRun, NULL));
    }
    conn = virConnectOpen(uri);
    if (!conn) {
        fprintf(stderr, "stats-probe: cannot connect to %s: %s\n", uri, virGetLastErrorMessage());
        return 1;
    }
    ndoms = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (ndoms < 0) {
        fprintf(stderr, "stats-probe: %s\n", virGetLastErrorMessage());
        return 1;
    }
    if (prefix) {
        int kept = 0;

        for (int i = 0; i < ndoms; i++) {
            if (g_str_has_prefix(virDomainGetName(doms[i]), prefix))
                doms[kept++] = doms[i];
            else
                virDomainFree(doms[i]);
        }
        ndoms = kept;
        doms[ndoms] = NULL;
    }
    if (own_conns && g_str_equal(mode, "split")) {
        int k = CLAMP(split, 1, MAX(ndoms, 1));

        own = g_new0(virDomainPtr *, k);
        for (int j = 0; j < k; j++)
            own[j] = ownConnDomains(uri, doms + ndoms * j / k, ndoms * (j + 1) / k - ndoms * j / k);
    }
    if (g_str_equal(mode, "pattern")) {
        g_mutex_init(&pwait.lock);
        g_cond_init(&pwait.cond);
        pool = g_thread_pool_new(patternRun, &pwait, 2, TRUE, NULL);
    }
    if (g_str_equal(mode, "perdomain")) {
        pds = g_new0(PerDom, ndoms);
        for (int i = 0; i < ndoms; i++) {
            pds[i].dom = doms[i];
            perDomDevices(&pds[i]);
        }
    }

    for (int s = 0; s < samples; s++) {
        if (s > 0 && pause > 0)
            g_usleep((gulong)(pause * G_USEC_PER_SEC));
        t0 = nowMono();
        c0 = selfCpu();
        l0 = pidCpu(libvirtd_pid);
        if (g_str_equal(mode, "bulk")) {
            virDomainStatsRecordPtr *recs = NULL;
            int n = prefix ? virDomainListGetStats(doms, (unsigned int)groups, &recs, 0)
                           : virConnectGetAllDomainStats(conn, (unsigned int)groups, &recs,
                                                         VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);

            for (int i = 0; i < n; i++)
                params += recs[i]->nparams;
            records += MAX(n, 0);
            calls++;
            if (recs)
                virDomainStatsRecordListFree(recs);
        } else if (g_str_equal(mode, "split")) {
            int k = CLAMP(split, 1, MAX(ndoms, 1));
            SplitJob *jobs = g_new0(SplitJob, k);
            GThread **threads = g_new0(GThread *, k);

            for (int j = 0; j < k; j++) {
                int from = ndoms * j / k, to = ndoms * (j + 1) / k;

                jobs[j].groups = (unsigned int)groups;
                jobs[j].doms = g_new0(virDomainPtr, to - from + 1);
                memcpy(jobs[j].doms, own ? own[j] : doms + from,
                       (to - from) * sizeof(virDomainPtr));
                threads[j] = g_thread_new("split", splitRun, &jobs[j]);
            }
            for (int j = 0; j < k; j++) {
                g_thread_join(threads[j]);
                records += MAX(jobs[j].records, 0);
                params += jobs[j].params;
                g_free(jobs[j].doms);
                calls++;
            }
            g_free(jobs);
            g_free(threads);
        } else if (g_str_equal(mode, "pattern")) {
            calls += patternSample(pool, &pwait, doms, ndoms, s, &records, &params);
        } else {
            records += perDomSample(pds, ndoms, &calls);
        }
        wall += nowMono() - t0;
        cpu += selfCpu() - c0;
        lcpu += pidCpu(libvirtd_pid) - l0;
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"mode\": \"%s\", \"groups\": %d, \"split\": %d, \"domains\": %d, \"samples\": %d, "
           "\"wall_ms\": %.3f, \"cpu_ms\": %.3f, \"libvirtd_cpu_ms\": %.3f, "
           "\"records_per_sample\": %.1f, \"params_per_sample\": %.1f, \"calls_per_sample\": %.1f, "
           "\"maxrss_kib\": %ld}\n",
           mode, groups, split, ndoms, samples, wall * 1000 / samples, cpu * 1000 / samples,
           lcpu * 1000 / samples, (double)records / samples, (double)params / samples,
           (double)calls / samples, ru.ru_maxrss);
    for (int i = 0; i < ndoms; i++) {
        if (pds) {
            g_ptr_array_unref(pds[i].nics);
            g_ptr_array_unref(pds[i].disks);
        }
        virDomainFree(doms[i]);
    }
    g_free(pds);
    free(doms);
    if (pool) {
        g_thread_pool_free(pool, FALSE, TRUE);
        g_mutex_clear(&pwait.lock);
        g_cond_clear(&pwait.cond);
    }
    virConnectClose(conn);
    return 0;
}
