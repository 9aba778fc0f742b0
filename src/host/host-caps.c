/* host-caps.c - see host-caps.h.
 *
 * DESIGN: three parts.  The static part (vdCapsStatic: CPU, NUMA, OS,
 * kernel, packages from dpkg, fixed VDSM flags) is built on the first call.
 * The libvirt part (vdCapsVirt: machine types, CPU models and features,
 * libvirt/QEMU versions, cluster levels) is built once libvirt answers.
 * Both are guarded by vdCapsLock and deep-copied into each reply; the
 * lock is also held while libvirt is asked the first time, so concurrent
 * first callers wait for one answer instead of each asking.  The dynamic
 * part (memory size, network devices, lastClientIface) is read per call
 * outside the lock.  The network providers are atomic pointers.
 */
#include "host-caps.h"

#include "hooks.h"

#include "config.h"
#include "host-config.h"
#include "host-hwinfo.h"
#include "host-net.h"
#include "host-proc.h"
#include "host-topology.h"
#include "host-virt-caps.h"
#include "libvirt-conn.h"
#include "vd-error.h"
#include "vdsm-config.h"

#include <sched.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* VDSM's [vars] defaults for keys vdsm-c's config table may not have. */
#define VD_HOST_MEM_RESERVE_DEFAULT 256
#define VD_HOST_EXTRA_MEM_RESERVE_DEFAULT 65
#define VD_HOST_GUEST_RAM_OVERHEAD_DEFAULT 65

static GMutex vdCapsLock;
static json_object *vdCapsStatic;
static GStrv vdCapsCpuFlags;    /* /proc/cpuinfo flags */
static GHashTable *vdCapsDpkg;  /* package -> Debian version */
static json_object *vdCapsVirt; /* see vdCapsBuildVirt */
static gpointer vdCapsNetworksFn;
static gpointer vdCapsDirtyFn;

void
vdHostCapsSetNetworkProviders(VdHostNetworksFunc networks, VdHostNetConfigDirtyFunc dirty)
{
    g_atomic_pointer_set(&vdCapsNetworksFn, (gpointer)networks);
    g_atomic_pointer_set(&vdCapsDirtyFn, (gpointer)dirty);
}

gboolean
vdHostNetConfigDirty(void)
{
    VdHostNetConfigDirtyFunc fn = (VdHostNetConfigDirtyFunc)g_atomic_pointer_get(&vdCapsDirtyFn);

    return fn ? fn() : FALSE;
}

static json_object *
vdJsonStrList(const char *const *items)
{
    json_object *arr = json_object_new_array();

    for (gsize i = 0; items && items[i]; i++)
        json_object_array_add(arr, json_object_new_string(items[i]));
    return arr;
}

static json_object *
vdJsonIntArray(GArray *ints)
{
    json_object *arr = json_object_new_array();

    for (guint i = 0; ints && i < ints->len; i++)
        json_object_array_add(arr, json_object_new_int(g_array_index(ints, int, i)));
    return arr;
}

static json_object *
vdJsonInt64Str(gint64 v)
{
    char buf[32];

    g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, v);
    return json_object_new_string(buf);
}

static json_object *
vdPackage(const char *version, const char *release, gint64 buildtime)
{
    json_object *p = json_object_new_object();

    json_object_object_add(p, "version", json_object_new_string(version));
    json_object_object_add(p, "release", json_object_new_string(release));
    json_object_object_add(p, "buildtime", json_object_new_int64(buildtime));
    return p;
}

/* version/release of a dpkg package, or NULL when not installed */
static json_object *
vdDpkgPackage(const char *const *names)
{
    for (gsize i = 0; names[i]; i++) {
        const char *full = vdCapsDpkg ? g_hash_table_lookup(vdCapsDpkg, names[i]) : NULL;
        g_autofree char *version = NULL;
        g_autofree char *release = NULL;

        if (!full)
            continue;
        vdDebVersionSplit(full, &version, &release);
        return vdPackage(version, release, 0);
    }
    return NULL;
}

