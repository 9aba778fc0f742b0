/* vm-sampling.h - periodic bulk VM statistics that no stuck VM can block
 * (VDSM's VMBulkstatsMonitor + StatsCache, vdsm-facts §4.3).
 *
 * DESIGN: threads and data.
 *   - The clock: a sampler thread that finished its job, when no other
 *     holds the clock, waits until the next tick is due (every [vars]
 *     vm_sample_interval), re-evaluates monitorResponse (publishing
 *     VM_status events for changes) and runs the tick unless the previous
 *     one is still running, arming the tick's deadline.  It gives the clock
 *     up as the tick starts; the next thread to finish a job takes it.  A
 *     watchdog timerfd on the main loop starts a tick that no thread
 *     started within half an interval of its time (all busy).  One more
 *     timerfd on the main loop holds the deadlines of all ticks with calls
 *     in libvirt; the last returning call of a tick disarms it.  So the
 *     main loop wakes for the sampler only when something is late, and it
 *     never calls libvirt.
 *   - The sampler threads (src/util/workers.c: at most
 *     VD_VM_SAMPLING_MAX_THREADS, independent of the number of VMs, asleep
 *     between jobs) run the tick and the bulk calls; the tick's thread
 *     runs one of its calls itself once the tick is over.  The tick lists
 *     the active domains, splits the ones worth asking into at most
 *     [sampling] max_concurrent_calls groups and runs one
 *     virDomainListGetStats (NOWAIT) per group, concurrently, on the one
 *     shared connection.  BLOCK stats are asked for every
 *     [sampling] block_sample_interval only (and at once for a new VM);
 *     with 16 or more VMs each tick asks them of a share of the VMs (by
 *     their place in the listing), in calls of their own sized by weight,
 *     so that every tick costs about the same.
 *   - A call still running after [sampling] stats_call_timeout (on a host
 *     where calls took longer lately: twice its time at their pace, at
 *     most half vm_command_timeout) is "late": its domains are checked
 *     with virDomainGetControlInfo, and when one is stuck, the call is
 *     "stuck"; a domain whose
 *     QEMU monitor has been busy that long is unresponsive (monitorResponse
 *     "-1", skipped for [sampling] unresponsive_ttl seconds, then checked
 *     again), the others are sampled again at once by a new call.  The
 *     stuck call keeps its thread until libvirt returns; it never stacks:
 *     the domain it waits on is not asked again while it is busy.
 *   - The cache: per VM (keyed by UUID) the two newest samples, the two
 *     newest samples with block stats, the device info from the domain
 *     XML, the last-seen time and the unresponsive state, all under one
 *     mutex that is only held for pointer swaps and short reads.  Each
 *     sample's timestamp is taken before its call; a sample older than the
 *     newest stored one for that VM (a call that was stuck) is dropped.
 *     A VM that is no longer active in libvirt leaves the cache at the
 *     next tick; results for a VM not in the cache are dropped.
 *   - Readers (getStats on rpc workers or the main loop, /metrics on the
 *     main loop) compute from the cache under the mutex and never call
 *     libvirt.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "vm-stats.h"

/* Sampler threads at most: the tick, max_concurrent_calls calls, and
 * calls stuck on unresponsive QEMUs. */
#define VD_VM_SAMPLING_MAX_THREADS 12

/* Read and check the configuration (main thread, before vdsmd binds its
 * port, so that a bad value stops it before any client connects).  -1
 * with @error for invalid configuration. */
int vdVmSamplingConfigure(GError **error);
/* Start sampling (main thread, once the main context exists and the VM
 * layer is started); configures first.  -1 with @error for invalid
 * configuration. */
int vdVmSamplingStart(GError **error);
/* Stop the timer and the pool (main thread, at exit, before the VM layer
 * closes the libvirt connection).  Calls stuck in libvirt are abandoned. */
void vdVmSamplingStop(void);

/* Any thread, no libvirt call: add the sample-derived VmStats members of
 * VM @id to @stats (nothing when the VM has no sample yet). */
void vdVmSamplingAddStats(const char *id, json_object *stats);
/* Any thread: FALSE when VM @id is unresponsive (monitorResponse "-1"):
 * its newest stats are older than [vars] vm_command_timeout, or a stats
 * call (or another libvirt call, vdVmSamplingNoteTimeout) on it timed out
 * and it has not answered since.  TRUE for a VM the
 * sampler does not know. */
