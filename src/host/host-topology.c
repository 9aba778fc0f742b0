/* host-topology.c - see host-topology.h.
 *
 * DESIGN: plain sysfs reads (cpu/online, cpuN/topology/..., nodeN/{cpulist,
 * meminfo,distance,hugepages}); the only shared state is the cached
 * snapshot, published once under a GMutex and read-only afterwards.
 */
#include "host-topology.h"

#include "host-proc.h"

#include <stdlib.h>
#include <string.h>

static void
vdHostNumaNodeFree(VdHostNumaNode *node)
{
    if (!node)
        return;
    g_array_unref(node->cpus);
    g_array_unref(node->distances);
    g_array_unref(node->pages);
    g_free(node);
}

void
vdHostTopologyFree(VdHostTopology *topo)
{
    if (!topo)
        return;
    g_array_unref(topo->online);
    g_array_unref(topo->cpus);
    g_ptr_array_unref(topo->nodes);
    g_free(topo);
}

static gint
vdNodeCompare(gconstpointer a, gconstpointer b)
{
    const VdHostNumaNode *x = *(VdHostNumaNode *const *)a;
    const VdHostNumaNode *y = *(VdHostNumaNode *const *)b;

    return (x->id > y->id) - (x->id < y->id);
}

static gint
vdPagesCompare(gconstpointer a, gconstpointer b)
{
    const VdHostNodePages *x = a, *y = b;

    return (x->size_kib > y->size_kib) - (x->size_kib < y->size_kib);
}

static VdHostNumaNode *
vdHostNumaNodeRead(const char *node_dir, int id)
{
    VdHostNumaNode *node = g_new0(VdHostNumaNode, 1);
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_autofree char *pages_dir = NULL;
    g_autoptr(GDir) dir = NULL;
    VdMeminfo mi;

    node->id = id;
    path = g_build_filename(node_dir, "cpulist", NULL);
    text = vdHostReadFile(path);
    node->cpus = text ? vdCpuListParse(text) : NULL;
    if (!node->cpus)
        node->cpus = g_array_new(FALSE, FALSE, sizeof(int));

    g_free(path);
    g_free(text);
    path = g_build_filename(node_dir, "meminfo", NULL);
    text = vdHostReadFile(path);
    vdMeminfoParse(text, &mi);
    node->total_kib = mi.mem_total;

    g_free(path);
    g_free(text);
    path = g_build_filename(node_dir, "distance", NULL);
    text = vdHostReadLine(path);
    node->distances = g_array_new(FALSE, FALSE, sizeof(int));
    if (text) {
        g_auto(GStrv) f = g_strsplit_set(text, " \t", -1);

        for (gsize i = 0; f[i]; i++) {
            gint64 d;

            if (*f[i] && g_ascii_string_to_signed(f[i], 10, 0, G_MAXINT, &d, NULL)) {
                int v = (int)d;

                g_array_append_val(node->distances, v);
            }
        }
    }

    node->pages = g_array_new(FALSE, FALSE, sizeof(VdHostNodePages));
    pages_dir = g_build_filename(node_dir, "hugepages", NULL);
    dir = g_dir_open(pages_dir, 0, NULL);
    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        g_autofree char *nr_path = NULL;
        VdHostNodePages p = {0};
        guint64 size;
        gint64 nr;

        /* hugepages-2048kB */
        if (!g_str_has_prefix(name, "hugepages-") || !g_str_has_suffix(name, "kB"))
            continue;
        {
            g_autofree char *num = g_strndup(name + 10, strlen(name) - 12);

            if (!g_ascii_string_to_unsigned(num, 10, 1, G_MAXUINT64, &size, NULL))
                continue;
        }
        nr_path = g_build_filename(pages_dir, name, "nr_hugepages", NULL);
        nr = vdHostReadInt(nr_path, 0);
        p.size_kib = size;
        p.total = nr > 0 ? (guint64)nr : 0;
        g_array_append_val(node->pages, p);
    }
    g_array_sort(node->pages, vdPagesCompare);
    if (node->total_kib >= 0) {
        /* like libvirt: the 4 KiB pages are the memory not taken by huge pages */
        VdHostNodePages small = {4, 0};
        guint64 huge_kib = 0;

        for (guint i = 0; i < node->pages->len; i++) {
            VdHostNodePages *hp = &g_array_index(node->pages, VdHostNodePages, i);

            huge_kib += hp->size_kib * hp->total;
        }
        if ((guint64)node->total_kib > huge_kib)
            small.total = ((guint64)node->total_kib - huge_kib) / 4;
        g_array_prepend_val(node->pages, small);
    }
    return node;
}