/* The Debian revision of the first installed package of @names, "" when none. */
static char *
vdDpkgRelease(const char *const *names)
{
    for (gsize i = 0; names[i]; i++) {
        const char *full = vdCapsDpkg ? g_hash_table_lookup(vdCapsDpkg, names[i]) : NULL;
        g_autofree char *version = NULL;
        char *release = NULL;

        if (!full)
            continue;
        vdDebVersionSplit(full, &version, &release);
        return release;
    }
    return g_strdup("");
}

/* ---- static part --------------------------------------------------- */

static json_object *
vdCapsOperatingSystem(void)
{
    g_autofree char *text = vdHostReadFile("/etc/os-release");
    g_autoptr(GHashTable) kv = vdKeyValueParse(text);
    const char *id = g_hash_table_lookup(kv, "ID");
    const char *pretty = g_hash_table_lookup(kv, "PRETTY_NAME");
    const char *version_id = g_hash_table_lookup(kv, "VERSION_ID");
    const char *name = g_hash_table_lookup(kv, "NAME");
    g_autofree char *debian_version = NULL;
    json_object *os = json_object_new_object();

    /* VDSM's OSName values */
    if (g_strcmp0(id, "rhel") == 0 || g_strcmp0(id, "centos") == 0 || g_strcmp0(id, "rocky") == 0 ||
        g_strcmp0(id, "almalinux") == 0)
        name = "RHEL";
    else if (g_strcmp0(id, "fedora") == 0)
        name = "Fedora";
    else if (g_strcmp0(id, "ovirt-node") == 0)
        name = "oVirt Node";
    else if (g_strcmp0(id, "debian") == 0 || g_strcmp0(id, "ubuntu") == 0)
        name = "Debian";
    /* VDSM reports Debian's point release from /etc/debian_version */
    if (g_strcmp0(name, "Debian") == 0)
        debian_version = vdHostReadLine("/etc/debian_version");

    json_object_object_add(os, "release", json_object_new_string(""));
    json_object_object_add(os, "version",
                           json_object_new_string(debian_version && *debian_version
                                                      ? debian_version
                                                      : (version_id ? version_id : "")));
    json_object_object_add(os, "name", json_object_new_string(name ? name : "unknown"));
    json_object_object_add(os, "pretty_name", json_object_new_string(pretty ? pretty : ""));
    return os;
}

static json_object *
vdCapsNuma(const VdHostTopology *topo, json_object **distances_out)
{
    json_object *nodes = json_object_new_object();
    json_object *distances = json_object_new_object();
    g_autofree char *mem_text = NULL;
    VdMeminfo mi;

    /* a kernel without NUMA files: the whole memory is node 0's */
    mem_text = vdHostReadFile("/proc/meminfo");
    vdMeminfoParse(mem_text, &mi);

    for (guint i = 0; i < topo->nodes->len; i++) {
        const VdHostNumaNode *node = g_ptr_array_index(topo->nodes, i);
        json_object *o = json_object_new_object();
        json_object *pages = json_object_new_object();
        gint64 total_kib = node->total_kib >= 0 ? node->total_kib : MAX(mi.mem_total, 0);
        char key[16];

        for (guint p = 0; p < node->pages->len; p++) {
            const VdHostNodePages *np = &g_array_index(node->pages, VdHostNodePages, p);
            json_object *po = json_object_new_object();
            char size[32], total[32];

            g_snprintf(size, sizeof(size), "%" G_GUINT64_FORMAT, np->size_kib);
            g_snprintf(total, sizeof(total), "%" G_GUINT64_FORMAT, np->total);
            json_object_object_add(po, "totalPages", json_object_new_string(total));
            json_object_object_add(pages, size, po);
        }
        json_object_object_add(o, "cpus", vdJsonIntArray(node->cpus));
        json_object_object_add(o, "totalMemory", vdJsonInt64Str(total_kib / 1024));
        json_object_object_add(o, "hugepages", pages);
        g_snprintf(key, sizeof(key), "%d", node->id);
        json_object_object_add(nodes, key, o);
        json_object_object_add(distances, key, vdJsonIntArray(node->distances));
    }
    *distances_out = distances;
    return nodes;
}

