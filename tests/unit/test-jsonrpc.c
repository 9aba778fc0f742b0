/* test-jsonrpc.c - JSON-RPC envelopes, batches and parameter binding. */
#include "jsonrpc.h"

#include <gio/gio.h>
#include "vd-error.h"

#include <string.h>

static VdJsonRpcCall *
call_at(VdJsonRpcMessage *msg, guint i)
{
    return g_ptr_array_index(msg->calls, i);
}

static int
error_code(json_object *resp)
{
    json_object *err, *code;

    g_assert_true(json_object_object_get_ex(resp, "error", &err));
    g_assert_true(json_object_object_get_ex(err, "code", &code));
    return json_object_get_int(code);
}

static void
test_single_request(void)
{
    const char *body = "{\"jsonrpc\":\"2.0\",\"method\":\"Host.ping2\",\"params\":{},\"id\":\"a1\"}";
    g_autoptr(VdJsonRpcMessage) msg = vdJsonRpcParse(body, strlen(body));

    g_assert_false(msg->is_batch);
    g_assert_cmpuint(msg->calls->len, ==, 1);
    g_assert_cmpstr(call_at(msg, 0)->method, ==, "Host.ping2");
    g_assert_cmpstr(json_object_get_string(call_at(msg, 0)->id), ==, "a1");
    g_assert_false(call_at(msg, 0)->notification);
    g_assert_null(call_at(msg, 0)->response);
}

static void
test_parse_error(void)
{
    const char *bodies[] = { "{", "not json", "{\"a\":1} trailing", "", "[1,", "nul" };

    for (gsize i = 0; i < G_N_ELEMENTS(bodies); i++) {
        g_autoptr(VdJsonRpcMessage) msg = vdJsonRpcParse(bodies[i], strlen(bodies[i]));

        g_assert_cmpuint(msg->calls->len, ==, 1);
        g_assert_nonnull(call_at(msg, 0)->response);
        g_assert_cmpint(error_code(call_at(msg, 0)->response), ==, -32700);
    }
}

static void
test_invalid_requests(void)
{
    const char *bodies[] = {
        "{\"method\":\"Host.ping2\",\"id\":1}",                      /* no jsonrpc */
        "{\"jsonrpc\":\"1.0\",\"method\":\"Host.ping2\",\"id\":1}",  /* wrong version */
        "{\"jsonrpc\":\"2.0\",\"id\":1}",                            /* no method */
        "{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}",               /* method not a string */
        "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":3,\"id\":1}", /* bad params */
        "17",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bodies); i++) {
        g_autoptr(VdJsonRpcMessage) msg = vdJsonRpcParse(bodies[i], strlen(bodies[i]));

        g_assert_nonnull(call_at(msg, 0)->response);
        g_assert_cmpint(error_code(call_at(msg, 0)->response), ==, -32600);
    }
}

static void
test_batch(void)
{
    const char *body = "[{\"jsonrpc\":\"2.0\",\"method\":\"A.b\",\"id\":1},"
                       "{\"jsonrpc\":\"2.0\",\"method\":\"A.c\"},"
                       "42]";
    g_autoptr(VdJsonRpcMessage) msg = vdJsonRpcParse(body, strlen(body));

    g_assert_true(msg->is_batch);
    g_assert_cmpuint(msg->calls->len, ==, 3);
    g_assert_false(call_at(msg, 0)->notification);
    g_assert_true(call_at(msg, 1)->notification);
    g_assert_null(call_at(msg, 1)->id);
    g_assert_cmpint(error_code(call_at(msg, 2)->response), ==, -32600);
}

static void
test_empty_batch(void)
{
    g_autoptr(VdJsonRpcMessage) msg = vdJsonRpcParse("[]", 2);
    json_object *err, *message;

    g_assert_cmpuint(msg->calls->len, ==, 1);
    g_assert_cmpint(error_code(call_at(msg, 0)->response), ==, -32600);
    json_object_object_get_ex(call_at(msg, 0)->response, "error", &err);
    json_object_object_get_ex(err, "message", &message);
    g_assert_cmpstr(json_object_get_string(message), ==, "request batch is empty");
}

static void
test_serialize_replies(void)
{
    g_autoptr(json_object) id1 = json_object_new_string("x");
    json_object *responses[3] = {
        vdJsonRpcResponseNew(id1, json_object_new_boolean(TRUE)),
        NULL,
        vdJsonRpcErrorNew(NULL, -32600, "bad"),
    };
    g_autoptr(GBytes) single = vdJsonRpcSerializeReplies(FALSE, responses, 1);
    g_autoptr(GBytes) batch = vdJsonRpcSerializeReplies(TRUE, responses, 3);
    g_autoptr(GBytes) none = vdJsonRpcSerializeReplies(TRUE, responses + 1, 1);
    g_autofree char *s = g_strndup(g_bytes_get_data(single, NULL), g_bytes_get_size(single));
    g_autofree char *b = g_strndup(g_bytes_get_data(batch, NULL), g_bytes_get_size(batch));

    g_assert_cmpstr(s, ==, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":true}");
    g_assert_cmpstr(b, ==,
                    "[{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":true},"
                    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"bad\"}}]");
    g_assert_null(none);
    json_object_put(responses[0]);
    json_object_put(responses[2]);
}

