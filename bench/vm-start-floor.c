/* vm-start-floor.c - the floor for the VM start storm: N domains defined
 * and started straight through libvirt.
 *
 * DESIGN: one process, N threads, each with its OWN connection to libvirtd
 * (libvirtd serves at most max_client_requests = 5 calls at a time per
 * client connection, so one shared connection would not be the floor).  The
 * threads open their connections first and meet at a barrier; the clock
 * runs from the barrier until the last thread's virDomainCreate returned.
 * Each thread defines a persistent diskless domain from the XML template,
 * starts it, and does nothing else; no event loop, no metadata.  With
 * --mode=shared all threads use one connection instead, and --mode=serial
 * starts the domains one after another, to show where the floor comes from.
 * The domains are left running for the caller (vm-start-storm.sh) to
 * destroy; --cleanup destroys and undefines every domain named PREFIX*.
 *
 * Build: gcc -O2 -o vm-start-floor vm-start-floor.c $(pkg-config --cflags --libs libvirt glib-2.0)
 * Usage: vm-start-floor --template FILE [--count 20] [--prefix vdt3-floor-] [--mode per-thread]
 *        vm-start-floor --cleanup --prefix vdt3-floor-
 * The template holds @NAME@ and @UUID@ placeholders.  Output: one line
 * "floor <mode> <count> <seconds>" on stdout.
 */
#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int index;
    virConnectPtr conn;
    char *xml;
    gboolean ok;
    char *error;
} VdFloorJob;

static GMutex vdFloorLock;
static GCond vdFloorCond;
static int vdFloorWaiting;
static int vdFloorCount;
static gboolean vdFloorGo;
static gint64 vdFloorStart;

static void
vdFloorBarrier(void)
{
    g_mutex_lock(&vdFloorLock);
    if (++vdFloorWaiting == vdFloorCount) {
        vdFloorGo = TRUE;
        vdFloorStart = g_get_monotonic_time();
        g_cond_broadcast(&vdFloorCond);
    }
    while (!vdFloorGo)
        g_cond_wait(&vdFloorCond, &vdFloorLock);
    g_mutex_unlock(&vdFloorLock);
}

static void
vdFloorStartOne(VdFloorJob *job)
{
    virDomainPtr dom = virDomainDefineXML(job->conn, job->xml);

    if (!dom || virDomainCreate(dom) < 0) {
        job->error = g_strdup(virGetLastErrorMessage());
        if (dom)
            virDomainFree(dom);
        return;
    }
    virDomainFree(dom);
    job->ok = TRUE;
}

static gpointer
vdFloorThread(gpointer data)
{
    VdFloorJob *job = data;

    vdFloorBarrier();
    vdFloorStartOne(job);
    return NULL;
}