static json_object *
vdCapsCpuTopology(const VdHostTopology *topo)
{
    json_object *arr = json_object_new_array();

    for (guint i = 0; i < topo->cpus->len; i++) {
        const VdHostCpu *c = &g_array_index(topo->cpus, VdHostCpu, i);
        json_object *o = json_object_new_object();

        json_object_object_add(o, "cpu_id", json_object_new_int(c->cpu_id));
        json_object_object_add(o, "numa_cell_id", json_object_new_int(c->numa_cell_id));
        json_object_object_add(o, "socket_id", json_object_new_int(c->socket_id));
        json_object_object_add(o, "die_id", json_object_new_int(c->die_id));
        json_object_object_add(o, "core_id", json_object_new_int(c->core_id));
        json_object_array_add(arr, o);
    }
    return arr;
}

static int
vdCapsKdumpStatus(void)
{
    gint64 loaded = vdHostReadInt("/sys/kernel/kexec_crash_loaded", -1);
    g_autofree char *conf = NULL;

    /* VDSM: -1 unknown, 0 disabled, 1 crash kernel loaded with fence_kdump */
    if (loaded < 0)
        return -1;
    if (loaded != 1)
        return 0;
    conf = vdHostReadFile("/etc/kdump.conf");
    if (conf &&
        (g_str_has_prefix(conf, "fence_kdump_nodes") || strstr(conf, "\nfence_kdump_nodes")))
        return 1;
    return 0;
}

static gboolean
vdCapsNested(void)
{
    static const char *const paths[] = {
        "/sys/module/kvm_intel/parameters/nested",
        "/sys/module/kvm_amd/parameters/nested",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(paths); i++) {
        g_autofree char *v = vdHostReadLine(paths[i]);

        if (g_strcmp0(v, "Y") == 0 || g_strcmp0(v, "1") == 0)
            return TRUE;
    }
    return FALSE;
}

static json_object *
vdCapsHugepageSizes(void)
{
    g_autoptr(GDir) dir = g_dir_open("/sys/kernel/mm/hugepages", 0, NULL);
    g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(int));
    json_object *arr = json_object_new_array();

    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        g_autofree char *num = NULL;
        guint64 size;
        int v;

        if (!g_str_has_prefix(name, "hugepages-") || !g_str_has_suffix(name, "kB"))
            continue;
        num = g_strndup(name + 10, strlen(name) - 12);
        if (!g_ascii_string_to_unsigned(num, 10, 1, G_MAXINT, &size, NULL))
            continue;
        v = (int)size;
        g_array_append_val(sizes, v);
    }
    for (guint i = 0; i < sizes->len; i++) {
        for (guint j = i + 1; j < sizes->len; j++) {
            if (g_array_index(sizes, int, j) < g_array_index(sizes, int, i)) {
                int t = g_array_index(sizes, int, i);

                g_array_index(sizes, int, i) = g_array_index(sizes, int, j);
                g_array_index(sizes, int, j) = t;
            }
        }
    }
    for (guint i = 0; i < sizes->len; i++)
        json_object_array_add(arr, json_object_new_int(g_array_index(sizes, int, i)));
    return arr;
}

static json_object *
vdCapsAffinity(void)
{
    json_object *arr = json_object_new_array();
    cpu_set_t set;

    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (CPU_ISSET(c, &set))
                json_object_array_add(arr, json_object_new_int(c));
        }
    }
    return arr;
}

static json_object *
vdCapsSelinux(void)
{
    json_object *o = json_object_new_object();
    gint64 enforce = vdHostReadInt("/sys/fs/selinux/enforce", -1);
    char mode[8];

    /* VDSM: "1" enforcing, "0" permissive, "-1" disabled */
    g_snprintf(mode, sizeof(mode), "%d", enforce == 0 || enforce == 1 ? (int)enforce : -1);
    json_object_object_add(o, "mode", json_object_new_string(mode));
    return o;
}

