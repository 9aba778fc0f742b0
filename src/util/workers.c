/* workers.c - see workers.h.  Every field of VdWorkers except the
 * constants is guarded by the queue's own lock. */
#include "workers.h"

struct _VdWorkers {
    gint ref;               /* the owner's and one per thread */
    GAsyncQueue *queue;
    GFunc func;
    gpointer user_data;
    GDestroyNotify drop;
    char *name;
    guint max_threads;
    gint64 idle_us;         /* 0: wait forever */
    guint threads;          /* queue lock */
    gboolean stopping;      /* queue lock */
};

/* Woken waiting threads find this instead of a job when the set stops. */
static int vdWorkersStopMark;

static void
vdWorkersUnref(VdWorkers *w)
{
    if (!g_atomic_int_dec_and_test(&w->ref))
        return;
    g_async_queue_unref(w->queue);
    g_free(w->name);
    g_free(w);
}

static gpointer
vdWorkersThread(gpointer data)
{
    VdWorkers *w = data;

    g_async_queue_lock(w->queue);
    while (!w->stopping) {
        gpointer job = w->idle_us ? g_async_queue_timeout_pop_unlocked(w->queue, w->idle_us)
                                  : g_async_queue_pop_unlocked(w->queue);

        if (!job || job == &vdWorkersStopMark)
            break; /* idle too long, or stopping */
        g_async_queue_unlock(w->queue);
        w->func(job, w->user_data);
        g_async_queue_lock(w->queue);
    }
    w->threads--;
    g_async_queue_unlock(w->queue);
    vdWorkersUnref(w);
    return NULL;
}

VdWorkers *
vdWorkersNew(const char *name, GFunc func, gpointer user_data, guint max_threads,
             guint idle_exit_s, GDestroyNotify drop)
{
    VdWorkers *w;

    g_return_val_if_fail(func && max_threads > 0, NULL);
    w = g_new0(VdWorkers, 1);
    w->ref = 1;
    w->queue = g_async_queue_new();
    w->func = func;
    w->user_data = user_data;
    w->drop = drop;
    w->name = g_strdup(name);
    w->max_threads = max_threads;
    w->idle_us = (gint64)idle_exit_s * G_USEC_PER_SEC;
    return w;
}

void
vdWorkersPush(VdWorkers *w, gpointer job)
{
    g_return_if_fail(w && job);
    g_async_queue_lock(w->queue);
    if (w->stopping) {
        g_async_queue_unlock(w->queue);
        if (w->drop)
            w->drop(job);
        return;
    }
    /* A negative length counts the threads waiting for a job. */
    if (g_async_queue_length_unlocked(w->queue) >= 0 && w->threads < w->max_threads) {
        g_autoptr(GError) error = NULL;
        GThread *t;

        g_atomic_int_inc(&w->ref);
        t = g_thread_try_new(w->name, vdWorkersThread, w, &error);
        if (t) {
            w->threads++;
            g_thread_unref(t);
        } else {
            g_atomic_int_add(&w->ref, -1); /* the owner still holds one */
            /* The job waits for a running thread, if there is one. */
            g_warning("%s: cannot start a thread (%u running): %s", w->name, w->threads,
                      error->message);
        }
    }
    g_async_queue_push_unlocked(w->queue, job);
    g_async_queue_unlock(w->queue);
}

guint
vdWorkersThreads(VdWorkers *w)
{
    guint n;

    g_async_queue_lock(w->queue);
    n = w->threads;
    g_async_queue_unlock(w->queue);
    return n;
}

guint
vdWorkersQueued(VdWorkers *w)
{
    gint n = g_async_queue_length(w->queue); /* negative: threads waiting */

    return n > 0 ? (guint)n : 0;
}

void
vdWorkersFree(VdWorkers *w)
{
    g_autoptr(GPtrArray) dropped = g_ptr_array_new();
    gpointer job;

    if (!w)
        return;
    g_async_queue_lock(w->queue);
    w->stopping = TRUE;
    while ((job = g_async_queue_try_pop_unlocked(w->queue)))
        g_ptr_array_add(dropped, job);
    /* One mark per thread: the waiting ones take one each and end; the
     * busy ones see stopping after their job and leave theirs. */
    for (guint i = 0; i < w->threads; i++)
        g_async_queue_push_unlocked(w->queue, &vdWorkersStopMark);
    g_async_queue_unlock(w->queue);
    for (guint i = 0; w->drop && i < dropped->len; i++)
        w->drop(g_ptr_array_index(dropped, i));
    vdWorkersUnref(w);
}
