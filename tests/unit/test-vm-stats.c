/* test-vm-stats.c - bulk-stats records into samples, and a pair of samples
 * into VDSM's VmStats fields (vm-stats.h); the Prometheus label escaping
 * (vm-metrics.h).  Records are built with libvirt's typed-parameter
 * helpers, as libvirt's client library hands them over. */
#include "api-handler.h" /* json_object autoptr */
#include "vm-metrics.h"
#include "vm-stats.h"

#include <libvirt/libvirt.h>
#include <string.h>
#include <unistd.h>

#define NS 1000000000ULL

typedef struct {
    virTypedParameterPtr params;
    int n, max;
} Rec;

static void
recU64(Rec *r, const char *name, unsigned long long v)
{
    g_assert_cmpint(virTypedParamsAddULLong(&r->params, &r->n, &r->max, name, v), ==, 0);
}

static void
recUInt(Rec *r, const char *name, unsigned int v)
{
    g_assert_cmpint(virTypedParamsAddUInt(&r->params, &r->n, &r->max, name, v), ==, 0);
}

static void
recInt(Rec *r, const char *name, int v)
{
    g_assert_cmpint(virTypedParamsAddInt(&r->params, &r->n, &r->max, name, v), ==, 0);
}

static void
recStr(Rec *r, const char *name, const char *v)
{
    g_assert_cmpint(virTypedParamsAddString(&r->params, &r->n, &r->max, name, v), ==, 0);
}

/* A record as libvirt 9 gives it for a running VM with one NIC and one
 * disk; @k scales the counters so two records make a pair. */
static VdVmSample *
makeSample(guint64 k, gint64 mono_us, gboolean block, gboolean guestmem)
{
    Rec r = { 0 };
    unsigned int groups = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                          VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |
                          VIR_DOMAIN_STATS_INTERFACE;
    VdVmSample *s;

    recInt(&r, "state.state", VIR_DOMAIN_RUNNING);
    recInt(&r, "state.reason", 1);
    recU64(&r, "cpu.time", k * 3 * NS);
    recU64(&r, "cpu.user", k * NS / 2);
    recU64(&r, "cpu.system", k * NS / 2);
    recU64(&r, "balloon.current", 131072);
    recU64(&r, "balloon.maximum", 262144);
    if (guestmem) {
        recU64(&r, "balloon.swap_in", k * 100);
        recU64(&r, "balloon.swap_out", k * 10);
        recU64(&r, "balloon.major_fault", k * 20);
        recU64(&r, "balloon.minor_fault", k * 1000);
        recU64(&r, "balloon.unused", 65536);
        recU64(&r, "balloon.available", 120000);
        recU64(&r, "balloon.usable", 90000);
        recU64(&r, "balloon.disk_caches", 4096);
    }
    recU64(&r, "balloon.rss", 200000);
    recUInt(&r, "vcpu.current", 2);
    recUInt(&r, "vcpu.maximum", 4);
    recU64(&r, "vcpu.0.time", 12345);
    recUInt(&r, "net.count", 1);
    recStr(&r, "net.0.name", "vnet7");
    recU64(&r, "net.0.rx.bytes", k * 1000);
    recU64(&r, "net.0.rx.pkts", k * 10);
    recU64(&r, "net.0.rx.errs", 1);
    recU64(&r, "net.0.rx.drop", 2);
    recU64(&r, "net.0.tx.bytes", k * 500);
    recU64(&r, "net.0.tx.pkts", k * 5);
    recU64(&r, "net.0.tx.errs", 3);
    recU64(&r, "net.0.tx.drop", 4);
    if (block) {
        groups |= VIR_DOMAIN_STATS_BLOCK;
        recUInt(&r, "block.count", 1);
        recStr(&r, "block.0.name", "vda");
        recStr(&r, "block.0.path", "/nonexistent/disk.qcow2");
        recU64(&r, "block.0.rd.reqs", k * 10);
        recU64(&r, "block.0.rd.bytes", k * 40960);
        recU64(&r, "block.0.rd.times", k * 10 * 2000);
        recU64(&r, "block.0.wr.reqs", k * 4);
        recU64(&r, "block.0.wr.bytes", k * 16384);
        recU64(&r, "block.0.wr.times", k * 4 * 5000);
        recU64(&r, "block.0.fl.reqs", k);
        recU64(&r, "block.0.fl.times", k * 700);
        recU64(&r, "block.0.allocation", 1000000);
        recU64(&r, "block.0.capacity", 104857600);
        recU64(&r, "block.0.physical", 2000000);
    }
    s = vdVmSampleParse(r.params, r.n, groups, mono_us);
    virTypedParamsFree(r.params, r.n);
    return s;
}

