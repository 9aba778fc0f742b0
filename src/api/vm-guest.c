/* vm-guest.c - the VM verbs that talk to the guest agents: desktopLogin,
 * desktopLogoff, desktopLock, desktopSendHcCommand (oVirt guest agent),
 * freeze and thaw (qemu-guest-agent through libvirt).
 *
 * DESIGN: thin adapters on rpc workers.  The oVirt agent messages are
 * queued on the main-loop listener (vm-guest-agent.h), which answers 19
 * when the agent is not responsive; freeze/thaw block on libvirt here, on
 * the worker, with the agent timeout of vm-qga.c.
 */
#include "api-handler.h"

#include "vd-error.h"
#include "vm-guest-agent.h"
#include "vm-qga.h"

static json_object *
vdApiVmGuestSend(json_object *params, const char *name, json_object *args, GError **error)
{
    const char *id = vdApiParamString(params, "vmID", "");
    if (vdVmGuestAgentSendSync(id, name, args, error) < 0)
        return NULL;
    return json_object_new_boolean(TRUE);
}

json_object *
vdApiVMDesktopLogin(VdCallCtx *ctx G_GNUC_UNUSED, json_object *params, GError **error)
{
    const char *domain = vdApiParamString(params, "domain", "");
    const char *user = vdApiParamString(params, "username", "");
    json_object *args = json_object_new_object();
    /* VDSM: "user@domain" when a domain is given. */
    g_autofree char *full = domain[0] ? g_strdup_printf("%s@%s", user, domain) : g_strdup(user);
    json_object_object_add(args, "username", json_object_new_string(full));
    json_object_object_add(args, "password",
                           json_object_new_string(vdApiParamString(params, "password", "")));
    return vdApiVmGuestSend(params, "login", args, error);
}

json_object *
vdApiVMDesktopLogoff(VdCallCtx *ctx G_GNUC_UNUSED, json_object *params, GError **error)
{
    return vdApiVmGuestSend(params, "log-off", NULL, error);
}

json_object *
vdApiVMDesktopLock(VdCallCtx *ctx G_GNUC_UNUSED, json_object *params, GError **error)
{
    return vdApiVmGuestSend(params, "lock-screen", NULL, error);
}

json_object *
vdApiVMDesktopSendHcCommand(VdCallCtx *ctx G_GNUC_UNUSED, json_object *params, GError **error)
{
    json_object *args = json_object_new_object();
    json_object_object_add(args, "command",
                           json_object_new_string(vdApiParamString(params, "message", "")));
    return vdApiVmGuestSend(params, "hc-command", args, error);
}

static json_object *
vdApiVmFsFreeze(json_object *params, gboolean thaw, GError **error)
{
    if (vdVmQgaFsFreeze(vdApiParamString(params, "vmID", ""), thaw, error) < 0)
        return NULL;
    return json_object_new_boolean(TRUE);
}

json_object *
vdApiVMFreeze(VdCallCtx *ctx G_GNUC_UNUSED, json_object *params, GError **error)
{
    return vdApiVmFsFreeze(params, FALSE, error);
}

json_object *
vdApiVMThaw(VdCallCtx *ctx G_GNUC_UNUSED, json_object *params, GError **error)
{
    return vdApiVmFsFreeze(params, TRUE, error);
}
