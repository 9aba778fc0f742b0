/* vm-guest-agent.c - the oVirt guest agent protocol (see vm-guest-agent.h).
 *
 * DESIGN: every VdGaChannel lives in @channels and is touched on the main
 * loop only.  Sockets are non-blocking; reads are drained by a g_unix_fd
 * watch, writes that do not complete at once wait in @out for G_IO_OUT.
 */
#include "vm-guest-agent.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "main-call.h"
#include "vd-error.h"
#include "vm-qga.h"
#include "vm-table.h"
#include "xml-node.h"

#define VD_GA_API_VERSION 3

typedef struct {
    char *id;
    char *path;
    int fd; /* -1 when not connected */
    guint in_watch;
    guint out_watch;
    guint retry;
    GString *in;
    GString *out;
    gboolean discarding; /* skipping an over-long message */
    gint64 last_msg_us;  /* monotonic; 0 never */
    gboolean heartbeat_seen;
    json_object *fields; /* VDSM getStats fields from the reports */
} VdGaChannel;

static GHashTable *channels; /* id -> VdGaChannel* */

static void vdGaConnect(VdGaChannel *ch);

char *
vdVmGuestAgentPathFromXml(const char *xml)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VdXmlNode) root = vdXmlParse(xml, -1, &error);
    if (!root)
        return NULL;
    VdXmlNode *devices = vdXmlNodeChild(root, "devices");
    if (!devices)
        return NULL;
    g_autoptr(GPtrArray) chans = vdXmlNodeChildren(devices, "channel");
    char *found = NULL;
    for (guint i = 0; chans && i < chans->len && !found; i++) {
        VdXmlNode *c = chans->pdata[i];
        VdXmlNode *target = vdXmlNodeChild(c, "target");
        VdXmlNode *source = vdXmlNodeChild(c, "source");
        const char *name = target ? vdXmlNodeAttr(target, "name") : NULL;
        const char *path = source ? vdXmlNodeAttr(source, "path") : NULL;
        if (g_strcmp0(vdXmlNodeAttr(c, "type"), "unix") != 0 || !name || !path)
            continue;
        if (g_str_equal(name, "ovirt-guest-agent.0") || g_str_equal(name, "com.redhat.rhevm.vdsm"))
            found = g_strdup(path);
    }
    return found;
}

static void
vdGaClose(VdGaChannel *ch)
{
    g_clear_handle_id(&ch->in_watch, g_source_remove);
    g_clear_handle_id(&ch->out_watch, g_source_remove);
    if (ch->fd >= 0)
        close(ch->fd);
    ch->fd = -1;
    g_string_truncate(ch->in, 0);
    g_string_truncate(ch->out, 0);
    ch->discarding = FALSE;
}

static void
vdGaChannelFree(gpointer data)
{
    VdGaChannel *ch = data;
    vdGaClose(ch);
    g_clear_handle_id(&ch->retry, g_source_remove);
    g_string_free(ch->in, TRUE);
    g_string_free(ch->out, TRUE);
    json_object_put(ch->fields);
    g_free(ch->id);
    g_free(ch->path);
    g_free(ch);
}

static gboolean
vdGaRetry(gpointer data)
{
    VdGaChannel *ch = data;
    ch->retry = 0;
    vdGaConnect(ch);
    return G_SOURCE_REMOVE;
}

static void
vdGaScheduleRetry(VdGaChannel *ch)
{
    vdGaClose(ch);
    if (!ch->retry)
        ch->retry = g_timeout_add_seconds(VD_GA_RECONNECT_S, vdGaRetry, ch);
}

static gboolean vdGaOnWritable(gint fd, GIOCondition cond, gpointer data);

static void
vdGaFlush(VdGaChannel *ch)
{
    while (ch->fd >= 0 && ch->out->len) {
        ssize_t n = write(ch->fd, ch->out->str, ch->out->len);
        if (n > 0) {
            g_string_erase(ch->out, 0, n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!ch->out_watch)
                ch->out_watch = g_unix_fd_add(ch->fd, G_IO_OUT, vdGaOnWritable, ch);
            return;
        }
        g_debug("guest agent %s: write: %s", ch->id, g_strerror(errno));
        vdGaScheduleRetry(ch);
        return;
    }
}

