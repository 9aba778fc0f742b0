/* vm-qga.c - qemu-guest-agent information through libvirt (see vm-qga.h).
 *
 * DESIGN: one poller thread with a private libvirt connection, not watched
 * by libvirt's event loop (vdLibvirtOpenUnwatched: a poller needs no
 * keepalive or events, and its calls then do not wake the event thread);
 * checked with virConnectIsAlive before every cycle.  Per VM it
 * keeps when each group of information was last fetched; a group is asked
 * again when its VDSM period has passed (every cycle during the first
 * QGA_INITIAL_S after the VM was first seen, until the group answered
 * once).  A failed call backs the whole VM off for QGA_BACKOFF_S (or one
 * cycle during the initial window).  The results are kept as one JSON
 * object per VM in @cache under @lock; readers copy them.
 */
#include "vm-qga.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <string.h>

#include "libvirt-conn.h"
#include "main-call.h"
#include "vm-guest-agent.h"
#include "vd-error.h"

/* VDSM's [guest_agent] defaults (vdsm-facts §6.2). */
#define QGA_POLL_PERIOD_S 5
#define QGA_COMMAND_TIMEOUT_S 1
#define QGA_INITIAL_S 120
#define QGA_BACKOFF_S 60

enum {
    QGA_USERS,  /* 10 s */
    QGA_SYSTEM, /* os, timezone, hostname: 120 s */
    QGA_VCPUS,  /* 60 s */
    QGA_NET,    /* 120 s */
    QGA_FS,     /* 300 s */
    QGA_N_GROUPS
};

static const int qgaPeriods[QGA_N_GROUPS] = {10, 120, 60, 120, 300};

typedef struct {
    gint64 first_seen;         /* monotonic us */
    gint64 last[QGA_N_GROUPS]; /* monotonic us of the last success, 0 never */
    gint64 backoff_until;
} VdQgaState;

static GMutex lock;
static GHashTable *cache;  /* id -> json_object (fields) */
static GHashTable *states; /* id -> VdQgaState*; poller thread only */
static GThread *poller;
static gboolean stopping;
static GCond stop_cond;

static void
vdQgaCacheSet(const char *id, const char *key, json_object *value)
{
    g_mutex_lock(&lock);
    json_object *fields = g_hash_table_lookup(cache, id);
    if (!fields) {
        fields = json_object_new_object();
        g_hash_table_insert(cache, g_strdup(id), fields);
    }
    json_object_object_add(fields, key, value);
    g_mutex_unlock(&lock);
}

static const char *
vdQgaParamStr(virTypedParameterPtr params, int n, const char *name)
{
    const char *value = NULL;
    if (virTypedParamsGetString(params, n, name, &value) < 0)
        return NULL;
    return value;
}

static void
vdQgaAddStr(json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value ? value : ""));
}

static void
vdQgaParseUsers(const char *id, virTypedParameterPtr p, int n)
{
    unsigned int count = 0;
    virTypedParamsGetUInt(p, n, "user.count", &count);
    g_autoptr(GString) names = g_string_new(NULL);
    for (unsigned int i = 0; i < count; i++) {
        char key[64];
        g_snprintf(key, sizeof(key), "user.%u.name", i);
        const char *name = vdQgaParamStr(p, n, key);
        if (!name)
            continue;
        if (names->len)
            g_string_append(names, ", ");
        g_string_append(names, name);
    }
    /* VDSM: "None" / "Unknown" when nobody is logged in; the session state
     * of a logged-in user is what the oVirt agent reports, qemu-ga only
     * knows that somebody is. */
    vdQgaCacheSet(id, "username", json_object_new_string(names->len ? names->str : "None"));
    vdQgaCacheSet(id, "session", json_object_new_string(names->len ? "UserLoggedOn" : "None"));
}

