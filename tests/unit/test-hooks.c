/* test-hooks.c - the hooks runner with real shell scripts.
 *
 * DESIGN: each test points [hooks] hooks_dir at a fresh temporary
 * directory, writes small /bin/sh scripts into per-point sub-directories
 * and runs vdHooksRun()/vdHooksInventory() from the test thread (a worker
 * as far as the runner knows).  Warnings are captured instead of being
 * fatal, so tests can check what reached the log.  Scripts leave traces in
 * the hooks directory (trace files) to show order, environment and which
 * scripts ran.
 */
#include "hooks.h"

#include "config.h"
#include "vd-error.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *hooksDir;
static GPtrArray *logged;

static void
captureLog(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_MESSAGE))
        g_ptr_array_add(logged, g_strdup(message));
}

static gboolean
loggedContains(const char *needle)
{
    for (guint i = 0; i < logged->len; i++) {
        if (strstr(logged->pdata[i], needle))
            return TRUE;
    }
    return FALSE;
}

static void
setUp(void)
{
    g_autoptr(GError) error = NULL;

    hooksDir = g_dir_make_tmp("vdsm-test-hooks-XXXXXX", &error);
    g_assert_no_error(error);
    g_assert_cmpint(vdConfigSet("hooks", "hooks_dir", hooksDir, NULL), ==, 0);
    g_assert_cmpint(vdConfigSet("hooks", "timeout", "60", NULL), ==, 0);
    g_ptr_array_set_size(logged, 0);
}

static void
removeTree(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            removeTree(child);
        else
            unlink(child);
    }
    rmdir(path);
}

static void
tearDown(void)
{
    removeTree(hooksDir);
    g_clear_pointer(&hooksDir, g_free);
}

/* Write hooks_dir/<point>/<name> with @body after a /bin/sh shebang. */
static char *
addScript(const char *point, const char *name, int mode, const char *body)
{
    g_autofree char *dir = g_build_filename(hooksDir, point, NULL);
    g_autofree char *text = g_strdup_printf("#!/bin/sh\n%s\n", body);
    char *path = g_build_filename(dir, name, NULL);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    g_assert_cmpint(chmod(path, mode), ==, 0);
    return path;
}

static char *
trace(const char *name)
{
    g_autofree char *path = g_build_filename(hooksDir, name, NULL);
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    return text;
}

static void
removeTrace(const char *name)
{
    g_autofree char *path = g_build_filename(hooksDir, name, NULL);

    unlink(path);
}

/* A script body that appends its own name to the trace file "order". */
#define TRACE_SELF "echo \"${0##*/}\" >> \"$(dirname \"$(dirname \"$0\")\")/order\""

