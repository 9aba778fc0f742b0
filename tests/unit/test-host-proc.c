/* test-host-proc.c - unit tests of the host layer's parsers and builders:
 * /proc and /sys text parsers (host-proc.c), libvirt capabilities XML
 * (host-virt-caps.c), the netlink address dump and the network caps
 * (host-net.c), the sysfs topology walk (host-topology.c), the stats
 * arithmetic (host-stats.c) and the hardware identity (host-hwinfo.c).
 *
 * DESIGN: single-threaded GLib gtest program.  Parsers get fixture text
 * (mostly copied from real hosts); the sysfs/procfs walkers get a fixture
 * tree built under a temporary directory.  Every test asserts exact values.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host-hwinfo.h"
#include "host-net.h"
#include "host-proc.h"
#include "host-sampler.h"
#include "host-stats.h"
#include "host-topology.h"
#include "host-virt-caps.h"

/* ---- fixture tree helpers ------------------------------------------ */

static void
writeFile(const char *root, const char *rel, const char *content)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_file_set_contents(path, content, -1, &err);
    g_assert_no_error(err);
}

static void
makeDir(const char *root, const char *rel)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);

    g_assert_cmpint(g_mkdir_with_parents(path, 0755), ==, 0);
}

static void
removeTree(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);

    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            removeTree(child);
        else
            g_assert_cmpint(unlink(child), ==, 0);
    }
    g_assert_cmpint(rmdir(path), ==, 0);
}

static char *
makeTmp(void)
{
    g_autoptr(GError) err = NULL;
    char *dir = g_dir_make_tmp("test-host-XXXXXX", &err);

    g_assert_no_error(err);
    return dir;
}

/* json helpers: "a.b.c" member paths */
static json_object *
jget(json_object *o, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, ".", -1);

    /* a key may itself hold dots ("eth0.10"): extend it until it exists */
    for (gsize i = 0; parts[i]; i++) {
        g_autofree char *key = g_strdup(parts[i]);
        json_object *next = NULL;

        while (!json_object_object_get_ex(o, key, &next) && parts[i + 1]) {
            char *longer = g_strdup_printf("%s.%s", key, parts[++i]);

            g_free(key);
            key = longer;
        }
        if (!next)
            g_error("no member %s in path %s", key, path);
        o = next;
    }
    return o;
}

static void
assertJStr(json_object *o, const char *path, const char *expected)
{
    json_object *v = jget(o, path);

    g_assert_true(json_object_is_type(v, json_type_string));
    g_assert_cmpstr(json_object_get_string(v), ==, expected);
}

static void
assertJInt(json_object *o, const char *path, gint64 expected)
{
    json_object *v = jget(o, path);

    g_assert_true(json_object_is_type(v, json_type_int));
    g_assert_cmpint(json_object_get_int64(v), ==, expected);
}

static void
assertJBool(json_object *o, const char *path, gboolean expected)
{
    json_object *v = jget(o, path);

    g_assert_true(json_object_is_type(v, json_type_boolean));
    g_assert_cmpint(json_object_get_boolean(v), ==, expected);
}

/* the array at @path as "a,b,c" */
static char *
jArrayText(json_object *o, const char *path)
{
    json_object *arr = jget(o, path);
    GString *s = g_string_new(NULL);

    g_assert_true(json_object_is_type(arr, json_type_array));
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);

        if (i)
            g_string_append_c(s, ',');
        g_string_append(s, json_object_get_string(e));
    }
    return g_string_free(s, FALSE);
}

static void
assertJArray(json_object *o, const char *path, const char *expected)
{
    g_autofree char *text = jArrayText(o, path);

    g_assert_cmpstr(text, ==, expected);
}

/* ---- /proc/stat ---------------------------------------------------- */

static const char procStat[] = "cpu  2738 10 1142 35194 284 0 46 2 0 0\n"
                               "cpu0 1386 4 584 17510 207 0 15 1 0 0\n"
                               "cpu1 1351 6 557 17683 77 0 31 1 0 0\n"
                               "intr 173782 0 0 0\n"
                               "ctxt 314236\n"
                               "btime 1700000123\n"
                               "processes 5000\n"
                               "procs_running 2\n";

static void
testProcStat(void)
{
    VdProcStat st;
    const VdCpuCoreTimes *c;

    g_assert_true(vdProcStatParse(procStat, &st));
    g_assert_cmpuint(st.total.user, ==, 2748);
    g_assert_cmpuint(st.total.sys, ==, 1142);
    g_assert_cmpuint(st.total.idle, ==, 35194);
    g_assert_cmpint(st.btime, ==, 1700000123);
    g_assert_cmpuint(st.cores->len, ==, 2);
    c = &g_array_index(st.cores, VdCpuCoreTimes, 1);
    g_assert_cmpint(c->id, ==, 1);
    g_assert_cmpuint(c->t.user, ==, 1357);
    g_assert_cmpuint(c->t.sys, ==, 557);
    g_assert_cmpuint(c->t.idle, ==, 17683);
    vdProcStatClear(&st);

    g_assert_false(vdProcStatParse("cpu0 1 2 3 4\nbtime 5\n", &st));
    g_assert_cmpint(st.btime, ==, 5);
    vdProcStatClear(&st);
    g_assert_false(vdProcStatParse("cpu 1 2 x 4\n", &st));
    vdProcStatClear(&st);
    g_assert_false(vdProcStatParse("", &st));
    g_assert_cmpint(st.btime, ==, -1);
    vdProcStatClear(&st);
}

/* ---- meminfo ------------------------------------------------------- */

static void
testMeminfo(void)
{
    VdMeminfo mi;

    vdMeminfoParse("MemTotal:       24683976 kB\n"
                   "MemFree:        20000000 kB\n"
                   "MemAvailable:   22000000 kB\n"
                   "Buffers:           12345 kB\n"
                   "Cached:           987654 kB\n"
                   "SwapCached:            0 kB\n"
                   "SwapTotal:       2097148 kB\n"
                   "SwapFree:        2097000 kB\n"
                   "AnonHugePages:     28672 kB\n"
                   "SReclaimable:      55555 kB\n"
                   "Committed_AS:    3000000 kB\n"
                   "HugePages_Total:       0\n",
                   &mi);
    g_assert_cmpint(mi.mem_total, ==, 24683976);
    g_assert_cmpint(mi.mem_free, ==, 20000000);
    g_assert_cmpint(mi.mem_available, ==, 22000000);
    g_assert_cmpint(mi.buffers, ==, 12345);
    g_assert_cmpint(mi.cached, ==, 987654);
    g_assert_cmpint(mi.swap_total, ==, 2097148);
    g_assert_cmpint(mi.swap_free, ==, 2097000);
    g_assert_cmpint(mi.anon_huge_pages, ==, 28672);
    g_assert_cmpint(mi.sreclaimable, ==, 55555);
    g_assert_cmpint(mi.committed_as, ==, 3000000);

    vdMeminfoParse("Node 1 MemTotal:        5073100 kB\n"
                   "Node 1 MemFree:         3262504 kB\n"
                   "Node 1 MemUsed:         1810596 kB\n"
                   "Node 1 FilePages:        400000 kB\n",
                   &mi);
    g_assert_cmpint(mi.mem_total, ==, 5073100);
    g_assert_cmpint(mi.mem_free, ==, 3262504);
    g_assert_cmpint(mi.cached, ==, 400000);
    g_assert_cmpint(mi.swap_total, ==, -1);

    vdMeminfoParse(NULL, &mi);
    g_assert_cmpint(mi.mem_total, ==, -1);
}

/* ---- /proc/<pid>/stat ---------------------------------------------- */

