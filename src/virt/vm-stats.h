/* vm-stats.h - one VM's bulk-stats sample and VDSM's getStats fields made
 * from a pair of them.
 *
 * DESIGN: pure data and pure functions, no I/O, no globals.  A VdVmSample
 * is what one libvirt bulk-stats record (virConnectGetAllDomainStats /
 * virDomainListGetStats) holds, parsed once into plain C fields on the
 * sampler worker that made the call; it is immutable and reference-counted
 * afterwards, so readers on any thread may hold it.  VdVmDevInfo is what
 * the stats need from the domain XML (NIC MAC and model, cputune, balloon
 * device), parsed once per domain run.  vdVmStatsAdd turns the two newest
 * samples (and the two newest samples that carry block stats) into VDSM's
 * VmStats members, as strings where VDSM sends strings (vdsm-facts §3.5;
 * VDSM's vmstats.produce + translate).
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

/* Most NICs and disks one sample keeps per VM (libvirt reports each as
 * net.N.* / block.N.*; more are ignored). */
#define VD_VM_SAMPLE_MAX_DEVICES 64

/* Which parts a sample holds (VdVmSample.have). */
enum {
    VD_VM_HAVE_STATE = 1 << 0,
    VD_VM_HAVE_CPU = 1 << 1,       /* cpu.time, cpu.user, cpu.system */
    VD_VM_HAVE_BALLOON = 1 << 2,   /* balloon.current, balloon.maximum */
    VD_VM_HAVE_GUESTMEM = 1 << 3,  /* balloon.available/unused/... (guest stats) */
    VD_VM_HAVE_VCPU = 1 << 4,      /* vcpu.current */
    VD_VM_HAVE_NET = 1 << 5,       /* the INTERFACE group was asked for */
    VD_VM_HAVE_BLOCK = 1 << 6,     /* the BLOCK group was asked for */
};

typedef struct {
    char *name; /* host-side device (tap), "vnet3" */
    guint64 rx_bytes, rx_pkts, rx_errs, rx_drop;
    guint64 tx_bytes, tx_pkts, tx_errs, tx_drop;
} VdVmNicSample;

typedef struct {
    char *name; /* target, "vda" */
    char *path; /* source, or NULL (an empty CD-ROM) */
    guint64 rd_reqs, rd_bytes, rd_times;
    guint64 wr_reqs, wr_bytes, wr_times;
    guint64 fl_reqs, fl_times;
    guint64 allocation, capacity, physical;
} VdVmDiskSample;

typedef struct {
    gint64 mono_us; /* g_get_monotonic_time() taken BEFORE the libvirt call */
    guint have;     /* VD_VM_HAVE_* */
    int state, reason;
    guint64 cpu_time, cpu_user, cpu_system; /* ns */
    guint64 balloon_current, balloon_maximum; /* KiB */
    guint64 swap_in, swap_out, major_fault, minor_fault; /* KiB, counts */
    guint64 mem_unused, mem_available, mem_usable, mem_rss, mem_disk_caches; /* KiB */
    gint64 vcpu_current, vcpu_maximum;
    guint n_nics;
    VdVmNicSample *nics;
    guint n_disks;
    VdVmDiskSample *disks;
    /* A hash of the NIC names in their order (never 0): equal signatures,
     * the same NICs, without touching the names. */
    guint64 nic_sig;
} VdVmSample;

/* Parse one bulk-stats record's parameters into one block (the sample,
 * its device arrays and their names: one allocation).  Never fails:
 * unknown or malformed parameters are skipped.  @groups are the VIR_DOMAIN_STATS_*
 * groups that were asked for (they set VD_VM_HAVE_NET/BLOCK even when a
 * VM has no NIC or disk). */
VdVmSample *vdVmSampleParse(const virTypedParameter *params, int nparams, unsigned int groups,
                            gint64 mono_us);
VdVmSample *vdVmSampleRef(VdVmSample *sample);
void vdVmSampleUnref(VdVmSample *sample);
/* Bytes the sample holds (for the memory figures in the docs). */
gsize vdVmSampleSize(const VdVmSample *sample);

