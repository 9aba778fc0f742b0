/* vdsmd.c - the daemon's entry point.
 *
 * Start-up order matters: configuration and logging, and every module's
 * values checked before anything binds (a bad value exits before a client
 * can connect); the listener loads the TLS keys and binds the port while
 * still root; privileges are
 * dropped to the unprivileged user before any worker thread exists; then
 * the rpc pool, the host sampler and the listener start, and the ready
 * gate (code 99) opens once start-up work is done.  One GLib main loop
 * then owns all shared state until SIGTERM/SIGINT.  The vdsmd hook points
 * run on this thread while no main loop runs: before_vdsm_start after the
 * privilege drop and before anything serves, after_vdsm_stop once the
 * listeners are gone.
 */
#include "vdsm-config.h"

#include "config.h"
#include "dispatcher.h"
#include "hooks.h"
#include "host-sampler.h"
#include "http.h"
#include "listener.h"
#include "log.h"
#include "main-call.h"
#include "stomp-server.h"
#include "vm-manager.h"
#include "vm-qga.h"
#include "vm-metrics.h"
#include "vm-sampling.h"

#include <errno.h>
#include <glib-unix.h>
#include <grp.h>
#include <malloc.h>
#ifdef VD_ALLOCATOR_TCMALLOC
#include <gperftools/malloc_extension_c.h>
#endif
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Idle pool threads kept for reuse (see main()): a sample's tick and its
 * concurrent calls, plus a few VM jobs. */
#define VD_IDLE_THREADS 8

#ifdef VD_ALLOCATOR_TCMALLOC
/* All threads' tcmalloc caches together (see main()). */
#define VD_TCMALLOC_THREAD_CACHE_BYTES ((size_t)8 << 20)
#endif

static int
vdDropPrivileges(const char *user, GError **error)
{
    struct passwd *pw;

    if (geteuid() != 0)
        return 0;
    pw = getpwnam(user);
    if (!pw) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "user '%s' does not exist (run scripts/setup-host.sh, or pass "
                    "--no-drop-privileges)", user);
        return -1;
    }
    if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot drop privileges to %s: %s", user, g_strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "privileges were not dropped");
        return -1;
    }
    g_info("running as user %s (uid %u)", user, (unsigned)pw->pw_uid);
    return 0;
}

static gboolean
vdOnSignal(gpointer data)
{
    g_info("signal received: shutting down");
    g_main_loop_quit(data);
    return G_SOURCE_CONTINUE;
}

static gboolean
vdOpenGate(gpointer data)
{
    vdRpcServerSetReady(data, TRUE);
    g_info("start-up done: serving requests");
    return G_SOURCE_REMOVE;
}

/* The gate opens when VM recovery has finished and [devel] recovery_delay
 * has passed, whichever comes last (main loop only). */
typedef struct {
    VdRpcServer *rpc;
    int pending;
} VdStartupGate;

static void
vdStartupGateRelease(VdStartupGate *gate)
{
    if (--gate->pending == 0)
        vdOpenGate(gate->rpc);
}

static gboolean
vdStartupDelayDone(gpointer data)
{
    vdStartupGateRelease(data);
    return G_SOURCE_REMOVE;
}

static void
vdStartupRecoveryDone(gpointer data)
{
    vdStartupGateRelease(data);
}

int
main(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    g_autofree char *user = NULL;
    g_auto(GStrv) sets = NULL;
    gboolean dump = FALSE;
    gboolean no_drop = FALSE;
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "PATH" },
        { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets,
          "Override one key (may repeat)", "SECTION.KEY=VALUE" },
        { "dump-config", 0, 0, G_OPTION_ARG_NONE, &dump,
          "Print every configuration key with its value and exit", NULL },
        { "user", 'u', 0, G_OPTION_ARG_STRING, &user,
          "User to run as when started as root (default vdsm)", "NAME" },
        { "no-drop-privileges", 0, 0, G_OPTION_ARG_NONE, &no_drop,
          "Keep running as the invoking user", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) octx = g_option_context_new("- the vdsm-c host agent");
    g_autoptr(GError) error = NULL;
    g_autoptr(GMainLoop) loop = NULL;
    g_autoptr(VdRpcServer) rpc = NULL;
    g_autoptr(VdStompServer) stomp = NULL;
    g_autoptr(VdHttpServer) http = NULL;
    g_autoptr(VdListener) listener = NULL;
    g_autoptr(VdHttpServer) metrics_http = NULL;
    g_autoptr(VdListener) metrics_listener = NULL;
    gint64 delay;
    VdStartupGate gate = { 0 };