static json_object *
vdCapsBuildStatic(void)
{
    static const char *const dpkg_wanted[] = {
        "libvirt-daemon", "libvirt0", "qemu-system-x86", "qemu-kvm", "qemu-utils", NULL,
    };
    static const char *const qemu_img_pkgs[] = {"qemu-utils", NULL};
    static const char *const engines[] = {"4.2", "4.3", "4.4", "4.5", NULL};
    static const char *const vm_types[] = {"kvm", NULL};
    const VdHostTopology *topo = vdHostTopologyGet();
    json_object *caps = json_object_new_object();
    json_object *distances = NULL;
    json_object *numa;
    json_object *packages = json_object_new_object();
    json_object *rng = json_object_new_array();
    json_object *hba = json_object_new_object();
    json_object *qemu_img;
    g_autofree char *cpuinfo_text = vdHostReadFile("/proc/cpuinfo");
    g_autofree char *dpkg_text = vdHostReadFile("/var/lib/dpkg/status");
    g_autofree char *online = vdIntListFormat(topo->online);
    g_autofree char *cmdline = vdHostReadLine("/proc/cmdline");
    g_autofree char *uuid = NULL;
    g_autofree char *kver = NULL;
    g_autofree char *krel = NULL;
    g_autofree char *iscsi_text = vdHostReadFile("/etc/iscsi/initiatorname.iscsi");
    g_autoptr(GHashTable) iscsi = vdKeyValueParse(iscsi_text);
    const char *initiator = g_hash_table_lookup(iscsi, "InitiatorName");
    struct utsname uts;
    VdCpuInfo ci;
    char buf[64];

    vdCpuInfoParse(cpuinfo_text, &ci);
    vdCapsCpuFlags = g_steal_pointer(&ci.flags);
    vdCapsDpkg = vdDpkgStatusParse(dpkg_text, dpkg_wanted);
    if (uname(&uts) < 0)
        memset(&uts, 0, sizeof(uts));

    json_object_object_add(
        caps, "kvmEnabled",
        json_object_new_string(access("/dev/kvm", R_OK | W_OK) == 0 ? "true" : "false"));
    json_object_object_add(caps, "cpuCores", vdJsonInt64Str(topo->cores));
    json_object_object_add(caps, "cpuThreads", vdJsonInt64Str(topo->threads));
    json_object_object_add(caps, "cpuSockets", vdJsonInt64Str(topo->sockets));
    json_object_object_add(caps, "onlineCpus", json_object_new_string(online));
    json_object_object_add(caps, "cpuSpeed", json_object_new_string(ci.mhz));
    json_object_object_add(caps, "cpuModel", json_object_new_string(ci.model));
    json_object_object_add(caps, "cpuTopology", vdCapsCpuTopology(topo));
    json_object_object_add(caps, "vdsmToCpusAffinity", vdCapsAffinity());
    numa = vdCapsNuma(topo, &distances);
    json_object_object_add(caps, "numaNodes", numa);
    json_object_object_add(caps, "numaNodeDistance", distances);
    json_object_object_add(
        caps, "autoNumaBalancing",
        json_object_new_int((int)CLAMP(vdHostReadInt("/proc/sys/kernel/numa_balancing", 2), 0, 2)));

    json_object_object_add(caps, "version_name", json_object_new_string(VD_HOST_VDSM_VERSION_NAME));
    json_object_object_add(caps, "software_version",
                           json_object_new_string(VD_HOST_VDSM_COMPAT_VERSION));
    json_object_object_add(caps, "software_revision", json_object_new_string(VDSM_VERSION));
    json_object_object_add(caps, "supportedENGINEs", vdJsonStrList(engines));

    json_object_object_add(caps, "operatingSystem", vdCapsOperatingSystem());
    uuid = vdHostUuidFrom(vdConfigGetString("vars", "host_uuid_path"),
                          "/sys/class/dmi/id/product_uuid", "/etc/machine-id");
    if (!*uuid)
        g_warning("no host UUID: %s, SMBIOS and /etc/machine-id are unreadable",
                  vdConfigGetString("vars", "host_uuid_path"));
    json_object_object_add(caps, "uuid", json_object_new_string(uuid));
    json_object_object_add(caps, "kernelArgs", json_object_new_string(cmdline ? cmdline : ""));

    vdKernelReleaseSplit(uts.release, &kver, &krel);
    json_object_object_add(packages, "kernel",
                           vdPackage(kver, krel, vdKernelBuildTimeParse(uts.version)));
    json_object_object_add(packages, "vdsm",
                           vdPackage(VD_HOST_VDSM_COMPAT_VERSION, VDSM_VERSION, 0));
    qemu_img = vdDpkgPackage(qemu_img_pkgs);
    if (qemu_img)
        json_object_object_add(packages, "qemu-img", qemu_img);
    json_object_object_add(caps, "packages2", packages);
    json_object_object_add(caps, "realtimeKernel",
                           json_object_new_boolean(strstr(uts.version, "RT") != NULL));
    json_object_object_add(caps, "nestedVirtualization", json_object_new_boolean(vdCapsNested()));

    json_object_object_add(caps, "vmTypes", vdJsonStrList(vm_types));
    g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT,
               vdHostConfigInt("vars", "host_mem_reserve", VD_HOST_MEM_RESERVE_DEFAULT) +
                   vdHostConfigInt("vars", "extra_mem_reserve", VD_HOST_EXTRA_MEM_RESERVE_DEFAULT));
    json_object_object_add(caps, "reservedMem", json_object_new_string(buf));
    g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT,
               vdHostConfigInt("vars", "guest_ram_overhead", VD_HOST_GUEST_RAM_OVERHEAD_DEFAULT));
    json_object_object_add(caps, "guestOverhead", json_object_new_string(buf));

    /* VDSM leaves out urandom (REQUIRED_FOR engine <= 4.0) */
    if (g_file_test("/dev/random", G_FILE_TEST_EXISTS))
        json_object_array_add(rng, json_object_new_string("random"));
    if (g_file_test("/dev/hwrng", G_FILE_TEST_EXISTS))
        json_object_array_add(rng, json_object_new_string("hwrng"));
    json_object_object_add(caps, "rngSources", rng);

    json_object_object_add(caps, "selinux", vdCapsSelinux());
    json_object_object_add(caps, "liveSnapshot", json_object_new_string("true"));
    json_object_object_add(caps, "liveMerge", json_object_new_string("true"));
    json_object_object_add(caps, "kdumpStatus", json_object_new_int(vdCapsKdumpStatus()));
    json_object_object_add(caps, "hostdevPassthrough", json_object_new_string("false"));
    json_object_object_add(caps, "additionalFeatures", json_object_new_array());
    json_object_object_add(caps, "hostedEngineDeployed", json_object_new_boolean(FALSE));
    json_object_object_add(caps, "hugepages", vdCapsHugepageSizes());
    json_object_object_add(caps, "vncEncrypted", json_object_new_boolean(FALSE));
    json_object_object_add(caps, "backupEnabled", json_object_new_boolean(FALSE));
    json_object_object_add(
        caps, "fipsEnabled",
        json_object_new_boolean(vdHostReadInt("/proc/sys/crypto/fips_enabled", 0) == 1));
    json_object_object_add(caps, "ISCSIInitiatorName",
                           json_object_new_string(initiator ? initiator : ""));
    json_object_object_add(hba, "iSCSI", json_object_new_array());
    if (initiator && *initiator) {
        json_object *ini = json_object_new_object();

        json_object_object_add(ini, "InitiatorName", json_object_new_string(initiator));
        json_object_array_add(json_object_object_get(hba, "iSCSI"), ini);
    }
    json_object_object_add(hba, "FC", json_object_new_array());
    json_object_object_add(caps, "HBAInventory", hba);

    vdCpuInfoClear(&ci);
    return caps;
}