static void
testPidStat(void)
{
    VdPidStat ps;

    g_assert_true(vdPidStatParse("4242 (vdsmd) S 1 4242 4242 0 -1 4194560 1234 0 0 0 "
                                 "150 75 0 0 20 0 9 0 987654 123456789 4567 "
                                 "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0\n",
                                 &ps));
    g_assert_cmpuint(ps.utime, ==, 150);
    g_assert_cmpuint(ps.stime, ==, 75);
    g_assert_cmpuint(ps.starttime, ==, 987654);

    /* a comm with spaces and parentheses */
    g_assert_true(
        vdPidStatParse("7 (a (b) c) R 1 1 1 0 -1 0 0 0 0 0 11 22 0 0 20 0 1 0 33 0 0", &ps));
    g_assert_cmpuint(ps.utime, ==, 11);
    g_assert_cmpuint(ps.stime, ==, 22);
    g_assert_cmpuint(ps.starttime, ==, 33);

    g_assert_false(vdPidStatParse("7 (x) R 1 2 3", &ps));
    g_assert_false(vdPidStatParse("no parenthesis", &ps));
    g_assert_false(vdPidStatParse(NULL, &ps));
}

/* ---- one-liners ---------------------------------------------------- */

static void
testOneLiners(void)
{
    g_autofree char *load = vdLoadavgParse("0.15 0.42 0.99 2/345 6789\n");
    g_autofree char *thp = vdBracketChoiceParse("always [madvise] never\n");
    g_autofree char *none = vdBracketChoiceParse("always madvise never\n");
    g_autofree char *bad_load = vdLoadavgParse("0.15 x 0.99 2/345 6789\n");

    g_assert_cmpstr(load, ==, "0.42");
    g_assert_null(bad_load);
    g_assert_null(vdLoadavgParse("0.1"));
    g_assert_cmpstr(thp, ==, "madvise");
    g_assert_null(none);
    g_assert_cmpfloat(vdUptimeParse("12345.67 2345.00\n"), ==, 12345.67);
    g_assert_cmpfloat(vdUptimeParse("garbage\n"), ==, -1);
    g_assert_cmpfloat(vdUptimeParse(NULL), ==, -1);
}

static void
testCpuList(void)
{
    struct {
        const char *in;
        const char *out; /* NULL: parse error */
    } cases[] = {
        {"0-3,5,7-8\n", "0,1,2,3,5,7,8"},
        {"0\n", "0"},
        {"", ""},
        {"  \n", ""},
        {"0-2,1", "0,1,2"},
        {"8,2,4", "2,4,8"},
        {"3-1", NULL},
        {"a-b", NULL},
        {"1,,2", NULL},
        {"0-99999999", NULL},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GArray) list = vdCpuListParse(cases[i].in);
        g_autofree char *text = NULL;

        if (!cases[i].out) {
            g_assert_null(list);
            continue;
        }
        g_assert_nonnull(list);
        text = vdIntListFormat(list);
        g_assert_cmpstr(text, ==, cases[i].out);
    }
}

/* ---- /proc/net/dev ------------------------------------------------- */

static const char procNetDev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 68072959  123456    0    0    0     0          0         0 68072959  123456    0 "
    "   0    0     0       0          0\n"
    "  eth0: 77719456   60000    1    2    0     0          0         5   147395    1500    3 "
    "   4    0     0       0          0\n"
    "broken: 1 2 3\n";

static void
testNetDev(void)
{
    g_autoptr(GPtrArray) devs = vdNetDevParse(procNetDev);
    VdNetDevCounters *eth0;

    g_assert_nonnull(devs);
    g_assert_cmpuint(devs->len, ==, 2);
    eth0 = g_ptr_array_index(devs, 1);
    g_assert_cmpstr(eth0->name, ==, "eth0");
    g_assert_cmpuint(eth0->rx_bytes, ==, 77719456);
    g_assert_cmpuint(eth0->rx_packets, ==, 60000);
    g_assert_cmpuint(eth0->rx_errors, ==, 1);
    g_assert_cmpuint(eth0->rx_dropped, ==, 2);
    g_assert_cmpuint(eth0->tx_bytes, ==, 147395);
    g_assert_cmpuint(eth0->tx_packets, ==, 1500);
    g_assert_cmpuint(eth0->tx_errors, ==, 3);
    g_assert_cmpuint(eth0->tx_dropped, ==, 4);
    g_assert_null(vdNetDevParse("not the header\n"));
}

/* ---- routes -------------------------------------------------------- */

static const char procRoute[] =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0\n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "eth2\t00000000\t0102000A\t0203\t0\t0\t0\t00000000\t0\t0\t0\n";

static const char procIpv6Route[] =
    "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe80000000000000025056fffec00008 00000064 00000002 00000000 00000003     br0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";

static void
testRoutes(void)
{
    g_autoptr(GPtrArray) v4 = vdRouteV4DefaultsParse(procRoute);
    g_autoptr(GPtrArray) v6 = vdRouteV6DefaultsParse(procIpv6Route);
    g_autoptr(GPtrArray) empty = vdRouteV4DefaultsParse(NULL);
    VdDefaultRoute *r;

    /* sorted by metric; the rejected route and the subnet route are left out */
    g_assert_cmpuint(v4->len, ==, 2);
    r = g_ptr_array_index(v4, 0);
    g_assert_cmpstr(r->dev, ==, "eth0");
    g_assert_cmpstr(r->gateway, ==, "192.0.2.1");
    g_assert_cmpuint(r->metric, ==, 100);
    r = g_ptr_array_index(v4, 1);
    g_assert_cmpstr(r->dev, ==, "eth1");
    g_assert_cmpstr(r->gateway, ==, "192.168.1.1");

    g_assert_cmpuint(v6->len, ==, 2);
    r = g_ptr_array_index(v6, 0);
    g_assert_cmpstr(r->dev, ==, "br0");
    g_assert_cmpstr(r->gateway, ==, "fe80::250:56ff:fec0:8");
    g_assert_cmpuint(r->metric, ==, 100);
    r = g_ptr_array_index(v6, 1);
    g_assert_cmpstr(r->dev, ==, "eth0");
    g_assert_cmpstr(r->gateway, ==, "fd00::1");
    g_assert_cmpuint(r->metric, ==, 1024);

    g_assert_cmpuint(empty->len, ==, 0);
}

static void
testVlanConfig(void)
{
    g_autoptr(GPtrArray) vlans = vdVlanConfigParse("VLAN Dev name\t | VLAN ID\n"
                                                   "Name-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD\n"
                                                   "eth0.10        | 10  | eth0\n"
                                                   "vlan200        | 200  | bond0\n"
                                                   "bad            | 9999 | eth0\n");
    VdVlanEntry *v;

    g_assert_cmpuint(vlans->len, ==, 2);
    v = g_ptr_array_index(vlans, 1);
    g_assert_cmpstr(v->name, ==, "vlan200");
    g_assert_cmpint(v->vid, ==, 200);
    g_assert_cmpstr(v->dev, ==, "bond0");
}

static void
testKeyValueAndResolv(void)
{
    g_autoptr(GHashTable) kv = vdKeyValueParse("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
                                               "# comment=1\n"
                                               "VERSION_ID='12'\n"
                                               "ID=debian\n"
                                               "EMPTY=\n"
                                               "garbage line\n");
    g_auto(GStrv) ns = vdResolvConfNameservers("# generated\n"
                                               "search example.com\n"
                                               "nameserver 10.0.0.53\n"
                                               "nameserver   fd00::53  # v6\n"
                                               "nameserver\n");
    g_autofree char *joined = g_strjoinv(",", ns);

    g_assert_cmpuint(g_hash_table_size(kv), ==, 4);
    g_assert_cmpstr(g_hash_table_lookup(kv, "PRETTY_NAME"), ==, "Debian GNU/Linux 12 (bookworm)");
    g_assert_cmpstr(g_hash_table_lookup(kv, "VERSION_ID"), ==, "12");
    g_assert_cmpstr(g_hash_table_lookup(kv, "ID"), ==, "debian");
    g_assert_cmpstr(g_hash_table_lookup(kv, "EMPTY"), ==, "");
    g_assert_cmpstr(joined, ==, "10.0.0.53,fd00::53");
}