static char *
vdFloorXml(const char *template, const char *prefix, int i)
{
    g_autofree char *name = g_strdup_printf("%s%02d", prefix, i);
    g_autofree char *uuid = g_strdup_printf("3f10a0c0-0000-4000-8000-%012d", 900000 + i);
    g_autoptr(GString) s = g_string_new(template);

    g_string_replace(s, "@NAME@", name, 0);
    g_string_replace(s, "@UUID@", uuid, 0);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static int
vdFloorCleanup(const char *uri, const char *prefix)
{
    virConnectPtr conn = virConnectOpen(uri);
    virDomainPtr *doms = NULL;
    int n;

    if (!conn) {
        fprintf(stderr, "vm-start-floor: %s\n", virGetLastErrorMessage());
        return 1;
    }
    n = virConnectListAllDomains(conn, &doms, 0);
    for (int i = 0; i < n; i++) {
        if (g_str_has_prefix(virDomainGetName(doms[i]), prefix)) {
            if (virDomainIsActive(doms[i]) == 1)
                virDomainDestroy(doms[i]);
            virDomainUndefineFlags(doms[i], VIR_DOMAIN_UNDEFINE_NVRAM);
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    virConnectClose(conn);
    return 0;
}

int
main(int argc, char **argv)
{
    g_autofree char *template_path = NULL;
    g_autofree char *prefix = NULL;
    g_autofree char *mode = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *template = NULL;
    gboolean cleanup = FALSE;
    int count = 20;
    GOptionEntry entries[] = {
        {"template", 't', 0, G_OPTION_ARG_FILENAME, &template_path, "Domain XML template", "FILE"},
        {"count", 'n', 0, G_OPTION_ARG_INT, &count, "Domains to start (default 20)", "N"},
        {"prefix", 'p', 0, G_OPTION_ARG_STRING, &prefix, "Domain name prefix", "TEXT"},
        {"mode", 'm', 0, G_OPTION_ARG_STRING, &mode, "per-thread (default), shared or serial",
         "MODE"},
        {"uri", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (default qemu:///system)", "URI"},
        {"cleanup", 0, 0, G_OPTION_ARG_NONE, &cleanup, "Destroy and undefine PREFIX* domains",
         NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) octx = g_option_context_new("- VM start floor");
    g_autoptr(GError) error = NULL;
    g_autofree VdFloorJob *jobs = NULL;
    g_autofree GThread **threads = NULL;
    virConnectPtr shared = NULL;
    double seconds;
    int failed = 0;

    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error)) {
        fprintf(stderr, "vm-start-floor: %s\n", error->message);
        return 2;
    }
    if (!prefix)
        prefix = g_strdup("vdt3-floor-");
    if (!uri)
        uri = g_strdup("qemu:///system");
    if (!mode)
        mode = g_strdup("per-thread");
    if (cleanup)
        return vdFloorCleanup(uri, prefix);
    if (!template_path || count < 1 || count > 1000) {
        fprintf(stderr, "vm-start-floor: --template FILE and --count 1..1000 are needed\n");
        return 2;
    }
    if (!g_file_get_contents(template_path, &template, NULL, &error)) {
        fprintf(stderr, "vm-start-floor: %s\n", error->message);
        return 2;
    }
    if (virInitialize() < 0)
        return 1;

    jobs = g_new0(VdFloorJob, count);
    threads = g_new0(GThread *, count);
    if (!g_str_equal(mode, "per-thread")) {
        if (!(shared = virConnectOpen(uri))) {
            fprintf(stderr, "vm-start-floor: %s\n", virGetLastErrorMessage());
            return 1;
        }
    }
    for (int i = 0; i < count; i++) {
        jobs[i].index = i;
        jobs[i].xml = vdFloorXml(template, prefix, i);
        jobs[i].conn = shared ? shared : virConnectOpen(uri);
        if (!jobs[i].conn) {
            fprintf(stderr, "vm-start-floor: %s\n", virGetLastErrorMessage());
            return 1;
        }
    }

    if (g_str_equal(mode, "serial")) {
        vdFloorStart = g_get_monotonic_time();
        for (int i = 0; i < count; i++)
            vdFloorStartOne(&jobs[i]);
    } else {
        vdFloorCount = count;
        for (int i = 0; i < count; i++)
            threads[i] = g_thread_new("floor", vdFloorThread, &jobs[i]);
        for (int i = 0; i < count; i++)
            g_thread_join(threads[i]);
    }
    seconds = (g_get_monotonic_time() - vdFloorStart) / 1e6;

    for (int i = 0; i < count; i++) {
        if (!jobs[i].ok) {
            failed++;
            fprintf(stderr, "vm-start-floor: domain %d: %s\n", i, jobs[i].error);
        }
        if (!shared)
            virConnectClose(jobs[i].conn);
        g_free(jobs[i].xml);
        g_free(jobs[i].error);
    }
    if (shared)
        virConnectClose(shared);
    printf("floor %s %d %.3f\n", mode, count, seconds);
    return failed ? 1 : 0;
}
