/* vd-error.c - VDSM status codes and their fixed messages (vdsm-facts §2.4).
 * Pure data; safe from any thread. */
#include "vd-error.h"

G_DEFINE_QUARK(vd-error-quark, vd_error)

GQuark
vdErrorQuark(void)
{
    return vd_error_quark();
}

static const struct {
    int code;
    const char *message;
} vdErrorMessages[] = {
    { VD_ERR_PARSE, "Parse error" },
    { VD_ERR_INVALID_REQUEST, "Invalid request" },
    { VD_ERR_METHOD_NOT_FOUND, "Method not found" },
    { VD_ERR_INVALID_PARAMS, "Invalid params" },
    { VD_ERR_INTERNAL, "Internal error" },
    { VD_ERR_OK, "Done" },
    { VD_ERR_NO_SUCH_VM, "Virtual machine does not exist" },
    { 3, "Image repository access timeout" },
    { VD_ERR_VM_EXISTS, "Virtual machine already exists" },
    { 5, "Unsupported VM type" },
    { VD_ERR_VM_IS_DOWN, "Virtual machine is down" },
    { 7, "Copy failed" },
    { 8, "Sparse creation failed" },
    { VD_ERR_CANNOT_CREATE_VM, "Error creating the requested VM" },
    { VD_ERR_NO_CONNECTION_TO_PEER, "Could not connect to peer VDS" },
    { VD_ERR_MISSING_PARAMETER, "Missing required parameter" },
    { 12, "Fatal error during migration" },
    { VD_ERR_IMAGE_FILE_NOT_FOUND, "Drive image file could not be found" },
    { 14, "Not enough free memory to create VM" },
    { VD_ERR_UNEXPECTED, "Unexpected exception" },
    { 17, "Unsupported image format" },
    { VD_ERR_TICKET, "Error while setting spice ticket" },
    { VD_ERR_GUEST_AGENT_NONRESPONSIVE, "Guest agent non-responsive" },
    { VD_ERR_RESOURCE_UNAVAILABLE, "Resource unavailable" },
    { VD_ERR_CHANGE_DISK, "Failed to change disk image" },
    { VD_ERR_DESTROY, "Virtual machine destroy error" },
    { VD_ERR_METHOD_NOT_IMPLEMENTED, "Method not implemented" },
    { 47, "Migration not in progress" },
    { VD_ERR_MIGRATION_IN_PROGRESS, "Command not supported during migration" },
    { VD_ERR_BALLOON, "Failed to set balloon target" },
    { VD_ERR_UPDATE_DEVICE, "Failed to update device" },
    { VD_ERR_UNSUPPORTED_OPERATION, "Operation not supported" },
    { VD_ERR_HOOK_FAILED, "Hook failed" },
    { 82, "Incoming migration limit exceeded" },
    { VD_ERR_RESET, "Failed to reset VM" },
    { VD_ERR_INVALID_PARAMETER, "Invalid parameter" },
    { VD_ERR_RECOVERING, "Recovering from crash or Initializing" },
    { VD_ERR_GENERAL, "General Exception" },
    { VD_ERR_INVALID_CONFIGURATION, "Invalid configuration" },
    { VD_ERR_RESOURCE_EXHAUSTED, "Not enough resources" },
    { VD_ERR_HOOK_ERROR, "Hook error" },
};

const char *
vdErrorCodeMessage(int code)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vdErrorMessages); i++) {
        if (vdErrorMessages[i].code == code)
            return vdErrorMessages[i].message;
    }
    return NULL;
}

void
vdErrorSetCode(GError **error, int code, const char *context_fmt, ...)
{
    const char *fixed = vdErrorCodeMessage(code);
    g_autofree char *context = NULL;
    va_list ap;

    if (!error)
        return;
    if (!fixed)
        fixed = "Error";
    if (!context_fmt) {
        g_set_error_literal(error, VD_ERROR, code, fixed);
        return;
    }
    va_start(ap, context_fmt);
    context = g_strdup_vprintf(context_fmt, ap);
    va_end(ap);
    g_set_error(error, VD_ERROR, code, "%s: %s", fixed, context);
}