static const char *
str(json_object *obj, const char *key)
{
    json_object *v = NULL;

    g_assert_true(json_object_object_get_ex(obj, key, &v));
    g_assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static json_object *
member(json_object *obj, const char *key)
{
    json_object *v = NULL;

    return json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

static const char *const domxml =
    "<domain type='kvm' id='7'>"
    "  <name>vm1</name><uuid>11111111-2222-3333-4444-555555555555</uuid>"
    "  <metadata><ovirt-vm:vm xmlns:ovirt-vm='http://ovirt.org/vm/1.0'>"
    "    <ovirt-vm:minGuaranteedMemoryMb type='int'>64</ovirt-vm:minGuaranteedMemoryMb>"
    "  </ovirt-vm:vm></metadata>"
    "  <memory unit='KiB'>262144</memory><currentMemory unit='KiB'>196608</currentMemory>"
    "  <cputune><period>100000</period><quota>50000</quota></cputune>"
    "  <devices>"
    "    <interface type='bridge'><mac address='52:54:00:aa:bb:cc'/>"
    "      <source bridge='br0'/><target dev='vnet7'/><model type='virtio'/></interface>"
    "    <interface type='bridge'><mac address='52:54:00:aa:bb:cd'/>"
    "      <target dev='vnet8'/><model type='rtl8139'/></interface>"
    "    <memballoon model='virtio'><stats period='5'/></memballoon>"
    "  </devices>"
    "</domain>";

static void
test_parse(void)
{
    g_autoptr(VdVmSample) s = makeSample(2, 1000, TRUE, TRUE);

    g_assert_cmpint(s->mono_us, ==, 1000);
    g_assert_cmpint(s->state, ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpuint(s->cpu_time, ==, 6 * NS);
    g_assert_cmpuint(s->cpu_user, ==, NS);
    g_assert_cmpuint(s->balloon_current, ==, 131072);
    g_assert_cmpuint(s->mem_available, ==, 120000);
    g_assert_cmpint(s->vcpu_current, ==, 2);
    g_assert_cmpint(s->vcpu_maximum, ==, 4);
    g_assert_true(s->have & VD_VM_HAVE_GUESTMEM);
    g_assert_true(s->have & VD_VM_HAVE_BLOCK);
    g_assert_cmpuint(s->n_nics, ==, 1);
    g_assert_cmpstr(s->nics[0].name, ==, "vnet7");
    g_assert_cmpuint(s->nics[0].tx_bytes, ==, 1000);
    g_assert_cmpuint(s->nics[0].tx_drop, ==, 4);
    g_assert_cmpuint(s->n_disks, ==, 1);
    g_assert_cmpstr(s->disks[0].path, ==, "/nonexistent/disk.qcow2");
    g_assert_cmpuint(s->disks[0].wr_times, ==, 40000);
    g_assert_nonnull(vdVmSampleDisk(s, "vda"));
    g_assert_null(vdVmSampleNic(s, "vnet8"));
    g_assert_cmpuint(vdVmSampleSize(s), <, 1024);
}

static void
test_parse_garbage(void)
{
    Rec r = { 0 };
    g_autoptr(VdVmSample) s = NULL;

    /* out-of-range and malformed indexes are ignored, not crashed on */
    recStr(&r, "net.99999.name", "x");
    recStr(&r, "net.x.name", "x");
    recStr(&r, "block.3name", "x");
    recU64(&r, "net.1.rx.bytes", 5); /* without net.count or net.0 */
    recStr(&r, "net.1.name", "vnet1");
    recStr(&r, "cpu.time", "not a number");
    s = vdVmSampleParse(r.params, r.n, 0, 1);
    virTypedParamsFree(r.params, r.n);
    g_assert_cmpuint(s->n_nics, ==, 2);
    g_assert_null(s->nics[0].name);
    g_assert_cmpstr(s->nics[1].name, ==, "vnet1");
    g_assert_cmpuint(s->nics[1].rx_bytes, ==, 5);
    g_assert_cmpuint(s->n_disks, ==, 0);
}

/* A record with NICs @a and @b (NULL: none) and two disks. */
static VdVmSample *
makeNics(const char *a, const char *b)
{
    Rec r = { 0 };
    VdVmSample *s;

    recUInt(&r, "net.count", b ? 2 : 1);
    recStr(&r, "net.0.name", a);
    recU64(&r, "net.0.rx.bytes", 10);
    if (b) {
        recStr(&r, "net.1.name", b);
        recU64(&r, "net.1.tx.drop", 7);
    }
    recStr(&r, "block.0.name", "vda");
    recStr(&r, "block.0.path", "/images/a.qcow2");
    recStr(&r, "block.1.name", "sdc");
    recU64(&r, "block.1.rd.reqs", 3);
    s = vdVmSampleParse(r.params, r.n, VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK, 5);
    virTypedParamsFree(r.params, r.n);
    return s;
}

static gboolean
inBlock(const VdVmSample *s, const void *p)
{
    return (const char *)p >= (const char *)s &&
           (const char *)p < (const char *)s + vdVmSampleSize(s);
}

static void
test_parse_one_block(void)
{
    g_autoptr(VdVmSample) s = makeNics("vnet1", "vnet2");
    g_autoptr(VdVmSample) same = makeNics("vnet1", "vnet2");
    g_autoptr(VdVmSample) swapped = makeNics("vnet2", "vnet1");
    g_autoptr(VdVmSample) one = makeNics("vnet1", NULL);
    g_autoptr(VdVmSample) joined = makeNics("vnet1vnet2", NULL);

    /* the devices and their names live in the sample's own block, after
     * the record's parameters are gone */
    g_assert_cmpuint(s->n_nics, ==, 2);
    g_assert_cmpuint(s->n_disks, ==, 2);
    g_assert_true(inBlock(s, s->nics) && inBlock(s, s->disks));
    g_assert_cmpstr(s->nics[0].name, ==, "vnet1");
    g_assert_cmpstr(s->nics[1].name, ==, "vnet2");
    g_assert_true(inBlock(s, s->nics[1].name));
    g_assert_cmpuint(s->nics[0].rx_bytes, ==, 10);
    g_assert_cmpuint(s->nics[1].tx_drop, ==, 7);
    g_assert_cmpstr(s->disks[0].path, ==, "/images/a.qcow2");
    g_assert_true(inBlock(s, s->disks[0].path));
    g_assert_cmpstr(s->disks[1].name, ==, "sdc");
    g_assert_null(s->disks[1].path);
    g_assert_cmpuint(s->disks[1].rd_reqs, ==, 3);
    /* the NIC signature tells NIC sets apart without their names */
    g_assert_cmpuint(s->nic_sig, !=, 0);
    g_assert_cmpuint(s->nic_sig, ==, same->nic_sig);
    g_assert_cmpuint(s->nic_sig, !=, swapped->nic_sig);
    g_assert_cmpuint(s->nic_sig, !=, one->nic_sig);
    g_assert_cmpuint(s->nic_sig, !=, joined->nic_sig);
}

static void
test_devinfo(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VdVmDevInfo) dev = vdVmDevInfoParse(domxml, &error);
    const VdVmNicInfo *n;

    g_assert_no_error(error);
    g_assert_cmpint(dev->dom_id, ==, 7);
    g_assert_cmpint(dev->memory_kib, ==, 262144);
    g_assert_cmpint(dev->current_memory_kib, ==, 196608);
    g_assert_cmpint(dev->vcpu_quota, ==, 50000);
    g_assert_cmpint(dev->vcpu_period, ==, 100000);
    g_assert_cmpint(dev->min_guaranteed_mib, ==, 64);
    g_assert_true(dev->balloon);
    g_assert_cmpuint(dev->nics->len, ==, 2);
    n = g_ptr_array_index(dev->nics, 1);
    g_assert_cmpstr(n->name, ==, "vnet8");
    g_assert_cmpstr(n->mac, ==, "52:54:00:aa:bb:cd");
    g_assert_cmpstr(n->model, ==, "rtl8139");
    g_assert_null(vdVmDevInfoParse("<network/>", NULL));
    g_assert_null(vdVmDevInfoParse("<domain", NULL));
}

static void
test_stats_pair(void)
{
    /* 10 s apart; counters doubled */
    g_autoptr(VdVmSample) a = makeSample(1, 5 * G_USEC_PER_SEC, TRUE, TRUE);
    g_autoptr(VdVmSample) b = makeSample(2, 15 * G_USEC_PER_SEC, TRUE, TRUE);
    g_autoptr(VdVmDevInfo) dev = vdVmDevInfoParse(domxml, NULL);
    g_autoptr(json_object) st = json_object_new_object();
    json_object *net, *nic, *disks, *vda, *ms, *bi;

    vdVmStatsAdd(st, a, b, a, b, dev, NULL);
    /* cpu.time grew 3 s, user+system 1 s, over 10 s */
    g_assert_cmpstr(str(st, "cpuSys"), ==, "10.00");
    g_assert_cmpstr(str(st, "cpuUser"), ==, "20.00");
    g_assert_cmpstr(str(st, "cpuUsage"), ==, "2000000000");
    g_assert_true(json_object_get_boolean(member(st, "cpuActual")));
    g_assert_cmpstr(str(st, "vcpuCount"), ==, "2");
    g_assert_cmpstr(str(st, "vcpuQuota"), ==, "50000");
    g_assert_cmpstr(str(st, "vcpuPeriod"), ==, "100000");

    net = member(st, "network");
    g_assert_nonnull(net);
    nic = member(net, "vnet7");
    g_assert_nonnull(nic);
    g_assert_cmpstr(str(nic, "macAddr"), ==, "52:54:00:aa:bb:cc");
    g_assert_cmpstr(str(nic, "name"), ==, "vnet7");
    g_assert_cmpstr(str(nic, "speed"), ==, "1000");
    g_assert_cmpstr(str(nic, "state"), ==, "unknown");
    g_assert_cmpstr(str(nic, "rx"), ==, "2000");
    g_assert_cmpstr(str(nic, "tx"), ==, "1000");
    g_assert_cmpstr(str(nic, "rxErrors"), ==, "1");
    g_assert_cmpstr(str(nic, "rxDropped"), ==, "2");
    g_assert_cmpstr(str(nic, "txErrors"), ==, "3");
    g_assert_cmpstr(str(nic, "txDropped"), ==, "4");
    g_assert_cmpfloat_with_epsilon(json_object_get_double(member(nic, "sampleTime")), 15.0, 1e-9);

    disks = member(st, "disks");
    vda = member(disks, "vda");
    g_assert_nonnull(vda);
    g_assert_cmpstr(str(vda, "readRate"), ==, "4096.0");  /* 40960 B in 10 s */
    g_assert_cmpstr(str(vda, "writeRate"), ==, "1638.4");
    g_assert_cmpstr(str(vda, "readLatency"), ==, "2000.0");
    g_assert_cmpstr(str(vda, "writeLatency"), ==, "5000.0");
    g_assert_cmpstr(str(vda, "flushLatency"), ==, "700.0");
    g_assert_cmpstr(str(vda, "readOps"), ==, "20");
    g_assert_cmpstr(str(vda, "writeOps"), ==, "8");
    g_assert_cmpstr(str(vda, "readBytes"), ==, "81920");
    g_assert_cmpstr(str(vda, "writtenBytes"), ==, "32768");
    /* no sizes from stat(): libvirt's figures */
    g_assert_cmpstr(str(vda, "truesize"), ==, "1000000");
    g_assert_cmpstr(str(vda, "apparentsize"), ==, "2000000");

    ms = member(st, "memoryStats");
    g_assert_nonnull(ms);
    g_assert_cmpstr(str(ms, "mem_total"), ==, "120000");
    g_assert_cmpstr(str(ms, "mem_unused"), ==, "65536");
    g_assert_cmpstr(str(ms, "mem_free"), ==, "65536");
    g_assert_cmpstr(str(ms, "mem_cached"), ==, "4096");
    g_assert_cmpint(json_object_get_int(member(ms, "swap_in")), ==, 10);
    g_assert_cmpint(json_object_get_int(member(ms, "swap_out")), ==, 1);
    g_assert_cmpint(json_object_get_int(member(ms, "majflt")), ==, 2);
    g_assert_cmpint(json_object_get_int(member(ms, "minflt")), ==, 100);
    g_assert_cmpint(json_object_get_int(member(ms, "pageflt")), ==, 102);
    /* 64 MiB unused of 256 MiB */
    g_assert_cmpstr(str(st, "memUsage"), ==, "75");

    bi = member(st, "balloonInfo");
    g_assert_cmpstr(str(bi, "balloon_max"), ==, "262144");
    g_assert_cmpstr(str(bi, "balloon_min"), ==, "65536");
    g_assert_cmpstr(str(bi, "balloon_cur"), ==, "131072");
    g_assert_cmpstr(str(bi, "balloon_target"), ==, "196608");
    g_assert_true(json_object_get_boolean(member(bi, "ballooning_enabled")));
}

static void
test_stats_single(void)
{
    /* One sample: VDSM's zero rates; no network yet; no device info. */
    g_autoptr(VdVmSample) b = makeSample(2, 15 * G_USEC_PER_SEC, TRUE, FALSE);
    g_autoptr(json_object) st = json_object_new_object();
    json_object *vda;

    vdVmStatsAdd(st, NULL, b, NULL, b, NULL, NULL);
    g_assert_cmpstr(str(st, "cpuUser"), ==, "0.00");
    g_assert_cmpstr(str(st, "cpuSys"), ==, "0.00");
    g_assert_cmpstr(str(st, "cpuUsage"), ==, "0.00");
    g_assert_false(json_object_get_boolean(member(st, "cpuActual")));
    g_assert_null(member(st, "network"));
    g_assert_null(member(st, "memoryStats"));
    g_assert_null(member(st, "balloonInfo"));
    g_assert_null(member(st, "vcpuQuota"));
    g_assert_cmpstr(str(st, "memUsage"), ==, "0");
    vda = member(member(st, "disks"), "vda");
    g_assert_cmpstr(str(vda, "readRate"), ==, "0.0");
    g_assert_cmpstr(str(vda, "readLatency"), ==, "0");
    g_assert_cmpstr(str(vda, "readOps"), ==, "20");
}

static void
test_stats_reset(void)
{
    /* Counters going backwards (a restart between samples) count as 0. */
    g_autoptr(VdVmSample) a = makeSample(5, 0, FALSE, FALSE);
    g_autoptr(VdVmSample) b = makeSample(1, 10 * G_USEC_PER_SEC, FALSE, FALSE);
    g_autoptr(json_object) st = json_object_new_object();

    vdVmStatsAdd(st, a, b, NULL, NULL, NULL, NULL);
    g_assert_cmpstr(str(st, "cpuUser"), ==, "0.00");
    g_assert_cmpstr(str(st, "cpuSys"), ==, "0.00");
    g_assert_null(member(st, "disks"));
    /* unknown model without device info: VDSM's 1000 */
    g_assert_cmpstr(str(member(member(st, "network"), "vnet7"), "speed"), ==, "1000");
}

static void
test_stats_disk_size(void)
{
    g_autofree char *path = NULL;
    g_autoptr(VdVmSample) s = NULL;
    int fd = g_file_open_tmp("vdt4-disk-XXXXXX", &path, NULL);
    char buf[8192] = { 1 };
    Rec r = { 0 };
    g_autoptr(VdVmDiskSizes) sizes = NULL;
    g_autoptr(VdVmSample) none = NULL;
    g_autoptr(json_object) st = json_object_new_object();
    const VdVmDiskSize *z;
    json_object *disk;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, buf, sizeof(buf)), ==, sizeof(buf));
    close(fd);
    recUInt(&r, "block.count", 3);
    recStr(&r, "block.0.name", "vda");
    recStr(&r, "block.0.path", path);
    recU64(&r, "block.0.allocation", 111);
    recU64(&r, "block.0.physical", 222);
    recStr(&r, "block.1.name", "vdb");
    recStr(&r, "block.1.path", "/nonexistent/vdt4-disk.qcow2");
    recU64(&r, "block.1.allocation", 333);
    recU64(&r, "block.1.physical", 444);
    recStr(&r, "block.2.name", "sdc"); /* an empty CD-ROM: no path */
    s = vdVmSampleParse(r.params, r.n, VIR_DOMAIN_STATS_BLOCK, 1);
    virTypedParamsFree(r.params, r.n);
    sizes = vdVmDiskSizesStat(s);
    g_assert_nonnull(sizes);
    g_assert_cmpuint(sizes->n, ==, 3);
    g_assert_cmpuint(vdVmDiskSizesSize(sizes), >, sizeof(*sizes));
    z = vdVmDiskSizesFind(sizes, "vda");
    g_assert_nonnull(z);
    g_assert_cmpint(z->apparentsize, ==, 8192);
    g_assert_cmpint(z->truesize, >=, 0);
    z = vdVmDiskSizesFind(sizes, "vdb");
    g_assert_nonnull(z);
    g_assert_cmpint(z->apparentsize, ==, -1); /* stat() failed: unknown */
    g_assert_cmpint(z->truesize, ==, -1);
    g_assert_cmpint(vdVmDiskSizesFind(sizes, "sdc")->truesize, ==, -1);
    g_assert_null(vdVmDiskSizesFind(sizes, "vdz"));
    g_assert_null(vdVmDiskSizesFind(NULL, "vda"));

    /* getStats: the image's sizes where stat() told, libvirt's elsewhere */
    vdVmStatsAdd(st, NULL, s, NULL, s, NULL, sizes);
    disk = member(member(st, "disks"), "vda");
    g_assert_cmpstr(str(disk, "apparentsize"), ==, "8192");
    g_assert_cmpint(g_ascii_strtoll(str(disk, "truesize"), NULL, 10), ==,
                    vdVmDiskSizesFind(sizes, "vda")->truesize);
    disk = member(member(st, "disks"), "vdb");
    g_assert_cmpstr(str(disk, "truesize"), ==, "333");
    g_assert_cmpstr(str(disk, "apparentsize"), ==, "444");
    unlink(path);

    /* no disk: nothing to stat */
    none = vdVmSampleParse(NULL, 0, VIR_DOMAIN_STATS_BLOCK, 1);
    g_assert_null(vdVmDiskSizesStat(none));
}

static void
test_escape(void)
{
    g_autoptr(GString) out = g_string_new(NULL);

    vdMetricsEscapeLabel(out, "a\"b\\c\nd");
    g_assert_cmpstr(out->str, ==, "a\\\"b\\\\c\\nd");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(virInitialize(), ==, 0);
    g_test_add_func("/vm-stats/parse", test_parse);
    g_test_add_func("/vm-stats/parse-garbage", test_parse_garbage);
    g_test_add_func("/vm-stats/parse-one-block", test_parse_one_block);
    g_test_add_func("/vm-stats/devinfo", test_devinfo);
    g_test_add_func("/vm-stats/pair", test_stats_pair);
    g_test_add_func("/vm-stats/single", test_stats_single);
    g_test_add_func("/vm-stats/reset", test_stats_reset);
    g_test_add_func("/vm-stats/disk-size", test_stats_disk_size);
    g_test_add_func("/vm-metrics/escape", test_escape);
    return g_test_run();
}
