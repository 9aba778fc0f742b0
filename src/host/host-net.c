/* host-net.c - see host-net.h.
 *
 * DESIGN: no global state.  vdHostAddrList opens a private rtnetlink
 * socket per call (receive timeout VD_HOST_NETLINK_TIMEOUT_S) so
 * concurrent callers never share one; everything else is plain reads of
 * sysfs/procfs files under the roots given in VdHostNetSource.
 */
#include "host-net.h"

#include "host-proc.h"
#include "vd-error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A netlink dump that does not answer within this many seconds fails. */
#define VD_HOST_NETLINK_TIMEOUT_S 5
/* Upper bound of addresses taken from one dump (a limit against a runaway
 * kernel answer; real hosts have a few hundred at most). */
#define VD_HOST_ADDR_MAX 65536

void
vdHostAddrFree(VdHostAddr *addr)
{
    if (!addr)
        return;
    g_free(addr->label);
    g_free(addr->address);
    g_free(addr);
}

/* ---- netlink ------------------------------------------------------- */

gboolean
vdHostAddrDumpParse(const void *buf, gsize len, GPtrArray *out, gboolean *done, GError **error)
{
    const guint8 *p = buf;

    while (len >= sizeof(struct nlmsghdr)) {
        struct nlmsghdr nh;
        const struct ifaddrmsg *ifa;
        const guint8 *attr;
        gsize attr_len;
        const guint8 *local = NULL, *address = NULL;
        gsize local_len = 0, address_len = 0;
        const char *label = NULL;
        guint32 flags;
        VdHostAddr *a;
        char text[INET6_ADDRSTRLEN];

        memcpy(&nh, p, sizeof(nh));
        if (nh.nlmsg_len < sizeof(nh) || nh.nlmsg_len > len) {
            g_set_error(error, VD_ERROR, VD_ERR_UNEXPECTED, "truncated netlink message");
            return FALSE;
        }
        if (nh.nlmsg_type == NLMSG_DONE) {
            *done = TRUE;
            return TRUE;
        }
        if (nh.nlmsg_type == NLMSG_ERROR) {
            int err = 0;

            if (nh.nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
                memcpy(&err, p + NLMSG_HDRLEN, sizeof(int));
            g_set_error(error, VD_ERROR, VD_ERR_UNEXPECTED, "netlink address dump failed: %s",
                        g_strerror(err < 0 ? -err : EIO));
            return FALSE;
        }
        if (nh.nlmsg_type != RTM_NEWADDR || nh.nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
            goto next;

        ifa = (const struct ifaddrmsg *)(p + NLMSG_HDRLEN);
        flags = ifa->ifa_flags;
        attr = p + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*ifa));
        attr_len = nh.nlmsg_len - (attr - p);
        while (attr_len >= sizeof(struct rtattr)) {
            struct rtattr rta;
            const guint8 *data;
            gsize dlen;

            memcpy(&rta, attr, sizeof(rta));
            if (rta.rta_len < sizeof(rta) || rta.rta_len > attr_len)
                break;
            data = attr + RTA_LENGTH(0);
            dlen = rta.rta_len - RTA_LENGTH(0);
            switch (rta.rta_type) {
            case IFA_ADDRESS:
                address = data;
                address_len = dlen;
                break;
            case IFA_LOCAL:
                local = data;
                local_len = dlen;
                break;
            case IFA_LABEL:
                if (dlen > 0 && memchr(data, '\0', dlen))
                    label = (const char *)data;
                break;
            case IFA_FLAGS:
                if (dlen >= sizeof(guint32))
                    memcpy(&flags, data, sizeof(guint32));
                break;
            default:
                break;
            }
            if (RTA_ALIGN(rta.rta_len) >= attr_len)
                break;
            attr_len -= RTA_ALIGN(rta.rta_len);
            attr += RTA_ALIGN(rta.rta_len);
        }
        /* IFA_LOCAL is our address on point-to-point links, where
         * IFA_ADDRESS is the peer */
        if (local) {
            address = local;
            address_len = local_len;
        }
        if (!address || (ifa->ifa_family == AF_INET && address_len != 4) ||
            (ifa->ifa_family == AF_INET6 && address_len != 16) ||
            (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
            goto next;
        if (out->len >= VD_HOST_ADDR_MAX)
            goto next;

        a = g_new0(VdHostAddr, 1);
        a->family = ifa->ifa_family;
        a->ifindex = (int)ifa->ifa_index;
        a->label = g_strdup(label);
        memcpy(a->bin, address, address_len);
        inet_ntop(a->family, a->bin, text, sizeof(text));
        a->address = g_strdup(text);
        a->prefixlen = ifa->ifa_prefixlen;
        a->flags = flags;
        a->scope = ifa->ifa_scope;
        g_ptr_array_add(out, a);

    next:
        if (NLMSG_ALIGN(nh.nlmsg_len) >= len)
            break;
        len -= NLMSG_ALIGN(nh.nlmsg_len);
        p += NLMSG_ALIGN(nh.nlmsg_len);
    }
    return TRUE;
}

GPtrArray *
vdHostAddrList(GError **error)
{
    struct {
        struct nlmsghdr nh;
        struct ifaddrmsg ifa;
    } req = {0};
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    struct timeval tv = {.tv_sec = VD_HOST_NETLINK_TIMEOUT_S};
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)vdHostAddrFree);
    g_autofree guint8 *buf = NULL;
    const gsize buf_size = 64 * 1024;
    gboolean done = FALSE;
    int fd;

    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        g_set_error(error, VD_ERROR, VD_ERR_UNEXPECTED, "cannot open netlink socket: %s",
                    g_strerror(errno));
        return NULL;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    req.nh.nlmsg_len = sizeof(req);
    req.nh.nlmsg_type = RTM_GETADDR;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = 1;
    req.ifa.ifa_family = AF_UNSPEC;
    if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        g_set_error(error, VD_ERROR, VD_ERR_UNEXPECTED, "cannot send netlink request: %s",
                    g_strerror(errno));
        close(fd);
        return NULL;
    }
    buf = g_malloc(buf_size);
    while (!done) {
        ssize_t n = recv(fd, buf, buf_size, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, VD_ERROR, VD_ERR_UNEXPECTED, "cannot read netlink answer: %s",
                        n < 0 ? g_strerror(errno) : "connection closed");
            close(fd);
            return NULL;
        }
        if (!vdHostAddrDumpParse(buf, (gsize)n, out, &done, error)) {
            close(fd);
            return NULL;
        }
    }
    close(fd);

    for (guint i = 0; i < out->len; i++) {
        VdHostAddr *a = g_ptr_array_index(out, i);
        char name[IF_NAMESIZE];

        if (!a->label && if_indextoname((unsigned)a->ifindex, name))
            a->label = g_strdup(name);
        if (!a->label)
            a->label = g_strdup("");
    }
    return g_steal_pointer(&out);
}

