/* test-spawn.c - the spawn helper against real programs.
 *
 * DESIGN: each test runs small coreutils/sh programs through vdSpawnRun()
 * from the test's main thread (which never owns the default main context
 * here) and checks what the child saw and what we got back: exit codes,
 * signals, a clean environment, closed descriptors, stdin feeding, output
 * limits, timeouts that kill the whole process group, no zombies.  /proc is
 * scanned to see our children and process groups.
 */
#include "vd-spawn.h"

#include "vd-error.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fields 3 (state), 4 (ppid), 5 (pgrp) of /proc/<pid>/stat. */
static gboolean
readStat(const char *pid, char *state, long *ppid, long *pgrp)
{
    g_autofree char *path = g_strdup_printf("/proc/%s/stat", pid);
    g_autofree char *text = NULL;
    const char *p;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return FALSE;
    if (!(p = strrchr(text, ')')))
        return FALSE;
    return sscanf(p + 1, " %c %ld %ld", state, ppid, pgrp) == 3;
}

/* Processes that are our children (any state), and those of them that are zombies. */
static void
countChildren(guint *children, guint *zombies)
{
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    const char *name;

    *children = *zombies = 0;
    while ((name = g_dir_read_name(dir))) {
        char state;
        long ppid, pgrp;

        if (!g_ascii_isdigit(name[0]) || !readStat(name, &state, &ppid, &pgrp))
            continue;
        if (ppid == getpid()) {
            (*children)++;
            if (state == 'Z')
                (*zombies)++;
        }
    }
}

static guint
countGroup(long pgid)
{
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    const char *name;
    guint n = 0;

    while ((name = g_dir_read_name(dir))) {
        char state;
        long ppid, pgrp;

        if (g_ascii_isdigit(name[0]) && readStat(name, &state, &ppid, &pgrp) && pgrp == pgid &&
            state != 'Z')
            n++;
    }
    return n;
}

/* A killed process closes its files a moment before it shows as a zombie:
 * give the group up to 2 s to be gone. */
static guint
groupLeft(long pgid)
{
    guint n = countGroup(pgid);

    for (int i = 0; n && i < 200; i++) {
        g_usleep(10 * 1000);
        n = countGroup(pgid);
    }
    return n;
}

