/* host.c - the Host namespace verbs of the foundation: ping, ping2, echo,
 * getCapabilities, getStats, getHardwareInfo, setLogLevel.
 *
 * DESIGN: thin adapters between the rpc contract (api-handler.h) and the
 * host layer (src/host).  Each handler runs on an rpc worker thread with
 * schema-validated params and returns the payload VDSM's bridge extracts
 * (the "info" dict, true, the echoed text).  No state of their own.
 */
#include "api-handler.h"

#include "config.h"
#include "host-caps.h"
#include "host-hwinfo.h"
#include "host-stats.h"
#include "hooks.h"
#include "log.h"
#include "vd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Characters of Host.echo's text that go to the log. */
#define VD_API_ECHO_LOG_MAX 256

/* Update the mtime of <run_dir>/client.log, creating it when missing;
 * setupNetworks' connectivity check watches it (vdsm-facts §8). */
static void
vdApiHostTouchClientLog(void)
{
    g_autofree char *path =
        g_build_filename(vdConfigGetString("vars", "run_dir"), "client.log", NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0644);

    if (fd < 0) {
        g_warning("cannot touch %s: %s", path, g_strerror(errno));
        return;
    }
    if (futimens(fd, NULL) < 0)
        g_warning("cannot update the time of %s: %s", path, g_strerror(errno));
    close(fd);
}

json_object *
vdApiHostPing(VdCallCtx *ctx, json_object *params, GError **error)
{
    vdApiHostTouchClientLog();
    return json_object_new_boolean(TRUE);
}

json_object *
vdApiHostPing2(VdCallCtx *ctx, json_object *params, GError **error)
{
    return json_object_new_boolean(TRUE);
}

json_object *
vdApiHostEcho(VdCallCtx *ctx, json_object *params, GError **error)
{
    json_object *member = NULL;
    const char *text = "";
    int len = 0;

    /* the text is returned with its length, so an embedded \u0000 survives */
    if (json_object_object_get_ex(params, "text", &member) &&
        json_object_is_type(member, json_type_string)) {
        text = json_object_get_string(member);
        len = json_object_get_string_len(member);
    }
    /* echo runs inline on the main loop: log a bounded prefix only */
    g_info("echo: %.*s%s", MIN(len, VD_API_ECHO_LOG_MAX), text,
           len > VD_API_ECHO_LOG_MAX ? "..." : "");
    return json_object_new_string_len(text, len);
}

/* As VDSM: before_get_caps may refuse (1500), after_get_caps may rewrite
 * the answer.  Neither costs anything without a script. */
json_object *
vdApiHostGetCapabilities(VdCallCtx *ctx, json_object *params, GError **error)
{
    json_object *caps;

    if (vdHooksRunJson("before_get_caps", NULL, error) < 0)
        return NULL;
    caps = vdHostCapsGet(ctx ? ctx->local_address : NULL);
    vdHooksRunJson("after_get_caps", &caps, NULL);
    return caps;
}

json_object *
vdApiHostGetStats(VdCallCtx *ctx, json_object *params, GError **error)
{
    json_object *stats;

    if (vdHooksRunJson("before_get_stats", NULL, error) < 0)
        return NULL;
    stats = vdHostStatsGet();
    vdHooksRunJson("after_get_stats", &stats, NULL);
    return stats;
}

json_object *
vdApiHostGetHardwareInfo(VdCallCtx *ctx, json_object *params, GError **error)
{
    return vdHostHardwareInfo("/sys/class/dmi/id");
}

json_object *
vdApiHostSetLogLevel(VdCallCtx *ctx, json_object *params, GError **error)
{
    const char *level = vdApiParamString(params, "level", NULL);
    const char *name = vdApiParamString(params, "name", "");

    if (vdLogSetLevelName(level) < 0) {
        vdErrorSetCode(error, VD_ERR_INVALID_PARAMETER, "unknown log level %s",
                       level ? level : "(none)");
        return NULL;
    }
    g_info("log level set to %s%s%s", level, *name ? " for logger " : "", name);
    return json_object_new_boolean(TRUE);
}