static gboolean
vdGaOnWritable(gint fd G_GNUC_UNUSED, GIOCondition cond G_GNUC_UNUSED, gpointer data)
{
    VdGaChannel *ch = data;
    ch->out_watch = 0;
    vdGaFlush(ch);
    return G_SOURCE_REMOVE;
}

static void
vdGaQueue(VdGaChannel *ch, const char *name, json_object *args)
{
    json_object *msg = args ? args : json_object_new_object();
    json_object_object_add(msg, "__name__", json_object_new_string(name));
    g_string_append(ch->out, json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
    g_string_append_c(ch->out, '\n');
    json_object_put(msg);
    vdGaFlush(ch);
}

static void
vdGaSet(VdGaChannel *ch, const char *key, json_object *value)
{
    json_object_object_add(ch->fields, key, value);
}

static json_object *
vdGaArg(json_object *msg, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(msg, key, &v) ? v : NULL;
}

static json_object *
vdGaCopy(json_object *v)
{
    json_object *copy = NULL;
    if (!v || json_object_deep_copy(v, &copy, NULL) != 0)
        return NULL;
    return copy;
}

static void
vdGaSetString(VdGaChannel *ch, const char *key, json_object *msg, const char *arg)
{
    json_object *v = vdGaArg(msg, arg);
    if (v && json_object_is_type(v, json_type_string))
        vdGaSet(ch, key, json_object_new_string(json_object_get_string(v)));
}

static void
vdGaOnHeartbeat(VdGaChannel *ch)
{
    ch->heartbeat_seen = TRUE;
    /* VDSM: "Powering up" lasts until the first heartbeat (or the guest
     * wait timeout). */
    VdVm *vm = vdVmTableLookup(ch->id);
    if (vm && vm->guest_event == VD_VM_GUEST_POWERING_UP) {
        vm->guest_event = VD_VM_GUEST_NONE;
        vdVmTableRefresh(vm, FALSE);
    }
}

static void
vdGaHandle(VdGaChannel *ch, json_object *msg)
{
    json_object *jname = vdGaArg(msg, "__name__");
    if (!jname || !json_object_is_type(jname, json_type_string))
        return;
    const char *name = json_object_get_string(jname);
    ch->last_msg_us = g_get_monotonic_time();

    if (g_str_equal(name, "heartbeat")) {
        json_object *ms = vdGaArg(msg, "memory-stat");
        if (ms && json_object_is_type(ms, json_type_object))
            vdGaSet(ch, "memoryStats", vdGaCopy(ms));
        vdGaOnHeartbeat(ch);
    } else if (g_str_equal(name, "host-name")) {
        vdGaSetString(ch, "guestName", msg, "name");
    } else if (g_str_equal(name, "fqdn")) {
        vdGaSetString(ch, "guestFQDN", msg, "fqdn");
    } else if (g_str_equal(name, "os-version")) {
        vdGaSetString(ch, "guestOs", msg, "version");
    } else if (g_str_equal(name, "os-info")) {
        json_object *info = vdGaCopy(msg);
        json_object_object_del(info, "__name__");
        vdGaSet(ch, "guestOsInfo", info);
    } else if (g_str_equal(name, "timezone")) {
        json_object *tz = vdGaCopy(msg);
        json_object_object_del(tz, "__name__");
        vdGaSet(ch, "guestTimezone", tz);
    } else if (g_str_equal(name, "network-interfaces")) {
        json_object *ifs = vdGaArg(msg, "interfaces");
        if (ifs && json_object_is_type(ifs, json_type_array)) {
            g_autoptr(GString) ips = g_string_new(NULL);
            for (size_t i = 0; i < json_object_array_length(ifs); i++) {
                json_object *inet = vdGaArg(json_object_array_get_idx(ifs, i), "inet");
                if (!inet || !json_object_is_type(inet, json_type_array))
                    continue;
                for (size_t j = 0; j < json_object_array_length(inet); j++) {
                    const char *a = json_object_get_string(json_object_array_get_idx(inet, j));
                    if (!a || g_str_has_prefix(a, "127."))
                        continue;
                    if (ips->len)
                        g_string_append_c(ips, ' ');
                    g_string_append(ips, a);
                }
            }
            vdGaSet(ch, "netIfaces", vdGaCopy(ifs));
            vdGaSet(ch, "guestIPs", json_object_new_string(ips->str));
        }
    } else if (g_str_equal(name, "applications")) {
        json_object *apps = vdGaArg(msg, "applications");
        if (apps && json_object_is_type(apps, json_type_array))
            vdGaSet(ch, "appsList", vdGaCopy(apps));
    } else if (g_str_equal(name, "active-user")) {
        vdGaSetString(ch, "username", msg, "name");
        json_object *u = vdGaArg(msg, "name");
        const char *user = u ? json_object_get_string(u) : NULL;
        vdGaSet(ch, "session",
                json_object_new_string(user && g_strcmp0(user, "None") != 0 ? "UserLoggedOn"
                                                                            : "LoggedOff"));
    } else if (g_str_equal(name, "session-lock")) {
        vdGaSet(ch, "session", json_object_new_string("Locked"));
    } else if (g_str_equal(name, "session-unlock") || g_str_equal(name, "session-logon")) {
        vdGaSet(ch, "session", json_object_new_string("UserLoggedOn"));
    } else if (g_str_equal(name, "session-logoff")) {
        vdGaSet(ch, "session", json_object_new_string("LoggedOff"));
    } else if (g_str_equal(name, "disks-usage")) {
        json_object *disks = vdGaArg(msg, "disks");
        if (disks && json_object_is_type(disks, json_type_array))
            vdGaSet(ch, "disksUsage", vdGaCopy(disks));
    } else if (g_str_equal(name, "number-of-cpus")) {
        json_object *c = vdGaArg(msg, "count");
        if (c)
            vdGaSet(ch, "guestCPUCount", json_object_new_int(json_object_get_int(c)));
    }
    /* session-startup, session-shutdown, completion, echo, uninstalled,
     * containers: only mark the agent alive. */
}

static void
vdGaParseLines(VdGaChannel *ch, const char *buf, gsize len)
{
    while (len) {
        const char *nl = memchr(buf, '\n', len);
        gsize chunk = nl ? (gsize)(nl - buf) : len;
        if (!ch->discarding) {
            if (ch->in->len + chunk > VD_GA_MAX_MESSAGE) {
                g_warning("guest agent %s: message over %d bytes discarded", ch->id,
                          VD_GA_MAX_MESSAGE);
                g_string_truncate(ch->in, 0);
                ch->discarding = TRUE;
            } else {
                g_string_append_len(ch->in, buf, chunk);
            }
        }
        if (!nl)
            return;
        if (!ch->discarding && ch->in->len) {
            json_object *msg = json_tokener_parse(ch->in->str);
            if (msg && json_object_is_type(msg, json_type_object))
                vdGaHandle(ch, msg);
            else
                g_debug("guest agent %s: bad message", ch->id);
            json_object_put(msg);
        }
        g_string_truncate(ch->in, 0);
        ch->discarding = FALSE;
        buf = nl + 1;
        len -= chunk + 1;
    }
}

static gboolean
vdGaOnReadable(gint fd, GIOCondition cond, gpointer data)
{
    VdGaChannel *ch = data;
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            vdGaParseLines(ch, buf, n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN && !(cond & (G_IO_HUP | G_IO_ERR)))
            return G_SOURCE_CONTINUE;
        /* EOF or error: QEMU went away (VM stopped or restarted). */
        ch->in_watch = 0;
        vdGaScheduleRetry(ch);
        return G_SOURCE_REMOVE;
    }
}

