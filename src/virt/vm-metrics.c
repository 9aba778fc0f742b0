/* vm-metrics.c - see vm-metrics.h.  Main loop only.
 *
 * Every family is one table row: name, type, help and a getter; the text
 * is written family by family (the format wants all samples of a family
 * together), VM by VM inside each family.  Units follow Prometheus
 * conventions: seconds, bytes, *_total for counters.
 */
#include "vm-metrics.h"

#include "host-sampler.h"
#include "host-topology.h"
#include "vm-sampling.h"
#include "vm-table.h"

#include <string.h>
#include <unistd.h>

void
vdMetricsEscapeLabel(GString *out, const char *value)
{
    for (const char *p = value ? value : ""; *p; p++) {
        switch (*p) {
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        default:
            g_string_append_c(out, *p);
        }
    }
}

static void
vdMetricsFamily(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
vdMetricsValue(GString *out, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    g_string_append_c(out, ' ');
    if (v == (double)(gint64)v && v < 9e15 && v > -9e15)
        g_string_append_printf(out, "%" G_GINT64_FORMAT, (gint64)v);
    else
        g_string_append(out, g_ascii_formatd(buf, sizeof(buf), "%.9g", v));
    g_string_append_c(out, '\n');
}

/* A metric family with one unlabelled sample. */
static void
vdMetricsOne(GString *out, const char *name, const char *type, const char *help, double v)
{
    vdMetricsFamily(out, name, type, help);
    g_string_append(out, name);
    vdMetricsValue(out, v);
}

/* ---- VMs -------------------------------------------------------------------- */

typedef struct {
    VdVmSamplingSnap *snap;
    char *labels; /* vm_id="...",vm_name="..." */
    const char *status;
} VdMetricsVm;

static void
vdMetricsVmClear(gpointer data)
{
    VdMetricsVm *v = data;

    vdVmSamplingSnapFree(v->snap);
    g_free(v->labels);
}

typedef gboolean (*VdVmGetter)(const VdMetricsVm *vm, double *out);

#define VD_LAST(vm) ((vm)->snap->last)

static gboolean
vdGetResponsive(const VdMetricsVm *vm, double *out)
{
    *out = vm->snap->responsive ? 1 : 0;
    return TRUE;
}

static gboolean
vdGetAge(const VdMetricsVm *vm, double *out)
{
    if (!VD_LAST(vm))
        return FALSE;
    *out = (double)(g_get_monotonic_time() - VD_LAST(vm)->mono_us) / G_USEC_PER_SEC;
    return TRUE;
}

#define VD_GETTER(fn, bit, expr)                                                                  \
    static gboolean fn(const VdMetricsVm *vm, double *out)                                         \
    {                                                                                              \
        const VdVmSample *s = VD_LAST(vm);                                                         \
        if (!s || !(s->have & (bit)))                                                              \
            return FALSE;                                                                          \
        *out = (expr);                                                                             \
        return TRUE;                                                                               \
    }

VD_GETTER(vdGetCpuTime, VD_VM_HAVE_CPU, s->cpu_time / 1e9)
VD_GETTER(vdGetCpuUser, VD_VM_HAVE_CPU, s->cpu_user / 1e9)
VD_GETTER(vdGetCpuSystem, VD_VM_HAVE_CPU, s->cpu_system / 1e9)

static gboolean
vdGetVcpus(const VdMetricsVm *vm, double *out)
{
    const VdVmSample *s = VD_LAST(vm);

    /* the VCPU group may come at the block cadence only */
    if (!s || !(s->have & VD_VM_HAVE_VCPU))
        s = vm->snap->blast;
    if (!s || !(s->have & VD_VM_HAVE_VCPU) || s->vcpu_current < 0)
        return FALSE;
    *out = (double)s->vcpu_current;
    return TRUE;
}
VD_GETTER(vdGetState, VD_VM_HAVE_STATE, (double)s->state)
VD_GETTER(vdGetMemMax, VD_VM_HAVE_BALLOON, s->balloon_maximum * 1024.0)
VD_GETTER(vdGetMemBalloon, VD_VM_HAVE_BALLOON, s->balloon_current * 1024.0)
VD_GETTER(vdGetMemAvail, VD_VM_HAVE_GUESTMEM, s->mem_available * 1024.0)
VD_GETTER(vdGetMemUnused, VD_VM_HAVE_GUESTMEM, s->mem_unused * 1024.0)
VD_GETTER(vdGetMemUsable, VD_VM_HAVE_GUESTMEM, s->mem_usable * 1024.0)
VD_GETTER(vdGetSwapIn, VD_VM_HAVE_GUESTMEM, s->swap_in * 1024.0)
VD_GETTER(vdGetSwapOut, VD_VM_HAVE_GUESTMEM, s->swap_out * 1024.0)
VD_GETTER(vdGetMajflt, VD_VM_HAVE_GUESTMEM, (double)s->major_fault)
VD_GETTER(vdGetMinflt, VD_VM_HAVE_GUESTMEM, (double)s->minor_fault)

static gboolean
vdGetRss(const VdMetricsVm *vm, double *out)
{
    const VdVmSample *s = VD_LAST(vm);

    if (!s || !s->mem_rss)
        return FALSE;
    *out = s->mem_rss * 1024.0;
    return TRUE;
}

static const struct {
    const char *name, *type, *help;
    VdVmGetter get;
} vdVmFamilies[] = {
    { "vdsm_vm_monitor_responsive", "gauge",
      "1 when the VM answers (monitorResponse 0), 0 when it does not (-1).", vdGetResponsive },
    { "vdsm_vm_stats_age_seconds", "gauge", "Age of the VM's newest statistics sample.",
      vdGetAge },
    { "vdsm_vm_state", "gauge", "libvirt domain state (virDomainState: 1 running, 3 paused, ...).",
      vdGetState },
    { "vdsm_vm_cpu_time_seconds_total", "counter",
      "CPU time of the VM (guest and QEMU), libvirt cpu.time.", vdGetCpuTime },
    { "vdsm_vm_cpu_user_seconds_total", "counter",
      "User CPU time of the QEMU process, libvirt cpu.user.", vdGetCpuUser },
    { "vdsm_vm_cpu_system_seconds_total", "counter",
      "System CPU time of the QEMU process, libvirt cpu.system.", vdGetCpuSystem },
    { "vdsm_vm_vcpus", "gauge", "Virtual CPUs online.", vdGetVcpus },
    { "vdsm_vm_memory_maximum_bytes", "gauge", "Maximum memory of the VM.", vdGetMemMax },
    { "vdsm_vm_memory_balloon_bytes", "gauge", "Memory the balloon leaves to the guest.",
      vdGetMemBalloon },
    { "vdsm_vm_memory_available_bytes", "gauge", "Memory the guest sees (balloon stats).",
      vdGetMemAvail },
    { "vdsm_vm_memory_unused_bytes", "gauge", "Memory the guest leaves unused (balloon stats).",
      vdGetMemUnused },
    { "vdsm_vm_memory_usable_bytes", "gauge",
      "Memory the guest could use without swapping (balloon stats).", vdGetMemUsable },
    { "vdsm_vm_memory_rss_bytes", "gauge", "Resident memory of the QEMU process.", vdGetRss },
    { "vdsm_vm_memory_swap_in_bytes_total", "counter", "Bytes the guest read from swap.",
      vdGetSwapIn },
    { "vdsm_vm_memory_swap_out_bytes_total", "counter", "Bytes the guest wrote to swap.",
      vdGetSwapOut },
    { "vdsm_vm_memory_major_faults_total", "counter", "Major page faults in the guest.",
      vdGetMajflt },
    { "vdsm_vm_memory_minor_faults_total", "counter", "Minor page faults in the guest.",
      vdGetMinflt },
};

#define VD_NIC_FIELD(field) G_STRUCT_OFFSET(VdVmNicSample, field)

static const struct {
    const char *name, *help;
    glong offset;
} vdNicFamilies[] = {
    { "vdsm_vm_network_receive_bytes_total", "Bytes received by the VM's interface.",
      VD_NIC_FIELD(rx_bytes) },
    { "vdsm_vm_network_receive_packets_total", "Packets received by the VM's interface.",
      VD_NIC_FIELD(rx_pkts) },
    { "vdsm_vm_network_receive_errors_total", "Receive errors of the VM's interface.",
      VD_NIC_FIELD(rx_errs) },
    { "vdsm_vm_network_receive_drops_total", "Received packets dropped.",
      VD_NIC_FIELD(rx_drop) },
    { "vdsm_vm_network_transmit_bytes_total", "Bytes sent by the VM's interface.",
      VD_NIC_FIELD(tx_bytes) },
    { "vdsm_vm_network_transmit_packets_total", "Packets sent by the VM's interface.",
      VD_NIC_FIELD(tx_pkts) },
    { "vdsm_vm_network_transmit_errors_total", "Transmit errors of the VM's interface.",
      VD_NIC_FIELD(tx_errs) },
    { "vdsm_vm_network_transmit_drops_total", "Sent packets dropped.", VD_NIC_FIELD(tx_drop) },
};

#define VD_DISK_FIELD(field) G_STRUCT_OFFSET(VdVmDiskSample, field)

static const struct {
    const char *name, *type, *help;
    glong offset;
    double scale;
} vdDiskFamilies[] = {
    { "vdsm_vm_disk_read_bytes_total", "counter", "Bytes read from the VM's disk.",
      VD_DISK_FIELD(rd_bytes), 1 },
    { "vdsm_vm_disk_written_bytes_total", "counter", "Bytes written to the VM's disk.",
      VD_DISK_FIELD(wr_bytes), 1 },
    { "vdsm_vm_disk_reads_completed_total", "counter", "Read requests completed.",
      VD_DISK_FIELD(rd_reqs), 1 },
    { "vdsm_vm_disk_writes_completed_total", "counter", "Write requests completed.",
      VD_DISK_FIELD(wr_reqs), 1 },
    { "vdsm_vm_disk_flushes_completed_total", "counter", "Flush requests completed.",
      VD_DISK_FIELD(fl_reqs), 1 },
    { "vdsm_vm_disk_read_time_seconds_total", "counter", "Time spent on read requests.",
      VD_DISK_FIELD(rd_times), 1e-9 },
    { "vdsm_vm_disk_write_time_seconds_total", "counter", "Time spent on write requests.",
      VD_DISK_FIELD(wr_times), 1e-9 },
    { "vdsm_vm_disk_flush_time_seconds_total", "counter", "Time spent on flush requests.",
      VD_DISK_FIELD(fl_times), 1e-9 },
    { "vdsm_vm_disk_capacity_bytes", "gauge", "Size of the disk as the guest sees it.",
      VD_DISK_FIELD(capacity), 1 },
};

static void
vdMetricsVms(GString *out, GPtrArray *vms)
{
    double v;

    vdMetricsFamily(out, "vdsm_vm_info", "gauge", "One per VM that is not Down, with its status.");
    for (guint i = 0; i < vms->len; i++) {
        const VdMetricsVm *vm = g_ptr_array_index(vms, i);

        g_string_append_printf(out, "vdsm_vm_info{%s,status=\"%s\"} 1\n", vm->labels, vm->status);
    }
    for (guint f = 0; f < G_N_ELEMENTS(vdVmFamilies); f++) {
        gboolean header = FALSE;

        for (guint i = 0; i < vms->len; i++) {
            const VdMetricsVm *vm = g_ptr_array_index(vms, i);

            if (!vm->snap || !vdVmFamilies[f].get(vm, &v))
                continue;
            if (!header) {
                vdMetricsFamily(out, vdVmFamilies[f].name, vdVmFamilies[f].type,
                                vdVmFamilies[f].help);
                header = TRUE;
            }
            g_string_append_printf(out, "%s{%s}", vdVmFamilies[f].name, vm->labels);
            vdMetricsValue(out, v);
        }
    }
    for (guint f = 0; f < G_N_ELEMENTS(vdNicFamilies); f++) {
        gboolean header = FALSE;

        for (guint i = 0; i < vms->len; i++) {
            const VdMetricsVm *vm = g_ptr_array_index(vms, i);
            const VdVmSample *s = vm->snap ? vm->snap->last : NULL;

            for (guint n = 0; s && n < s->n_nics; n++) {
                const VdVmNicSample *nic = &s->nics[n];

                if (!nic->name)
                    continue;
                if (!header) {
                    vdMetricsFamily(out, vdNicFamilies[f].name, "counter", vdNicFamilies[f].help);
                    header = TRUE;
                }
                g_string_append_printf(out, "%s{%s,interface=\"", vdNicFamilies[f].name,
                                       vm->labels);
                vdMetricsEscapeLabel(out, nic->name);
                g_string_append_c(out, '"');
                g_string_append_c(out, '}');
                vdMetricsValue(out, (double)G_STRUCT_MEMBER(guint64, nic, vdNicFamilies[f].offset));
            }
        }
    }
    for (guint f = 0; f < G_N_ELEMENTS(vdDiskFamilies) + 2; f++) {
        gboolean header = FALSE;

        for (guint i = 0; i < vms->len; i++) {
            const VdMetricsVm *vm = g_ptr_array_index(vms, i);
            const VdVmSample *s = vm->snap ? vm->snap->blast : NULL;

            for (guint n = 0; s && n < s->n_disks; n++) {
                const VdVmDiskSample *d = &s->disks[n];
                gint64 truesize, apparentsize;
                const char *name;

                if (!d->name)
                    continue;
                vdVmDiskSizesOf(vm->snap->sizes, d, &truesize, &apparentsize);
                if (f < G_N_ELEMENTS(vdDiskFamilies)) {
                    name = vdDiskFamilies[f].name;
                    v = (double)G_STRUCT_MEMBER(guint64, d, vdDiskFamilies[f].offset) *
                        vdDiskFamilies[f].scale;
                    if (!header)
                        vdMetricsFamily(out, name, vdDiskFamilies[f].type, vdDiskFamilies[f].help);
                } else if (f == G_N_ELEMENTS(vdDiskFamilies)) {
                    name = "vdsm_vm_disk_allocation_bytes";
                    v = (double)truesize;
                    if (!header)
                        vdMetricsFamily(out, name, "gauge",
                                        "Host storage the disk's image uses (truesize).");
                } else {
                    name = "vdsm_vm_disk_size_bytes";
                    v = (double)apparentsize;
                    if (!header)
                        vdMetricsFamily(out, name, "gauge",
                                        "Size of the disk's image on the host (apparentsize).");
                }
                header = TRUE;
                g_string_append_printf(out, "%s{%s,disk=\"", name, vm->labels);
                vdMetricsEscapeLabel(out, d->name);
                g_string_append(out, "\"}");
                vdMetricsValue(out, v);
            }
        }
    }
}

static void
vdMetricsSampler(GString *out, guint nvms)
{
    VdVmSamplingFigures fig;

    vdVmSamplingGetFigures(&fig);
    const struct {
        const char *name, *type, *help;
        double value;
    } one[] = {
        { "vdsm_vms", "gauge", "VMs this host reports.", (double)nvms },
        { "vdsm_vm_sampling_ticks_total", "counter", "VM samples taken.", (double)fig.ticks },
        { "vdsm_vm_sampling_vm_samples_total", "counter",
          "Samples of single VMs stored (a full sample of N VMs stores N).",
          (double)fig.vm_samples },
        { "vdsm_vm_sampling_ticks_skipped_total", "counter",
          "VM samples not started because the previous one still ran or every VM was "
          "still in its calls.",
          (double)fig.ticks_skipped },
        { "vdsm_vm_sampling_ticks_late_total", "counter",
          "VM samples that no sampler thread started on time (all were busy): the main loop "
          "started them half an interval late.",
          (double)fig.ticks_late },
        { "vdsm_vm_sampling_calls_total", "counter", "Bulk stats calls made.", (double)fig.calls },
        { "vdsm_vm_sampling_calls_stuck_total", "counter",
          "Bulk stats calls that outlived their deadline ([sampling] stats_call_timeout, longer "
          "where calls are slow) on a QEMU that does not answer.",
          (double)fig.calls_stuck },
        { "vdsm_vm_sampling_calls_slow_total", "counter",
          "Bulk stats calls that outlived their deadline ([sampling] stats_call_timeout, longer "
          "where calls are slow) while every QEMU they cover answered.",
          (double)fig.calls_slow },
        { "vdsm_vm_sampling_connections_total", "counter",
          "libvirt connections the sampler opened.", (double)fig.connections },
        { "vdsm_vm_sampling_monitor_checks_total", "counter",
          "Monitor states of single domains the sampler asked libvirt for (late calls, frozen "
          "or skipped VMs).",
          (double)fig.monitor_checks },
        { "vdsm_vm_sampling_calls_in_progress", "gauge", "Bulk stats calls in libvirt right now.",
          (double)fig.calls_outstanding },
        { "vdsm_vm_sampling_disk_sizers", "gauge",
          "Sampler threads in stat() of disk images right now (after the VMs' samples were "
          "stored; one that stays is hung on its storage).",
          (double)fig.sizers },
        { "vdsm_vm_sampling_disk_sizings_skipped_total", "counter",
          "Disk size refreshes of single VMs skipped because the threads allowed to stat() "
          "disk images were all busy (hung on storage): those VMs keep their last sizes.",
          (double)fig.sizings_skipped },
        { "vdsm_vm_sampling_samples_dropped_total", "counter",
          "Samples dropped because a newer one was stored first.", (double)fig.samples_dropped },
        { "vdsm_vm_sampling_duration_seconds", "gauge", "Wall time of the last VM sample.",
         fig.last_tick_us / 1e6 },
        { "vdsm_vm_sampling_seconds_total", "counter", "Wall time of all VM samples.",
         fig.tick_us_total / 1e6 },
        { "vdsm_vm_sampling_cpu_seconds_total", "counter",
          "CPU time of the VM sampler's threads and timer (libvirt client work included).",
         fig.cpu_us_total / 1e6 },
        { "vdsm_vm_sampling_list_seconds_total", "counter",
          "Wall time the VM samples spent listing the active domains.", fig.list_us_total / 1e6 },
        { "vdsm_vm_sampling_listings_total", "counter",
          "VM samples that listed the active domains (the others reused the last list: no domain "
          "started or stopped).",
          (double)fig.listings },
        { "vdsm_vm_sampling_block_ticks_total", "counter",
          "VM samples in which every VM got block stats (with 16 or more VMs each sample asks a "
          "share of them instead).",
          (double)fig.block_ticks },
        { "vdsm_vm_sampling_block_seconds_total", "counter",
          "Wall time of the VM samples in which every VM got block stats.",
         fig.block_tick_us_total / 1e6 },
        { "vdsm_vm_sampling_block_vm_samples_total", "counter",
          "VM samples taken with block stats (each VM about once per [sampling] "
          "block_sample_interval).",
          (double)fig.block_vm_samples },
        { "vdsm_vm_sampling_unresponsive_vms", "gauge", "VMs reported with monitorResponse -1.",
          (double)fig.unresponsive },
    };

    for (guint i = 0; i < G_N_ELEMENTS(one); i++)
        vdMetricsOne(out, one[i].name, one[i].type, one[i].help, one[i].value);
    vdMetricsFamily(out, "vdsm_vm_sampling_cache_bytes", "gauge",
                    "Bytes the VM statistics cache holds.");
    g_string_append_printf(out, "vdsm_vm_sampling_cache_bytes %" G_GSIZE_FORMAT "\n",
                           fig.cache_bytes);
}

/* ---- host ---------------------------------------------------------------- */

static void
vdMetricsHost(GString *out)
{
    g_autoptr(VdHostSample) first = NULL;
    g_autoptr(VdHostSample) last = NULL;
    double hz = (double)sysconf(_SC_CLK_TCK);
    static const char *const modes[] = {"user", "system", "idle"};

    vdHostSamplerWindow(&first, &last);
    if (!last)
        return;
    if (hz <= 0)
        hz = 100;

    vdMetricsFamily(out, "vdsm_host_cpu_seconds_total", "counter",
                    "CPU time per core and mode (user includes nice), from /proc/stat.");
    for (guint i = 0; i < last->stat.cores->len; i++) {
        const VdCpuCoreTimes *c = &g_array_index(last->stat.cores, VdCpuCoreTimes, i);
        const guint64 vals[] = {c->t.user, c->t.sys, c->t.idle};

        for (guint m = 0; m < G_N_ELEMENTS(modes); m++) {
            g_string_append_printf(out, "vdsm_host_cpu_seconds_total{cpu=\"%d\",mode=\"%s\"}",
                                   c->id, modes[m]);
            vdMetricsValue(out, (double)vals[m] / hz);
        }
    }
    vdMetricsFamily(out, "vdsm_host_cpus", "gauge", "Online CPUs.");
    g_string_append_printf(out, "vdsm_host_cpus %d\n", last->ncpus);
    vdMetricsFamily(out, "vdsm_host_load5", "gauge", "5-minute load average.");
    g_string_append_printf(out, "vdsm_host_load5 %s\n", last->cpu_load);
    vdMetricsFamily(out, "vdsm_host_memory_used_ratio", "gauge",
                    "Memory in use, not free, cached or buffers (VDSM's memUsed / 100).");
    g_string_append_printf(out, "vdsm_host_memory_used_ratio");
    vdMetricsValue(out, last->mem_used_pct / 100.0);
    vdMetricsFamily(out, "vdsm_host_anon_hugepages_bytes", "gauge",
                    "Anonymous transparent huge pages in use.");
    g_string_append_printf(out, "vdsm_host_anon_hugepages_bytes");
    vdMetricsValue(out, last->anon_huge_mib * 1048576.0);
    vdMetricsFamily(out, "vdsm_host_transparent_hugepages_info", "gauge",
                    "Transparent huge pages mode (always, madvise, never) as a label.");
    g_string_append(out, "vdsm_host_transparent_hugepages_info{mode=\"");
    vdMetricsEscapeLabel(out, last->thp_state);
    g_string_append(out, "\"} 1\n");
    if (last->ksmd_valid) {
        vdMetricsFamily(out, "vdsm_host_ksmd_cpu_seconds_total", "counter",
                        "CPU time of the kernel's KSM thread.");
        g_string_append_printf(out, "vdsm_host_ksmd_cpu_seconds_total");
        vdMetricsValue(out, (double)last->ksmd_ticks / hz);
    }

    vdMetricsFamily(out, "vdsm_host_numa_memory_total_bytes", "gauge", "Memory of a NUMA node.");
    for (guint i = 0; i < last->node_mem->len; i++) {
        const VdHostNodeMemSample *n = &g_array_index(last->node_mem, VdHostNodeMemSample, i);

        g_string_append_printf(out, "vdsm_host_numa_memory_total_bytes{node=\"%d\"}", n->node);
        vdMetricsValue(out, n->total_kib * 1024.0);
    }
    vdMetricsFamily(out, "vdsm_host_numa_memory_free_bytes", "gauge",
                    "Free memory of a NUMA node.");
    for (guint i = 0; i < last->node_mem->len; i++) {
        const VdHostNodeMemSample *n = &g_array_index(last->node_mem, VdHostNodeMemSample, i);

        g_string_append_printf(out, "vdsm_host_numa_memory_free_bytes{node=\"%d\"}", n->node);
        vdMetricsValue(out, n->free_kib * 1024.0);
    }
    if (last->hugepages->len) {
        vdMetricsFamily(out, "vdsm_host_hugepages", "gauge",
                        "Huge pages per page size, total and free.");
        for (guint i = 0; i < last->hugepages->len; i++) {
            const VdHostHugepageSample *h =
                &g_array_index(last->hugepages, VdHostHugepageSample, i);

            g_string_append_printf(out,
                                   "vdsm_host_hugepages{size_bytes=\"%" G_GUINT64_FORMAT
                                   "\",state=\"total\"} %" G_GINT64_FORMAT "\n",
                                   h->size_kib * 1024, h->nr_hugepages);
            g_string_append_printf(out,
                                   "vdsm_host_hugepages{size_bytes=\"%" G_GUINT64_FORMAT
                                   "\",state=\"free\"} %" G_GINT64_FORMAT "\n",
                                   h->size_kib * 1024, h->free_hugepages);
        }
    }
    vdMetricsFamily(out, "vdsm_host_disk_free_bytes", "gauge",
                    "Free space of the paths VDSM reports (diskStats).");
    for (guint i = 0; i < VD_HOST_DISK_PATHS; i++) {
        g_string_append(out, "vdsm_host_disk_free_bytes{path=\"");
        vdMetricsEscapeLabel(out, vdHostDiskKey(i));
        g_string_append(out, "\"}");
        vdMetricsValue(out, last->disk_free_mib[i] * 1048576.0);
    }

    {
        static const struct {
            const char *name, *help;
            glong offset;
        } nicf[] = {
            { "vdsm_host_network_receive_bytes_total", "Bytes received by a host NIC.",
              G_STRUCT_OFFSET(VdHostNicSample, rx) },
            { "vdsm_host_network_transmit_bytes_total", "Bytes sent by a host NIC.",
              G_STRUCT_OFFSET(VdHostNicSample, tx) },
            { "vdsm_host_network_receive_errors_total", "Receive errors of a host NIC.",
              G_STRUCT_OFFSET(VdHostNicSample, rx_errors) },
            { "vdsm_host_network_transmit_errors_total", "Transmit errors of a host NIC.",
              G_STRUCT_OFFSET(VdHostNicSample, tx_errors) },
            { "vdsm_host_network_receive_drops_total", "Received packets a host NIC dropped.",
              G_STRUCT_OFFSET(VdHostNicSample, rx_dropped) },
            { "vdsm_host_network_transmit_drops_total", "Sent packets a host NIC dropped.",
              G_STRUCT_OFFSET(VdHostNicSample, tx_dropped) },
        };

        for (guint f = 0; f < G_N_ELEMENTS(nicf) && last->nics->len; f++) {
            vdMetricsFamily(out, nicf[f].name, "counter", nicf[f].help);
            for (guint i = 0; i < last->nics->len; i++) {
                const VdHostNicSample *n = g_ptr_array_index(last->nics, i);

                g_string_append_printf(out, "%s{device=\"", nicf[f].name);
                vdMetricsEscapeLabel(out, n->name);
                g_string_append(out, "\"}");
                vdMetricsValue(out, (double)G_STRUCT_MEMBER(guint64, n, nicf[f].offset));
            }
        }
        if (last->nics->len) {
            vdMetricsFamily(out, "vdsm_host_network_speed_bytes", "gauge",
                            "Link speed of a host NIC in bytes per second (0: unknown).");
            for (guint i = 0; i < last->nics->len; i++) {
                const VdHostNicSample *n = g_ptr_array_index(last->nics, i);

                g_string_append(out, "vdsm_host_network_speed_bytes{device=\"");
                vdMetricsEscapeLabel(out, n->name);
                g_string_append(out, "\"}");
                vdMetricsValue(out, n->speed > 0 ? n->speed * 125000.0 : 0);
            }
            vdMetricsFamily(out, "vdsm_host_network_up", "gauge",
                            "1 when a host NIC's operstate is up.");
            for (guint i = 0; i < last->nics->len; i++) {
                const VdHostNicSample *n = g_ptr_array_index(last->nics, i);

                g_string_append(out, "vdsm_host_network_up{device=\"");
                vdMetricsEscapeLabel(out, n->name);
                g_string_append_printf(out, "\"} %d\n", g_strcmp0(n->state, "up") == 0);
            }
        }
    }
    vdMetricsFamily(out, "vdsm_host_stats_age_seconds", "gauge",
                    "Age of the newest host statistics sample.");
    g_string_append(out, "vdsm_host_stats_age_seconds");
    vdMetricsValue(out, (double)(g_get_monotonic_time() - last->mono_us) / G_USEC_PER_SEC);
}

GBytes *
vdMetricsRender(void)
{
    GString *out = g_string_sized_new(64 * 1024);
    g_autoptr(GPtrArray) all = vdVmTableAll();
    g_autoptr(GPtrArray) vms = g_ptr_array_new_full(all->len, NULL);
    g_autoptr(GArray) store = g_array_sized_new(FALSE, TRUE, sizeof(VdMetricsVm), all->len);

    g_array_set_clear_func(store, vdMetricsVmClear);
    for (guint i = 0; i < all->len; i++) {
        VdVm *vm = g_ptr_array_index(all, i);
        VdMetricsVm entry = { 0 };
        GString *labels;

        if (vm->status == VD_VM_STATUS_DOWN)
            continue;
        labels = g_string_new("vm_id=\"");
        vdMetricsEscapeLabel(labels, vm->id);
        g_string_append(labels, "\",vm_name=\"");
        vdMetricsEscapeLabel(labels, vm->name);
        g_string_append_c(labels, '"');
        entry.labels = g_string_free(labels, FALSE);
        entry.snap = vdVmSamplingSnapGet(vm->id);
        entry.status = vdVmStatusName(vdVmReportedStatus(vm));
        g_array_append_val(store, entry);
    }
    for (guint i = 0; i < store->len; i++)
        g_ptr_array_add(vms, &g_array_index(store, VdMetricsVm, i));

    vdMetricsHost(out);
    vdMetricsSampler(out, vdVmTableCount());
    vdMetricsVms(out, vms);
    return g_string_free_to_bytes(out);
}

GBytes *
vdMetricsRoute(const char *path, const char **content_type, int *status, gpointer data)
{
    *content_type = VD_METRICS_CONTENT_TYPE;
    *status = 200;
    return vdMetricsRender();
}
