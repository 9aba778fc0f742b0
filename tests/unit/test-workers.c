/* test-workers.c - the worker threads of src/util/workers.c: jobs run on
 * at most max_threads threads, an idle thread sleeps until the next job
 * (no wake-up in between) and ends after its idle time, freeing drops the
 * queued jobs without waiting for a busy one. */
#include "workers.h"

#include <string.h>

typedef struct {
    GMutex lock;
    GCond cond;
    guint running, max_running, done, dropped;
    gboolean release; /* blocking jobs wait for it */
} Tally;

static Tally tally;

static void
tallyReset(void)
{
    g_mutex_lock(&tally.lock);
    tally.running = tally.max_running = tally.done = tally.dropped = 0;
    tally.release = FALSE;
    g_mutex_unlock(&tally.lock);
}

/* A job: GINT_TO_POINTER(1) returns at once, 2 waits for tally.release. */
static void
jobRun(gpointer job, gpointer user_data)
{
    (void)user_data;
    g_mutex_lock(&tally.lock);
    tally.running++;
    tally.max_running = MAX(tally.max_running, tally.running);
    g_cond_broadcast(&tally.cond);
    while (GPOINTER_TO_INT(job) == 2 && !tally.release)
        g_cond_wait(&tally.cond, &tally.lock);
    tally.running--;
    tally.done++;
    g_cond_broadcast(&tally.cond);
    g_mutex_unlock(&tally.lock);
}

static void
jobDrop(gpointer job)
{
    (void)job;
    g_mutex_lock(&tally.lock);
    tally.dropped++;
    g_mutex_unlock(&tally.lock);
}

/* Wait (at most 10 s) until @n jobs are done or running. */
static void
waitFor(guint *field, guint n)
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    g_mutex_lock(&tally.lock);
    while (*field < n && g_cond_wait_until(&tally.cond, &tally.lock, end))
        ;
    g_assert_cmpuint(*field, >=, n);
    g_mutex_unlock(&tally.lock);
}

static void
releaseAll(void)
{
    g_mutex_lock(&tally.lock);
    tally.release = TRUE;
    g_cond_broadcast(&tally.cond);
    g_mutex_unlock(&tally.lock);
}

/* Sum of the voluntary context switches of this process's threads named
 * @name, and how many there are. */
static guint64
switchesOf(const char *name, guint *threads)
{
    g_autoptr(GDir) dir = g_dir_open("/proc/self/task", 0, NULL);
    const char *tid;
    guint64 sum = 0;

    *threads = 0;
    g_assert_nonnull(dir);
    while ((tid = g_dir_read_name(dir))) {
        g_autofree char *comm_path = g_strdup_printf("/proc/self/task/%s/comm", tid);
        g_autofree char *status_path = g_strdup_printf("/proc/self/task/%s/status", tid);
        g_autofree char *comm = NULL, *status = NULL;
        const char *v;

        if (!g_file_get_contents(comm_path, &comm, NULL, NULL) ||
            strcmp(g_strstrip(comm), name) != 0 ||
            !g_file_get_contents(status_path, &status, NULL, NULL))
            continue;
        (*threads)++;
        if ((v = strstr(status, "\nvoluntary_ctxt_switches:")))
            sum += g_ascii_strtoull(v + strlen("\nvoluntary_ctxt_switches:"), NULL, 10);
    }
    return sum;
}

static void
testMaxThreads(void)
{
    VdWorkers *w = vdWorkersNew("t-max", jobRun, NULL, 2, 0, jobDrop);

    tallyReset();
    for (int i = 0; i < 5; i++)
        vdWorkersPush(w, GINT_TO_POINTER(2));
    waitFor(&tally.running, 2);
    g_usleep(100 * 1000);
    g_assert_cmpuint(vdWorkersThreads(w), ==, 2);
    g_mutex_lock(&tally.lock);
    g_assert_cmpuint(tally.running, ==, 2);
    g_mutex_unlock(&tally.lock);
    releaseAll();
    waitFor(&tally.done, 5);
    g_assert_cmpuint(tally.max_running, ==, 2);
    vdWorkersFree(w);
}