char *
vdHostAddrOwner(GPtrArray *addrs, const char *address)
{
    g_autofree char *s = g_strdup(address ? address : "");
    char *p = s;
    char *pct;
    guint8 want[16];
    int family;
    gsize len = strlen(p);

    if (len >= 2 && p[0] == '[' && p[len - 1] == ']') {
        p[len - 1] = '\0';
        p++;
    }
    pct = strchr(p, '%');
    if (pct)
        *pct = '\0';
    if (inet_pton(AF_INET, p, want) == 1) {
        family = AF_INET;
    } else if (inet_pton(AF_INET6, p, want) == 1) {
        family = AF_INET6;
        if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)want)) {
            memmove(want, want + 12, 4);
            family = AF_INET;
        }
    } else {
        return g_strdup("");
    }
    for (guint i = 0; addrs && i < addrs->len; i++) {
        VdHostAddr *a = g_ptr_array_index(addrs, i);

        if (a->family == family && memcmp(a->bin, want, family == AF_INET ? 4 : 16) == 0)
            return g_strdup(a->label ? a->label : "");
    }
    return g_strdup("");
}

/* ---- sysfs helpers ------------------------------------------------- */

typedef enum {
    VD_LINK_OTHER,
    VD_LINK_NIC,
    VD_LINK_BRIDGE,
    VD_LINK_BOND,
    VD_LINK_VLAN,
} VdLinkKind;