static void
vdGaConnect(VdGaChannel *ch)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(ch->path) >= sizeof(addr.sun_path)) {
        g_warning("guest agent %s: socket path too long: %s", ch->id, ch->path);
        return;
    }
    strcpy(addr.sun_path, ch->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        g_debug("guest agent %s: connect %s: %s", ch->id, ch->path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        vdGaScheduleRetry(ch);
        return;
    }
    ch->fd = fd;
    ch->in_watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, vdGaOnReadable, ch);
    json_object *args = json_object_new_object();
    json_object_object_add(args, "apiVersion", json_object_new_int(VD_GA_API_VERSION));
    vdGaQueue(ch, "refresh", args);
}

void
vdVmGuestAgentAttach(const char *id, const char *path)
{
    if (!channels)
        channels = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, vdGaChannelFree);
    VdGaChannel *old = g_hash_table_lookup(channels, id);
    if (old && g_str_equal(old->path, path) && (old->fd >= 0 || old->retry))
        return;
    g_hash_table_remove(channels, id);
    VdGaChannel *ch = g_new0(VdGaChannel, 1);
    ch->id = g_strdup(id);
    ch->path = g_strdup(path);
    ch->fd = -1;
    ch->in = g_string_new(NULL);
    ch->out = g_string_new(NULL);
    ch->fields = json_object_new_object();
    g_hash_table_insert(channels, ch->id, ch);
    vdGaConnect(ch);
}