static void
testCpuInfo(void)
{
    VdCpuInfo ci;

    vdCpuInfoParse("processor\t: 0\n"
                   "vendor_id\t: GenuineIntel\n"
                   "model name\t: Intel(R) Xeon(R) Processor \n"
                   "cpu MHz\t\t: 2000.000\n"
                   "flags\t\t: fpu vme de pse\n"
                   "\n"
                   "processor\t: 1\n"
                   "model name\t: Other\n"
                   "cpu MHz\t\t: 1000.000\n"
                   "flags\t\t: fpu\n",
                   &ci);
    g_assert_cmpstr(ci.model, ==, "Intel(R) Xeon(R) Processor");
    g_assert_cmpstr(ci.mhz, ==, "2000.000");
    g_assert_cmpuint(g_strv_length(ci.flags), ==, 4);
    g_assert_cmpstr(ci.flags[3], ==, "pse");
    vdCpuInfoClear(&ci);

    /* POWER */
    vdCpuInfoParse("processor\t: 0\ncpu\t\t: POWER9 (raw), altivec supported\n"
                   "clock\t\t: 3425.000000MHz\n",
                   &ci);
    g_assert_cmpstr(ci.model, ==, "POWER9 (raw), altivec supported");
    g_assert_cmpstr(ci.mhz, ==, "3425.000000");
    g_assert_cmpuint(g_strv_length(ci.flags), ==, 0);
    vdCpuInfoClear(&ci);

    vdCpuInfoParse(NULL, &ci);
    g_assert_cmpstr(ci.model, ==, "");
    g_assert_cmpstr(ci.mhz, ==, "");
    vdCpuInfoClear(&ci);
}

static void
testDpkg(void)
{
    static const char *const wanted[] = {"libvirt-daemon", "qemu-system-x86", "gone", NULL};
    g_autoptr(GHashTable) pkgs = vdDpkgStatusParse("Package: libvirt-daemon\n"
                                                   "Status: install ok installed\n"
                                                   "Version: 9.0.0-4+deb12u2\n"
                                                   "Description: x\n"
                                                   " continued\n"
                                                   "\n"
                                                   "Package: unwanted\n"
                                                   "Status: install ok installed\n"
                                                   "Version: 1.0\n"
                                                   "\n"
                                                   "Package: gone\n"
                                                   "Status: deinstall ok config-files\n"
                                                   "Version: 2.0-1\n"
                                                   "\n"
                                                   "Package: qemu-system-x86\n"
                                                   "Status: install ok installed\n"
                                                   "Version: 1:7.2+dfsg-7+deb12u18+b3\n",
                                                   wanted);
    char *version = NULL, *release = NULL;

    g_assert_cmpuint(g_hash_table_size(pkgs), ==, 2);
    g_assert_cmpstr(g_hash_table_lookup(pkgs, "libvirt-daemon"), ==, "9.0.0-4+deb12u2");
    g_assert_cmpstr(g_hash_table_lookup(pkgs, "qemu-system-x86"), ==, "1:7.2+dfsg-7+deb12u18+b3");

    vdDebVersionSplit("1:7.2+dfsg-7+deb12u18+b3", &version, &release);
    g_assert_cmpstr(version, ==, "7.2+dfsg");
    g_assert_cmpstr(release, ==, "7+deb12u18+b3");
    g_free(version);
    g_free(release);
    vdDebVersionSplit("1.2.3", &version, &release);
    g_assert_cmpstr(version, ==, "1.2.3");
    g_assert_cmpstr(release, ==, "");
    g_free(version);
    g_free(release);
}

static void
testKernel(void)
{
    char *version = NULL, *release = NULL;

    vdKernelReleaseSplit("6.1.0-13-amd64", &version, &release);
    g_assert_cmpstr(version, ==, "6.1.0");
    g_assert_cmpstr(release, ==, "13-amd64");
    g_free(version);
    g_free(release);
    vdKernelReleaseSplit("6.7", &version, &release);
    g_assert_cmpstr(version, ==, "0");
    g_assert_cmpstr(release, ==, "0");
    g_free(version);
    g_free(release);

    /* 2023-09-29T00:00:00Z */
    g_assert_cmpint(vdKernelBuildTimeParse("#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)"),
                    ==, 1695945600);
    /* Mon Oct 16 14:21:08 UTC 2023 */
    g_assert_cmpint(vdKernelBuildTimeParse("#1 SMP PREEMPT_DYNAMIC Mon Oct 16 14:21:08 UTC 2023"),
                    ==, 1697466068);
    g_assert_cmpint(vdKernelBuildTimeParse("#1 SMP PREEMPT_DYNAMIC @0"), ==, 0);
    g_assert_cmpint(vdKernelBuildTimeParse(NULL), ==, 0);
}

static void
testMachineId(void)
{
    g_autofree char *uuid = vdMachineIdToUuid("3D1219C7C4C5404AAA1F6D2A48ADFDA4\n");

    g_assert_cmpstr(uuid, ==, "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4");
    g_assert_null(vdMachineIdToUuid("3d1219c7c4c5404a"));
    g_assert_null(vdMachineIdToUuid("zz1219c7c4c5404aaa1f6d2a48adfda4"));
    g_assert_null(vdMachineIdToUuid(NULL));
}

/* ---- libvirt XML --------------------------------------------------- */

static const char capsXml[] =
    "<?xml version='1.0'?>\n"
    "<capabilities>\n"
    "  <host>\n"
    "    <uuid>f0bfee38-d651-4ac4-bfea-49e56932f947</uuid>\n"
    "    <cpu>\n"
    "      <arch>x86_64</arch>\n"
    "      <model>Broadwell-noTSX-IBRS</model>\n"
    "      <counter name='tsc' frequency='2000000000' scaling='yes'/>\n"
    "      <topology sockets='1' dies='1' cores='2' threads='1'/>\n"
    "    </cpu>\n"
    "  </host>\n"
    "  <guest>\n"
    "    <os_type>hvm</os_type>\n"
    "    <arch name='i686'>\n"
    "      <machine maxCpus='255'>pc-i686-only</machine>\n"
    "      <domain type='qemu'/>\n"
    "    </arch>\n"
    "  </guest>\n"
    "  <guest>\n"
    "    <os_type>hvm</os_type>\n"
    "    <arch name='x86_64'>\n"
    "      <machine maxCpus='255'>pc-i440fx-7.2</machine>\n"
    "      <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>\n"
    "      <machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>\n"
    "      <machine maxCpus='288'>pc-q35-7.2</machine>\n"
    "      <domain type='qemu'/>\n"
    "      <domain type='kvm'%s\n"
    "    </arch>\n"
    "  </guest>\n"
    "</capabilities>\n";