/* g_ptr_array_sort passes pointers to the elements */
static gint
vdStrPtrCompare(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static gboolean
vdGlobsMatch(const char *const *globs, const char *name)
{
    for (gsize i = 0; globs && globs[i]; i++) {
        if (*globs[i] && g_pattern_match_simple(globs[i], name))
            return TRUE;
    }
    return FALSE;
}

static char *
vdLinkAttr(const char *root, const char *name, const char *attr)
{
    g_autofree char *path = g_build_filename(root, name, attr, NULL);

    return vdHostReadLine(path);
}

static gboolean
vdLinkHas(const char *root, const char *name, const char *attr)
{
    g_autofree char *path = g_build_filename(root, name, attr, NULL);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}

static VdLinkKind
vdLinkKindOf(const char *root, const char *name, const char *const *fake)
{
    g_autofree char *uevent_path = NULL;
    g_autofree char *uevent = NULL;

    if (vdLinkHas(root, name, "bridge"))
        return VD_LINK_BRIDGE;
    if (vdLinkHas(root, name, "bonding"))
        return VD_LINK_BOND;
    uevent_path = g_build_filename(root, name, "uevent", NULL);
    uevent = vdHostReadFile(uevent_path);
    if (uevent && strstr(uevent, "DEVTYPE=vlan"))
        return VD_LINK_VLAN;
    if (vdLinkHas(root, name, "device") || vdGlobsMatch(fake, name))
        return VD_LINK_NIC;
    return VD_LINK_OTHER;
}

GStrv
vdHostNetLinkNames(const char *sys_class_net, const char *const *hidden)
{
    g_autoptr(GDir) dir = g_dir_open(sys_class_net, 0, NULL);
    GPtrArray *names = g_ptr_array_new();

    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        g_autofree char *path = g_build_filename(sys_class_net, name, NULL);

        /* bonding_masters is a file beside the link directories */
        if (!g_file_test(path, G_FILE_TEST_IS_DIR) || vdGlobsMatch(hidden, name))
            continue;
        g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_sort(names, vdStrPtrCompare);
    g_ptr_array_add(names, NULL);
    return (GStrv)g_ptr_array_free(names, FALSE);
}

gint64
vdHostNetLinkSpeed(const char *sys_class_net, const char *name)
{
    g_autofree char *path = g_build_filename(sys_class_net, name, "speed", NULL);
    gint64 speed = vdHostReadInt(path, 0);

    /* -1 (unknown) and 65535 (SPEED_UNKNOWN of some drivers) */
    return speed > 0 && speed != 65535 && speed != G_MAXUINT32 ? speed : 0;
}

static json_object *
vdStrvToJson(GStrv strv)
{
    json_object *arr = json_object_new_array();

    for (gsize i = 0; strv && strv[i]; i++)
        json_object_array_add(arr, json_object_new_string(strv[i]));
    return arr;
}

/* ---- addressing common to every device ------------------------------ */

typedef struct {
    const VdHostNetSource *src;
    GPtrArray *v4routes; /* VdDefaultRoute */
    GPtrArray *v6routes;
} VdNetCtx;

static const char *
vdRouteGateway(GPtrArray *routes, const char *dev)
{
    for (guint i = 0; i < routes->len; i++) {
        VdDefaultRoute *r = g_ptr_array_index(routes, i);

        if (g_str_equal(r->dev, dev))
            return r->gateway;
    }
    return NULL;
}

static char *
vdPrefixToNetmask(int prefix)
{
    guint32 mask = prefix <= 0 ? 0 : (prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1));

    return g_strdup_printf("%u.%u.%u.%u", mask >> 24, (mask >> 16) & 0xff, (mask >> 8) & 0xff,
                           mask & 0xff);
}

