/* host-net.h - the host's network devices as VDSM reports them in
 * Host.getCapabilities (nics, bridges, vlans, bondings, nameservers,
 * supportsIPv6) and the owner of an address (lastClientIface).
 *
 * DESIGN: every call reads the current state (links change at any time):
 * one rtnetlink RTM_GETADDR dump for addresses (it carries the scope and
 * the IFA_F_PERMANENT flag that tells DHCP/SLAAC addresses apart, which
 * getifaddrs drops), /proc/net/{route,ipv6_route,vlan/config} for
 * gateways and VLANs, and /sys/class/net for everything else.  All paths
 * come from a VdHostNetSource so tests run against fixture trees.  No
 * global state; callable from any thread (it blocks briefly on netlink,
 * so never from the main loop).
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* Default of VDSM's [vars] fake_nics: devices reported as NICs although
 * they are not backed by hardware. */
#define VD_HOST_FAKE_NICS_DEFAULT "dummy_*,veth_*"

typedef struct {
    int family; /* AF_INET or AF_INET6 */
    int ifindex;
    char *label;    /* IFA_LABEL (IPv4) or the link name */
    char *address;  /* textual address */
    guint8 bin[16]; /* raw address (4 or 16 bytes used) */
    int prefixlen;
    guint32 flags; /* IFA_F_* */
    int scope;     /* RT_SCOPE_* */
} VdHostAddr;

void vdHostAddrFree(VdHostAddr *addr);

/* Parse one recv() worth of rtnetlink messages of an RTM_GETADDR dump,
 * appending VdHostAddr to @out (label NULL when the message has none).
 * Sets *done on NLMSG_DONE.  FALSE with @error on NLMSG_ERROR or a
 * truncated message.  Pure: no I/O. */
gboolean vdHostAddrDumpParse(const void *buf, gsize len, GPtrArray *out, gboolean *done,
                             GError **error);

/* All addresses of the host (netlink dump; labels filled with link names).
 * Owning GPtrArray of VdHostAddr, or NULL with @error. */
GPtrArray *vdHostAddrList(GError **error);

/* The label of the address equal to @address ("10.0.0.1", "::ffff:10.0.0.1",
 * "[fe80::1%eth0]"), or "" when none matches.  Newly allocated. */
char *vdHostAddrOwner(GPtrArray *addrs, const char *address);

typedef struct {
    const char *sys_class_net;      /* "/sys/class/net" */
    const char *proc_root;          /* "/proc" */
    const char *resolv_conf;        /* "/etc/resolv.conf" */
    const char *const *hidden_nics; /* globs ([vars] hidden_nics) */
    const char *const *fake_nics;   /* globs (VD_HOST_FAKE_NICS_DEFAULT) */
    GPtrArray *addrs;               /* VdHostAddr of the host */
} VdHostNetSource;

/* Adds nics, bridges, vlans, bondings, nameservers and supportsIPv6 to
 * @caps.  Unreadable files leave their fields at VDSM's empty values. */
void vdHostNetCapsFill(const VdHostNetSource *src, json_object *caps);

/* Names of the links of @sys_class_net not hidden by @hidden globs,
 * sorted.  Used by the sampler for per-NIC statistics. */
GStrv vdHostNetLinkNames(const char *sys_class_net, const char *const *hidden);

/* Link speed in Mbps from <dev>/speed, 0 when unknown or down. */
gint64 vdHostNetLinkSpeed(const char *sys_class_net, const char *name);
