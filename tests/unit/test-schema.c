/* test-schema.c - the generated dispatch table matches api/vdsm-api.yml:
 * sorted for binary search, every verb found, parameters as declared. */
#include "api-handler.h"

#include <string.h>

static void
test_sorted_and_lookup(void)
{
    g_assert_cmpuint(vdApiVerbsCount, >, 0);
    for (guint i = 0; i < vdApiVerbsCount; i++) {
        if (i > 0)
            g_assert_cmpint(strcmp(vdApiVerbs[i - 1].name, vdApiVerbs[i].name), <, 0);
        g_assert_true(vdApiVerbLookup(vdApiVerbs[i].name) == &vdApiVerbs[i]);
        g_assert_nonnull(vdApiVerbs[i].handler);
        g_assert_nonnull(strchr(vdApiVerbs[i].name, '.'));
    }
    g_assert_null(vdApiVerbLookup("Host.noSuchVerb"));
    g_assert_null(vdApiVerbLookup(""));
    g_assert_null(vdApiVerbLookup(NULL));
}

static void
test_declared_params(void)
{
    const VdApiVerb *echo = vdApiVerbLookup("Host.echo");
    const VdApiVerb *level = vdApiVerbLookup("Host.setLogLevel");

    g_assert_nonnull(echo);
    g_assert_cmpuint(echo->n_params, ==, 1);
    g_assert_cmpstr(echo->params[0].name, ==, "text");
    g_assert_cmpint(echo->params[0].kind, ==, VD_PARAM_STRING);
    g_assert_true(echo->params[0].required);

    g_assert_nonnull(level);
    g_assert_cmpstr(level->params[0].name, ==, "level");
    g_assert_nonnull(level->params[0].enum_values);
    g_assert_cmpstr(level->params[0].enum_values[0], ==, "DEBUG");
    g_assert_false(level->params[1].required);
    g_assert_cmpstr(level->params[1].default_json, ==, "\"\"");
}

/* The JSON copy that vdsm-client reads lists the same verbs. */
static void
test_client_schema_matches(void)
{
    const char *path = g_getenv("VDSM_SCHEMA_JSON");
    g_autoptr(json_object) root = NULL;
    json_object *verbs;

    g_assert_nonnull(path);
    root = json_object_from_file(path);
    g_assert_nonnull(root);
    g_assert_true(json_object_object_get_ex(root, "verbs", &verbs));
    g_assert_cmpint(json_object_object_length(verbs), ==, (int)vdApiVerbsCount);
    for (guint i = 0; i < vdApiVerbsCount; i++) {
        json_object *verb, *params;

        g_assert_true(json_object_object_get_ex(verbs, vdApiVerbs[i].name, &verb));
        g_assert_true(json_object_object_get_ex(verb, "params", &params));
        g_assert_cmpuint(json_object_array_length(params), ==, vdApiVerbs[i].n_params);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/schema/sorted-lookup", test_sorted_and_lookup);
    g_test_add_func("/schema/declared-params", test_declared_params);
    g_test_add_func("/schema/client-json", test_client_schema_matches);
    return g_test_run();
}
