/* host-stats.h - the payload of Host.getStats (VDSM's HostStats).
 *
 * DESIGN: vdHostStatsProduce is a pure function of two samples (the rates
 * and percentages VDSM derives from its sample window); vdHostStatsGet
 * adds what VDSM reads at call time (meminfo, KSM, VM counters, clock).
 * It runs on an rpc worker: it takes references to the sampler window and
 * may read /proc, never touching main-loop state.  The VM counters come
 * from a callback the VM layer registers; it is called on the worker
 * thread, so it must be thread-safe.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "host-sampler.h"
#include "host-topology.h"

typedef struct {
    gint64 vm_count;
    gint64 vm_active;           /* status Up */
    gint64 vm_migrating;        /* incoming + outgoing */
    gint64 incoming_migrations; /* status Migration Destination */
    gint64 outgoing_migrations; /* status Migration Source */
    gint64 mem_committed_mib;   /* memory promised to VMs (memCommitted) */
    gint64 resident_mib;        /* RSS of the running QEMU processes */
} VdHostVmCounters;

/* Fill @counters (zeroed by the caller).  Called from rpc worker threads. */
typedef void (*VdHostVmCountersFunc)(VdHostVmCounters *counters);

/* Register the VM layer's counters (NULL: all zero).  Any thread. */
void vdHostStatsSetVmCounters(VdHostVmCountersFunc fn);

/* The sample-derived part of HostStats from @first to @last (@first may be
 * NULL or equal to @last: rates are then zero).  @hz is the clock-tick
 * rate (sysconf(_SC_CLK_TCK)); @topo gives each core's NUMA node. */
json_object *vdHostStatsProduce(const VdHostSample *first, const VdHostSample *last, long hz,
                                const VdHostTopology *topo);

/* The whole HostStats payload.  Never fails: unreadable sources give
 * VDSM's zero values. */
json_object *vdHostStatsGet(void);

/* Seconds since this process started (/proc/self/stat vs /proc/uptime). */
gint64 vdHostStatsElapsedTime(void);