const VdVmNicSample *vdVmSampleNic(const VdVmSample *sample, const char *name);
const VdVmDiskSample *vdVmSampleDisk(const VdVmSample *sample, const char *name);

/* ---- the disks' images on the host ----------------------------------- */

/* VDSM's volume truesize and apparentsize of one disk, from stat() of its
 * image; -1 when unknown (getStats then reports libvirt's allocation and
 * physical size). */
typedef struct {
    char *name; /* target, "vda" */
    gint64 truesize, apparentsize;
} VdVmDiskSize;

/* The sizes of one VM's disks at one time: immutable and
 * reference-counted, like a sample, in one block. */
typedef struct {
    guint n;
    VdVmDiskSize *disks;
} VdVmDiskSizes;

/* stat() of the image of each disk of @sample (a regular file: its size
 * and allocated blocks; a block device: libvirt's physical size).  It may
 * block for as long as the storage does (an unreachable NFS server): call
 * it where a hang holds nothing else.  NULL when @sample has no disk. */
VdVmDiskSizes *vdVmDiskSizesStat(const VdVmSample *sample);
VdVmDiskSizes *vdVmDiskSizesRef(VdVmDiskSizes *sizes);
void vdVmDiskSizesUnref(VdVmDiskSizes *sizes);
gsize vdVmDiskSizesSize(const VdVmDiskSizes *sizes);
/* The disk named @name, or NULL (either may be NULL). */
const VdVmDiskSize *vdVmDiskSizesFind(const VdVmDiskSizes *sizes, const char *name);
/* The truesize and apparentsize to report for disk @d: stat()'s from
 * @sizes (may be NULL) when known, else libvirt's allocation and physical
 * size from the sample. */
void vdVmDiskSizesOf(const VdVmDiskSizes *sizes, const VdVmDiskSample *d, gint64 *truesize,
                     gint64 *apparentsize);

/* ---- what the stats need from the domain XML ----------------------- */

typedef struct {
    char *name;  /* host-side device ("vnet3", <target dev>), or NULL before start */
    char *mac;   /* <mac address> */
    char *model; /* <model type>, "" when absent */
} VdVmNicInfo;

typedef struct {
    int dom_id;         /* libvirt runtime id of the run this was read from */
    GPtrArray *nics;    /* VdVmNicInfo* */
    gint64 vcpu_quota;  /* <cputune><quota>, 0 when none */
    gint64 vcpu_period; /* <cputune><period>, 0 when none */
    gboolean balloon;   /* <memballoon model> present and not "none" */
    gint64 memory_kib;  /* <memory> */
    gint64 current_memory_kib; /* <currentMemory>: the balloon target */
    gint64 min_guaranteed_mib; /* ovirt-vm:minGuaranteedMemoryMb, 0 when none */
} VdVmDevInfo;

/* NULL with @error when @xml is not a domain XML. */
VdVmDevInfo *vdVmDevInfoParse(const char *xml, GError **error);
void vdVmDevInfoFree(VdVmDevInfo *info);
gsize vdVmDevInfoSize(const VdVmDevInfo *info);

/* ---- VDSM's VmStats fields ----------------------------------------- */

/* Add to @stats, from the two newest samples @first/@last (either may be
 * NULL: rates are then zero, as VDSM reports them before its second
 * sample) and the two newest samples with block stats @bfirst/@blast:
 * cpuUser, cpuSys, cpuUsage, cpuActual, vcpuCount, vcpuQuota, vcpuPeriod,
 * memUsage, memoryStats, balloonInfo, network, disks.  @dev may be NULL
 * (no MAC, balloon and cputune data yet), and so may @sizes (the disks'
 * truesize and apparentsize are then libvirt's allocation and physical). */
void vdVmStatsAdd(json_object *stats, const VdVmSample *first, const VdVmSample *last,
                  const VdVmSample *bfirst, const VdVmSample *blast, const VdVmDevInfo *dev,
                  const VdVmDiskSizes *sizes);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdVmSample, vdVmSampleUnref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdVmDiskSizes, vdVmDiskSizesUnref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdVmDevInfo, vdVmDevInfoFree)