static void
testReuseWithoutWaking(void)
{
    VdWorkers *w = vdWorkersNew("t-reuse", jobRun, NULL, 4, 0, jobDrop);
    guint threads;
    guint64 before, after;

    tallyReset();
    for (guint i = 1; i <= 3; i++) {
        vdWorkersPush(w, GINT_TO_POINTER(1));
        waitFor(&tally.done, i);
        g_usleep(20 * 1000); /* the thread waits again */
    }
    /* one thread did all three: a waiting thread takes the next job */
    g_assert_cmpuint(vdWorkersThreads(w), ==, 1);
    before = switchesOf("t-reuse", &threads);
    g_assert_cmpuint(threads, ==, 1);
    g_usleep(1500 * 1000); /* GThreadPool's threads wake after 0.5 s */
    after = switchesOf("t-reuse", &threads);
    g_assert_cmpuint(threads, ==, 1);
    g_assert_cmpuint(after, ==, before);
    vdWorkersFree(w);
}

static void
testIdleExit(void)
{
    VdWorkers *w = vdWorkersNew("t-idle", jobRun, NULL, 4, 1, jobDrop);
    gint64 end;

    tallyReset();
    vdWorkersPush(w, GINT_TO_POINTER(2));
    vdWorkersPush(w, GINT_TO_POINTER(2));
    waitFor(&tally.running, 2);
    g_assert_cmpuint(vdWorkersThreads(w), ==, 2);
    releaseAll();
    waitFor(&tally.done, 2);
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (vdWorkersThreads(w) > 0 && g_get_monotonic_time() < end)
        g_usleep(50 * 1000);
    g_assert_cmpuint(vdWorkersThreads(w), ==, 0);
    /* and a new job starts a new thread */
    vdWorkersPush(w, GINT_TO_POINTER(1));
    waitFor(&tally.done, 3);
    vdWorkersFree(w);
}

/* Queued counts the jobs no thread took: none while a thread waits (the
 * queue's length is then negative), the extra ones while all are busy. */
static void
testQueued(void)
{
    VdWorkers *w = vdWorkersNew("t-queued", jobRun, NULL, 1, 0, jobDrop);

    tallyReset();
    vdWorkersPush(w, GINT_TO_POINTER(1));
    waitFor(&tally.done, 1);
    g_usleep(50 * 1000); /* the thread waits for the next job */
    g_assert_cmpuint(vdWorkersQueued(w), ==, 0);
    vdWorkersPush(w, GINT_TO_POINTER(2)); /* busy */
    waitFor(&tally.running, 1);
    vdWorkersPush(w, GINT_TO_POINTER(1));
    vdWorkersPush(w, GINT_TO_POINTER(1));
    g_assert_cmpuint(vdWorkersQueued(w), ==, 2);
    releaseAll();
    waitFor(&tally.done, 4);
    g_assert_cmpuint(vdWorkersQueued(w), ==, 0);
    vdWorkersFree(w);
}

static void
testFreeDropsQueued(void)
{
    VdWorkers *w = vdWorkersNew("t-free", jobRun, NULL, 1, 0, jobDrop);

    tallyReset();
    vdWorkersPush(w, GINT_TO_POINTER(2)); /* busy */
    waitFor(&tally.running, 1);
    vdWorkersPush(w, GINT_TO_POINTER(1));
    vdWorkersPush(w, GINT_TO_POINTER(1));
    vdWorkersFree(w); /* returns while the first job still runs */
    g_mutex_lock(&tally.lock);
    g_assert_cmpuint(tally.dropped, ==, 2);
    g_assert_cmpuint(tally.running, ==, 1);
    g_mutex_unlock(&tally.lock);
    releaseAll();
    waitFor(&tally.done, 1);
    g_usleep(100 * 1000);
    g_mutex_lock(&tally.lock);
    g_assert_cmpuint(tally.done, ==, 1); /* the dropped ones never ran */
    g_mutex_unlock(&tally.lock);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/workers/max-threads", testMaxThreads);
    g_test_add_func("/workers/reuse-without-waking", testReuseWithoutWaking);
    g_test_add_func("/workers/idle-exit", testIdleExit);
    g_test_add_func("/workers/free-drops-queued", testFreeDropsQueued);
    g_test_add_func("/workers/queued", testQueued);
    return g_test_run();
}