static void
testPointTable(void)
{
    static const char *const required[] = {
        "before_vm_start",
        "after_vm_start",
        "before_vm_cont",
        "after_vm_cont",
        "before_vm_pause",
        "after_vm_pause",
        "before_vm_hibernate",
        "after_vm_hibernate",
        "before_vm_dehibernate",
        "after_vm_dehibernate",
        "before_vm_migrate_source",
        "after_vm_migrate_source",
        "before_vm_migrate_destination",
        "after_vm_migrate_destination",
        "before_vm_destroy",
        "after_vm_destroy",
        "before_vm_set_ticket",
        "after_vm_set_ticket",
        "before_device_create",
        "after_device_create",
        "before_device_destroy",
        "after_device_destroy",
        "before_nic_hotplug",
        "after_nic_hotplug",
        "after_nic_hotplug_fail",
        "before_nic_hotunplug",
        "after_nic_hotunplug",
        "after_nic_hotunplug_fail",
        "before_disk_hotplug",
        "after_disk_hotplug",
        "before_disk_hotunplug",
        "after_disk_hotunplug",
        "before_vdsm_start",
        "after_vdsm_stop",
        "before_get_vm_stats",
        "after_get_vm_stats",
        "before_get_all_vm_stats",
        "after_get_all_vm_stats",
        "before_get_caps",
        "after_get_caps",
        "before_get_stats",
        "after_get_stats",
        "before_network_setup",
        "after_network_setup",
        "after_network_setup_fail",
        NULL,
    };
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    const char *root = g_getenv("VDSM_SOURCE_ROOT");
    g_autofree char *docs = NULL;

    for (gsize i = 0; required[i]; i++)
        g_assert_nonnull(vdHooksPointFind(required[i]));
    g_assert_null(vdHooksPointFind("before_nothing"));
    g_assert_null(vdHooksPointFind(NULL));
    g_assert_cmpint(vdHooksPointFind("before_vm_start")->data, ==, VD_HOOK_DATA_XML);
    g_assert_true(vdHooksPointFind("before_vm_start")->fatal);
    g_assert_false(vdHooksPointFind("after_vm_start")->fatal);
    g_assert_false(vdHooksPointFind("before_vm_destroy")->fatal);
    g_assert_false(vdHooksPointFind("before_vm_set_ticket")->fatal);
    g_assert_cmpint(vdHooksPointFind("before_vm_destroy")->data, ==, VD_HOOK_DATA_NONE);
    g_assert_cmpint(vdHooksPointFind("after_get_caps")->data, ==, VD_HOOK_DATA_JSON);

    if (root) {
        g_autofree char *path = g_build_filename(root, "docs", "hooks.md", NULL);

        g_assert_true(g_file_get_contents(path, &docs, NULL, NULL));
    }
    for (const VdHookPoint *p = vdHooksPoints(); p->name; p++) {
        g_assert_false(g_hash_table_contains(names, p->name));
        g_hash_table_add(names, (gpointer)p->name);
        g_assert_true(g_str_has_prefix(p->name, "before_") || g_str_has_prefix(p->name, "after_"));
        /* only before_* points can be fatal */
        g_assert_true(!p->fatal || g_str_has_prefix(p->name, "before_") ||
                      g_str_equal(p->name, "after_disk_prepare"));
        if (docs) {
            g_autofree char *row = g_strdup_printf("| `%s` |", p->name);
            const char *at = strstr(docs, row);
            g_autofree char *wired =
                p->issue ? g_strdup_printf("| issue %d |", p->issue) : g_strdup("no (");

            if (!at)
                g_error("docs/hooks.md lacks a row for %s", p->name);
            g_assert_nonnull(strstr(at, wired));
            g_assert_true(strstr(at, wired) < strchr(at + 1, '\n'));
        }
    }
}

static void
testEnvName(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"vmId", "vmId"},
        {"sap_agent", "sap_agent"},
        {"my-prop.x", "my_prop_x"},
        {"1abc", "_1abc"},
        {"a b$c", "a_b_c"},
        {"PATH", NULL},
        {"LD_PRELOAD", NULL},
        {"BASH_ENV", NULL},
        {"_hook_domxml", NULL},
        {"PYTHONPATH", NULL},
        {"IFS", NULL},
        {"HOME", NULL},
        {"", NULL},
        {"BASH_FUNC_x%%", NULL},
        {"ld_preload", "ld_preload"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = vdHooksEnvName(cases[i].in);

        g_assert_cmpstr(got, ==, cases[i].out);
    }
}