static int
vdCpuAttrInt(const char *cpu_root, int cpu, const char *attr, int fallback)
{
    g_autofree char *path = g_strdup_printf("%s/cpu%d/topology/%s", cpu_root, cpu, attr);
    gint64 v = vdHostReadInt(path, fallback);

    /* physical_package_id is -1 on some platforms */
    return v < 0 || v > G_MAXINT ? fallback : (int)v;
}

VdHostTopology *
vdHostTopologyRead(const char *sysfs_root)
{
    VdHostTopology *topo = g_new0(VdHostTopology, 1);
    g_autofree char *cpu_root = g_build_filename(sysfs_root, "devices", "system", "cpu", NULL);
    g_autofree char *node_root = g_build_filename(sysfs_root, "devices", "system", "node", NULL);
    g_autofree char *online_path = g_build_filename(cpu_root, "online", NULL);
    g_autofree char *online_text = vdHostReadFile(online_path);
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GHashTable) sockets = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GHashTable) siblings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    topo->online = online_text ? vdCpuListParse(online_text) : NULL;
    if (!topo->online || !topo->online->len) {
        int n = (int)g_get_num_processors();

        if (topo->online)
            g_array_unref(topo->online);
        topo->online = g_array_new(FALSE, FALSE, sizeof(int));
        for (int i = 0; i < n; i++)
            g_array_append_val(topo->online, i);
    }

    topo->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)vdHostNumaNodeFree);
    dir = g_dir_open(node_root, 0, NULL);
    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        g_autofree char *node_dir = NULL;
        guint64 id;

        if (!g_str_has_prefix(name, "node") ||
            !g_ascii_string_to_unsigned(name + 4, 10, 0, G_MAXINT, &id, NULL))
            continue;
        node_dir = g_build_filename(node_root, name, NULL);
        g_ptr_array_add(topo->nodes, vdHostNumaNodeRead(node_dir, (int)id));
    }
    g_ptr_array_sort(topo->nodes, vdNodeCompare);
    if (!topo->nodes->len) {
        /* a kernel without CONFIG_NUMA: one node holding every CPU */
        VdHostNumaNode *node = g_new0(VdHostNumaNode, 1);
        int ten = 10;

        node->cpus = g_array_copy(topo->online);
        node->total_kib = -1;
        node->distances = g_array_new(FALSE, FALSE, sizeof(int));
        g_array_append_val(node->distances, ten);
        node->pages = g_array_new(FALSE, FALSE, sizeof(VdHostNodePages));
        g_ptr_array_add(topo->nodes, node);
    }

    topo->cpus = g_array_new(FALSE, FALSE, sizeof(VdHostCpu));
    for (guint i = 0; i < topo->online->len; i++) {
        int cpu = g_array_index(topo->online, int, i);
        VdHostCpu c = {0};
        g_autofree char *sib_path = NULL;
        g_autofree char *sib = NULL;

        c.cpu_id = cpu;
        c.numa_cell_id = vdHostTopologyNodeOfCpu(topo, cpu);
        c.socket_id = vdCpuAttrInt(cpu_root, cpu, "physical_package_id", 0);
        c.die_id = vdCpuAttrInt(cpu_root, cpu, "die_id", 0);
        c.core_id = vdCpuAttrInt(cpu_root, cpu, "core_id", cpu);
        g_array_append_val(topo->cpus, c);

        g_hash_table_add(sockets, GINT_TO_POINTER(c.socket_id));
        sib_path = g_strdup_printf("%s/cpu%d/topology/thread_siblings_list", cpu_root, cpu);
        sib = vdHostReadLine(sib_path);
        if (!sib)
            sib = g_strdup_printf("%d/%d/%d", c.socket_id, c.die_id, c.core_id);
        g_hash_table_add(siblings, g_steal_pointer(&sib));
    }
    topo->sockets = MAX(1, (int)g_hash_table_size(sockets));
    topo->cores = MAX(1, (int)g_hash_table_size(siblings));
    topo->threads = (int)topo->online->len;
    return topo;
}

int
vdHostTopologyNodeOfCpu(const VdHostTopology *topo, int cpu)
{
    for (guint n = 0; n < topo->nodes->len; n++) {
        const VdHostNumaNode *node = g_ptr_array_index(topo->nodes, n);

        for (guint i = 0; i < node->cpus->len; i++) {
            if (g_array_index(node->cpus, int, i) == cpu)
                return node->id;
        }
    }
    return 0;
}

const VdHostTopology *
vdHostTopologyGet(void)
{
    static GMutex lock;
    static VdHostTopology *cached;
    VdHostTopology *ret;

    g_mutex_lock(&lock);
    if (!cached)
        cached = vdHostTopologyRead("/sys");
    ret = cached;
    g_mutex_unlock(&lock);
    return ret;
}