static gboolean
vdSameSubnet4(const guint8 *addr, int prefix, const char *gateway)
{
    guint8 gw[4];
    guint32 a, g, mask;

    if (!gateway || inet_pton(AF_INET, gateway, gw) != 1)
        return FALSE;
    mask = prefix <= 0 ? 0 : (prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1));
    a = ((guint32)addr[0] << 24) | ((guint32)addr[1] << 16) | ((guint32)addr[2] << 8) | addr[3];
    g = ((guint32)gw[0] << 24) | ((guint32)gw[1] << 16) | ((guint32)gw[2] << 8) | gw[3];
    return (a & mask) == (g & mask);
}

static void
vdNetAddAddressing(VdNetCtx *ctx, const char *name, json_object *dev)
{
    const VdHostNetSource *src = ctx->src;
    const char *gateway = vdRouteGateway(ctx->v4routes, name);
    const char *gateway6 = vdRouteGateway(ctx->v6routes, name);
    json_object *v4 = json_object_new_array();
    json_object *v6 = json_object_new_array();
    const VdHostAddr *primary = NULL, *first = NULL;
    gboolean dhcpv4 = FALSE, dhcpv6 = FALSE;
    g_autofree char *mtu = vdLinkAttr(src->sys_class_net, name, "mtu");
    g_autofree char *autoconf_path =
        g_build_filename(src->proc_root, "sys", "net", "ipv6", "conf", name, "autoconf", NULL);
    g_autofree char *netmask = NULL;

    for (guint i = 0; src->addrs && i < src->addrs->len; i++) {
        const VdHostAddr *a = g_ptr_array_index(src->addrs, i);
        g_autofree char *cidr = NULL;

        if (g_strcmp0(a->label, name) != 0 || a->scope == RT_SCOPE_LINK)
            continue;
        cidr = g_strdup_printf("%s/%d", a->address, a->prefixlen);
        if (a->family == AF_INET) {
            json_object_array_add(v4, json_object_new_string(cidr));
            if (!first)
                first = a;
            if (!primary && !(a->flags & IFA_F_SECONDARY) &&
                vdSameSubnet4(a->bin, a->prefixlen, gateway))
                primary = a;
            if (!(a->flags & IFA_F_PERMANENT))
                dhcpv4 = TRUE;
        } else {
            json_object_array_add(v6, json_object_new_string(cidr));
            /* DHCPv6 leases are /128; SLAAC addresses (also dynamic) are not */
            if (!(a->flags & IFA_F_PERMANENT) && a->prefixlen == 128)
                dhcpv6 = TRUE;
        }
    }
    if (!primary)
        primary = first;
    if (primary)
        netmask = vdPrefixToNetmask(primary->prefixlen);

    json_object_object_add(dev, "addr", json_object_new_string(primary ? primary->address : ""));
    json_object_object_add(dev, "netmask", json_object_new_string(netmask ? netmask : ""));
    json_object_object_add(dev, "ipv4addrs", v4);
    json_object_object_add(dev, "ipv6addrs", v6);
    json_object_object_add(dev, "gateway", json_object_new_string(gateway ? gateway : ""));
    json_object_object_add(dev, "ipv6gateway", json_object_new_string(gateway6 ? gateway6 : "::"));
    json_object_object_add(
        dev, "ipv4defaultroute",
        json_object_new_boolean(
            ctx->v4routes->len &&
            g_str_equal(((VdDefaultRoute *)g_ptr_array_index(ctx->v4routes, 0))->dev, name)));
    json_object_object_add(dev, "dhcpv4", json_object_new_boolean(dhcpv4));
    json_object_object_add(dev, "dhcpv6", json_object_new_boolean(dhcpv6));
    json_object_object_add(dev, "ipv6autoconf",
                           json_object_new_boolean(vdHostReadInt(autoconf_path, 0) == 1));
    json_object_object_add(dev, "mtu", json_object_new_string(mtu ? mtu : "1500"));
}