static void
testVirtCaps(void)
{
    g_autofree char *with_kvm =
        g_strdup_printf(capsXml, "><machine>pc-kvm-only</machine>"
                                 "<machine canonical='pc-kvm-only'>kvmalias</machine></domain>");
    g_autofree char *without_kvm = g_strdup_printf(capsXml, "/>");
    g_autoptr(GError) err = NULL;
    VdVirtCaps vc;
    GString *s;

    g_assert_true(vdVirtCapsParse(with_kvm, NULL, &vc, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(vc.host_arch, ==, "x86_64");
    g_assert_cmpstr(vc.tsc_frequency, ==, "2000000000");
    g_assert_true(vc.tsc_scaling);
    g_assert_cmpuint(vc.machines->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(vc.machines, 0), ==, "pc-kvm-only");
    g_assert_cmpstr(g_ptr_array_index(vc.machines, 1), ==, "kvmalias");
    vdVirtCapsClear(&vc);

    /* no machines under <domain type='kvm'>: the <arch> list, canonical
     * names after their alias, no duplicates */
    g_assert_true(vdVirtCapsParse(without_kvm, NULL, &vc, &err));
    s = g_string_new(NULL);
    for (guint i = 0; i < vc.machines->len; i++)
        g_string_append_printf(s, "%s%s", i ? "," : "", (char *)g_ptr_array_index(vc.machines, i));
    g_assert_cmpstr(s->str, ==, "pc-i440fx-7.2,pc,q35,pc-q35-7.2");
    g_string_free(s, TRUE);
    vdVirtCapsClear(&vc);

    g_assert_true(vdVirtCapsParse(without_kvm, "i686", &vc, &err));
    g_assert_cmpuint(vc.machines->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(vc.machines, 0), ==, "pc-i686-only");
    vdVirtCapsClear(&vc);

    g_assert_true(vdVirtCapsParse("<capabilities/>", NULL, &vc, &err));
    g_assert_cmpstr(vc.host_arch, ==, "");
    g_assert_cmpstr(vc.tsc_frequency, ==, "");
    g_assert_false(vc.tsc_scaling);
    g_assert_cmpuint(vc.machines->len, ==, 0);
    vdVirtCapsClear(&vc);

    g_assert_false(vdVirtCapsParse("<capabilities><host>", NULL, &vc, &err));
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(err->message, "cannot parse libvirt capabilities: "));
    g_assert_null(vc.machines);
}

static void
testDomCaps(void)
{
    static const char xml[] = "<domainCapabilities>\n"
                              "  <path>/usr/bin/qemu-system-x86_64</path>\n"
                              "  <domain>kvm</domain>\n"
                              "  <machine>pc-i440fx-7.2</machine>\n"
                              "  <arch>x86_64</arch>\n"
                              "  <cpu>\n"
                              "    <mode name='host-passthrough' supported='yes'/>\n"
                              "    <mode name='host-model' supported='yes'>\n"
                              "      <model fallback='forbid'>Skylake-Client-IBRS</model>\n"
                              "      <vendor>Intel</vendor>\n"
                              "      <feature policy='require' name='ss'/>\n"
                              "      <feature policy='disable' name='hle'/>\n"
                              "      <feature policy='require' name='tsc-deadline'/>\n"
                              "    </mode>\n"
                              "    <mode name='custom' supported='yes'>\n"
                              "      <model usable='yes' vendor='unknown'>qemu64</model>\n"
                              "      <model usable='no' vendor='Intel'>Westmere</model>\n"
                              "      <model usable='yes' vendor='Intel'>Nehalem</model>\n"
                              "      <model usable='unknown' vendor='Intel'>Penryn</model>\n"
                              "    </mode>\n"
                              "  </cpu>\n"
                              "</domainCapabilities>\n";
    g_autoptr(GError) err = NULL;
    VdDomCaps dc;

    g_assert_true(vdDomCapsParse(xml, &dc, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(dc.machine, ==, "pc-i440fx-7.2");
    g_assert_cmpuint(dc.usable_models->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(dc.usable_models, 0), ==, "qemu64");
    g_assert_cmpstr(g_ptr_array_index(dc.usable_models, 1), ==, "Nehalem");
    g_assert_cmpuint(dc.features->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(dc.features, 0), ==, "ss");
    g_assert_cmpstr(g_ptr_array_index(dc.features, 1), ==, "tsc-deadline");
    vdDomCapsClear(&dc);

    g_assert_false(vdDomCapsParse("<domainCapabilities><cpu>", &dc, &err));
    g_assert_nonnull(err);
}

/* ---- netlink address dump ------------------------------------------ */

static void
nlAppendAttr(GByteArray *msg, guint16 type, const void *data, gsize len)
{
    struct rtattr rta = {.rta_len = (unsigned short)RTA_LENGTH(len), .rta_type = type};
    static const guint8 zeros[4] = {0};

    g_byte_array_append(msg, (const guint8 *)&rta, sizeof(rta));
    g_byte_array_append(msg, data, (guint)len);
    g_byte_array_append(msg, zeros, (guint)(RTA_ALIGN(len) - len));
}

/* Start a message; returns its offset so nlEnd can fix its length. */
static guint
nlBegin(GByteArray *buf, guint16 type)
{
    struct nlmsghdr nh = {.nlmsg_type = type, .nlmsg_flags = NLM_F_MULTI};
    guint off = buf->len;

    g_byte_array_append(buf, (const guint8 *)&nh, sizeof(nh));
    return off;
}

static void
nlEnd(GByteArray *buf, guint off)
{
    static const guint8 zeros[4] = {0};
    struct nlmsghdr *nh = (struct nlmsghdr *)(buf->data + off);

    nh->nlmsg_len = buf->len - off;
    g_byte_array_append(buf, zeros, NLMSG_ALIGN(nh->nlmsg_len) - nh->nlmsg_len);
}

static void
nlAddAddr(GByteArray *buf, int family, int index, int prefix, int scope, guint8 legacy_flags,
          const char *local, const char *address, const char *label, guint32 flags)
{
    guint off = nlBegin(buf, RTM_NEWADDR);
    struct ifaddrmsg ifa = {.ifa_family = (unsigned char)family,
                            .ifa_prefixlen = (unsigned char)prefix,
                            .ifa_flags = legacy_flags,
                            .ifa_scope = (unsigned char)scope,
                            .ifa_index = (unsigned)index};
    guint8 bin[16];
    gsize alen = family == AF_INET ? 4 : 16;

    g_byte_array_append(buf, (const guint8 *)&ifa, sizeof(ifa));
    if (address) {
        g_assert_cmpint(inet_pton(family, address, bin), ==, 1);
        nlAppendAttr(buf, IFA_ADDRESS, bin, alen);
    }
    if (local) {
        g_assert_cmpint(inet_pton(family, local, bin), ==, 1);
        nlAppendAttr(buf, IFA_LOCAL, bin, alen);
    }
    if (label)
        nlAppendAttr(buf, IFA_LABEL, label, strlen(label) + 1);
    if (flags)
        nlAppendAttr(buf, IFA_FLAGS, &flags, sizeof(flags));
    nlEnd(buf, off);
}

static void
testAddrDump(void)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)vdHostAddrFree);
    g_autoptr(GError) err = NULL;
    gboolean done = FALSE;
    VdHostAddr *a;
    guint off;

    /* IPv4 point-to-point: IFA_LOCAL is ours; IFA_FLAGS overrides ifa_flags */
    nlAddAddr(buf, AF_INET, 3, 24, RT_SCOPE_UNIVERSE, 0, "10.0.0.5", "10.9.9.9", "br0",
              IFA_F_PERMANENT | 0x100);
    nlAddAddr(buf, AF_INET6, 3, 64, RT_SCOPE_LINK, IFA_F_PERMANENT, NULL, "fe80::1", NULL, 0);
    off = nlBegin(buf, RTM_NEWLINK); /* not an address: skipped */
    nlEnd(buf, off);
    off = nlBegin(buf, NLMSG_DONE);
    {
        int zero = 0;

        g_byte_array_append(buf, (const guint8 *)&zero, sizeof(zero));
    }
    nlEnd(buf, off);

    g_assert_true(vdHostAddrDumpParse(buf->data, buf->len, out, &done, &err));
    g_assert_no_error(err);
    g_assert_true(done);
    g_assert_cmpuint(out->len, ==, 2);
    a = g_ptr_array_index(out, 0);
    g_assert_cmpint(a->family, ==, AF_INET);
    g_assert_cmpint(a->ifindex, ==, 3);
    g_assert_cmpstr(a->address, ==, "10.0.0.5");
    g_assert_cmpstr(a->label, ==, "br0");
    g_assert_cmpint(a->prefixlen, ==, 24);
    g_assert_cmpuint(a->flags, ==, IFA_F_PERMANENT | 0x100);
    g_assert_cmpint(a->scope, ==, RT_SCOPE_UNIVERSE);
    a = g_ptr_array_index(out, 1);
    g_assert_cmpint(a->family, ==, AF_INET6);
    g_assert_cmpstr(a->address, ==, "fe80::1");
    g_assert_null(a->label);
    g_assert_cmpuint(a->flags, ==, IFA_F_PERMANENT);
    g_assert_cmpint(a->scope, ==, RT_SCOPE_LINK);

    /* an error answer */
    g_byte_array_set_size(buf, 0);
    off = nlBegin(buf, NLMSG_ERROR);
    {
        int e = -EPERM;
        struct nlmsghdr orig = {0};

        g_byte_array_append(buf, (const guint8 *)&e, sizeof(e));
        g_byte_array_append(buf, (const guint8 *)&orig, sizeof(orig));
    }
    nlEnd(buf, off);
    done = FALSE;
    g_assert_false(vdHostAddrDumpParse(buf->data, buf->len, out, &done, &err));
    g_assert_nonnull(err);
    g_assert_true(strstr(err->message, g_strerror(EPERM)) != NULL);
    g_clear_error(&err);

    /* a message claiming more bytes than were read */
    g_byte_array_set_size(buf, 0);
    nlAddAddr(buf, AF_INET, 1, 8, 0, 0, NULL, "127.0.0.1", "lo", 0);
    g_assert_false(vdHostAddrDumpParse(buf->data, buf->len - 4, out, &done, &err));
    g_assert_nonnull(err);
    g_assert_cmpuint(out->len, ==, 2);
}