/* ---- libvirt part -------------------------------------------------- */

static char *
vdVersionFromNumber(unsigned long v)
{
    return g_strdup_printf("%lu.%lu.%lu", v / 1000000, (v / 1000) % 1000, v % 1000);
}

/* {emulatedMachines, tscFrequency, tscScaling, clusterLevels,
 *  cpuModels (["model_X"]), cpuFeatures ([...]), packages ({libvirt,
 *  qemu-kvm})}, or NULL when libvirt does not answer (logged). */
static json_object *
vdCapsBuildVirt(const char *arch)
{
    static const char *const libvirt_pkgs[] = {"libvirt-daemon", "libvirt0", NULL};
    static const char *const qemu_pkgs[] = {"qemu-system-x86", "qemu-kvm", NULL};
    g_autoptr(GError) err = NULL;
    g_autoptr(virConnect) conn = vdLibvirtGet(&err);
    g_autofree char *caps_xml = NULL;
    g_autofree char *dom_xml = NULL;
    g_autofree char *libvirt_version = NULL;
    g_autofree char *qemu_version = NULL;
    g_autofree char *libvirt_release = NULL;
    g_autofree char *qemu_release = NULL;
    VdVirtCaps vc = {0};
    VdDomCaps dc = {0};
    gboolean have_dc = FALSE;
    unsigned long lib_ver = 0, hv_ver = 0;
    json_object *virt, *levels, *models, *features, *packages;
    const char *virt_type = access("/dev/kvm", R_OK | W_OK) == 0 ? "kvm" : "qemu";

    if (!conn) {
        g_warning("capabilities reported without libvirt data: %s", err->message);
        return NULL;
    }
    caps_xml = virConnectGetCapabilities(conn);
    if (!caps_xml) {
        vdLibvirtSetError(&err, VD_ERR_UNEXPECTED, "cannot get libvirt capabilities");
        g_warning("capabilities reported without libvirt data: %s", err->message);
        return NULL;
    }
    if (!vdVirtCapsParse(caps_xml, arch, &vc, &err)) {
        g_warning("capabilities reported without libvirt data: %s", err->message);
        return NULL;
    }
    if (virConnectGetLibVersion(conn, &lib_ver) < 0 || virConnectGetVersion(conn, &hv_ver) < 0) {
        vdLibvirtSetError(&err, VD_ERR_UNEXPECTED, "cannot get libvirt/QEMU versions");
        g_warning("capabilities reported without libvirt data: %s", err->message);
        vdVirtCapsClear(&vc);
        return NULL;
    }

    dom_xml = virConnectGetDomainCapabilities(conn, NULL, arch, NULL, virt_type, 0);
    if (!dom_xml && g_str_equal(virt_type, "kvm"))
        dom_xml = virConnectGetDomainCapabilities(conn, NULL, arch, NULL, "qemu", 0);
    if (!dom_xml) {
        /* VDSM logs this and reports no CPU models */
        vdLibvirtSetError(&err, VD_ERR_UNEXPECTED, "cannot get domain capabilities");
        g_warning("%s: no CPU models in cpuFlags", err->message);
        g_clear_error(&err);
    } else if (!(have_dc = vdDomCapsParse(dom_xml, &dc, &err))) {
        g_warning("%s: no CPU models in cpuFlags", err->message);
        g_clear_error(&err);
    }

    virt = json_object_new_object();
    {
        json_object *machines = json_object_new_array();

        for (guint i = 0; i < vc.machines->len; i++)
            json_object_array_add(machines,
                                  json_object_new_string(g_ptr_array_index(vc.machines, i)));
        json_object_object_add(virt, "emulatedMachines", machines);
    }
    json_object_object_add(virt, "tscFrequency", json_object_new_string(vc.tsc_frequency));
    json_object_object_add(virt, "tscScaling", json_object_new_boolean(vc.tsc_scaling));

    /* VDSM's dsaversion: cluster levels by libvirt version */
    levels = json_object_new_array();
    json_object_array_add(levels, json_object_new_string("4.2"));
    json_object_array_add(levels, json_object_new_string("4.3"));
    json_object_array_add(levels, json_object_new_string("4.4"));
    if (lib_ver >= 6006000)
        json_object_array_add(levels, json_object_new_string("4.5"));
    if (lib_ver >= 7000000)
        json_object_array_add(levels, json_object_new_string("4.6"));
    if (lib_ver >= 7010000)
        json_object_array_add(levels, json_object_new_string("4.7"));
    json_object_object_add(virt, "clusterLevels", levels);

    models = json_object_new_array();
    features = json_object_new_array();
    for (guint i = 0; have_dc && i < dc.usable_models->len; i++) {
        g_autofree char *m =
            g_strdup_printf("model_%s", (char *)g_ptr_array_index(dc.usable_models, i));

        json_object_array_add(models, json_object_new_string(m));
    }
    for (guint i = 0; have_dc && i < dc.features->len; i++)
        json_object_array_add(features, json_object_new_string(g_ptr_array_index(dc.features, i)));
    json_object_object_add(virt, "cpuModels", models);
    json_object_object_add(virt, "cpuFeatures", features);

    libvirt_version = vdVersionFromNumber(lib_ver);
    qemu_version = vdVersionFromNumber(hv_ver);
    libvirt_release = vdDpkgRelease(libvirt_pkgs);
    qemu_release = vdDpkgRelease(qemu_pkgs);
    packages = json_object_new_object();
    json_object_object_add(packages, "libvirt", vdPackage(libvirt_version, libvirt_release, 0));
    json_object_object_add(packages, "qemu-kvm", vdPackage(qemu_version, qemu_release, 0));
    json_object_object_add(virt, "packages", packages);

    vdVirtCapsClear(&vc);
    if (have_dc)
        vdDomCapsClear(&dc);
    return virt;
}