static VdSpawnResult *
run(const char *const *argv, const VdSpawnOptions *opts)
{
    g_autoptr(GError) error = NULL;
    VdSpawnResult *res = NULL;

    g_assert_cmpint(vdSpawnRun(argv, opts, &res, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_nonnull(res);
    return res;
}

static void
testExitCodes(void)
{
    const char *const ok[] = {"true", NULL};
    const char *const fail[] = {"false", NULL};
    const char *const three[] = {"/bin/sh", "-c", "exit 3", NULL};
    const char *const sig[] = {"/bin/sh", "-c", "kill -KILL $$", NULL};
    g_autoptr(VdSpawnResult) r1 = run(ok, NULL);
    g_autoptr(VdSpawnResult) r2 = run(fail, NULL);
    g_autoptr(VdSpawnResult) r3 = run(three, NULL);
    g_autoptr(VdSpawnResult) r4 = run(sig, NULL);
    g_autofree char *d3 = vdSpawnResultDescribe(r3);
    g_autofree char *d4 = vdSpawnResultDescribe(r4);

    g_assert_cmpint(r1->exit_status, ==, 0);
    g_assert_true(vdSpawnResultSucceeded(r1));
    g_assert_cmpint(r2->exit_status, ==, 1);
    g_assert_false(vdSpawnResultSucceeded(r2));
    g_assert_cmpint(r3->exit_status, ==, 3);
    g_assert_cmpint(r3->term_signal, ==, 0);
    g_assert_cmpstr(d3, ==, "exit status 3");
    g_assert_cmpint(r4->exit_status, ==, -1);
    g_assert_cmpint(r4->term_signal, ==, SIGKILL);
    g_assert_false(r4->timed_out);
    g_assert_cmpstr(d4, ==, "killed by signal 9");
}

static void
testNotFound(void)
{
    const char *const missing[] = {"vdsm-no-such-program", NULL};
    const char *const abs[] = {"/nonexistent/prog", NULL};
    const char *const rel[] = {"bin/true", NULL};
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(GError) e3 = NULL;
    VdSpawnResult *res = NULL;

    g_assert_cmpint(vdSpawnRun(missing, NULL, &res, &e1), ==, -1);
    g_assert_error(e1, VD_ERROR, VD_ERR_GENERAL);
    g_assert_cmpint(vdSpawnRun(abs, NULL, &res, &e2), ==, -1);
    g_assert_error(e2, VD_ERROR, VD_ERR_GENERAL);
    g_assert_cmpint(vdSpawnRun(rel, NULL, &res, &e3), ==, -1);
    g_assert_null(res);
}

static void
testCleanEnv(void)
{
    const char *const argv[] = {"env", NULL};
    const char *const env[] = {"FOO=bar baz", "vmId=1234", "EMPTY=", NULL};
    const char *const badenv[] = {"PATH=/tmp", NULL};
    const char *const noeq[] = {"FOO", NULL};
    VdSpawnOptions opts = {.env = env};
    VdSpawnOptions bad = {.env = badenv};
    VdSpawnOptions bad2 = {.env = noeq};
    g_autoptr(VdSpawnResult) res = NULL;
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    VdSpawnResult *none = NULL;

    g_setenv("VDSM_TEST_SECRET", "leak", TRUE);
    res = run(argv, &opts);
    g_assert_cmpint(res->exit_status, ==, 0);
    g_assert_cmpstr(res->out, ==, "PATH=" VD_SPAWN_PATH "\nFOO=bar baz\nvmId=1234\nEMPTY=\n");
    g_unsetenv("VDSM_TEST_SECRET");

    g_assert_cmpint(vdSpawnRun(argv, &bad, &none, &e1), ==, -1);
    g_assert_error(e1, VD_ERROR, VD_ERR_GENERAL);
    g_assert_cmpint(vdSpawnRun(argv, &bad2, &none, &e2), ==, -1);
    g_assert_null(none);
}

static void
testFdsClosed(void)
{
    const char *const argv[] = {"ls", "/proc/self/fd", NULL};
    const char *const cwd[] = {"pwd", NULL};
    const char *const sigs[] = {"/bin/sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status", NULL};
    g_autoptr(VdSpawnResult) res = NULL;
    g_autoptr(VdSpawnResult) where = NULL;
    g_autoptr(VdSpawnResult) masks = NULL;
    int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
    sigset_t pipe_set, old;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(dup2(fd, 57), ==, 57);
    res = run(argv, NULL);
    /* 0-2 and the directory ls itself opened */
    g_assert_cmpstr(res->out, ==, "0\n1\n2\n3\n");
    close(57);
    close(fd);

    where = run(cwd, NULL);
    g_assert_cmpstr(where->out, ==, "/\n");

    /* The child starts with nothing blocked or ignored, whatever we had. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    signal(SIGUSR2, SIG_IGN);
    masks = run(sigs, NULL);
    signal(SIGUSR2, SIG_DFL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* Signals 1-31 are at their defaults; glibc's posix_spawn leaves its
     * two internal real-time signals (32, 33) ignored, which it reserves. */
    g_assert_true(g_str_has_prefix(masks->out, "SigBlk:\t0000000000000000\nSigIgn:\t"));
    g_assert_cmpuint(
        g_ascii_strtoull(masks->out + strlen("SigBlk:\t0000000000000000\nSigIgn:\t"), NULL, 16) &
            0x7fffffffu,
        ==, 0);
}

static void
testStdin(void)
{
    const char *const cat[] = {"cat", NULL};
    const char *const wc[] = {"wc", "-c", NULL};
    const char *const ignore[] = {"true", NULL};
    const char *const nullin[] = {"cat", NULL};
    gsize big = 4 * 1024 * 1024;
    g_autofree char *data = g_malloc0(big);
    VdSpawnOptions o1 = {.stdin_data = "hello\nworld", .stdin_len = 11};
    VdSpawnOptions o2 = {.stdin_data = data, .stdin_len = big};
    VdSpawnOptions o3 = {.stdin_data = data, .stdin_len = big};
    VdSpawnOptions o4 = {.stdin_data = "", .stdin_len = 0};
    g_autoptr(VdSpawnResult) r1 = run(cat, &o1);
    g_autoptr(VdSpawnResult) r2 = run(wc, &o2);
    g_autoptr(VdSpawnResult) r3 = run(ignore, &o3); /* never reads: EPIPE, no SIGPIPE */
    g_autoptr(VdSpawnResult) r4 = run(cat, &o4);
    g_autoptr(VdSpawnResult) r5 = run(nullin, NULL);

    g_assert_cmpstr(r1->out, ==, "hello\nworld");
    g_assert_cmpstr(g_strstrip(r2->out), ==, "4194304");
    g_assert_cmpint(r3->exit_status, ==, 0);
    g_assert_cmpint(r4->out_len, ==, 0);
    g_assert_cmpint(r5->out_len, ==, 0);
    g_assert_cmpint(r5->exit_status, ==, 0);
}

static void
testOutputLimits(void)
{
    const char *const argv[] = {
        "/bin/sh", "-c",
        "head -c 3000000 /dev/zero; head -c 500000 /dev/zero >&2; echo -n tail >&2", NULL};
    const char *const small[] = {"/bin/sh", "-c", "printf 'out'; printf 'err' >&2", NULL};
    VdSpawnOptions opts = {.stdout_limit = 1000, .stderr_limit = 600000};
    g_autoptr(VdSpawnResult) res = run(argv, &opts);
    g_autoptr(VdSpawnResult) both = run(small, NULL);

    g_assert_cmpint(res->exit_status, ==, 0); /* the child never blocked on a full pipe */
    g_assert_cmpint(res->out_len, ==, 1000);
    g_assert_true(res->out_truncated);
    g_assert_cmpint(res->err_len, ==, 500004);
    g_assert_false(res->err_truncated);
    g_assert_cmpstr(res->err + 500000, ==, "tail");
    g_assert_cmpstr(both->out, ==, "out");
    g_assert_cmpstr(both->err, ==, "err");
    g_assert_false(both->out_truncated);
}

static void
testTimeoutKillsGroup(void)
{
    const char *const sleeper[] = {"sleep", "100", NULL};
    /* a child and two grandchildren, all in the child's process group */
    const char *const family[] = {"/bin/sh", "-c", "sleep 100 & sleep 100 & echo started; wait",
                                  NULL};
    /* ignores SIGTERM, so only SIGKILL after the grace period ends it */
    const char *const stubborn[] = {"/bin/sh", "-c",
                                    "trap '' TERM; sleep 100 & echo started; wait; wait", NULL};
    VdSpawnOptions opts = {.timeout_ms = 300, .kill_grace_ms = 300};
    g_autoptr(VdSpawnResult) r1 = run(sleeper, &opts);
    g_autoptr(VdSpawnResult) r2 = run(family, &opts);
    g_autoptr(VdSpawnResult) r3 = run(stubborn, &opts);
    g_autofree char *d1 = vdSpawnResultDescribe(r1);

    g_assert_true(r1->timed_out);
    g_assert_cmpint(r1->term_signal, ==, SIGTERM);
    g_assert_cmpstr(d1, ==, "killed by signal 15 (timed out)");
    g_assert_cmpint(r1->duration_us, >=, 300 * 1000);
    g_assert_cmpint(r1->duration_us, <, 2 * G_USEC_PER_SEC);
    g_assert_false(vdSpawnResultSucceeded(r1));

    g_assert_true(r2->timed_out);
    g_assert_cmpstr(r2->out, ==, "started\n");
    g_assert_cmpint(groupLeft(r2->pid), ==, 0);

    g_assert_true(r3->timed_out);
    g_assert_cmpint(r3->term_signal, ==, SIGKILL);
    g_assert_cmpstr(r3->out, ==, "started\n");
    g_assert_cmpint(r3->duration_us, >=, 600 * 1000);
    g_assert_cmpint(groupLeft(r3->pid), ==, 0);
}

/* The child exits at once but a grandchild keeps stdout open: we wait for
 * EOF until the deadline, then kill the group; the child is not "timed out". */
static void
testLingeringGrandchild(void)
{
    const char *const argv[] = {"/bin/sh", "-c", "sleep 100 & exit 4", NULL};
    const char *const daemon[] = {"/bin/sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $!", NULL};
    VdSpawnOptions opts = {.timeout_ms = 300, .kill_grace_ms = 300};
    VdSpawnOptions slow = {.timeout_ms = 30 * 1000};
    g_autoptr(VdSpawnResult) res = run(argv, &opts);
    g_autoptr(VdSpawnResult) d = NULL;
    long bg;

    g_assert_false(res->timed_out);
    g_assert_cmpint(res->exit_status, ==, 4);
    g_assert_cmpint(groupLeft(res->pid), ==, 0);

    /* A background process that let go of our pipes is left running, and
     * we do not wait for it. */
    d = run(daemon, &slow);
    g_assert_cmpint(d->exit_status, ==, 0);
    g_assert_cmpint(d->duration_us, <, 5 * G_USEC_PER_SEC);
    bg = strtol(d->out, NULL, 10);
    g_assert_cmpint(bg, >, 0);
    g_assert_cmpint(kill(bg, 0), ==, 0);
    kill(bg, SIGKILL);
}

static void
testNoZombies(void)
{
    const char *const quick[] = {"true", NULL};
    const char *const slow[] = {"sleep", "100", NULL};
    VdSpawnOptions opts = {.timeout_ms = 100, .kill_grace_ms = 100};
    guint children, zombies;

    for (int i = 0; i < 50; i++) {
        g_autoptr(VdSpawnResult) res = run(quick, NULL);
    }
    for (int i = 0; i < 3; i++) {
        g_autoptr(VdSpawnResult) res = run(slow, &opts);
    }
    countChildren(&children, &zombies);
    g_assert_cmpuint(children, ==, 0);
    g_assert_cmpuint(zombies, ==, 0);
}

static gpointer
spawnThread(gpointer data)
{
    const char *const argv[] = {"/bin/sh", "-c", "echo $N", NULL};
    const char *const env[] = {data, NULL};
    VdSpawnOptions opts = {.env = env};
    VdSpawnResult *res = run(argv, &opts);
    char *out = g_strdup(g_strstrip(res->out));

    vdSpawnResultFree(res);
    return out;
}

static void
testThreads(void)
{
    GThread *threads[8];
    char *envs[8];

    for (int i = 0; i < 8; i++) {
        envs[i] = g_strdup_printf("N=%d", i);
        threads[i] = g_thread_new("spawn", spawnThread, envs[i]);
    }
    for (int i = 0; i < 8; i++) {
        g_autofree char *out = g_thread_join(threads[i]);
        g_autofree char *want = g_strdup_printf("%d", i);

        g_assert_cmpstr(out, ==, want);
        g_free(envs[i]);
    }
}

static void
testRefusedOnMainLoop(void)
{
    const char *const argv[] = {"true", NULL};
    g_autoptr(GError) error = NULL;
    VdSpawnResult *res = NULL;

    g_assert_true(g_main_context_acquire(g_main_context_default()));
    g_assert_cmpint(vdSpawnRun(argv, NULL, &res, &error), ==, -1);
    g_main_context_release(g_main_context_default());
    g_assert_error(error, VD_ERROR, VD_ERR_INTERNAL);
    g_assert_null(res);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/spawn/exit-codes", testExitCodes);
    g_test_add_func("/spawn/not-found", testNotFound);
    g_test_add_func("/spawn/clean-env", testCleanEnv);
    g_test_add_func("/spawn/fds-closed", testFdsClosed);
    g_test_add_func("/spawn/stdin", testStdin);
    g_test_add_func("/spawn/output-limits", testOutputLimits);
    g_test_add_func("/spawn/timeout-kills-group", testTimeoutKillsGroup);
    g_test_add_func("/spawn/lingering-grandchild", testLingeringGrandchild);
    g_test_add_func("/spawn/no-zombies", testNoZombies);
    g_test_add_func("/spawn/threads", testThreads);
    g_test_add_func("/spawn/refused-on-main-loop", testRefusedOnMainLoop);
    return g_test_run();
}
