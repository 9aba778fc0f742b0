/* jsonrpc.c - see jsonrpc.h.  Pure; every function is reentrant. */
#include "jsonrpc.h"

#include "vd-error.h"

#include <string.h>

static void
vdJsonRpcCallFree(gpointer data)
{
    VdJsonRpcCall *call = data;

    if (!call)
        return;
    json_object_put(call->id);
    g_free(call->method);
    json_object_put(call->params);
    json_object_put(call->response);
    g_free(call);
}

void
vdJsonRpcMessageFree(VdJsonRpcMessage *msg)
{
    if (!msg)
        return;
    g_ptr_array_unref(msg->calls);
    g_free(msg);
}

json_object *
vdJsonRpcErrorNew(json_object *id, int code, const char *message)
{
    json_object *resp = json_object_new_object();
    json_object *err = json_object_new_object();

    json_object_object_add(err, "code", json_object_new_int(code));
    json_object_object_add(err, "message", json_object_new_string(message ? message : ""));
    json_object_object_add(resp, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(resp, "id", json_object_get(id));
    json_object_object_add(resp, "error", err);
    return resp;
}

json_object *
vdJsonRpcErrorFromGError(json_object *id, const GError *error)
{
    if (error->domain == VD_ERROR)
        return vdJsonRpcErrorNew(id, error->code, error->message);
    return vdJsonRpcErrorNew(id, VD_ERR_INTERNAL, error->message);
}

json_object *
vdJsonRpcResponseNew(json_object *id, json_object *result)
{
    json_object *resp = json_object_new_object();

    json_object_object_add(resp, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(resp, "id", json_object_get(id));
    json_object_object_add(resp, "result", result ? result : json_object_new_boolean(TRUE));
    return resp;
}

static VdJsonRpcCall *
vdJsonRpcCallFromJson(json_object *req)
{
    VdJsonRpcCall *call = g_new0(VdJsonRpcCall, 1);
    json_object *version = NULL;
    json_object *method = NULL;
    json_object *params = NULL;
    json_object *id = NULL;

    if (!json_object_is_type(req, json_type_object)) {
        call->response = vdJsonRpcErrorNew(NULL, VD_ERR_INVALID_REQUEST,
                                           "Invalid request: not a JSON object");
        return call;
    }
    call->notification = !json_object_object_get_ex(req, "id", &id);
    if (id && !json_object_is_type(id, json_type_string) &&
        !json_object_is_type(id, json_type_int) && !json_object_is_type(id, json_type_null)) {
        call->response = vdJsonRpcErrorNew(NULL, VD_ERR_INVALID_REQUEST,
                                           "Invalid request: id must be a string or number");
        call->notification = FALSE;
        return call;
    }
    call->id = json_object_get(id);
    if (!json_object_object_get_ex(req, "jsonrpc", &version) ||
        !json_object_is_type(version, json_type_string) ||
        strcmp(json_object_get_string(version), "2.0") != 0) {
        call->response = vdJsonRpcErrorNew(id, VD_ERR_INVALID_REQUEST,
                                           "Invalid request: jsonrpc must be \"2.0\"");
        return call;
    }
    if (!json_object_object_get_ex(req, "method", &method) ||
        !json_object_is_type(method, json_type_string)) {
        call->response = vdJsonRpcErrorNew(id, VD_ERR_INVALID_REQUEST,
                                           "Invalid request: method must be a string");
        return call;
    }
    if (json_object_object_get_ex(req, "params", &params) &&
        !json_object_is_type(params, json_type_object) &&
        !json_object_is_type(params, json_type_array) &&
        !json_object_is_type(params, json_type_null)) {
        call->response = vdJsonRpcErrorNew(id, VD_ERR_INVALID_REQUEST,
                                           "Invalid request: params must be an object or array");
        return call;
    }
    call->method = g_strdup(json_object_get_string(method));
    if (params && !json_object_is_type(params, json_type_null))
        call->params = json_object_get(params);
    else
        call->params = json_object_new_array();
    return call;
}

/* One tokener per thread, reset for each body: creating one costs more
 * than parsing a small request. */
static void
vdJsonRpcTokenerFree(gpointer tok)
{
    json_tokener_free(tok);
}

static GPrivate vdJsonRpcTokener = G_PRIVATE_INIT(vdJsonRpcTokenerFree);

static json_tokener *
vdJsonRpcTokenerGet(void)
{
    json_tokener *tok = g_private_get(&vdJsonRpcTokener);

    if (!tok) {
        tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        g_private_set(&vdJsonRpcTokener, tok);
    }
    json_tokener_reset(tok);
    return tok;
}

VdJsonRpcMessage *
vdJsonRpcParse(const char *body, gsize len)
{
    VdJsonRpcMessage *msg = g_new0(VdJsonRpcMessage, 1);
    json_tokener *tok = vdJsonRpcTokenerGet();
    json_object *root = NULL;
    enum json_tokener_error jerr;

    msg->calls = g_ptr_array_new_with_free_func(vdJsonRpcCallFree);
    if (len <= G_MAXINT)
        root = json_tokener_parse_ex(tok, body, (int)len);
    jerr = json_tokener_get_error(tok);
    gboolean flushed = FALSE;

    if (!root && jerr == json_tokener_continue) {
        flushed = TRUE;
        /* A bare number at the end of the body is only complete once the
         * tokener sees a delimiter. */
        root = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
    }
    /* Accept trailing whitespace only; anything else after the value is an error. */
    if (root && jerr == json_tokener_success && !flushed) {
        gsize used = MIN((gsize)json_tokener_get_parse_end(tok), len);

        for (gsize i = used; i < len; i++) {
            if (!g_ascii_isspace(body[i]) && body[i] != '\0') {
                json_object_put(root);
                root = NULL;
                break;
            }
        }
    }
    if (!root && jerr == json_tokener_success) {
        /* the body was the JSON literal null: valid JSON, not a request */
        VdJsonRpcCall *call = g_new0(VdJsonRpcCall, 1);

        call->response = vdJsonRpcErrorNew(NULL, VD_ERR_INVALID_REQUEST,
                                           "Invalid request: not a JSON object");
        g_ptr_array_add(msg->calls, call);
        return msg;
    }
    if (!root || jerr != json_tokener_success) {
        VdJsonRpcCall *call = g_new0(VdJsonRpcCall, 1);

        json_object_put(root);
        call->response = vdJsonRpcErrorNew(NULL, VD_ERR_PARSE, "Parse error");
        g_ptr_array_add(msg->calls, call);
        return msg;
    }

    if (json_object_is_type(root, json_type_array)) {
        gsize n = json_object_array_length(root);

        msg->is_batch = TRUE;
        if (n == 0) {
            VdJsonRpcCall *call = g_new0(VdJsonRpcCall, 1);

            call->response = vdJsonRpcErrorNew(NULL, VD_ERR_INVALID_REQUEST,
                                               "request batch is empty");
            g_ptr_array_add(msg->calls, call);
            /* VDSM answers an empty batch with a bare error object. */
            msg->is_batch = FALSE;
        }
        for (gsize i = 0; i < n; i++)
            g_ptr_array_add(msg->calls, vdJsonRpcCallFromJson(json_object_array_get_idx(root, i)));
    } else {
        g_ptr_array_add(msg->calls, vdJsonRpcCallFromJson(root));
    }
    json_object_put(root);
    return msg;
}

static const char *
vdJsonRpcKindName(VdParamKind kind)
{
    switch (kind) {
    case VD_PARAM_STRING:
        return "string";
    case VD_PARAM_INT:
        return "integer";
    case VD_PARAM_UINT:
        return "unsigned integer";
    case VD_PARAM_DOUBLE:
        return "number";
    case VD_PARAM_BOOL:
        return "boolean";
    case VD_PARAM_OBJECT:
        return "object";
    case VD_PARAM_ARRAY:
        return "list";
    case VD_PARAM_ANY:
        break;
    }
    return "any";
}

static gboolean
vdJsonRpcKindMatches(VdParamKind kind, json_object *value)
{
    switch (kind) {
    case VD_PARAM_ANY:
        return TRUE;
    case VD_PARAM_STRING:
        return json_object_is_type(value, json_type_string);
    case VD_PARAM_INT:
        return json_object_is_type(value, json_type_int);
    case VD_PARAM_UINT:
        return json_object_is_type(value, json_type_int) && json_object_get_int64(value) >= 0;
    case VD_PARAM_DOUBLE:
        return json_object_is_type(value, json_type_double) ||
               json_object_is_type(value, json_type_int);
    case VD_PARAM_BOOL:
        return json_object_is_type(value, json_type_boolean);
    case VD_PARAM_OBJECT:
        return json_object_is_type(value, json_type_object);
    case VD_PARAM_ARRAY:
        return json_object_is_type(value, json_type_array);
    }
    return FALSE;
}

static int
vdJsonRpcCheckParam(const VdApiVerb *verb, const VdApiParam *p, json_object *value,
                    GError **error)
{
    if (!vdJsonRpcKindMatches(p->kind, value)) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_PARAMS,
                    "Invalid params: parameter '%s' of %s must be %s (%s), got %s", p->name,
                    verb->name, vdJsonRpcKindName(p->kind), p->type_name,
                    json_type_to_name(json_object_get_type(value)));
        return -1;
    }
    if (p->kind == VD_PARAM_ARRAY && p->item_kind != VD_PARAM_ANY) {
        gsize n = json_object_array_length(value);

        for (gsize i = 0; i < n; i++) {
            if (!vdJsonRpcKindMatches(p->item_kind, json_object_array_get_idx(value, i))) {
                g_set_error(error, VD_ERROR, VD_ERR_INVALID_PARAMS,
                            "Invalid params: element %zu of parameter '%s' of %s must be %s", i,
                            p->name, verb->name, vdJsonRpcKindName(p->item_kind));
                return -1;
            }
        }
    }
    if (p->enum_values) {
        const char *s = json_object_get_string(value);

        for (gsize i = 0; p->enum_values[i]; i++) {
            if (g_str_equal(p->enum_values[i], s))
                return 0;
        }
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_PARAMS,
                    "Invalid params: parameter '%s' of %s has invalid value '%s'", p->name,
                    verb->name, s);
        return -1;
    }
    return 0;
}