/* ---- per-kind details ---------------------------------------------- */

static void
vdNetNicFill(VdNetCtx *ctx, const char *name, json_object *dev)
{
    const char *root = ctx->src->sys_class_net;
    g_autofree char *hwaddr = vdLinkAttr(root, name, "address");
    g_autofree char *perm = vdLinkAttr(root, name, "bonding_slave/perm_hwaddr");
    g_autofree char *oper = vdLinkAttr(root, name, "operstate");
    /* like VDSM, a link that is not up has no speed */
    gint64 speed = g_strcmp0(oper, "up") == 0 ? vdHostNetLinkSpeed(root, name) : 0;

    json_object_object_add(dev, "hwaddr", json_object_new_string(hwaddr ? hwaddr : ""));
    json_object_object_add(dev, "speed", json_object_new_int64(speed));
    if (perm)
        json_object_object_add(dev, "permhwaddr", json_object_new_string(perm));
}

static void
vdNetBridgeFill(VdNetCtx *ctx, const char *name, json_object *dev)
{
    const char *root = ctx->src->sys_class_net;
    g_autofree char *brif = g_build_filename(root, name, "brif", NULL);
    g_autofree char *bridge_dir = g_build_filename(root, name, "bridge", NULL);
    g_autoptr(GDir) dir = g_dir_open(brif, 0, NULL);
    g_autoptr(GPtrArray) ports = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) opt_names = g_ptr_array_new_with_free_func(g_free);
    json_object *jports = json_object_new_array();
    json_object *opts = json_object_new_object();
    g_autofree char *stp = vdLinkAttr(root, name, "bridge/stp_state");

    for (const char *port; dir && (port = g_dir_read_name(dir));)
        g_ptr_array_add(ports, g_strdup(port));
    g_ptr_array_sort(ports, vdStrPtrCompare);
    for (guint i = 0; i < ports->len; i++)
        json_object_array_add(jports, json_object_new_string(g_ptr_array_index(ports, i)));

    g_clear_pointer(&dir, g_dir_close);
    dir = g_dir_open(bridge_dir, 0, NULL);
    for (const char *opt; dir && (opt = g_dir_read_name(dir));)
        g_ptr_array_add(opt_names, g_strdup(opt));
    g_ptr_array_sort(opt_names, vdStrPtrCompare);
    for (guint i = 0; i < opt_names->len; i++) {
        const char *opt = g_ptr_array_index(opt_names, i);
        g_autofree char *path = g_build_filename(bridge_dir, opt, NULL);
        g_autofree char *value = vdHostReadLine(path);

        /* write-only knobs (flush) cannot be read */
        if (value)
            json_object_object_add(opts, opt, json_object_new_string(value));
    }

    json_object_object_add(dev, "ports", jports);
    json_object_object_add(dev, "stp",
                           json_object_new_string(stp && g_strcmp0(stp, "0") != 0 ? "on" : "off"));
    json_object_object_add(dev, "opts", opts);
}

/* Bonding options reported when they differ from the kernel default; the
 * value is the last word of the sysfs file ("802.3ad 4" -> "4"), as VDSM
 * reports numeric modes. */
static const struct {
    const char *name;
    const char *def;
} vdBondOptDefaults[] = {
    {"miimon", "0"},           {"updelay", "0"},          {"downdelay", "0"},
    {"arp_interval", "0"},     {"arp_ip_target", ""},     {"arp_validate", "0"},
    {"lacp_rate", "0"},        {"xmit_hash_policy", "0"}, {"primary", ""},
    {"primary_reselect", "0"}, {"fail_over_mac", "0"},    {"ad_select", "0"},
    {"use_carrier", "1"},      {"min_links", "0"},        {"all_slaves_active", "0"},
    {"num_grat_arp", "1"},     {"num_unsol_na", "1"},     {"resend_igmp", "1"},
};