static VdHostAddr *
fakeAddr(const char *label, const char *text, int prefix, guint32 flags, int scope)
{
    VdHostAddr *a = g_new0(VdHostAddr, 1);

    a->family = strchr(text, ':') ? AF_INET6 : AF_INET;
    g_assert_cmpint(inet_pton(a->family, text, a->bin), ==, 1);
    a->label = g_strdup(label);
    a->address = g_strdup(text);
    a->prefixlen = prefix;
    a->flags = flags;
    a->scope = scope;
    return a;
}

static void
testAddrOwner(void)
{
    g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func((GDestroyNotify)vdHostAddrFree);
    struct {
        const char *in;
        const char *owner;
    } cases[] = {
        {"10.0.0.5", "br0"},
        {"::ffff:10.0.0.5", "br0"},
        {"10.0.0.6", "br0:1"},
        {"2001:db8::5", "eth0"},
        {"[2001:db8::5]", "eth0"},
        {"fe80::1%eth0", "eth0"},
        {"10.0.0.99", ""},
        {"not an address", ""},
        {"", ""},
        {NULL, ""},
    };

    g_ptr_array_add(addrs, fakeAddr("br0", "10.0.0.5", 24, IFA_F_PERMANENT, 0));
    g_ptr_array_add(addrs, fakeAddr("br0:1", "10.0.0.6", 24, IFA_F_PERMANENT, 0));
    g_ptr_array_add(addrs, fakeAddr("eth0", "2001:db8::5", 64, IFA_F_PERMANENT, 0));
    g_ptr_array_add(addrs, fakeAddr("eth0", "fe80::1", 64, IFA_F_PERMANENT, RT_SCOPE_LINK));
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *owner = vdHostAddrOwner(addrs, cases[i].in);

        g_assert_cmpstr(owner, ==, cases[i].owner);
    }
}

/* ---- network caps over a fixture tree ------------------------------ */

