/* vd-error.h - the one error domain of vdsm-c.
 *
 * Every layer reports failures as a GError in VD_ERROR whose code is the
 * VDSM status code the client will see (vdsm-facts §2.4) or a JSON-RPC
 * protocol code (-32700..-32603).  Only the rpc layer turns such a GError
 * into a wire error object.  Thread-safe: pure functions and constants.
 */
#pragma once

#include <glib.h>

#define VD_ERROR (vdErrorQuark())
GQuark vdErrorQuark(void);

typedef enum {
    VD_ERR_PARSE = -32700,
    VD_ERR_INVALID_REQUEST = -32600,
    VD_ERR_METHOD_NOT_FOUND = -32601,
    VD_ERR_INVALID_PARAMS = -32602,
    VD_ERR_INTERNAL = -32603,

    VD_ERR_OK = 0,
    VD_ERR_NO_SUCH_VM = 1,
    VD_ERR_VM_EXISTS = 4,
    VD_ERR_VM_IS_DOWN = 6,
    VD_ERR_CANNOT_CREATE_VM = 9,
    VD_ERR_NO_CONNECTION_TO_PEER = 10,
    VD_ERR_MISSING_PARAMETER = 11,
    VD_ERR_IMAGE_FILE_NOT_FOUND = 13,
    VD_ERR_UNEXPECTED = 16,
    VD_ERR_TICKET = 18,
    VD_ERR_GUEST_AGENT_NONRESPONSIVE = 19,
    VD_ERR_RESOURCE_UNAVAILABLE = 40,
    VD_ERR_CHANGE_DISK = 41,
    VD_ERR_DESTROY = 42,
    VD_ERR_METHOD_NOT_IMPLEMENTED = 44,
    VD_ERR_MIGRATION_IN_PROGRESS = 51,
    VD_ERR_BALLOON = 53,
    VD_ERR_UPDATE_DEVICE = 56,
    VD_ERR_UNSUPPORTED_OPERATION = 75,
    VD_ERR_HOOK_FAILED = 78,
    VD_ERR_RESET = 90,
    VD_ERR_INVALID_PARAMETER = 91,
    VD_ERR_RECOVERING = 99,
    VD_ERR_GENERAL = 100,
    VD_ERR_INVALID_CONFIGURATION = 101,
    VD_ERR_RESOURCE_EXHAUSTED = 1100,
    VD_ERR_HOOK_ERROR = 1500,
} VdErrorCode;

/* VDSM's fixed message for a status code ("Virtual machine does not exist"),
 * or NULL when the code has no fixed text. */
const char *vdErrorCodeMessage(int code);

/* Set a VD_ERROR with VDSM's fixed message for @code; when @context_fmt is
 * not NULL the message becomes "<fixed>: <context>" as VDSM's
 * ContextException does. */
void vdErrorSetCode(GError **error, int code, const char *context_fmt, ...)
    G_GNUC_PRINTF(3, 4);