static char *
vdLastWord(const char *text)
{
    g_auto(GStrv) f = NULL;
    guint n;

    if (!text)
        return NULL;
    f = g_strsplit_set(text, " \t", -1);
    n = g_strv_length(f);
    while (n > 0 && !*f[n - 1])
        n--;
    return n ? g_strdup(f[n - 1]) : g_strdup("");
}

static void
vdNetBondFill(VdNetCtx *ctx, const char *name, json_object *dev)
{
    const char *root = ctx->src->sys_class_net;
    g_autofree char *hwaddr = vdLinkAttr(root, name, "address");
    g_autofree char *slaves = vdLinkAttr(root, name, "bonding/slaves");
    g_autofree char *active = vdLinkAttr(root, name, "bonding/active_slave");
    g_autofree char *mode_text = vdLinkAttr(root, name, "bonding/mode");
    g_autofree char *mode = vdLastWord(mode_text);
    g_auto(GStrv) slave_list = NULL;
    json_object *jslaves = json_object_new_array();
    json_object *opts = json_object_new_object();

    slave_list = g_strsplit_set(slaves ? slaves : "", " \t", -1);
    for (gsize i = 0; slave_list[i]; i++) {
        if (*slave_list[i])
            json_object_array_add(jslaves, json_object_new_string(slave_list[i]));
    }
    json_object_object_add(opts, "mode", json_object_new_string(mode && *mode ? mode : "0"));
    for (gsize i = 0; i < G_N_ELEMENTS(vdBondOptDefaults); i++) {
        g_autofree char *attr = g_strdup_printf("bonding/%s", vdBondOptDefaults[i].name);
        g_autofree char *text = vdLinkAttr(root, name, attr);
        g_autofree char *value = NULL;

        if (!text)
            continue;
        /* arp_ip_target is a list: keep it whole, comma-joined */
        if (g_str_equal(vdBondOptDefaults[i].name, "arp_ip_target")) {
            g_auto(GStrv) ips = g_strsplit_set(text, " \t", -1);
            GPtrArray *nonempty = g_ptr_array_new();

            for (gsize k = 0; ips[k]; k++) {
                if (*ips[k])
                    g_ptr_array_add(nonempty, ips[k]);
            }
            g_ptr_array_add(nonempty, NULL);
            value = g_strjoinv(",", (GStrv)nonempty->pdata);
            g_ptr_array_free(nonempty, TRUE);
        } else {
            value = vdLastWord(text);
        }
        if (g_strcmp0(value, vdBondOptDefaults[i].def) != 0)
            json_object_object_add(opts, vdBondOptDefaults[i].name, json_object_new_string(value));
    }

    json_object_object_add(dev, "hwaddr", json_object_new_string(hwaddr ? hwaddr : ""));
    json_object_object_add(dev, "slaves", jslaves);
    json_object_object_add(dev, "active_slave", json_object_new_string(active ? active : ""));
    json_object_object_add(dev, "opts", opts);
    json_object_object_add(dev, "switch", json_object_new_string("legacy"));
}

static void
vdNetVlanFill(VdNetCtx *ctx, GPtrArray *vlan_cfg, const char *name, json_object *dev)
{
    const char *root = ctx->src->sys_class_net;
    g_autofree char *iface = NULL;
    int vid = -1;

    for (guint i = 0; vlan_cfg && i < vlan_cfg->len; i++) {
        VdVlanEntry *v = g_ptr_array_index(vlan_cfg, i);

        if (g_str_equal(v->name, name)) {
            iface = g_strdup(v->dev);
            vid = v->vid;
            break;
        }
    }
    if (!iface) {
        /* without /proc/net/vlan: the lower_<dev> link and the ".vid" suffix */
        g_autofree char *dir_path = g_build_filename(root, name, NULL);
        g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
        const char *dot = strrchr(name, '.');
        guint64 v;

        for (const char *e; dir && (e = g_dir_read_name(dir));) {
            if (g_str_has_prefix(e, "lower_")) {
                iface = g_strdup(e + 6);
                break;
            }
        }
        if (dot && g_ascii_string_to_unsigned(dot + 1, 10, 0, 4095, &v, NULL))
            vid = (int)v;
    }
    json_object_object_add(dev, "iface", json_object_new_string(iface ? iface : ""));
    json_object_object_add(dev, "vlanid", json_object_new_int(vid));
}