static void
testNoScripts(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *json = NULL;

    setUp();
    g_assert_cmpint(vdHooksRun("before_vm_start", "<domain/>", NULL, &out, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, "<domain/>");
    g_assert_cmpint(vdHooksRun("before_get_caps", NULL, NULL, &json, &error), ==, 0);
    g_assert_cmpstr(json, ==, "{}");
    g_assert_cmpint(vdHooksRun("before_vm_destroy", NULL, NULL, NULL, &error), ==, 0);
    g_assert_cmpint(vdHooksRun("before_nothing", NULL, NULL, NULL, &error), ==, -1);
    g_assert_error(error, VD_ERROR, VD_ERR_GENERAL);
    tearDown();
}

static void
testOrderAndChain(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *order = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *target = NULL;
    g_autofree char *link = NULL;
    /* append <seen by="NAME" count="N"/> where N counts the elements the
     * previous scripts left: each script sees the previous one's output */
    const char *rewrite =
        TRACE_SELF "\n"
                   "n=$(grep -o '<seen ' \"$_hook_domxml\" | wc -l)\n"
                   "sed -i \"s|</domain>|<seen by=\\\"${0##*/}\\\" count=\\\"$n\\\"/></domain>|\" "
                   "\"$_hook_domxml\"";

    setUp();
    g_free(addScript("before_vm_start", "50_b", 0755, rewrite));
    g_free(addScript("before_vm_start", "10_a", 0755, rewrite));
    g_free(addScript("before_vm_start", "9_z", 0755, rewrite)); /* "9" sorts after "5" */
    g_free(addScript("before_vm_start", "20_noexec", 0644, rewrite));
    g_free(addScript("before_vm_start", ".30_hidden", 0755, rewrite));
    dir = g_build_filename(hooksDir, "before_vm_start", "40_dir", NULL);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    /* a symlink to an executable counts, as with VDSM's os.path.isfile */
    target = addScript("elsewhere", "real", 0755, rewrite);
    link = g_build_filename(hooksDir, "before_vm_start", "60_link", NULL);
    g_assert_cmpint(symlink(target, link), ==, 0);

    g_assert_cmpint(
        vdHooksRun("before_vm_start", "<domain><name>x</name></domain>", NULL, &out, &error), ==,
        0);
    g_assert_no_error(error);
    order = trace("order");
    g_assert_cmpstr(order, ==, "10_a\n50_b\n60_link\n9_z\n");
    g_assert_cmpstr(out, ==,
                    "<domain><name>x</name><seen by=\"10_a\" count=\"0\"/>"
                    "<seen by=\"50_b\" count=\"1\"/><seen by=\"60_link\" count=\"2\"/>"
                    "<seen by=\"9_z\" count=\"3\"/></domain>");
    /* the data file is gone */
    g_assert_cmpuint(logged->len, ==, 0);
    tearDown();
}

static void
testEnvironment(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) env = NULL;
    g_autofree char *dump = NULL;
    g_autofree char *pwned = NULL;
    g_autofree char *data_path = NULL;
    g_autofree char *evil_value = NULL;
    json_object *custom = json_object_new_object();

    setUp();
    pwned = g_build_filename(hooksDir, "pwned", NULL);
    json_object_object_add(custom, "sap_agent", json_object_new_string("true"));
    json_object_object_add(custom, "my-prop", json_object_new_string("a b"));
    evil_value = g_strdup_printf("$(touch %s); `touch %s` 'q' \"d\"\nline2", pwned, pwned);
    json_object_object_add(custom, "evil", json_object_new_string(evil_value));
    json_object_object_add(custom, "LD_PRELOAD", json_object_new_string("/tmp/x.so"));
    json_object_object_add(custom, "BASH_ENV", json_object_new_string("/tmp/x.sh"));
    json_object_object_add(custom, "count", json_object_new_int(3));
    env = vdHooksEnvNew("5c9a1e2e-2a5d-4f1b-9e35-0c0a6b3d1f00", custom);
    json_object_put(custom);
    g_setenv("VDSM_TEST_LEAK", "1", TRUE);

    g_free(addScript("before_vm_start", "10_env", 0755,
                     "env | LC_ALL=C sort > \"$(dirname \"$(dirname \"$0\")\")/env\"\n"
                     "printf '%s' \"$evil\" > \"$(dirname \"$(dirname \"$0\")\")/evil\"\n"
                     "echo \"$_hook_domxml\" > \"$(dirname \"$(dirname \"$0\")\")/path\""));
    g_assert_cmpint(vdHooksRun("before_vm_start", "<domain/>", env, NULL, &error), ==, 0);
    g_assert_no_error(error);
    g_unsetenv("VDSM_TEST_LEAK");
    dump = trace("env");
    g_assert_nonnull(strstr(dump, "\nvmId=5c9a1e2e-2a5d-4f1b-9e35-0c0a6b3d1f00\n"));
    g_assert_nonnull(strstr(dump, "sap_agent=true\n"));
    g_assert_nonnull(strstr(dump, "my_prop=a b\n"));
    g_assert_nonnull(strstr(dump, "count=3\n"));
    g_assert_nonnull(strstr(dump, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
    g_assert_nonnull(strstr(dump, "_hook_domxml=/"));
    g_assert_null(strstr(dump, "LD_PRELOAD"));
    g_assert_null(strstr(dump, "BASH_ENV"));
    g_assert_null(strstr(dump, "VDSM_TEST_LEAK"));
    g_assert_true(loggedContains("'LD_PRELOAD' not passed"));
    /* the value arrived byte for byte and nothing ran it */
    {
        g_autofree char *evil = trace("evil");

        g_assert_cmpstr(evil, ==, evil_value);
    }
    g_assert_false(g_file_test(pwned, G_FILE_TEST_EXISTS));
    /* the temporary data file was removed */
    data_path = g_strstrip(trace("path"));
    g_assert_false(g_file_test(data_path, G_FILE_TEST_EXISTS));
    tearDown();
}

static void
testReturnCodes(void)
{
    g_autofree char *out = NULL;
    g_autofree char *order = NULL;

    setUp();
    /* 1: error, the rest still runs; a fatal point fails with 1500 + stderr */
    g_free(addScript("before_vm_start", "10_fail", 0755,
                     TRACE_SELF "\necho 'boom: bad custom property' >&2\nexit 1"));
    g_free(addScript("before_vm_start", "20_next", 0755,
                     TRACE_SELF
                     "\nsed -i 's|<domain/>|<domain>changed</domain>|' \"$_hook_domxml\""));
    {
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(vdHooksRun("before_vm_start", "<domain/>", NULL, &out, &error), ==, -1);
        g_assert_error(error, VD_ERROR, VD_ERR_HOOK_ERROR);
        g_assert_true(g_str_has_prefix(error->message, "Hook error: "));
        g_assert_nonnull(strstr(error->message, "10_fail: boom: bad custom property"));
        g_assert_null(out); /* out only on success */
        order = trace("order");
        g_assert_cmpstr(order, ==, "10_fail\n20_next\n");
        g_assert_true(loggedContains("before_vm_start/10_fail failed (exit status 1): boom"));
    }

    /* 2: error, the remaining scripts are skipped */
    g_free(
        addScript("before_vm_cont", "10_stop", 0755, TRACE_SELF "\necho 'stop here' >&2\nexit 2"));
    g_free(addScript("before_vm_cont", "20_skipped", 0755, TRACE_SELF));
    {
        g_autoptr(GError) error = NULL;
        g_autofree char *o2 = NULL;

        removeTrace("order");
        g_assert_cmpint(vdHooksRun("before_vm_cont", "<domain/>", NULL, NULL, &error), ==, -1);
        g_assert_error(error, VD_ERROR, VD_ERR_HOOK_ERROR);
        g_assert_nonnull(strstr(error->message, "stop here"));
        o2 = trace("order");
        g_assert_cmpstr(o2, ==, "10_stop\n");
        g_assert_true(loggedContains("skipping the remaining scripts"));
    }

    /* more than 2: error, logged as unexpected, the rest runs */
    g_free(addScript("before_vm_pause", "10_odd", 0755, TRACE_SELF "\nexit 7"));
    g_free(addScript("before_vm_pause", "20_after", 0755, TRACE_SELF));
    {
        g_autoptr(GError) error = NULL;
        g_autofree char *o3 = NULL;

        removeTrace("order");
        g_assert_cmpint(vdHooksRun("before_vm_pause", "<domain/>", NULL, NULL, &error), ==, -1);
        /* no stderr: the message says how it ended */
        g_assert_nonnull(strstr(error->message, "10_odd: exit status 7"));
        o3 = trace("order");
        g_assert_cmpstr(o3, ==, "10_odd\n20_after\n");
        g_assert_true(loggedContains("unexpected return code 7"));
    }

    /* after_*: failures are logged, the data still comes back */
    g_free(addScript("after_vm_start", "10_edit", 0755,
                     "sed -i 's|<domain/>|<domain>after</domain>|' \"$_hook_domxml\""));
    g_free(addScript("after_vm_start", "20_fail", 0755, "echo 'after failed' >&2; exit 1"));
    {
        g_autoptr(GError) error = NULL;
        g_autofree char *o4 = NULL;

        g_assert_cmpint(vdHooksRun("after_vm_start", "<domain/>", NULL, &o4, &error), ==, 0);
        g_assert_no_error(error);
        g_assert_cmpstr(o4, ==, "<domain>after</domain>");
        g_assert_true(
            loggedContains("after_vm_start/20_fail failed (exit status 1): after failed"));
    }

    /* all 0 */
    g_free(addScript("before_vm_destroy", "10_ok", 0755,
                     "test -f \"$_hook_domxml\" && test ! -s \"$_hook_domxml\""));
    {
        g_autoptr(GError) error = NULL;

        g_ptr_array_set_size(logged, 0);
        g_assert_cmpint(vdHooksRun("before_vm_destroy", NULL, NULL, NULL, &error), ==, 0);
        g_assert_no_error(error);
        g_assert_cmpuint(logged->len, ==, 0);
    }
    tearDown();
}

static void
testTimeout(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *order = NULL;
    g_autofree char *pids = NULL;
    gint64 t0;

    setUp();
    g_assert_cmpint(vdConfigSet("hooks", "timeout", "1", NULL), ==, 0);
    g_free(addScript("before_vm_start", "10_hang", 0755,
                     TRACE_SELF
                     "\nsleep 100 & echo $! > \"$(dirname \"$(dirname \"$0\")\")/pids\"\n"
                     "echo 'hanging' >&2\nwait"));
    g_free(addScript("before_vm_start", "20_next", 0755, TRACE_SELF));
    t0 = g_get_monotonic_time();
    g_assert_cmpint(vdHooksRun("before_vm_start", "<domain/>", NULL, NULL, &error), ==, -1);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
    g_assert_error(error, VD_ERROR, VD_ERR_HOOK_ERROR);
    g_assert_nonnull(strstr(error->message, "10_hang: hanging"));
    g_assert_true(loggedContains("10_hang failed (killed after its 1 s time limit)"));
    order = trace("order");
    g_assert_cmpstr(order, ==, "10_hang\n20_next\n");
    /* the hook's background child went with it */
    pids = trace("pids");
    for (int i = 0; i < 200 && kill(atoi(pids), 0) == 0; i++)
        g_usleep(10 * 1000);
    {
        g_autofree char *stat_path = g_strdup_printf("/proc/%d/stat", atoi(pids));
        g_autofree char *stat = NULL;

        /* gone, or a zombie waiting for its reaper */
        if (g_file_get_contents(stat_path, &stat, NULL, NULL))
            g_assert_nonnull(strstr(stat, ") Z "));
    }
    tearDown();
}

static void
testJson(void)
{
    g_autofree char *out = NULL;
    json_object *parsed;

    setUp();
    g_free(addScript("after_get_caps", "10_add", 0755,
                     "test -n \"$_hook_json\" && test -z \"$_hook_domxml\" || exit 1\n"
                     "sed -i 's|}$|, \"hooked\": true}|' \"$_hook_json\""));
    {
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(vdHooksRun("after_get_caps", "{\"cpuCores\": \"2\"}", NULL, &out, &error),
                        ==, 0);
        g_assert_no_error(error);
        parsed = json_tokener_parse(out);
        g_assert_nonnull(parsed);
        g_assert_true(json_object_get_boolean(json_object_object_get(parsed, "hooked")));
        json_object_put(parsed);
    }
    /* invalid JSON left behind: fatal point fails, non-fatal returns the input */
    g_free(addScript("before_get_stats", "10_break", 0755, "echo 'not json' > \"$_hook_json\""));
    g_free(addScript("after_get_stats", "10_break", 0755, "echo 'not json' > \"$_hook_json\""));
    {
        g_autoptr(GError) error = NULL;
        g_autofree char *o2 = NULL;

        g_assert_cmpint(vdHooksRun("before_get_stats", NULL, NULL, NULL, &error), ==, -1);
        g_assert_error(error, VD_ERROR, VD_ERR_HOOK_ERROR);
        g_assert_cmpint(vdHooksRun("after_get_stats", "{\"a\": 1}", NULL, &o2, NULL), ==, 0);
        g_assert_cmpstr(o2, ==, "{\"a\": 1}");
        g_assert_true(loggedContains("after_get_stats: Hook error: the hooks left invalid JSON"));
    }
    tearDown();
}

static void
testEnvLimits(void)
{
    g_autoptr(GHashTable) many = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GHashTable) big = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    setUp();
    g_free(addScript("before_vm_start", "10_ok", 0755, TRACE_SELF));
    for (int i = 0; i <= VD_HOOKS_MAX_ENV_VARS; i++)
        g_hash_table_insert(many, g_strdup_printf("p%d", i), g_strdup("v"));
    g_hash_table_insert(big, g_strdup("p"), g_strnfill(VD_HOOKS_MAX_ENV_VALUE + 1, 'x'));
    {
        g_autoptr(GError) e1 = NULL;
        g_autoptr(GError) e2 = NULL;

        g_assert_cmpint(vdHooksRun("before_vm_start", "<domain/>", many, NULL, &e1), ==, -1);
        g_assert_error(e1, VD_ERROR, VD_ERR_HOOK_ERROR);
        g_assert_cmpint(vdHooksRun("before_vm_start", "<domain/>", big, NULL, &e2), ==, -1);
        g_assert_error(e2, VD_ERROR, VD_ERR_HOOK_ERROR);
        g_assert_null(trace("order")); /* nothing ran */
    }
    tearDown();
}

static void
testInventory(void)
{
    const char *body_a = "exit 0";
    g_autofree char *text_a = g_strdup_printf("#!/bin/sh\n%s\n", body_a);
    g_autofree char *sum_a = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text_a, -1);
    g_autofree char *text_b = g_strdup_printf("#!/bin/sh\n%s\n", "echo b");
    g_autofree char *sum_b = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text_b, -1);
    g_autofree char *empty = NULL;
    json_object *inv;
    g_autofree char *want = NULL;

    setUp();
    g_free(addScript("before_vm_start", "50_a", 0755, body_a));
    g_free(addScript("before_vm_start", "60_noexec", 0644, body_a));
    g_free(addScript("after_get_caps", "10_b", 0755, "echo b"));
    g_free(addScript("after_vm_destroy", "README", 0644, "not a hook"));
    empty = g_build_filename(hooksDir, "before_vm_pause", NULL);
    g_mkdir_with_parents(empty, 0755);

    inv = vdHooksInventory();
    want = g_strdup_printf("{\"after_get_caps\":{\"10_b\":{\"checksum\":\"%s\"}},"
                           "\"before_vm_start\":{\"50_a\":{\"checksum\":\"%s\"}}}",
                           sum_b, sum_a);
    g_assert_cmpstr(json_object_to_json_string_ext(inv, JSON_C_TO_STRING_PLAIN), ==, want);
    json_object_put(inv);
    tearDown();

    /* no hooks directory at all */
    g_assert_cmpint(vdConfigSet("hooks", "hooks_dir", "/nonexistent/vdsm/hooks", NULL), ==, 0);
    inv = vdHooksInventory();
    g_assert_cmpstr(json_object_to_json_string_ext(inv, JSON_C_TO_STRING_PLAIN), ==, "{}");
    json_object_put(inv);
}