static void
vdQgaParseSystem(const char *id, virTypedParameterPtr p, int n, guint types)
{
    if (types & VIR_DOMAIN_GUEST_INFO_OS) {
        json_object *os = json_object_new_object();
        const char *osid = vdQgaParamStr(p, n, "os.id");
        vdQgaAddStr(os, "type", osid && g_str_equal(osid, "mswindows") ? "windows" : "linux");
        vdQgaAddStr(os, "arch", vdQgaParamStr(p, n, "os.machine"));
        vdQgaAddStr(os, "kernel", vdQgaParamStr(p, n, "os.kernel-release"));
        vdQgaAddStr(os, "distribution", vdQgaParamStr(p, n, "os.name"));
        vdQgaAddStr(os, "version", vdQgaParamStr(p, n, "os.version-id"));
        vdQgaAddStr(os, "codename", vdQgaParamStr(p, n, "os.variant-id"));
        vdQgaCacheSet(id, "guestOsInfo", os);

        json_object *apps = json_object_new_array();
        const char *kernel = vdQgaParamStr(p, n, "os.kernel-release");
        json_object_array_add(apps, json_object_new_string("qemu-guest-agent"));
        if (kernel) {
            g_autofree char *k = g_strdup_printf("kernel-%s", kernel);
            json_object_array_add(apps, json_object_new_string(k));
        }
        vdQgaCacheSet(id, "appsList", apps);
    }
    if (types & VIR_DOMAIN_GUEST_INFO_TIMEZONE) {
        const char *zone = vdQgaParamStr(p, n, "timezone.name");
        int offset = 0;
        virTypedParamsGetInt(p, n, "timezone.offset", &offset);
        json_object *tz = json_object_new_object();
        vdQgaAddStr(tz, "zone", zone);
        /* libvirt gives seconds east of UTC; VDSM reports minutes. */
        json_object_object_add(tz, "offset", json_object_new_int(offset / 60));
        vdQgaCacheSet(id, "guestTimezone", tz);
    }
    if (types & VIR_DOMAIN_GUEST_INFO_HOSTNAME) {
        const char *host = vdQgaParamStr(p, n, "hostname");
        if (host) {
            vdQgaCacheSet(id, "guestFQDN", json_object_new_string(host));
            vdQgaCacheSet(id, "guestName", json_object_new_string(host));
        }
    }
}

static void
vdQgaParseFs(const char *id, virTypedParameterPtr p, int n)
{
    unsigned int count = 0;
    virTypedParamsGetUInt(p, n, "fs.count", &count);
    json_object *disks = json_object_new_array();
    for (unsigned int i = 0; i < count; i++) {
        char key[64];
        unsigned long long total = 0, used = 0;
        g_snprintf(key, sizeof(key), "fs.%u.mountpoint", i);
        const char *path = vdQgaParamStr(p, n, key);
        g_snprintf(key, sizeof(key), "fs.%u.fstype", i);
        const char *fstype = vdQgaParamStr(p, n, key);
        g_snprintf(key, sizeof(key), "fs.%u.total-bytes", i);
        gboolean have_total = virTypedParamsGetULLong(p, n, key, &total) == 1;
        g_snprintf(key, sizeof(key), "fs.%u.used-bytes", i);
        virTypedParamsGetULLong(p, n, key, &used);
        if (!path || !have_total)
            continue;
        json_object *d = json_object_new_object();
        vdQgaAddStr(d, "path", path);
        vdQgaAddStr(d, "fs", fstype);
        g_autofree char *t = g_strdup_printf("%llu", total);
        g_autofree char *u = g_strdup_printf("%llu", used);
        vdQgaAddStr(d, "total", t);
        vdQgaAddStr(d, "used", u);
        json_object_array_add(disks, d);
    }
    vdQgaCacheSet(id, "disksUsage", disks);
}

/* 0 ok, -1 the agent did not answer. */
static int
vdQgaPollInfo(const char *id, virDomainPtr dom, guint types)
{
    virTypedParameterPtr params = NULL;
    int n = 0;
    if (virDomainGetGuestInfo(dom, types, &params, &n, 0) < 0)
        return -1;
    if (types & VIR_DOMAIN_GUEST_INFO_USERS)
        vdQgaParseUsers(id, params, n);
    vdQgaParseSystem(id, params, n, types);
    if (types & VIR_DOMAIN_GUEST_INFO_FILESYSTEM)
        vdQgaParseFs(id, params, n);
    virTypedParamsFree(params, n);
    return 0;
}

static int
vdQgaPollNet(const char *id, virDomainPtr dom)
{
    virDomainInterfacePtr *ifaces = NULL;
    int n = virDomainInterfaceAddresses(dom, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0);
    if (n < 0)
        return -1;
    json_object *list = json_object_new_array();
    g_autoptr(GString) ips = g_string_new(NULL);
    for (int i = 0; i < n; i++) {
        virDomainInterfacePtr ifc = ifaces[i];
        json_object *o = json_object_new_object();
        json_object *inet = json_object_new_array();
        json_object *inet6 = json_object_new_array();
        gboolean loopback = g_strcmp0(ifc->name, "lo") == 0;
        vdQgaAddStr(o, "name", ifc->name);
        vdQgaAddStr(o, "hw", ifc->hwaddr);
        for (unsigned int j = 0; j < ifc->naddrs; j++) {
            const char *addr = ifc->addrs[j].addr;
            gboolean v6 = ifc->addrs[j].type == VIR_IP_ADDR_TYPE_IPV6;
            json_object_array_add(v6 ? inet6 : inet, json_object_new_string(addr));
            if (!loopback) {
                if (ips->len)
                    g_string_append_c(ips, ' ');
                g_string_append(ips, addr);
            }
        }
        json_object_object_add(o, "inet", inet);
        json_object_object_add(o, "inet6", inet6);
        json_object_array_add(list, o);
        virDomainInterfaceFree(ifc);
    }
    g_free(ifaces);
    vdQgaCacheSet(id, "netIfaces", list);
    vdQgaCacheSet(id, "guestIPs", json_object_new_string(ips->str));
    return 0;
}

