/* fuzz-jsonrpc.c - libFuzzer target for the JSON-RPC side of dispatch:
 * envelope parsing, method lookup, parameter binding against every verb
 * of the schema, and reply serialization - everything the dispatcher does
 * on the main loop before a request reaches a worker. */
#include "api-handler.h"
#include "jsonrpc.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(VdJsonRpcMessage) msg = vdJsonRpcParse((const char *)data, size);
    g_autofree json_object **responses = g_new0(json_object *, msg->calls->len);
    g_autoptr(GBytes) reply = NULL;

    for (guint i = 0; i < msg->calls->len; i++) {
        VdJsonRpcCall *call = g_ptr_array_index(msg->calls, i);
        const VdApiVerb *verb;
        g_autoptr(GError) error = NULL;
        json_object *named;

        if (call->response) {
            responses[i] = json_object_get(call->response);
            continue;
        }
        verb = vdApiVerbLookup(call->method);
        /* Bind against the named verb, or against every verb when unknown,
         * so all parameter shapes of the schema are exercised. */
        for (guint v = 0; v < vdApiVerbsCount; v++) {
            const VdApiVerb *target = verb ? verb : &vdApiVerbs[v];

            named = vdJsonRpcBindParams(target, call->params, &error);
            if (!named && !error)
                __builtin_trap();
            json_object_put(named);
            g_clear_error(&error);
            if (verb)
                break;
        }
        responses[i] = vdJsonRpcResponseNew(call->id, json_object_new_boolean(1));
    }
    reply = vdJsonRpcSerializeReplies(msg->is_batch, responses, msg->calls->len);
    for (guint i = 0; i < msg->calls->len; i++)
        json_object_put(responses[i]);
    return 0;
}