/* ---- assembling ---------------------------------------------------- */

/* Append @flag to the comma-separated @flags unless @seen has it. */
static void
vdCapsFlagAdd(GString *flags, GHashTable *seen, const char *flag)
{
    if (!flag || !g_hash_table_add(seen, (gpointer)flag))
        return;
    if (flags->len)
        g_string_append_c(flags, ',');
    g_string_append(flags, flag);
}

static void
vdCapsMergeVirt(json_object *caps, json_object *virt)
{
    json_object *packages = json_object_object_get(caps, "packages2");
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GString) flags = g_string_new(NULL);
    json_object *models = virt ? json_object_object_get(virt, "cpuModels") : NULL;
    json_object *features = virt ? json_object_object_get(virt, "cpuFeatures") : NULL;

    /* cpuFlags: /proc/cpuinfo flags, then the host-model features libvirt
     * adds (VDSM unions them), then the usable CPU models */
    for (gsize i = 0; vdCapsCpuFlags && vdCapsCpuFlags[i]; i++)
        vdCapsFlagAdd(flags, seen, vdCapsCpuFlags[i]);
    for (size_t i = 0; features && i < json_object_array_length(features); i++)
        vdCapsFlagAdd(flags, seen, json_object_get_string(json_object_array_get_idx(features, i)));
    for (size_t i = 0; models && i < json_object_array_length(models); i++)
        vdCapsFlagAdd(flags, seen, json_object_get_string(json_object_array_get_idx(models, i)));
    json_object_object_add(caps, "cpuFlags", json_object_new_string(flags->str));

    if (!virt) {
        json_object *levels = json_object_new_array();

        json_object_array_add(levels, json_object_new_string("4.2"));
        json_object_array_add(levels, json_object_new_string("4.3"));
        json_object_array_add(levels, json_object_new_string("4.4"));
        json_object_object_add(caps, "clusterLevels", levels);
        json_object_object_add(caps, "emulatedMachines", json_object_new_array());
        json_object_object_add(caps, "tscFrequency", json_object_new_string(""));
        json_object_object_add(caps, "tscScaling", json_object_new_boolean(FALSE));
        return;
    }
    json_object_object_add(caps, "clusterLevels",
                           json_object_get(json_object_object_get(virt, "clusterLevels")));
    json_object_object_add(caps, "emulatedMachines",
                           json_object_get(json_object_object_get(virt, "emulatedMachines")));
    json_object_object_add(caps, "tscFrequency",
                           json_object_get(json_object_object_get(virt, "tscFrequency")));
    json_object_object_add(caps, "tscScaling",
                           json_object_get(json_object_object_get(virt, "tscScaling")));
    json_object_object_foreach(json_object_object_get(virt, "packages"), name, pkg)
        json_object_object_add(packages, name, json_object_get(pkg));
}

