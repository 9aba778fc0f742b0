/* test-config.c - config defaults, file overlay, and that docs/config.md
 * documents every key the daemon knows. */
#include "config.h"
#include "vd-error.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static void
test_defaults(void)
{
    g_assert_cmpint(vdConfigGetInt("addresses", "management_port"), ==, 54321);
    g_assert_true(vdConfigGetBool("vars", "ssl"));
    g_assert_cmpint(vdConfigGetInt("rpc", "worker_threads"), ==, 8);
    g_assert_cmpint(vdConfigGetInt("rpc", "tasks_per_worker"), ==, 10);
    g_assert_cmpstr(vdConfigGetString("vars", "trust_store_path"), ==, "/etc/pki/vdsm");
}

static void
test_file_overlay(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("vdconf-XXXXXX", &path, &error);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    g_assert_true(g_file_set_contents(path,
                                      "[vars]\nssl = false\n[addresses]\nmanagement_port = 1234\n"
                                      "[nosuch]\nkey = 1\n",
                                      -1, &error));
    g_test_expect_message(NULL, G_LOG_LEVEL_WARNING, "*unknown key [nosuch] key*");
    g_assert_cmpint(vdConfigLoad(path, &error), ==, 0);
    g_test_assert_expected_messages();
    g_assert_false(vdConfigGetBool("vars", "ssl"));
    g_assert_cmpint(vdConfigGetInt("addresses", "management_port"), ==, 1234);
    g_assert_cmpint(vdConfigSet("rpc", "worker_threads", "2", &error), ==, 0);
    g_assert_cmpint(vdConfigGetInt("rpc", "worker_threads"), ==, 2);
    g_assert_cmpint(vdConfigSet("rpc", "nosuch", "2", &error), ==, -1);
    g_assert_error(error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION);
    g_clear_error(&error);

    g_assert_true(g_file_set_contents(path, "[vars\nbroken", -1, &error));
    g_assert_cmpint(vdConfigLoad(path, &error), ==, -1);
    g_assert_nonnull(error);
    g_unlink(path);
}

static void
test_documented(void)
{
    g_autofree char *doc_path = g_build_filename(g_getenv("VDSM_SOURCE_ROOT"), "docs",
                                                 "config.md", NULL);
    g_autofree char *doc = NULL;

    g_assert_true(g_file_get_contents(doc_path, &doc, NULL, NULL));
    for (const VdConfigKey *k = vdConfigKeys(); k->section; k++) {
        g_autofree char *needle = g_strdup_printf("`[%s] %s`", k->section, k->key);

        if (!strstr(doc, needle))
            g_test_message("docs/config.md lacks %s", needle);
        g_assert_nonnull(strstr(doc, needle));
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/config/defaults", test_defaults);
    g_test_add_func("/config/file-overlay", test_file_overlay);
    g_test_add_func("/config/documented", test_documented);
    return g_test_run();
}
