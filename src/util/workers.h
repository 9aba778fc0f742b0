/* workers.h - a set of worker threads that wait for jobs without waking.
 *
 * DESIGN: jobs are pushed on one GAsyncQueue; a thread is started when a
 * job is pushed while no thread waits, up to @max_threads.  An idle thread
 * blocks on the queue until a job comes or @idle_exit_s seconds pass, then
 * it ends; so a set that is busy every few seconds keeps its threads
 * asleep between jobs, and one that goes quiet gives them back.
 *
 * Why not GThreadPool: a non-exclusive GThreadPool thread waits only half
 * a second for its pool's next job, then wakes to move to GLib's global
 * pool of unused threads, and the next push wakes it from there through a
 * second queue: with jobs every few seconds that is an extra wake-up per
 * job (measured on the VM sampler: docs/benchmarks-stats.md).  An
 * exclusive GThreadPool starts all its threads at once and keeps them.
 *
 * Freeing the set drops the jobs still queued and does not wait for the
 * running ones (a job stuck in libvirt may never return); each thread
 * ends after its job.  The set's memory goes with its last thread.
 */
#pragma once

#include <glib.h>

typedef struct _VdWorkers VdWorkers;

/* @func(job, @user_data) runs each job on one of at most @max_threads
 * threads named @name; @drop frees a job that is never run (may be NULL).
 * An idle thread ends after @idle_exit_s seconds (0: never). */
VdWorkers *vdWorkersNew(const char *name, GFunc func, gpointer user_data, guint max_threads,
                        guint idle_exit_s, GDestroyNotify drop);

/* Queue @job (not NULL); from any thread.  It runs at once on a waiting
 * or new thread, or when a thread is free if @max_threads are busy.
 * After vdWorkersFree it is dropped. */
void vdWorkersPush(VdWorkers *w, gpointer job);

/* Threads running now (busy or waiting). */
guint vdWorkersThreads(VdWorkers *w);

/* Jobs queued that no thread has taken yet (all @max_threads busy). */
guint vdWorkersQueued(VdWorkers *w);

/* Stop: queued jobs are dropped, waiting threads end, busy ones end after
 * their job.  Does not wait.  @w must not be used afterwards. */
void vdWorkersFree(VdWorkers *w);