static int
vdQgaPollVcpus(const char *id, virDomainPtr dom)
{
    int count = virDomainGetVcpusFlags(dom, VIR_DOMAIN_VCPU_GUEST);
    if (count < 0)
        return -1;
    vdQgaCacheSet(id, "guestCPUCount", json_object_new_int(count));
    return 0;
}

typedef struct {
    char *id;
    char *path; /* NULL: detach */
} VdQgaChannelMsg;

static void
vdQgaChannelMsgFree(gpointer data)
{
    VdQgaChannelMsg *m = data;
    g_free(m->id);
    g_free(m->path);
    g_free(m);
}

static gpointer
vdQgaChannelOnMain(gpointer data)
{
    VdQgaChannelMsg *m = data;
    if (m->path)
        vdVmGuestAgentAttach(m->id, m->path);
    else
        vdVmGuestAgentDetach(m->id);
    return NULL;
}

/* The oVirt agent channel of a domain that just started running (or that
 * we see for the first time): hand its socket to the main-loop listener. */
static void
vdQgaPostChannel(const char *id, virDomainPtr dom)
{
    VdQgaChannelMsg *m = g_new0(VdQgaChannelMsg, 1);
    m->id = g_strdup(id);
    if (dom) {
        char *xml = virDomainGetXMLDesc(dom, 0);
        if (!xml) {
            virResetLastError();
            vdQgaChannelMsgFree(m);
            return;
        }
        m->path = vdVmGuestAgentPathFromXml(xml);
        free(xml);
        if (!m->path) {
            vdQgaChannelMsgFree(m);
            return;
        }
    }
    vdMainPost(vdQgaChannelOnMain, m, vdQgaChannelMsgFree);
}

static gboolean
vdQgaDue(VdQgaState *st, int group, gint64 now)
{
    if (st->last[group] == 0)
        return TRUE;
    return now - st->last[group] >= (gint64)qgaPeriods[group] * G_USEC_PER_SEC;
}

static void
vdQgaPollDomain(virDomainPtr dom, const char *id, gint64 now)
{
    VdQgaState *st = g_hash_table_lookup(states, id);
    if (!st) {
        st = g_new0(VdQgaState, 1);
        st->first_seen = now;
        g_hash_table_insert(states, g_strdup(id), st);
        vdQgaPostChannel(id, dom);
    }
    if (now < st->backoff_until)
        return;

    /* A dead agent must cost at most this. */
    virDomainAgentSetResponseTimeout(dom, QGA_COMMAND_TIMEOUT_S, 0);

    guint types = 0;
    if (vdQgaDue(st, QGA_USERS, now))
        types |= VIR_DOMAIN_GUEST_INFO_USERS;
    if (vdQgaDue(st, QGA_SYSTEM, now))
        types |= VIR_DOMAIN_GUEST_INFO_OS | VIR_DOMAIN_GUEST_INFO_TIMEZONE |
                 VIR_DOMAIN_GUEST_INFO_HOSTNAME;
    if (vdQgaDue(st, QGA_FS, now))
        types |= VIR_DOMAIN_GUEST_INFO_FILESYSTEM;

    int failed = 0;
    if (types) {
        if (vdQgaPollInfo(id, dom, types) == 0) {
            if (types & VIR_DOMAIN_GUEST_INFO_USERS)
                st->last[QGA_USERS] = now;
            if (types & VIR_DOMAIN_GUEST_INFO_OS)
                st->last[QGA_SYSTEM] = now;
            if (types & VIR_DOMAIN_GUEST_INFO_FILESYSTEM)
                st->last[QGA_FS] = now;
        } else {
            failed = 1;
        }
    }
    if (!failed && vdQgaDue(st, QGA_VCPUS, now)) {
        if (vdQgaPollVcpus(id, dom) == 0)
            st->last[QGA_VCPUS] = now;
        else
            failed = 1;
    }
    if (!failed && vdQgaDue(st, QGA_NET, now)) {
        if (vdQgaPollNet(id, dom) == 0)
            st->last[QGA_NET] = now;
        else
            failed = 1;
    }
    if (failed) {
        virErrorPtr err = virGetLastError();
        g_debug("qemu-ga of VM %s: %s", id, err && err->message ? err->message : "failed");
        virResetLastError();
        gboolean initial = now - st->first_seen < (gint64)QGA_INITIAL_S * G_USEC_PER_SEC;
        st->backoff_until = now + (gint64)(initial ? 0 : QGA_BACKOFF_S) * G_USEC_PER_SEC;
    }
}

