/* host-sampler.h - periodic host samples (/proc/stat, meminfo, NIC
 * counters, ...) kept in a 2-slot window, as VDSM's HostMonitor does, so
 * Host.getStats can report rates over the last interval.
 *
 * DESIGN: a GLib timeout on the main context fires every [vars]
 * host_sample_stats_interval seconds; it never reads files itself but
 * hands vdHostSampleTake() to a GTask worker thread, and the completion
 * (back on the main context) stores the sample under a GMutex.  A tick
 * that finds the previous sample still running is skipped.  Samples are
 * immutable and reference-counted: readers (rpc workers) take references
 * under the mutex and compute outside it.
 */
#pragma once

#include <glib.h>

#include "host-proc.h"

/* Paths whose free space getStats reports (diskStats), by their VDSM key;
 * the "/var/run/vdsm/" key is measured on [vars] run_dir. */
#define VD_HOST_DISK_PATHS 3

typedef struct {
    char *name;
    guint64 rx, tx, rx_dropped, tx_dropped, rx_errors, tx_errors;
    gint64 speed; /* Mbps, 0 when unknown */
    char *state;  /* operstate: "up", "down", "unknown", ... */
} VdHostNicSample;

typedef struct {
    guint64 size_kib;
    gint64 free_hugepages, nr_hugepages, nr_hugepages_mempolicy, nr_overcommit_hugepages,
        resv_hugepages, surplus_hugepages;
} VdHostHugepageSample;

typedef struct {
    int node;
    gint64 total_kib;
    gint64 free_kib;
} VdHostNodeMemSample;

typedef struct {
    gint64 mono_us;  /* g_get_monotonic_time() when taking started */
    double wall;     /* the same instant, seconds since the epoch */
    VdProcStat stat; /* CPU totals, per core, btime */
    int ncpus;       /* online CPUs */
    gboolean pid_valid;
    VdPidStat pid; /* this process */
    gboolean ksmd_valid;
    guint64 ksmd_ticks;  /* utime + stime of ksmd */
    gint64 mem_used_pct; /* VDSM's memUsed */
    gint64 anon_huge_mib;
    char *cpu_load; /* 5-minute load average text */
    char *thp_state;
    gint64 disk_free_mib[VD_HOST_DISK_PATHS];
    GArray *hugepages; /* VdHostHugepageSample */
    GArray *node_mem;  /* VdHostNodeMemSample */
    GPtrArray *nics;   /* VdHostNicSample * */
} VdHostSample;

/* The VDSM key of diskStats slot @i. */
const char *vdHostDiskKey(guint i);

/* Read everything a sample holds (file reads only; any thread but the
 * main loop).  Never NULL: unreadable parts stay at zero. */
VdHostSample *vdHostSampleTake(void);
VdHostSample *vdHostSampleRef(VdHostSample *sample);
void vdHostSampleUnref(VdHostSample *sample);
/* An empty sample for tests to fill by hand. */
VdHostSample *vdHostSampleNew(void);
void vdHostNicSampleFree(VdHostNicSample *nic);

/* Check the interval (main thread, before vdsmd binds its port).  -1
 * with @error when invalid. */
int vdHostSamplerConfigure(GError **error);
/* Start sampling on the thread-default main context of the caller (call
 * from main once the context exists).  Takes the first sample
 * synchronously so the window is never empty.  Returns -1 with @error for
 * an invalid interval. */
int vdHostSamplerStart(GError **error);
void vdHostSamplerStop(void);

/* References to the older and the newer sample of the window; either is
 * NULL when missing (both before start). */
void vdHostSamplerWindow(VdHostSample **first, VdHostSample **last);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdHostSample, vdHostSampleUnref)