json_object *
vdHostCapsGet(const char *local_address)
{
    json_object *caps = NULL;
    json_object *virt = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) addrs = NULL;
    g_auto(GStrv) hidden = vdHostConfigList("vars", "hidden_nics", "w*,usb*");
    g_auto(GStrv) fake = vdHostConfigList("vars", "fake_nics", VD_HOST_FAKE_NICS_DEFAULT);
    g_autofree char *mem_text = NULL;
    g_autofree char *owner = NULL;
    VdHostNetworksFunc networks_fn;
    VdHostNetSource src = {0};
    json_object *networks = NULL;
    VdMeminfo mi;

    g_mutex_lock(&vdCapsLock);
    if (!vdCapsStatic)
        vdCapsStatic = vdCapsBuildStatic();
    if (!vdCapsVirt) {
        struct utsname uts;

        vdCapsVirt = vdCapsBuildVirt(uname(&uts) == 0 ? uts.machine : NULL);
    }
    if (json_object_deep_copy(vdCapsStatic, &caps, NULL) < 0)
        g_error("out of memory copying capabilities");
    if (vdCapsVirt && json_object_deep_copy(vdCapsVirt, &virt, NULL) < 0)
        g_error("out of memory copying capabilities");
    g_mutex_unlock(&vdCapsLock);

    vdCapsMergeVirt(caps, virt);
    json_object_put(virt);

    mem_text = vdHostReadFile("/proc/meminfo");
    vdMeminfoParse(mem_text, &mi);
    json_object_object_add(caps, "memSize", vdJsonInt64Str(MAX(mi.mem_total, 0) / 1024));

    addrs = vdHostAddrList(&err);
    if (!addrs) {
        g_warning("capabilities reported without IP addresses: %s", err->message);
        addrs = g_ptr_array_new_with_free_func((GDestroyNotify)vdHostAddrFree);
    }
    src.sys_class_net = "/sys/class/net";
    src.proc_root = "/proc";
    src.resolv_conf = "/etc/resolv.conf";
    src.hidden_nics = (const char *const *)hidden;
    src.fake_nics = (const char *const *)fake;
    src.addrs = addrs;
    vdHostNetCapsFill(&src, caps);

    networks_fn = (VdHostNetworksFunc)g_atomic_pointer_get(&vdCapsNetworksFn);
    if (networks_fn)
        networks = networks_fn();
    json_object_object_add(caps, "networks", networks ? networks : json_object_new_object());
    json_object_object_add(caps, "ovnConfigured", json_object_new_boolean(FALSE));
    json_object_object_add(caps, "netConfigDirty",
                           json_object_new_string(vdHostNetConfigDirty() ? "True" : "False"));

    /* installed hook scripts with their sha256: read per call, scripts change */
    json_object_object_add(caps, "hooks", vdHooksInventory());

    owner = vdHostAddrOwner(addrs, local_address);
    json_object_object_add(caps, "lastClientIface", json_object_new_string(owner));
    return caps;
}