json_object *
vdJsonRpcBindParams(const VdApiVerb *verb, json_object *params, GError **error)
{
    g_autoptr(json_object) named = json_object_new_object();
    gboolean positional = params && json_object_is_type(params, json_type_array);

    if (positional && json_object_array_length(params) > verb->n_params) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_PARAMS,
                    "Invalid params: %s takes %u parameters, %zu given", verb->name,
                    verb->n_params, json_object_array_length(params));
        return NULL;
    }
    for (guint i = 0; i < verb->n_params; i++) {
        const VdApiParam *p = &verb->params[i];
        json_object *value = NULL;

        if (positional) {
            if (i < json_object_array_length(params))
                value = json_object_array_get_idx(params, i);
        } else if (params) {
            json_object_object_get_ex(params, p->name, &value);
        }
        if (!value) {
            if (p->required) {
                g_set_error(error, VD_ERROR, VD_ERR_INVALID_PARAMS,
                            "Invalid params: missing required parameter '%s' of %s", p->name,
                            verb->name);
                return NULL;
            }
            if (p->default_json)
                json_object_object_add(named, p->name, json_tokener_parse(p->default_json));
            continue;
        }
        /* An explicit null for an optional parameter means "use the default". */
        if (json_object_is_type(value, json_type_null) && !p->required) {
            if (p->default_json)
                json_object_object_add(named, p->name, json_tokener_parse(p->default_json));
            continue;
        }
        if (vdJsonRpcCheckParam(verb, p, value, error) < 0)
            return NULL;
        json_object_object_add(named, p->name, json_object_get(value));
    }
    return g_steal_pointer(&named);
}

GBytes *
vdJsonRpcSerializeReplies(gboolean is_batch, json_object *const *responses, guint n)
{
    const char *text;
    gsize len = 0;

    if (!is_batch) {
        for (guint i = 0; i < n; i++) {
            if (responses[i]) {
                text = json_object_to_json_string_length(responses[i],
                                                          JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE,
                                                          &len);
                return g_bytes_new(text, len);
            }
        }
        return NULL;
    } else {
        g_autoptr(json_object) arr = json_object_new_array();

        for (guint i = 0; i < n; i++) {
            if (responses[i])
                json_object_array_add(arr, json_object_get(responses[i]));
        }
        if (json_object_array_length(arr) == 0)
            return NULL;
        text = json_object_to_json_string_length(
            arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        return g_bytes_new(text, len);
    }
}