gboolean vdVmSamplingResponsive(const char *id);
/* Any thread, no libvirt call: a libvirt call of the VM layer on VM @id
 * failed with VIR_ERR_OPERATION_TIMEOUT (its QEMU or its job is stuck):
 * monitorResponse becomes "-1" (with a status event) until the VM's next
 * sample shows it answering again. */
void vdVmSamplingNoteTimeout(const char *id);
/* Any thread, no libvirt call: a domain started or stopped (a lifecycle
 * event); the next tick lists the active domains again instead of reusing
 * the last listing. */
void vdVmSamplingDomainsChanged(void);
/* Any thread: the domain XML of VM @id changed (device hot-plug, balloon
 * target): read it again at the next tick. */
void vdVmSamplingInvalidate(const char *id);

/* What the metrics exporter reads: references, released with
 * vdVmSamplingSnapFree. */
typedef struct {
    char *id;
    char *name;
    VdVmSample *first, *last;   /* two newest samples (either may be NULL) */
    VdVmSample *bfirst, *blast; /* two newest with block stats */
    VdVmDiskSizes *sizes;       /* the disks' images, or NULL (not known yet) */
    gboolean responsive;
    gint64 last_seen_us;        /* monotonic time of the newest sample, or first seen */
} VdVmSamplingSnap;

void vdVmSamplingSnapFree(VdVmSamplingSnap *snap);
/* Any thread: the snapshot of VM @id, or NULL when not sampled. */
VdVmSamplingSnap *vdVmSamplingSnapGet(const char *id);

/* Figures about the sampler itself (metrics, tests, benchmarks). */
typedef struct {
    guint64 ticks;              /* ticks that ran */
    guint64 ticks_skipped;      /* ticks not started: the previous one still ran */
    guint64 ticks_late;         /* ticks no sampler thread started: the watchdog did */
    guint64 calls;              /* bulk calls made */
    guint64 calls_stuck;        /* late calls on a QEMU that does not answer */
    guint64 calls_slow;         /* late calls with every QEMU answering */
    guint64 connections;        /* sample and control connections opened */
    guint64 monitor_checks;     /* domains' monitor states asked (one libvirt call each) */
    guint64 samples_dropped;    /* stale samples dropped */
    guint64 vm_samples;         /* VM samples stored (a full sample of N VMs stores N) */
    guint calls_outstanding;    /* calls in libvirt right now */
    guint sizers;               /* sampler threads in stat() of disk images right now */
    guint64 sizings_skipped;    /* VMs whose disk sizes were not refreshed: threads busy in stat() */
    guint vms;                  /* VMs in the cache */
    guint unresponsive;         /* VMs reported unresponsive right now */
    gint64 last_tick_us;        /* wall time of the last complete tick */
    gint64 tick_us_total;       /* wall time of all ticks */
    guint64 block_ticks;        /* ticks that asked every VM for block stats */
    gint64 block_tick_us_total; /* wall time of those */
    guint64 block_vm_samples;   /* VMs asked for block stats, summed over ticks */
    gint64 cpu_us_total;        /* CPU time of the sampler's jobs and timer */
    gint64 list_us_total;       /* wall time of the ticks' domain listing */
    guint64 listings;           /* ticks that listed the domains (the others reused a list) */
    gint64 last_tick_end_mono;  /* monotonic end of the last tick, 0 before */
    gsize cache_bytes;          /* bytes held by samples and device info */
} VdVmSamplingFigures;

void vdVmSamplingGetFigures(VdVmSamplingFigures *out);

/* How long a bulk stats call of @n domains may run before its domains are
 * checked: @call_timeout_us ([sampling] stats_call_timeout), or where
 * calls took longer lately (@per_dom_us: their wall time per domain, 0
 * when none returned yet) twice what this one should take at that pace,
 * at most half @cmd_timeout_us ([vars] vm_command_timeout): on a loaded
 * host a slow call is not looked at, domain by domain, for nothing.
 * Exported for the unit tests. */
gint64 vdVmSamplingPatience(guint n, gint64 per_dom_us, gint64 call_timeout_us,
                            gint64 cmd_timeout_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdVmSamplingSnap, vdVmSamplingSnapFree)