/* The cheap check: no directory, an empty one, a non-executable file,
 * then a script (seen at once), chmod -x and removal (both seen). */
static void
testPointActive(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *path = NULL;
    json_object *value = json_object_new_object();

    setUp();
    g_assert_false(vdHooksPointActive("after_get_caps"));
    dir = g_build_filename(hooksDir, "after_get_caps", NULL);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_assert_false(vdHooksPointActive("after_get_caps"));
    path = addScript("after_get_caps", "10_plain", 0644, "exit 0");
    g_assert_false(vdHooksPointActive("after_get_caps"));
    g_assert_cmpint(chmod(path, 0755), ==, 0);
    g_assert_true(vdHooksPointActive("after_get_caps"));
    g_assert_cmpint(chmod(path, 0644), ==, 0);
    g_assert_false(vdHooksPointActive("after_get_caps"));
    g_assert_cmpint(chmod(path, 0755), ==, 0);
    g_assert_true(vdHooksPointActive("after_get_caps"));
    unlink(path);
    g_assert_false(vdHooksPointActive("after_get_caps"));
    g_free(addScript("after_get_caps", ".hidden", 0755, "exit 0"));
    g_assert_false(vdHooksPointActive("after_get_caps"));

    /* nothing installed: the value is left as it is (same object) */
    {
        json_object *before = value;

        g_assert_cmpint(vdHooksRunJson("after_get_caps", &value, NULL), ==, 0);
        g_assert_true(value == before);
    }
    json_object_put(value);
    tearDown();
}