static void
buildNetTree(const char *root)
{
    static const char *const links[] = {
        "eth0", "eth1", "br0", "bond0", "eth0.10", "eth1.20", "dummy_1", "wlan0", "ifb0", "lo",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(links); i++) {
        g_autofree char *rel = g_strdup_printf("sys/%s/mtu", links[i]);
        g_autofree char *uevent = g_strdup_printf("sys/%s/uevent", links[i]);
        g_autofree char *uevent_text = g_strdup_printf("INTERFACE=%s\nIFINDEX=%zu\n", links[i], i);

        writeFile(root, rel, "1500\n");
        writeFile(root, uevent, uevent_text);
    }
    writeFile(root, "sys/bonding_masters", "bond0\n");

    makeDir(root, "sys/eth0/device");
    writeFile(root, "sys/eth0/address", "52:54:00:aa:bb:cc\n");
    writeFile(root, "sys/eth0/operstate", "up\n");
    writeFile(root, "sys/eth0/speed", "10000\n");

    makeDir(root, "sys/eth1/device");
    writeFile(root, "sys/eth1/address", "52:54:00:00:00:99\n");
    writeFile(root, "sys/eth1/mtu", "9000\n");
    writeFile(root, "sys/eth1/operstate", "down\n");
    writeFile(root, "sys/eth1/speed", "-1\n");
    writeFile(root, "sys/eth1/bonding_slave/perm_hwaddr", "52:54:00:00:00:11\n");

    writeFile(root, "sys/br0/uevent", "DEVTYPE=bridge\nINTERFACE=br0\n");
    writeFile(root, "sys/br0/bridge/stp_state", "1\n");
    writeFile(root, "sys/br0/bridge/forward_delay", "1500\n");
    writeFile(root, "sys/br0/bridge/priority", "32768\n");
    makeDir(root, "sys/br0/brif/eth0");
    makeDir(root, "sys/br0/brif/dummy_1");

    writeFile(root, "sys/bond0/address", "52:54:00:00:00:99\n");
    writeFile(root, "sys/bond0/mtu", "9000\n");
    writeFile(root, "sys/bond0/bonding/slaves", "eth1\n");
    writeFile(root, "sys/bond0/bonding/active_slave", "eth1\n");
    writeFile(root, "sys/bond0/bonding/mode", "active-backup 1\n");
    writeFile(root, "sys/bond0/bonding/miimon", "100\n");
    writeFile(root, "sys/bond0/bonding/updelay", "0\n");
    writeFile(root, "sys/bond0/bonding/xmit_hash_policy", "layer2 0\n");
    writeFile(root, "sys/bond0/bonding/lacp_rate", "fast 1\n");
    writeFile(root, "sys/bond0/bonding/arp_ip_target", "10.0.0.1 10.0.0.2\n");

    writeFile(root, "sys/eth0.10/uevent", "DEVTYPE=vlan\nINTERFACE=eth0.10\n");
    writeFile(root, "sys/eth1.20/uevent", "DEVTYPE=vlan\nINTERFACE=eth1.20\n");
    makeDir(root, "sys/eth1.20/lower_eth1");

    writeFile(root, "sys/dummy_1/address", "aa:bb:cc:dd:ee:ff\n");
    writeFile(root, "sys/dummy_1/operstate", "unknown\n");
    makeDir(root, "sys/wlan0/device");

    writeFile(
        root, "proc/net/route",
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "dummy_1\t00000000\t0100010A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "br0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "br0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
    writeFile(root, "proc/net/ipv6_route",
              "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
              "fe800000000000000000000000000001 00000400 00000002 00000000 00000003      br0\n");
    writeFile(root, "proc/net/vlan/config",
              "VLAN Dev name\t | VLAN ID\nName-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD\n"
              "eth0.10        | 10  | eth0\n");
    writeFile(root, "proc/net/if_inet6", "");
    writeFile(root, "proc/sys/net/ipv6/conf/br0/autoconf", "1\n");
    writeFile(root, "proc/sys/net/ipv6/conf/eth0/autoconf", "0\n");
    writeFile(root, "resolv.conf",
              "# x\nnameserver 10.0.0.53\nsearch example\nnameserver fd00::53\n");
}

static void
testNetCaps(void)
{
    g_autofree char *root = makeTmp();
    g_autofree char *sys = g_build_filename(root, "sys", NULL);
    g_autofree char *proc = g_build_filename(root, "proc", NULL);
    g_autofree char *resolv = g_build_filename(root, "resolv.conf", NULL);
    g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func((GDestroyNotify)vdHostAddrFree);
    static const char *const hidden[] = {"w*", "usb*", NULL};
    static const char *const fake[] = {"dummy_*", "veth_*", NULL};
    VdHostNetSource src = {0};
    json_object *caps = json_object_new_object();
    g_auto(GStrv) names = NULL;
    g_autofree char *joined = NULL;

    buildNetTree(root);
    /* br0: a DHCP address outside the gateway's subnet first, then the
     * primary in the gateway's subnet, then a secondary */
    g_ptr_array_add(addrs, fakeAddr("br0", "192.168.1.5", 16, 0, RT_SCOPE_UNIVERSE));
    g_ptr_array_add(addrs, fakeAddr("br0", "10.0.0.5", 24, IFA_F_PERMANENT, RT_SCOPE_UNIVERSE));
    g_ptr_array_add(addrs, fakeAddr("br0", "10.0.0.6", 24, IFA_F_PERMANENT | IFA_F_SECONDARY,
                                    RT_SCOPE_UNIVERSE));
    g_ptr_array_add(addrs,
                    fakeAddr("br0", "fe80::5054:ff:feaa:bbcc", 64, IFA_F_PERMANENT, RT_SCOPE_LINK));
    g_ptr_array_add(addrs, fakeAddr("br0", "2001:db8::5", 64, IFA_F_PERMANENT, RT_SCOPE_UNIVERSE));
    g_ptr_array_add(addrs, fakeAddr("br0", "2001:db8::100", 128, 0, RT_SCOPE_UNIVERSE));
    g_ptr_array_add(addrs, fakeAddr("dummy_1", "10.1.0.7", 24, IFA_F_PERMANENT, RT_SCOPE_UNIVERSE));

    src.sys_class_net = sys;
    src.proc_root = proc;
    src.resolv_conf = resolv;
    src.hidden_nics = hidden;
    src.fake_nics = fake;
    src.addrs = addrs;
    vdHostNetCapsFill(&src, caps);

    /* nics: real devices and fake ones; wlan0 hidden; ifb0, lo not NICs */
    g_assert_cmpint(json_object_object_length(jget(caps, "nics")), ==, 3);
    assertJStr(caps, "nics.eth0.hwaddr", "52:54:00:aa:bb:cc");
    assertJInt(caps, "nics.eth0.speed", 10000);
    assertJStr(caps, "nics.eth0.mtu", "1500");
    assertJStr(caps, "nics.eth0.addr", "");
    assertJStr(caps, "nics.eth0.netmask", "");
    assertJArray(caps, "nics.eth0.ipv4addrs", "");
    assertJStr(caps, "nics.eth0.gateway", "");
    assertJStr(caps, "nics.eth0.ipv6gateway", "::");
    assertJBool(caps, "nics.eth0.ipv4defaultroute", FALSE);
    assertJBool(caps, "nics.eth0.ipv6autoconf", FALSE);
    assertJInt(caps, "nics.eth1.speed", 0);
    assertJStr(caps, "nics.eth1.mtu", "9000");
    assertJStr(caps, "nics.eth1.permhwaddr", "52:54:00:00:00:11");
    assertJStr(caps, "nics.dummy_1.addr", "10.1.0.7");
    assertJStr(caps, "nics.dummy_1.netmask", "255.255.255.0");
    assertJStr(caps, "nics.dummy_1.gateway", "10.1.0.1");
    assertJBool(caps, "nics.dummy_1.ipv4defaultroute", FALSE);
    assertJBool(caps, "nics.dummy_1.dhcpv4", FALSE);

    /* bridge */
    g_assert_cmpint(json_object_object_length(jget(caps, "bridges")), ==, 1);
    assertJArray(caps, "bridges.br0.ports", "dummy_1,eth0");
    assertJStr(caps, "bridges.br0.stp", "on");
    g_assert_cmpint(json_object_object_length(jget(caps, "bridges.br0.opts")), ==, 3);
    assertJStr(caps, "bridges.br0.opts.forward_delay", "1500");
    assertJStr(caps, "bridges.br0.opts.stp_state", "1");
    assertJStr(caps, "bridges.br0.addr", "10.0.0.5");
    assertJStr(caps, "bridges.br0.netmask", "255.255.255.0");
    assertJArray(caps, "bridges.br0.ipv4addrs", "192.168.1.5/16,10.0.0.5/24,10.0.0.6/24");
    assertJArray(caps, "bridges.br0.ipv6addrs", "2001:db8::5/64,2001:db8::100/128");
    assertJStr(caps, "bridges.br0.gateway", "10.0.0.1");
    assertJStr(caps, "bridges.br0.ipv6gateway", "fe80::1");
    assertJBool(caps, "bridges.br0.ipv4defaultroute", TRUE);
    assertJBool(caps, "bridges.br0.dhcpv4", TRUE);
    assertJBool(caps, "bridges.br0.dhcpv6", TRUE);
    assertJBool(caps, "bridges.br0.ipv6autoconf", TRUE);

    /* bond: mode as a number, only non-default options */
    assertJArray(caps, "bondings.bond0.slaves", "eth1");
    assertJStr(caps, "bondings.bond0.active_slave", "eth1");
    assertJStr(caps, "bondings.bond0.hwaddr", "52:54:00:00:00:99");
    assertJStr(caps, "bondings.bond0.switch", "legacy");
    assertJStr(caps, "bondings.bond0.mtu", "9000");
    g_assert_cmpint(json_object_object_length(jget(caps, "bondings.bond0.opts")), ==, 4);
    assertJStr(caps, "bondings.bond0.opts.mode", "1");
    assertJStr(caps, "bondings.bond0.opts.miimon", "100");
    assertJStr(caps, "bondings.bond0.opts.lacp_rate", "1");
    assertJStr(caps, "bondings.bond0.opts.arp_ip_target", "10.0.0.1,10.0.0.2");

    /* vlans: from /proc/net/vlan/config, or lower_<dev> and the name */
    g_assert_cmpint(json_object_object_length(jget(caps, "vlans")), ==, 2);
    assertJStr(caps, "vlans.eth0.10.iface", "eth0");
    assertJInt(caps, "vlans.eth0.10.vlanid", 10);
    assertJStr(caps, "vlans.eth1.20.iface", "eth1");
    assertJInt(caps, "vlans.eth1.20.vlanid", 20);

    assertJArray(caps, "nameservers", "10.0.0.53,fd00::53");
    assertJBool(caps, "supportsIPv6", TRUE);
    json_object_put(caps);

    /* the sampler's list: every link directory but the hidden ones */
    names = vdHostNetLinkNames(sys, hidden);
    joined = g_strjoinv(",", names);
    g_assert_cmpstr(joined, ==, "bond0,br0,dummy_1,eth0,eth0.10,eth1,eth1.20,ifb0,lo");
    g_assert_cmpint(vdHostNetLinkSpeed(sys, "eth0"), ==, 10000);
    g_assert_cmpint(vdHostNetLinkSpeed(sys, "eth1"), ==, 0);
    g_assert_cmpint(vdHostNetLinkSpeed(sys, "missing"), ==, 0);

    removeTree(root);
}

/* ---- topology ------------------------------------------------------ */

static void
buildTopologyTree(const char *root)
{
    static const struct {
        int cpu, socket, core;
        const char *siblings;
    } cpus[] = {
        {0, 0, 0, "0-1"},
        {1, 0, 0, "0-1"},
        {2, 1, 0, "2-3"},
        {3, 1, 0, "2-3"},
    };

    writeFile(root, "devices/system/cpu/online", "0-3\n");
    for (gsize i = 0; i < G_N_ELEMENTS(cpus); i++) {
        g_autofree char *base = g_strdup_printf("devices/system/cpu/cpu%d/topology", cpus[i].cpu);
        g_autofree char *p1 = g_strdup_printf("%s/physical_package_id", base);
        g_autofree char *p2 = g_strdup_printf("%s/die_id", base);
        g_autofree char *p3 = g_strdup_printf("%s/core_id", base);
        g_autofree char *p4 = g_strdup_printf("%s/thread_siblings_list", base);
        g_autofree char *v1 = g_strdup_printf("%d\n", cpus[i].socket);
        g_autofree char *v3 = g_strdup_printf("%d\n", cpus[i].core);
        g_autofree char *v4 = g_strdup_printf("%s\n", cpus[i].siblings);

        writeFile(root, p1, v1);
        writeFile(root, p2, "0\n");
        writeFile(root, p3, v3);
        writeFile(root, p4, v4);
    }
    writeFile(root, "devices/system/node/online", "0-1\n");
    writeFile(root, "devices/system/node/has_cpu", "0-1\n");
    writeFile(root, "devices/system/node/node0/cpulist", "0-1\n");
    writeFile(root, "devices/system/node/node0/meminfo",
              "Node 0 MemTotal:        4194304 kB\nNode 0 MemFree:         1048576 kB\n");
    writeFile(root, "devices/system/node/node0/distance", "10 21\n");
    writeFile(root, "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "512\n");
    writeFile(root, "devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages", "0\n");
    writeFile(root, "devices/system/node/node1/cpulist", "2-3\n");
    writeFile(root, "devices/system/node/node1/meminfo",
              "Node 1 MemTotal:        2097152 kB\nNode 1 MemFree:          524288 kB\n");
    writeFile(root, "devices/system/node/node1/distance", "21 10\n");
}

static void
testTopology(void)
{
    g_autofree char *root = makeTmp();
    g_autoptr(VdHostTopology) topo = NULL;
    g_autoptr(VdHostTopology) empty = NULL;
    g_autofree char *online = NULL;
    const VdHostNumaNode *n0, *n1;
    const VdHostCpu *c2;
    const VdHostNodePages *p;

    buildTopologyTree(root);
    topo = vdHostTopologyRead(root);
    online = vdIntListFormat(topo->online);
    g_assert_cmpstr(online, ==, "0,1,2,3");
    g_assert_cmpint(topo->sockets, ==, 2);
    g_assert_cmpint(topo->cores, ==, 2);
    g_assert_cmpint(topo->threads, ==, 4);
    g_assert_cmpuint(topo->cpus->len, ==, 4);
    c2 = &g_array_index(topo->cpus, VdHostCpu, 2);
    g_assert_cmpint(c2->cpu_id, ==, 2);
    g_assert_cmpint(c2->numa_cell_id, ==, 1);
    g_assert_cmpint(c2->socket_id, ==, 1);
    g_assert_cmpint(c2->die_id, ==, 0);
    g_assert_cmpint(c2->core_id, ==, 0);

    g_assert_cmpuint(topo->nodes->len, ==, 2);
    n0 = g_ptr_array_index(topo->nodes, 0);
    n1 = g_ptr_array_index(topo->nodes, 1);
    g_assert_cmpint(n0->id, ==, 0);
    g_assert_cmpint(n0->total_kib, ==, 4194304);
    g_assert_cmpuint(n0->distances->len, ==, 2);
    g_assert_cmpint(g_array_index(n0->distances, int, 1), ==, 21);
    /* 4 KiB pages = (total - huge pages) / 4, then huge page sizes ascending */
    g_assert_cmpuint(n0->pages->len, ==, 3);
    p = &g_array_index(n0->pages, VdHostNodePages, 0);
    g_assert_cmpuint(p->size_kib, ==, 4);
    g_assert_cmpuint(p->total, ==, (4194304 - 512 * 2048) / 4);
    p = &g_array_index(n0->pages, VdHostNodePages, 1);
    g_assert_cmpuint(p->size_kib, ==, 2048);
    g_assert_cmpuint(p->total, ==, 512);
    p = &g_array_index(n0->pages, VdHostNodePages, 2);
    g_assert_cmpuint(p->size_kib, ==, 1048576);
    g_assert_cmpuint(p->total, ==, 0);
    g_assert_cmpint(n1->id, ==, 1);
    g_assert_cmpuint(n1->cpus->len, ==, 2);
    g_assert_cmpint(g_array_index(n1->cpus, int, 0), ==, 2);
    g_assert_cmpint(vdHostTopologyNodeOfCpu(topo, 3), ==, 1);
    g_assert_cmpint(vdHostTopologyNodeOfCpu(topo, 99), ==, 0);
    removeTree(root);

    /* nothing readable: one node with every CPU the process can count */
    empty = vdHostTopologyRead("/nonexistent-sysfs");
    g_assert_cmpuint(empty->online->len, ==, g_get_num_processors());
    g_assert_cmpuint(empty->nodes->len, ==, 1);
    g_assert_cmpint(((VdHostNumaNode *)g_ptr_array_index(empty->nodes, 0))->total_kib, ==, -1);
    g_assert_cmpint(empty->sockets, ==, 1);
}

/* ---- stats arithmetic ---------------------------------------------- */

static VdHostSample *
makeSample(gint64 mono_us, guint64 user, guint64 sys, guint64 c0u, guint64 c0s, guint64 c1u,
           guint64 c1s)
{
    VdHostSample *s = vdHostSampleNew();
    VdCpuCoreTimes c0 = {.id = 0, .t = {c0u, c0s, 0}};
    VdCpuCoreTimes c1 = {.id = 1, .t = {c1u, c1s, 0}};

    s->mono_us = mono_us;
    s->wall = 1700000000.5;
    s->stat.total.user = user;
    s->stat.total.sys = sys;
    g_array_append_val(s->stat.cores, c0);
    g_array_append_val(s->stat.cores, c1);
    s->ncpus = 2;
    return s;
}

static void
addNic(VdHostSample *s, const char *name, guint64 rx, guint64 tx, gint64 speed, guint64 rxd)
{
    VdHostNicSample *n = g_new0(VdHostNicSample, 1);

    n->name = g_strdup(name);
    n->rx = rx;
    n->tx = tx;
    n->rx_dropped = rxd;
    n->speed = speed;
    n->state = g_strdup("up");
    g_ptr_array_add(s->nics, n);
}

static void
testStatsProduce(void)
{
    g_autofree char *root = makeTmp();
    g_autoptr(VdHostTopology) topo = NULL;
    g_autoptr(VdHostSample) first = makeSample(5000000, 1000, 500, 400, 100, 600, 400);
    g_autoptr(VdHostSample) last = makeSample(15000000, 1300, 600, 600, 150, 700, 450);
    VdHostHugepageSample hp = {.size_kib = 2048, .free_hugepages = 3, .nr_hugepages = 4};
    VdHostNodeMemSample nm0 = {.node = 0, .total_kib = 4096000, .free_kib = 1024000};
    VdHostNodeMemSample nm1 = {.node = 1, .total_kib = 0, .free_kib = 0};
    json_object *st;

    buildTopologyTree(root);
    topo = vdHostTopologyRead(root);

    first->pid_valid = last->pid_valid = TRUE;
    first->pid.utime = 100;
    first->pid.stime = 10;
    last->pid.utime = 150;
    last->pid.stime = 30;
    first->ksmd_valid = last->ksmd_valid = TRUE;
    first->ksmd_ticks = 1000;
    last->ksmd_ticks = 1025;
    last->mem_used_pct = 42;
    last->anon_huge_mib = 8;
    g_free(last->cpu_load);
    last->cpu_load = g_strdup("0.42");
    g_free(last->thp_state);
    last->thp_state = g_strdup("always");
    last->disk_free_mib[0] = 1;
    last->disk_free_mib[1] = 2;
    last->disk_free_mib[2] = 3;
    last->stat.btime = 1700000123;
    g_array_append_val(last->hugepages, hp);
    g_array_append_val(last->node_mem, nm0);
    g_array_append_val(last->node_mem, nm1);
    /* 100 Mbps link fully used on rx (125 MB in 10 s), 10 % on tx */
    addNic(first, "eth0", 1000, 2000, 100, 0);
    addNic(last, "eth0", 1000 + 125000000, 2000 + 12500000, 100, 3);
    /* no speed: 1000 Mbps is assumed */
    addNic(first, "lo", 50, 50, 0, 0);
    addNic(last, "lo", 50, 50, 0, 0);
    /* appeared after the first sample: left out */
    addNic(last, "tap0", 1, 1, 0, 0);

    st = vdHostStatsProduce(first, last, 100, topo);
    /* 300 user ticks / 100 Hz / 10 s / 2 CPUs = 15 % */
    assertJStr(st, "cpuUser", "15.00");
    assertJStr(st, "cpuSys", "5.00");
    assertJStr(st, "cpuIdle", "80.00");
    assertJStr(st, "cpuUserVdsmd", "5.00");
    assertJStr(st, "cpuSysVdsmd", "2.00");
    assertJStr(st, "cpuLoad", "0.42");
    assertJInt(st, "ksmCpu", 3);
    assertJInt(st, "cpuStatistics.0.nodeIndex", 0);
    assertJStr(st, "cpuStatistics.0.cpuUser", "20.00");
    assertJStr(st, "cpuStatistics.0.cpuSys", "5.00");
    assertJStr(st, "cpuStatistics.0.cpuIdle", "75.00");
    assertJInt(st, "cpuStatistics.1.nodeIndex", 0);
    assertJStr(st, "cpuStatistics.1.cpuUser", "10.00");
    assertJStr(st, "cpuStatistics.1.cpuIdle", "85.00");
    assertJStr(st, "memUsed", "42");
    assertJStr(st, "anonHugePages", "8");
    assertJStr(st, "thpState", "always");
    assertJStr(st, "bootTime", "1700000123");
    g_assert_cmpint(json_object_object_length(jget(st, "diskStats")), ==, 3);
    assertJStr(st, "diskStats./var/log.free", "1");
    assertJStr(st, "diskStats./tmp.free", "3");
    assertJStr(st, "diskStats./var/run/vdsm/.free", "2");
    assertJInt(st, "hugepages.2048.free_hugepages", 3);
    assertJInt(st, "hugepages.2048.nr_hugepages", 4);
    assertJInt(st, "hugepages.2048.vm.free_hugepages", 3);
    assertJStr(st, "numaNodeMemFree.0.memFree", "1000");
    assertJInt(st, "numaNodeMemFree.0.memPercent", 75);
    assertJInt(st, "numaNodeMemFree.1.memPercent", 100);

    g_assert_cmpint(json_object_object_length(jget(st, "network")), ==, 2);
    assertJStr(st, "network.eth0.name", "eth0");
    assertJStr(st, "network.eth0.rx", "125001000");
    assertJStr(st, "network.eth0.tx", "12502000");
    assertJStr(st, "network.eth0.rxDropped", "3");
    assertJStr(st, "network.eth0.speed", "100");
    assertJStr(st, "network.eth0.state", "up");
    assertJStr(st, "network.eth0.rxRate", "100.0");
    assertJStr(st, "network.eth0.txRate", "10.0");
    g_assert_cmpstr(json_object_to_json_string(jget(st, "network.eth0.sampleTime")), ==,
                    "1700000000.500000");
    assertJStr(st, "network.lo.speed", "1000");
    assertJStr(st, "network.lo.rxRate", "0.0");
    /* 125 MB + 0 over 10 s on 1100 Mbps together */
    assertJStr(st, "rxRate", "9.09");
    assertJStr(st, "txRate", "0.91");
    assertJStr(st, "rxDropped", "3");
    assertJStr(st, "txDropped", "0");
    json_object_put(st);

    /* one sample only: no interval, VDSM's zero rates */
    st = vdHostStatsProduce(NULL, last, 100, NULL);
    assertJStr(st, "cpuUser", "0.00");
    assertJStr(st, "cpuIdle", "100.00");
    assertJStr(st, "cpuStatistics.1.cpuIdle", "100.00");
    assertJInt(st, "cpuStatistics.1.nodeIndex", 0);
    assertJInt(st, "ksmCpu", 0);
    g_assert_cmpint(json_object_object_length(jget(st, "network")), ==, 3);
    assertJStr(st, "network.eth0.rxRate", "0.0");
    json_object_put(st);

    /* a counter that went backwards (reset) counts as zero */
    last->stat.total.user = 10;
    st = vdHostStatsProduce(first, last, 100, topo);
    assertJStr(st, "cpuUser", "0.00");
    json_object_put(st);

    removeTree(root);
}

/* ---- hardware identity --------------------------------------------- */

static void
testHwinfo(void)
{
    g_autofree char *root = makeTmp();
    g_autofree char *dmi = g_build_filename(root, "dmi", NULL);
    g_autofree char *id = g_build_filename(root, "vdsm.id", NULL);
    g_autofree char *uuid_path = g_build_filename(root, "dmi", "product_uuid", NULL);
    g_autofree char *zero_path = g_build_filename(root, "zero_uuid", NULL);
    g_autofree char *mid = g_build_filename(root, "machine-id", NULL);
    json_object *info;
    char *uuid;

    writeFile(root, "dmi/sys_vendor", "QEMU\n");
    writeFile(root, "dmi/product_name", "Standard PC (Q35 + ICH9, 2009)\n");
    writeFile(root, "dmi/product_uuid", "4C4C4544-0046-4E10-8032-B2C04F385A31\n");
    writeFile(root, "dmi/product_family", "\n");
    writeFile(root, "zero_uuid", "00000000-0000-0000-0000-000000000000\n");
    writeFile(root, "machine-id", "3d1219c7c4c5404aaa1f6d2a48adfda4\n");

    info = vdHostHardwareInfo(dmi);
    g_assert_cmpint(json_object_object_length(info), ==, 6);
    assertJStr(info, "systemManufacturer", "QEMU");
    assertJStr(info, "systemProductName", "Standard PC (Q35 + ICH9, 2009)");
    assertJStr(info, "systemVersion", "");
    assertJStr(info, "systemSerialNumber", "");
    assertJStr(info, "systemUUID", "4C4C4544-0046-4E10-8032-B2C04F385A31");
    assertJStr(info, "systemFamily", "");
    json_object_put(info);

    /* no vdsm.id: SMBIOS, lower-cased */
    uuid = vdHostUuidFrom(id, uuid_path, mid);
    g_assert_cmpstr(uuid, ==, "4c4c4544-0046-4e10-8032-b2c04f385a31");
    g_free(uuid);
    /* all-zero SMBIOS UUID: machine-id */
    uuid = vdHostUuidFrom(id, zero_path, mid);
    g_assert_cmpstr(uuid, ==, "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4");
    g_free(uuid);
    /* vdsm.id wins, as written */
    writeFile(root, "vdsm.id", "My-Host-Id\n");
    uuid = vdHostUuidFrom(id, uuid_path, mid);
    g_assert_cmpstr(uuid, ==, "My-Host-Id");
    g_free(uuid);
    uuid = vdHostUuidFrom("/nonexistent", "/nonexistent", "/nonexistent");
    g_assert_cmpstr(uuid, ==, "");
    g_free(uuid);

    removeTree(root);
}

static void
testReadHelpers(void)
{
    g_autofree char *root = makeTmp();
    g_autofree char *path = g_build_filename(root, "f", NULL);
    g_autofree char *line = NULL;

    writeFile(root, "f", "  42  \nsecond\n");
    line = vdHostReadLine(path);
    g_assert_cmpstr(line, ==, "42");
    g_assert_cmpint(vdHostReadInt(path, -7), ==, 42);
    g_assert_cmpint(vdHostReadInt("/nonexistent", -7), ==, -7);
    writeFile(root, "f", "x\n");
    g_assert_cmpint(vdHostReadInt(path, -7), ==, -7);
    g_assert_null(vdHostReadFile("/nonexistent"));
    removeTree(root);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/host/proc/stat", testProcStat);
    g_test_add_func("/host/proc/meminfo", testMeminfo);
    g_test_add_func("/host/proc/pid-stat", testPidStat);
    g_test_add_func("/host/proc/one-liners", testOneLiners);
    g_test_add_func("/host/proc/cpu-list", testCpuList);
    g_test_add_func("/host/proc/net-dev", testNetDev);
    g_test_add_func("/host/proc/routes", testRoutes);
    g_test_add_func("/host/proc/vlan-config", testVlanConfig);
    g_test_add_func("/host/proc/key-value-resolv", testKeyValueAndResolv);
    g_test_add_func("/host/proc/cpuinfo", testCpuInfo);
    g_test_add_func("/host/proc/dpkg", testDpkg);
    g_test_add_func("/host/proc/kernel", testKernel);
    g_test_add_func("/host/proc/machine-id", testMachineId);
    g_test_add_func("/host/proc/read-helpers", testReadHelpers);
    g_test_add_func("/host/virt/caps", testVirtCaps);
    g_test_add_func("/host/virt/domcaps", testDomCaps);
    g_test_add_func("/host/net/addr-dump", testAddrDump);
    g_test_add_func("/host/net/addr-owner", testAddrOwner);
    g_test_add_func("/host/net/caps", testNetCaps);
    g_test_add_func("/host/topology", testTopology);
    g_test_add_func("/host/stats/produce", testStatsProduce);
    g_test_add_func("/host/hwinfo", testHwinfo);
    return g_test_run();
}
