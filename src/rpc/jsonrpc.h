/* jsonrpc.h - JSON-RPC 2.0 envelopes and parameter binding (vdsm-facts §1.3).
 *
 * Pure functions, no I/O, no globals: safe from any thread and fuzzable.
 * A request body (one object or a batch array) is split into calls; every
 * call that is already known to fail (not an object, no "jsonrpc":"2.0",
 * no method) carries its error response, the others carry id/method/params
 * for dispatch.  Parameter binding turns positional or named params into
 * one named object checked against the schema's VdApiParam list.
 */
#pragma once

#include "api-handler.h"

#include <glib.h>
#include <json-c/json.h>

typedef struct {
    json_object *id;       /* owned ref; NULL for a notification */
    gboolean notification; /* TRUE when the request had no "id" member */
    char *method;          /* NULL when the call is invalid */
    json_object *params;   /* owned ref: object or array (an empty array when absent) */
    json_object *response; /* owned ref: a ready error response for an invalid call */
} VdJsonRpcCall;

typedef struct {
    gboolean is_batch;
    GPtrArray *calls; /* of VdJsonRpcCall */
} VdJsonRpcMessage;

/* Split @body.  Never fails: unparsable JSON gives one call holding a -32700
 * response, an empty batch one holding -32600 "request batch is empty". */
VdJsonRpcMessage *vdJsonRpcParse(const char *body, gsize len);
void vdJsonRpcMessageFree(VdJsonRpcMessage *msg);

/* Check @params (object, array or NULL) against @verb and build the named
 * object handlers get: every given parameter, plus the schema default of each
 * missing optional one.  Unknown named parameters are ignored, as VDSM does.
 * Fails with -32602 naming the parameter. */
json_object *vdJsonRpcBindParams(const VdApiVerb *verb, json_object *params, GError **error);

/* {"jsonrpc":"2.0","id":@id,"result":@result}; takes ownership of @result. */
json_object *vdJsonRpcResponseNew(json_object *id, json_object *result);
/* {"jsonrpc":"2.0","id":@id,"error":{"code":@code,"message":@message}} */
json_object *vdJsonRpcErrorNew(json_object *id, int code, const char *message);
/* The same from a GError: a VD_ERROR keeps its code, any other domain
 * becomes -32603 with the error's message. */
json_object *vdJsonRpcErrorFromGError(json_object *id, const GError *error);

/* Serialize the replies of a message: NULL when there is nothing to send
 * (only notifications), a bare object for a single request, an array for a
 * batch.  @responses holds one entry (or NULL) per call, in order. */
GBytes *vdJsonRpcSerializeReplies(gboolean is_batch, json_object *const *responses, guint n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdJsonRpcMessage, vdJsonRpcMessageFree)