/* vdHooksRunJson: after_ rewrites the value; a failing before_ is 1500;
 * a failing after_ or invalid JSON leaves the value. */
static void
testRunJson(void)
{
    g_autoptr(GError) error = NULL;
    json_object *value = json_tokener_parse("[{\"vmId\": \"x\", \"cpuUser\": \"1.0\"}]");

    setUp();
    g_free(addScript("after_get_all_vm_stats", "10_tag", 0755,
                     "sed -i 's/\"cpuUser\"/\"hooked\": true, \"cpuUser\"/' \"$_hook_json\""));
    g_assert_cmpint(vdHooksRunJson("after_get_all_vm_stats", &value, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_true(json_object_is_type(value, json_type_array));
    g_assert_true(json_object_get_boolean(
        json_object_object_get(json_object_array_get_idx(value, 0), "hooked")));

    g_free(addScript("after_get_all_vm_stats", "20_break", 0755,
                     "echo 'not json' > \"$_hook_json\"; exit 1"));
    g_assert_cmpint(vdHooksRunJson("after_get_all_vm_stats", &value, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_true(json_object_is_type(value, json_type_array));

    g_free(addScript("before_get_all_vm_stats", "10_see", 0755,
                     "cp \"$_hook_json\" \"$(dirname \"$0\")/../seen\"; echo nope >&2; exit 1"));
    g_assert_cmpint(vdHooksRunJson("before_get_all_vm_stats", NULL, &error), ==, -1);
    g_assert_error(error, VD_ERROR, VD_ERR_HOOK_ERROR);
    g_assert_nonnull(strstr(error->message, "nope"));
    {
        g_autofree char *seen = trace("seen");

        g_assert_cmpstr(seen, ==, "{}");
    }
    json_object_put(value);
    tearDown();
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* Warnings are what the runner reports; capture them, do not abort. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK);
    g_log_set_default_handler(captureLog, NULL);
    logged = g_ptr_array_new_with_free_func(g_free);
    vdConfigLoad(NULL, NULL);

    g_test_add_func("/hooks/point-table", testPointTable);
    g_test_add_func("/hooks/env-name", testEnvName);
    g_test_add_func("/hooks/no-scripts", testNoScripts);
    g_test_add_func("/hooks/order-and-chain", testOrderAndChain);
    g_test_add_func("/hooks/environment", testEnvironment);
    g_test_add_func("/hooks/return-codes", testReturnCodes);
    g_test_add_func("/hooks/timeout", testTimeout);
    g_test_add_func("/hooks/json", testJson);
    g_test_add_func("/hooks/env-limits", testEnvLimits);
    g_test_add_func("/hooks/inventory", testInventory);
    g_test_add_func("/hooks/point-active", testPointActive);
    g_test_add_func("/hooks/run-json", testRunJson);
    return g_test_run();
}