void
vdVmGuestAgentDetach(const char *id)
{
    if (channels)
        g_hash_table_remove(channels, id);
}

static VdGaChannel *
vdGaLookup(const char *id)
{
    return channels ? g_hash_table_lookup(channels, id) : NULL;
}

gboolean
vdVmGuestAgentResponsive(const char *id)
{
    VdGaChannel *ch = vdGaLookup(id);
    if (!ch || ch->fd < 0 || !ch->last_msg_us)
        return FALSE;
    gint64 timeout = vdConfigGetInt("vars", "guest_agent_responsive_timeout");
    return g_get_monotonic_time() - ch->last_msg_us < timeout * G_USEC_PER_SEC;
}

int
vdVmGuestAgentSend(const char *id, const char *name, json_object *args, GError **error)
{
    /* The poller finds the channels; vdsmd should start it at start-up
     * (vdVmQgaStart), this covers a verb before any stats request. */
    vdVmQgaStart();
    if (!vdVmTableLookup(id)) {
        json_object_put(args);
        g_set_error(error, VD_ERROR, VD_ERR_NO_SUCH_VM, "Virtual machine does not exist");
        return -1;
    }
    if (!vdVmGuestAgentResponsive(id)) {
        json_object_put(args);
        g_set_error(error, VD_ERROR, VD_ERR_GUEST_AGENT_NONRESPONSIVE,
                    "Guest agent non responsive");
        return -1;
    }
    vdGaQueue(vdGaLookup(id), name, args);
    return 0;
}

typedef struct {
    const char *id;
    const char *name;
    json_object *args;
    GError *error;
    int rc;
} VdGaSendCall;

static gpointer
vdGaSendOnMain(gpointer data)
{
    VdGaSendCall *c = data;
    c->rc = vdVmGuestAgentSend(c->id, c->name, c->args, &c->error);
    return NULL;
}

int
vdVmGuestAgentSendSync(const char *id, const char *name, json_object *args, GError **error)
{
    VdGaSendCall c = {id, name, args, NULL, 0};
    vdMainCall(vdGaSendOnMain, &c);
    if (c.rc < 0)
        g_propagate_error(error, c.error);
    return c.rc;
}

void
vdVmGuestAgentFillStats(const char *id, json_object *stats)
{
    VdGaChannel *ch = vdGaLookup(id);
    if (!ch)
        return;
    json_object_object_foreach(ch->fields, key, value)
    {
        json_object *copy = vdGaCopy(value);
        if (copy)
            json_object_object_add(stats, key, copy);
    }
}

void
vdVmGuestFillStats(const char *id, json_object *stats)
{
    vdVmGuestAgentFillStats(id, stats);
    /* The oVirt agent knows lock and log-off; qemu-ga only who is on. */
    json_object *session = NULL;
    if (json_object_object_get_ex(stats, "session", &session))
        json_object_get(session);
    vdVmQgaFillStats(id, stats);
    if (session)
        json_object_object_add(stats, "session", session);
}