static void
vdQgaPollAll(virConnectPtr conn)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_RUNNING);
    if (n < 0) {
        virResetLastError();
        return;
    }
    gint64 now = g_get_monotonic_time();
    g_autoptr(GHashTable) alive = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetUUIDString(doms[i], uuid) == 0) {
            g_hash_table_add(alive, g_strdup(uuid));
            g_mutex_lock(&lock);
            gboolean stop = stopping;
            g_mutex_unlock(&lock);
            if (!stop)
                vdQgaPollDomain(doms[i], uuid, now);
        }
        virDomainFree(doms[i]);
    }
    g_free(doms);

    /* VMs no longer running: forget them, so a restarted VM starts over. */
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, states);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        if (!g_hash_table_contains(alive, key)) {
            vdVmQgaForget(key);
            vdQgaPostChannel(key, NULL);
            g_hash_table_iter_remove(&it);
        }
    }
}

static gpointer
vdQgaThread(gpointer data G_GNUC_UNUSED)
{
    virConnectPtr conn = NULL;
    g_mutex_lock(&lock);
    while (!stopping) {
        g_mutex_unlock(&lock);
        if (conn && virConnectIsAlive(conn) != 1) {
            virConnectClose(conn);
            conn = NULL;
        }
        if (!conn) {
            g_autoptr(GError) error = NULL;
            conn = vdLibvirtOpenUnwatched(&error);
            if (!conn)
                g_debug("qemu-ga poller: %s", error->message);
        }
        if (conn)
            vdQgaPollAll(conn);
        g_mutex_lock(&lock);
        gint64 until = g_get_monotonic_time() + QGA_POLL_PERIOD_S * G_USEC_PER_SEC;
        while (!stopping && g_cond_wait_until(&stop_cond, &lock, until))
            ;
    }
    g_mutex_unlock(&lock);
    if (conn)
        virConnectClose(conn);
    return NULL;
}

static void
vdQgaJsonFree(gpointer obj)
{
    json_object_put(obj);
}

static void
vdQgaInitOnce(void)
{
    static gsize once;
    if (g_once_init_enter(&once)) {
        cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, vdQgaJsonFree);
        states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_once_init_leave(&once, 1);
    }
}

void
vdVmQgaStart(void)
{
    vdQgaInitOnce();
    g_mutex_lock(&lock);
    if (!poller && !stopping)
        poller = g_thread_new("vd-qga", vdQgaThread, NULL);
    g_mutex_unlock(&lock);
}

void
vdVmQgaStop(void)
{
    vdQgaInitOnce();
    g_mutex_lock(&lock);
    stopping = TRUE;
    GThread *t = g_steal_pointer(&poller);
    g_cond_broadcast(&stop_cond);
    g_mutex_unlock(&lock);
    if (t)
        g_thread_join(t);
}

void
vdVmQgaFillStats(const char *id, json_object *stats)
{
    vdVmQgaStart();
    g_mutex_lock(&lock);
    json_object *fields = g_hash_table_lookup(cache, id);
    if (fields) {
        json_object_object_foreach(fields, key, value)
        {
            json_object *copy = NULL;
            if (json_object_deep_copy(value, &copy, NULL) == 0)
                json_object_object_add(stats, key, copy);
        }
    }
    g_mutex_unlock(&lock);
}

void
vdVmQgaForget(const char *id)
{
    vdQgaInitOnce();
    g_mutex_lock(&lock);
    g_hash_table_remove(cache, id);
    g_mutex_unlock(&lock);
}

int
vdVmQgaFsFreeze(const char *id, gboolean thaw, GError **error)
{
    g_autoptr(virConnect) conn = vdLibvirtGet(error);
    if (!conn)
        return -1;
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, id);
    if (!dom) {
        g_set_error(error, VD_ERROR, VD_ERR_NO_SUCH_VM, "Virtual machine does not exist");
        return -1;
    }
    virDomainAgentSetResponseTimeout(dom, 10, 0);
    int n = thaw ? virDomainFSThaw(dom, NULL, 0, 0) : virDomainFSFreeze(dom, NULL, 0, 0);
    if (n < 0) {
        vdLibvirtSetError(error, VD_ERR_GUEST_AGENT_NONRESPONSIVE,
                          thaw ? "Guest agent thaw failed" : "Guest agent freeze failed");
        return -1;
    }
    return n;
}