void
vdHostNetCapsFill(const VdHostNetSource *src, json_object *caps)
{
    json_object *nics = json_object_new_object();
    json_object *bridges = json_object_new_object();
    json_object *vlans = json_object_new_object();
    json_object *bondings = json_object_new_object();
    g_autofree char *route_path = g_build_filename(src->proc_root, "net", "route", NULL);
    g_autofree char *route6_path = g_build_filename(src->proc_root, "net", "ipv6_route", NULL);
    g_autofree char *vlan_path = g_build_filename(src->proc_root, "net", "vlan", "config", NULL);
    g_autofree char *inet6_path = g_build_filename(src->proc_root, "net", "if_inet6", NULL);
    g_autofree char *route_text = vdHostReadFile(route_path);
    g_autofree char *route6_text = vdHostReadFile(route6_path);
    g_autofree char *vlan_text = vdHostReadFile(vlan_path);
    g_autofree char *resolv_text = vdHostReadFile(src->resolv_conf);
    g_autoptr(GPtrArray) vlan_cfg = vlan_text ? vdVlanConfigParse(vlan_text) : NULL;
    g_auto(GStrv) names = vdHostNetLinkNames(src->sys_class_net, NULL);
    g_auto(GStrv) nameservers = vdResolvConfNameservers(resolv_text);
    VdNetCtx ctx = {.src = src};

    ctx.v4routes = vdRouteV4DefaultsParse(route_text);
    ctx.v6routes = vdRouteV6DefaultsParse(route6_text);

    for (gsize i = 0; names[i]; i++) {
        const char *name = names[i];
        VdLinkKind kind = vdLinkKindOf(src->sys_class_net, name, src->fake_nics);
        json_object *dev;

        if (kind == VD_LINK_OTHER)
            continue;
        /* VDSM applies hidden_nics to NIC-like devices only */
        if (kind == VD_LINK_NIC && vdGlobsMatch(src->hidden_nics, name))
            continue;
        dev = json_object_new_object();
        switch (kind) {
        case VD_LINK_NIC:
            vdNetNicFill(&ctx, name, dev);
            json_object_object_add(nics, name, dev);
            break;
        case VD_LINK_BRIDGE:
            vdNetBridgeFill(&ctx, name, dev);
            json_object_object_add(bridges, name, dev);
            break;
        case VD_LINK_BOND:
            vdNetBondFill(&ctx, name, dev);
            json_object_object_add(bondings, name, dev);
            break;
        case VD_LINK_VLAN:
            vdNetVlanFill(&ctx, vlan_cfg, name, dev);
            json_object_object_add(vlans, name, dev);
            break;
        case VD_LINK_OTHER:
            break;
        }
        vdNetAddAddressing(&ctx, name, dev);
    }

    json_object_object_add(caps, "nics", nics);
    json_object_object_add(caps, "bridges", bridges);
    json_object_object_add(caps, "vlans", vlans);
    json_object_object_add(caps, "bondings", bondings);
    json_object_object_add(caps, "nameservers", vdStrvToJson(nameservers));
    json_object_object_add(caps, "supportsIPv6",
                           json_object_new_boolean(g_file_test(inet6_path, G_FILE_TEST_EXISTS)));
    g_ptr_array_unref(ctx.v4routes);
    g_ptr_array_unref(ctx.v6routes);
}