#ifndef VD_ALLOCATOR_TCMALLOC
    /* Built with glibc's malloc (the default, see src/meson.build): glibc
     * gives every thread that allocates an arena of its own (up to 8 per
     * core), and each keeps what its thread freed: the rpc, VM and sampler
     * pools' threads all allocate.  Two arenas cut the resident growth per
     * VM (docs/benchmarks-stats.md, MALLOC_ARENA_MAX A/B); an explicit
     * MALLOC_ARENA_MAX in the environment still wins. */
    if (!g_getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
#else
    /* -Dallocator=tcmalloc.  tcmalloc_minimal lets its per-thread caches
     * hold up to 32 MiB in all; they kept growing for thousands of samples
     * in the soak test (RSS +2.7 MiB in 1800 samples).  8 MiB settles
     * within a few hundred samples and keeps most of the CPU gain (0.855-
     * 0.885x glibc's CPU per sample, where 2 MiB gave none:
     * docs/benchmarks-stats.md, "The allocator").  An explicit
     * TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES still wins. */
    if (!g_getenv("TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES"))
        MallocExtension_SetNumericProperty("tcmalloc.max_total_thread_cache_bytes",
                                           VD_TCMALLOC_THREAD_CACHE_BYTES);
#endif
    /* The VM job, creation and sampler pools are non-exclusive: their idle
     * threads wait in GLib's shared set, which by default keeps 2 and
     * stops each after 15 s.  Every sample runs a tick and up to
     * [sampling] max_concurrent_calls calls at once, every 15 s: with the
     * defaults each tick created and ended 3-4 threads (clone, a new stack,
     * malloc caches filled and flushed), which cost more CPU than the
     * sample's own work.  Keep up to VD_IDLE_THREADS idle threads and never
     * stop them: the thread count stays bounded and independent of the
     * number of VMs (docs/architecture.md, Threads). */
    g_thread_pool_set_max_unused_threads(VD_IDLE_THREADS);
    g_thread_pool_set_max_idle_time(0);
    g_set_prgname("vdsmd");
    vdLogInit();
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error)) {
        fprintf(stderr, "vdsmd: %s\n", error->message);
        return 2;
    }
    if (version) {
        printf("vdsmd %s\n", VDSM_VERSION);
        return 0;
    }
    if (vdConfigLoad(config_path, &error) < 0) {
        fprintf(stderr, "vdsmd: %s\n", error->message);
        return 1;
    }
    for (gsize i = 0; sets && sets[i]; i++) {
        g_autofree char *item = g_strdup(sets[i]);
        char *eq = strchr(item, '=');
        char *dot = strchr(item, '.');

        if (!eq || !dot || dot > eq) {
            fprintf(stderr, "vdsmd: --set expects SECTION.KEY=VALUE, got '%s'\n", sets[i]);
            return 2;
        }
        *eq = *dot = '\0';
        if (vdConfigSet(item, dot + 1, eq + 1, &error) < 0) {
            fprintf(stderr, "vdsmd: %s\n", error->message);
            return 2;
        }
    }
    if (dump) {
        g_autofree char *text = vdConfigDump();

        fputs(text, stdout);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    g_info("vdsmd %s starting", VDSM_VERSION);

    /* Every value is checked before the port is bound: a client must
     * never connect to a daemon that is about to exit. */
    if (vdHostSamplerConfigure(&error) < 0 || vdVmManagerConfigure(&error) < 0 ||
        vdVmSamplingConfigure(&error) < 0) {
        g_critical("cannot start: %s", error->message);
        return 1;
    }
    loop = g_main_loop_new(NULL, FALSE);
    vdMainCallInit(g_main_context_default());
    /* Bind and load keys first: they may need root. */
    if (!(rpc = vdRpcServerNew(g_main_context_default(), &error)) ||
        !(stomp = vdStompServerNew(rpc, &error)) || !(http = vdHttpServerNew(rpc, &error)) ||
        !(listener = vdListenerNew(stomp, http, &error))) {
        g_critical("cannot start: %s", error->message);
        return 1;
    }
    /* GET /metrics on the API port and on the plain metrics port: served
     * from the samples on the main loop (vm-metrics.h). */
    vdHttpRoutesAdd("GET", "/metrics", vdMetricsRoute, NULL);
    if (vdConfigGetInt("metrics", "http_port") > 0) {
        VdListenerOptions opts = {
            .address = vdConfigGetString("metrics", "http_address"),
            .port = vdConfigGetInt("metrics", "http_port"),
            .http = TRUE,
        };

        if (!(metrics_http = vdHttpServerNew(NULL, &error)) ||
            !(metrics_listener = vdListenerNewWith(&opts, NULL, metrics_http, &error))) {
            g_critical("cannot start the metrics port: %s", error->message);
            return 1;
        }
    }
    if (!no_drop && vdDropPrivileges(user ? user : "vdsm", &error) < 0) {
        g_critical("%s", error->message);
        return 1;
    }
    /* As VDSM: as the daemon's user, before serving; failures only logged. */
    vdHooksRun("before_vdsm_start", NULL, NULL, NULL, NULL);
    if (vdHostSamplerStart(&error) < 0) {
        g_critical("cannot start the host sampler: %s", error->message);
        return 1;
    }
    g_unix_signal_add(SIGTERM, vdOnSignal, loop);
    g_unix_signal_add(SIGINT, vdOnSignal, loop);
    vdListenerStart(listener);
    if (metrics_listener) {
        vdListenerStart(metrics_listener);
        g_info("metrics: plain HTTP on port %u", vdListenerPort(metrics_listener));
    }
    g_info("vdsmd ready: listening on port %u (%s)", vdListenerPort(listener),
           vdConfigGetBool("vars", "ssl") ? "TLS" : "plain TCP");

    /* VM recovery adopts libvirt's domains on its own thread; until it
     * reports done (on the main loop) every call answers 99. */
    gate.rpc = rpc;
    gate.pending = 2;
    if (vdVmManagerStart(vdStartupRecoveryDone, &gate, &error) < 0) {
        g_critical("cannot start the VM manager: %s", error->message);
        return 1;
    }
    /* Bulk VM statistics on the sampler's own threads (vm-sampling.h). */
    if (vdVmSamplingStart(&error) < 0) {
        g_critical("cannot start VM sampling: %s", error->message);
        return 1;
    }
    delay = vdConfigGetInt("devel", "recovery_delay");
    if (delay > 0)
        g_timeout_add_seconds((guint)delay, vdStartupDelayDone, &gate);
    else
        vdStartupGateRelease(&gate);

    g_main_loop_run(loop);
    g_info("vdsmd stopping");
    vdVmSamplingStop();
    vdVmQgaStop();
    vdVmManagerStop();
    vdHostSamplerStop();
    /* Closing the STOMP clients runs the listener's close hooks: free the
     * STOMP server while the listeners still exist. */
    g_clear_pointer(&stomp, vdStompServerFree);
    g_clear_pointer(&metrics_listener, vdListenerFree);
    g_clear_pointer(&listener, vdListenerFree);
    /* A verb stuck in libvirt or on hung storage must not hold up exit:
     * the pool is only torn down when nothing runs. */
    if (vdRpcServerInFlight(rpc) > 0) {
        g_warning("exiting with %u calls still running", vdRpcServerInFlight(rpc));
        (void)g_steal_pointer(&rpc);
    }
    vdHooksRun("after_vdsm_stop", NULL, NULL, NULL, NULL);
    g_info("vdsmd stopped");
    return 0;
}
