/* host-topology.h - CPU and NUMA topology of the host, read from sysfs.
 *
 * DESIGN: vdHostTopologyRead walks <root>/devices/system/{cpu,node} (root
 * is "/sys" in the daemon, a fixture tree in tests) and returns an
 * immutable snapshot.  vdHostTopologyGet caches the "/sys" snapshot for the
 * life of the process (VDSM caches it too; CPU hot-plug is not followed);
 * it is safe from any thread and the snapshot is never freed while the
 * daemon runs.
 */
#pragma once

#include <glib.h>

typedef struct {
    int cpu_id;
    int numa_cell_id;
    int socket_id;
    int die_id;
    int core_id;
} VdHostCpu;

typedef struct {
    guint64 size_kib; /* page size */
    guint64 total;    /* pages of that size on the node */
} VdHostNodePages;

typedef struct {
    int id;
    GArray *cpus;      /* int, sorted */
    gint64 total_kib;  /* MemTotal of the node, -1 when unknown */
    GArray *distances; /* int, one per node in id order */
    GArray *pages;     /* VdHostNodePages: 4 KiB pages first, then huge pages */
} VdHostNumaNode;

typedef struct {
    GArray *online;   /* int, sorted */
    GArray *cpus;     /* VdHostCpu of the online CPUs, by cpu_id */
    GPtrArray *nodes; /* VdHostNumaNode *, by id; never empty */
    int sockets;      /* distinct physical packages */
    int cores;        /* distinct thread-sibling sets (VDSM's cpuCores) */
    int threads;      /* online CPUs */
} VdHostTopology;

/* Never NULL: missing files give a one-node topology of the CPUs the
 * process can count (g_get_num_processors). */
VdHostTopology *vdHostTopologyRead(const char *sysfs_root);
void vdHostTopologyFree(VdHostTopology *topo);

/* The cached topology of this host (read from /sys on first use). */
const VdHostTopology *vdHostTopologyGet(void);

/* NUMA node of @cpu, 0 when unknown. */
int vdHostTopologyNodeOfCpu(const VdHostTopology *topo, int cpu);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdHostTopology, vdHostTopologyFree)