static const char *const levels[] = { "DEBUG", "INFO", NULL };
static const VdApiParam test_params[] = {
    { "name", "string", VD_PARAM_STRING, TRUE, NULL, NULL, VD_PARAM_ANY },
    { "count", "int", VD_PARAM_INT, FALSE, "3", NULL, VD_PARAM_ANY },
    { "level", "LogLevel", VD_PARAM_STRING, FALSE, "\"INFO\"", levels, VD_PARAM_ANY },
    { "ids", "[UUID]", VD_PARAM_ARRAY, FALSE, "[]", NULL, VD_PARAM_STRING },
};
static const VdApiVerb test_verb = { "Test.verb", NULL, test_params, 4 };

static json_object *
bind(const char *params_json, GError **error)
{
    g_autoptr(json_object) params = json_tokener_parse(params_json);

    return vdJsonRpcBindParams(&test_verb, params, error);
}

static void
test_bind_named_and_defaults(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) named = bind("{\"name\":\"vm1\",\"extra\":1}", &error);

    g_assert_no_error(error);
    g_assert_cmpstr(json_object_to_json_string_ext(named, JSON_C_TO_STRING_PLAIN), ==,
                    "{\"name\":\"vm1\",\"count\":3,\"level\":\"INFO\",\"ids\":[]}");
}

static void
test_bind_positional(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) named = bind("[\"vm1\", 7, \"DEBUG\"]", &error);
    g_autoptr(json_object) too_many = NULL;

    g_assert_no_error(error);
    g_assert_cmpstr(json_object_to_json_string_ext(named, JSON_C_TO_STRING_PLAIN), ==,
                    "{\"name\":\"vm1\",\"count\":7,\"level\":\"DEBUG\",\"ids\":[]}");
    too_many = bind("[\"a\", 1, \"INFO\", [], 5]", &error);
    g_assert_null(too_many);
    g_assert_error(error, VD_ERROR, VD_ERR_INVALID_PARAMS);
}

static void
test_bind_errors(void)
{
    struct {
        const char *params;
        const char *needle;
    } cases[] = {
        { "{}", "'name'" },
        { "{\"name\":5}", "'name'" },
        { "{\"name\":\"a\",\"count\":\"5\"}", "'count'" },
        { "{\"name\":\"a\",\"level\":\"LOUD\"}", "'level'" },
        { "{\"name\":\"a\",\"ids\":[\"x\",3]}", "'ids'" },
        { "[]", "'name'" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(json_object) named = bind(cases[i].params, &error);

        g_assert_null(named);
        g_assert_error(error, VD_ERROR, VD_ERR_INVALID_PARAMS);
        g_assert_nonnull(strstr(error->message, cases[i].needle));
    }
}

static void
test_error_from_gerror(void)
{
    g_autoptr(GError) vd = NULL;
    g_autoptr(GError) other = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "boom");
    g_autoptr(json_object) r1 = NULL;
    g_autoptr(json_object) r2 = NULL;

    vdErrorSetCode(&vd, VD_ERR_NO_SUCH_VM, "{'vmId': '%s'}", "abc");
    g_assert_cmpstr(vd->message, ==, "Virtual machine does not exist: {'vmId': 'abc'}");
    r1 = vdJsonRpcErrorFromGError(NULL, vd);
    r2 = vdJsonRpcErrorFromGError(NULL, other);
    g_assert_cmpint(error_code(r1), ==, 1);
    g_assert_cmpint(error_code(r2), ==, -32603);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/jsonrpc/single", test_single_request);
    g_test_add_func("/jsonrpc/parse-error", test_parse_error);
    g_test_add_func("/jsonrpc/invalid", test_invalid_requests);
    g_test_add_func("/jsonrpc/batch", test_batch);
    g_test_add_func("/jsonrpc/empty-batch", test_empty_batch);
    g_test_add_func("/jsonrpc/serialize", test_serialize_replies);
    g_test_add_func("/jsonrpc/bind/named", test_bind_named_and_defaults);
    g_test_add_func("/jsonrpc/bind/positional", test_bind_positional);
    g_test_add_func("/jsonrpc/bind/errors", test_bind_errors);
    g_test_add_func("/jsonrpc/error-from-gerror", test_error_from_gerror);
    return g_test_run();
}
