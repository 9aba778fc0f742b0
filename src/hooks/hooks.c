/* hooks.c - see hooks.h.
 *
 * DESIGN: a run is a straight line on the calling worker: list the
 * point's directory, write the data to a mkstemp() file, run each script
 * with vdSpawnRun() (which enforces the timeout and kills the script's
 * whole process group), read the file back, unlink it.  Installing or
 * removing a hook takes effect at the next run, as in VDSM, and a point
 * with no directory costs one failed opendir().  vdHooksPointActive() is
 * the cheap question asked before a caller prepares data (JSON of every
 * VM's stats): it keeps each point directory's entry names, revalidated by
 * the directory's mtime, and still checks each name is an executable file
 * at every call.  The point table below is the single list of hook
 * points; docs/hooks.md mirrors it and a unit test keeps the two in step.
 */
#include "hooks.h"

#include "config.h"
#include "vd-error.h"
#include "vd-spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A directory changed this recently may change again within the same
 * mtime tick (file systems stamp with a coarse clock): its cached listing
 * is not trusted, the next call lists it again. */
#define VD_HOOKS_DIR_RACY_US (2 * G_USEC_PER_SEC)

#define X VD_HOOK_DATA_XML
#define J VD_HOOK_DATA_JSON
#define N VD_HOOK_DATA_NONE
/* Fatal or not, as VDSM's lib/vdsm/common/hooks.py passes raiseError. */
static const VdHookPoint vdHooksTable[] = {
    /* VM lifecycle */
    {"before_vm_start", X, TRUE, 5, "VM.create, on the final domain XML before libvirt starts it"},
    {"after_vm_start", X, FALSE, 5, "VM.create, once the domain runs"},
    {"before_vm_cont", X, TRUE, 5, "VM.cont"},
    {"after_vm_cont", X, FALSE, 5, "VM.cont"},
    {"before_vm_pause", X, TRUE, 5, "VM.pause"},
    {"after_vm_pause", X, FALSE, 5, "VM.pause"},
    {"before_vm_hibernate", X, TRUE, 5, "VM.hibernate, before anything changes"},
    {"after_vm_hibernate", X, FALSE, 5, "VM.hibernate, once the save succeeded"},
    {"before_vm_dehibernate", X, TRUE, 5,
     "VM.create from a hibernation volume (FROM_SNAPSHOT set)"},
    {"after_vm_dehibernate", X, FALSE, 5, "VM.create from a hibernation volume"},
    {"before_vm_destroy", N, FALSE, 5, "VM.destroy (no XML, as VDSM)"},
    {"after_vm_destroy", X, FALSE, 5, "VM.destroy"},
    {"before_vm_set_ticket", X, FALSE, 5, "VM.setTicket, VM.updateDevice of graphics"},
    {"after_vm_set_ticket", X, FALSE, 5, "VM.setTicket, VM.updateDevice of graphics"},
    {"before_vm_migrate_source", X, TRUE, 0, "VM.migrate, on the source"},
    {"after_vm_migrate_source", X, FALSE, 0, "VM.migrate, on the source"},
    {"before_vm_migrate_destination", X, TRUE, 0, "VM.migrationCreate, on the destination"},
    {"after_vm_migrate_destination", X, FALSE, 0, "VM.migrationCreate, on the destination"},
    /* devices (device XML, per device with its custom properties) */
    {"before_device_create", X, TRUE, 5, "VM.create, per NIC with custom properties"},
    {"after_device_create", X, FALSE, 5, "VM.create, per NIC with custom properties"},
    {"before_device_destroy", X, TRUE, 5, "VM.destroy, per NIC with custom properties"},
    {"after_device_destroy", X, FALSE, 5, "VM.destroy, per NIC with custom properties"},
    {"before_device_migrate_source", X, TRUE, 0, "VM.migrate, per device"},
    {"after_device_migrate_source", X, FALSE, 0, "VM.migrate, per device"},
    {"before_device_migrate_destination", X, TRUE, 0, "VM.migrationCreate, per device"},
    {"after_device_migrate_destination", X, FALSE, 0, "VM.migrationCreate, per device"},
    /* VDSM runs these for NICs only; VM.updateDevice of graphics runs set_ticket */
    {"before_update_device", X, TRUE, 0, "VM.updateDevice of a NIC"},
    {"after_update_device", X, FALSE, 0, "VM.updateDevice of a NIC"},
    {"after_update_device_fail", X, FALSE, 0, "VM.updateDevice of a NIC, when it failed"},
    /* hotplug */
    {"before_nic_hotplug", X, TRUE, 0, "VM.hotplugNic"},
    {"after_nic_hotplug", X, FALSE, 0, "VM.hotplugNic"},
    {"after_nic_hotplug_fail", X, FALSE, 0, "VM.hotplugNic, when it failed"},
    {"before_nic_hotunplug", X, TRUE, 0, "VM.hotunplugNic"},
    {"after_nic_hotunplug", X, FALSE, 0, "VM.hotunplugNic"},
    {"after_nic_hotunplug_fail", X, FALSE, 0, "VM.hotunplugNic, when it failed"},
    {"before_disk_hotplug", X, TRUE, 0, "VM.hotplugDisk"},
    {"after_disk_hotplug", X, FALSE, 0, "VM.hotplugDisk"},
    {"before_disk_hotunplug", X, TRUE, 0, "VM.hotunplugDisk"},
    {"after_disk_hotunplug", X, FALSE, 0, "VM.hotunplugDisk"},
    {"before_memory_hotplug", X, TRUE, 0, "VM.hotplugMemory"},
    {"after_memory_hotplug", X, FALSE, 0, "VM.hotplugMemory"},
    {"before_set_num_of_cpus", N, TRUE, 0, "VM.setNumberOfCpus"},
    {"after_set_num_of_cpus", N, FALSE, 0, "VM.setNumberOfCpus"},
    /* storage */
    {"after_disk_prepare", J, TRUE, 0, "preparing a VM disk's image (JSON drive description)"},
    /* vdsmd itself */
    {"before_vdsm_start", N, FALSE, 5, "vdsmd start-up, before serving"},
    {"after_vdsm_stop", N, FALSE, 5, "vdsmd shut-down, after serving"},
    /* networking */
    {"before_network_setup", J, TRUE, 0, "Host.setupNetworks"},
    {"after_network_setup", J, FALSE, 0, "Host.setupNetworks"},
    {"after_network_setup_fail", J, FALSE, 0, "Host.setupNetworks, when it failed"},
    /* statistics and capabilities */
    {"before_get_vm_stats", J, TRUE, 5, "VM.getStats (data: {})"},
    {"after_get_vm_stats", J, FALSE, 5, "VM.getStats (data: the stats list)"},
    {"before_get_all_vm_stats", J, TRUE, 5, "Host.getAllVmStats (data: {})"},
    {"after_get_all_vm_stats", J, FALSE, 5, "Host.getAllVmStats (data: the stats list)"},
    {"before_get_caps", J, TRUE, 5, "Host.getCapabilities (data: {})"},
    {"after_get_caps", J, FALSE, 5, "Host.getCapabilities (data: the capabilities)"},
    {"before_get_stats", J, TRUE, 5, "Host.getStats (data: {})"},
    {"after_get_stats", J, FALSE, 5, "Host.getStats (data: the stats)"},
    {"after_hostdev_list_by_caps", J, FALSE, 0, "Host.hostdevListByCaps"},
    {NULL, 0, FALSE, 0, NULL},
};
#undef X
#undef J
#undef N

/* Names a client must not set through custom properties: they change how
 * the scripts' shells, interpreters, tools or the dynamic loader behave
 * (e.g. BASH_ENV makes every bash script source a file, HOME picks
 * Python's user site-packages), or they are ours.  Defensive: VDSM passes
 * every name. */
static const char *const vdHooksDeniedNames[] = {
    "PATH",
    "IFS",
    "ENV",
    "BASH_ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "CDPATH",
    "GLOBIGNORE",
    "HOME",
    "TMPDIR",
    "GCONV_PATH",
    "LOCPATH",
    "NLSPATH",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "RESOLV_HOST_CONF",
    "LOCALDOMAIN",
    "RES_OPTIONS",
    "PERLLIB",
    "RUBYLIB",
    "RUBYOPT",
    "NODE_OPTIONS",
    "JAVA_TOOL_OPTIONS",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "all_proxy",
    NULL,
};
static const char *const vdHooksDeniedPrefixes[] = {
    "LD_",  "_hook_", "BASH_FUNC_", "PYTHON",   "PERL5",     "MALLOC_",
    "GIT_", "XDG_",   "SSH_",       "OPENSSL_", "SSL_CERT_", NULL,
};

const VdHookPoint *
vdHooksPoints(void)
{
    return vdHooksTable;
}

const VdHookPoint *
vdHooksPointFind(const char *name)
{
    for (const VdHookPoint *p = vdHooksTable; name && p->name; p++) {
        if (g_str_equal(p->name, name))
            return p;
    }
    return NULL;
}

char *
vdHooksEnvName(const char *name)
{
    g_autoptr(GString) s = NULL;

    if (!name || !*name)
        return NULL;
    s = g_string_new(NULL);
    if (g_ascii_isdigit(name[0]))
        g_string_append_c(s, '_');
    for (const char *c = name; *c; c++)
        g_string_append_c(s, g_ascii_isalnum(*c) || *c == '_' ? *c : '_');
    if (g_strv_contains(vdHooksDeniedNames, s->str))
        return NULL;
    for (gsize i = 0; vdHooksDeniedPrefixes[i]; i++) {
        if (g_str_has_prefix(s->str, vdHooksDeniedPrefixes[i]))
            return NULL;
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

GHashTable *
vdHooksEnvNew(const char *vm_id, json_object *custom)
{
    GHashTable *env = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    if (custom && json_object_is_type(custom, json_type_object)) {
        json_object_object_foreach(custom, key, val)
        {
            const char *text = json_object_is_type(val, json_type_string)
                                   ? json_object_get_string(val)
                                   : json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);

            g_hash_table_insert(env, g_strdup(key), g_strdup(text ? text : ""));
        }
    }
    if (vm_id)
        g_hash_table_insert(env, g_strdup("vmId"), g_strdup(vm_id));
    return env;
}

static const char *
vdHooksDir(void)
{
    return vdConfigGetString("hooks", "hooks_dir");
}

static gboolean
vdHooksAppendVar(gpointer name, gpointer value, gpointer env)
{
    g_ptr_array_add(env, g_strdup_printf("%s=%s", (char *)name, (char *)value));
    return FALSE;
}

static gint
vdHooksTreeCompare(gconstpointer a, gconstpointer b, gpointer unused)
{
    return strcmp(a, b);
}

static gint
vdHooksCompareNames(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Executable regular files (symlinks followed) in @dir, by name; names
 * starting with "." are skipped like VDSM's glob("*"). */
static GPtrArray *
vdHooksScripts(const char *dir)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = NULL;
    g_autoptr(GError) error = NULL;
    const char *name;

    if (!(d = g_dir_open(dir, 0, &error))) {
        if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) &&
            !g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR))
            g_warning("hooks: cannot list %s: %s", dir, error->message);
        return g_steal_pointer(&names);
    }
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = NULL;
        struct stat st;

        if (name[0] == '.')
            continue;
        path = g_build_filename(dir, name, NULL);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
            g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_sort(names, vdHooksCompareNames);
    return g_steal_pointer(&names);
}

/* The entry names (not starting with ".") of one point directory, as
 * listed when the directory had this identity and mtime. */
typedef struct {
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    gboolean racy; /* listed too soon after a change: list again next time */
    GPtrArray *names;
} VdHooksDirCache;

static void
vdHooksDirCacheFree(gpointer data)
{
    VdHooksDirCache *c = data;

    g_ptr_array_unref(c->names);
    g_free(c);
}

/* directory path -> VdHooksDirCache; workers ask concurrently. */
static GMutex vdHooksCacheLock;
static GHashTable *vdHooksCache;

static GPtrArray *
vdHooksListNames(const char *dir)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        if (name[0] != '.')
            g_ptr_array_add(names, g_strdup(name));
    }
    return names;
}

/* The cached entry names of @dir (a new reference), listed again when the
 * directory was replaced or changed since. */
static GPtrArray *
vdHooksCachedNames(const char *dir, const struct stat *st)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&vdHooksCacheLock);
    VdHooksDirCache *c;
    gint64 mtime_us = st->st_mtim.tv_sec * G_USEC_PER_SEC + st->st_mtim.tv_nsec / 1000;

    if (!vdHooksCache)
        vdHooksCache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, vdHooksDirCacheFree);
    c = g_hash_table_lookup(vdHooksCache, dir);
    if (c && !c->racy && c->dev == st->st_dev && c->ino == st->st_ino &&
        c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec)
        return g_ptr_array_ref(c->names);
    c = g_new0(VdHooksDirCache, 1);
    c->dev = st->st_dev;
    c->ino = st->st_ino;
    c->mtime = st->st_mtim;
    c->racy = g_get_real_time() - mtime_us < VD_HOOKS_DIR_RACY_US;
    c->names = vdHooksListNames(dir);
    g_hash_table_replace(vdHooksCache, g_strdup(dir), c);
    return g_ptr_array_ref(c->names);
}

gboolean
vdHooksPointActive(const char *point)
{
    g_autofree char *dir = g_build_filename(vdHooksDir(), point, NULL);
    g_autoptr(GPtrArray) names = NULL;
    struct stat st;

    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return FALSE;
    names = vdHooksCachedNames(dir, &st);
    /* Modes change without touching the directory: check them each time. */
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(dir, names->pdata[i], NULL);

        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
            return TRUE;
    }
    return FALSE;
}

/* "NAME=value" entries for the scripts, by sanitised name.  Two variables
 * that sanitise to the same name: the one whose original name sorts last
 * wins, the same way every time, with a warning. */
static GPtrArray *
vdHooksBuildEnv(const char *point, GHashTable *env_vars, const char *data_var,
                const char *data_path, GError **error)
{
    g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GTree) vars = g_tree_new_full(vdHooksTreeCompare, NULL, g_free, NULL);
    g_autofree gpointer *keys = NULL;
    guint n = 0;

    if (env_vars) {
        keys = g_hash_table_get_keys_as_array(env_vars, &n);
        qsort(keys, n, sizeof(gpointer), vdHooksCompareNames);
    }
    if (n > VD_HOOKS_MAX_ENV_VARS) {
        vdErrorSetCode(error, VD_ERR_HOOK_ERROR, "%s: %u environment variables, at most %d", point,
                       n, VD_HOOKS_MAX_ENV_VARS);
        return NULL;
    }
    for (guint i = 0; i < n; i++) {
        const char *value = g_hash_table_lookup(env_vars, keys[i]);
        g_autofree char *name = vdHooksEnvName(keys[i]);

        if (!name) {
            g_warning("hooks: %s: variable '%s' not passed to the scripts (reserved name)", point,
                      (const char *)keys[i]);
            continue;
        }
        if (value && strlen(value) > VD_HOOKS_MAX_ENV_VALUE) {
            vdErrorSetCode(error, VD_ERR_HOOK_ERROR, "%s: value of %s longer than %d bytes", point,
                           name, VD_HOOKS_MAX_ENV_VALUE);
            return NULL;
        }
        if (g_tree_lookup_extended(vars, name, NULL, NULL))
            g_warning("hooks: %s: '%s' overrides another variable that also maps to %s", point,
                      (const char *)keys[i], name);
        g_tree_replace(vars, g_steal_pointer(&name), (gpointer)(value ? value : ""));
    }
    g_tree_foreach(vars, vdHooksAppendVar, env);
    g_ptr_array_add(env, g_strdup_printf("%s=%s", data_var, data_path));
    g_ptr_array_add(env, NULL);
    return g_steal_pointer(&env);
}

static int
vdHooksWriteData(int fd, const char *path, const char *data, GError **error)
{
    gsize len = strlen(data), off = 0;

    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            vdErrorSetCode(error, VD_ERR_HOOK_ERROR, "cannot write %s: %s", path,
                           g_strerror(errno));
            return -1;
        }
        off += n;
    }
    return 0;
}

static char *
vdHooksReadData(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    struct stat st;
    gsize len;

    if (stat(path, &st) == 0 && st.st_size > VD_HOOKS_MAX_DATA) {
        vdErrorSetCode(error, VD_ERR_HOOK_ERROR, "hook data grew to %lld bytes, at most %d",
                       (long long)st.st_size, VD_HOOKS_MAX_DATA);
        return NULL;
    }
    if (!g_file_get_contents(path, &text, &len, NULL) || len > VD_HOOKS_MAX_DATA) {
        vdErrorSetCode(error, VD_ERR_HOOK_ERROR, "cannot read back the hook data %s", path);
        return NULL;
    }
    if (!g_utf8_validate(text, len, NULL) || strlen(text) != len) {
        vdErrorSetCode(error, VD_ERR_HOOK_ERROR, "the hooks left data that is not UTF-8 text");
        return NULL;
    }
    return g_steal_pointer(&text);
}

/* Run one script; returns TRUE when it failed, sets *@stop for code 2 and
 * appends "<name>: <stderr>" to @errors. */
static gboolean
vdHooksRunScript(const VdHookPoint *p, const char *dir, const char *name, GPtrArray *env,
                 GString *errors, gboolean *stop)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    const char *argv[] = {path, NULL};
    gint64 timeout = vdConfigGetInt("hooks", "timeout");
    VdSpawnOptions opts = {
        .env = (const char *const *)env->pdata,
        .timeout_ms = (guint)CLAMP(timeout, 1, G_MAXUINT / 1000) * 1000,
        .stdout_limit = VD_HOOKS_OUTPUT_LIMIT,
        .stderr_limit = VD_HOOKS_OUTPUT_LIMIT,
    };
    g_autoptr(VdSpawnResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *how = NULL;
    g_autofree char *err_text = NULL;

    if (vdSpawnRun(argv, &opts, &res, &error) < 0) {
        g_warning("hooks: %s/%s: %s", p->name, name, error->message);
        g_string_append_printf(errors, "%s%s: %s", errors->len ? "; " : "", name, error->message);
        return TRUE;
    }
    if (res->out_len)
        g_debug("hooks: %s/%s stdout: %s", p->name, name, res->out);
    if (vdSpawnResultSucceeded(res)) {
        g_debug("hooks: %s/%s: ok in %" G_GINT64_FORMAT " ms", p->name, name,
                res->duration_us / 1000);
        return FALSE;
    }

    if (res->timed_out)
        how = g_strdup_printf("killed after its %" G_GINT64_FORMAT " s time limit", timeout);
    else
        how = vdSpawnResultDescribe(res);
    err_text = g_strstrip(g_strndup(res->err, res->err_len));
    if (res->exit_status == 2)
        *stop = TRUE;
    else if (res->exit_status > 2)
        g_warning("hooks: %s/%s: unexpected return code %d", p->name, name, res->exit_status);
    /* The log always gets the failure; VDSM logs every script at info. */
    g_warning("hooks: %s/%s failed (%s)%s%s%s", p->name, name, how, *err_text ? ": " : "", err_text,
              *stop ? "; skipping the remaining scripts" : "");
    g_string_append_printf(errors, "%s%s: %s", errors->len ? "; " : "", name,
                           *err_text ? err_text : how);
    return TRUE;
}

int
vdHooksRun(const char *point, const char *data, GHashTable *env_vars, char **out, GError **error)
{
    const VdHookPoint *p = vdHooksPointFind(point);
    g_autofree char *dir = NULL;
    g_autoptr(GPtrArray) scripts = NULL;
    g_autoptr(GPtrArray) env = NULL;
    g_autoptr(GString) errors = NULL;
    g_autofree char *tmp_path = NULL;
    g_autofree char *result = NULL;
    g_autoptr(GError) local = NULL;
    gboolean failed = FALSE, stop = FALSE;
    int fd = -1, rc = -1;

    if (!p) {
        g_set_error(error, VD_ERROR, VD_ERR_GENERAL, "unknown hook point '%s'", point);
        return -1;
    }
    if (!data)
        data = p->data == VD_HOOK_DATA_JSON ? "{}" : "";
    dir = g_build_filename(vdHooksDir(), p->name, NULL);
    scripts = vdHooksScripts(dir);
    if (scripts->len == 0) {
        if (out)
            *out = g_strdup(data);
        return 0;
    }

    fd = g_file_open_tmp(p->data == VD_HOOK_DATA_JSON ? "vdsm-hook-XXXXXX.json"
                                                      : "vdsm-hook-XXXXXX.xml",
                         &tmp_path, &local);
    if (fd < 0) {
        g_autoptr(GError) cause = g_steal_pointer(&local);

        vdErrorSetCode(&local, VD_ERR_HOOK_ERROR, "cannot create the hook data file: %s",
                       cause->message);
        goto cleanup;
    }
    if (vdHooksWriteData(fd, tmp_path, data, &local) < 0)
        goto cleanup;
    close(fd);
    fd = -1;
    if (!(env = vdHooksBuildEnv(p->name, env_vars,
                                p->data == VD_HOOK_DATA_JSON ? "_hook_json" : "_hook_domxml",
                                tmp_path, &local)))
        goto cleanup;

    errors = g_string_new(NULL);
    for (guint i = 0; i < scripts->len && !stop; i++)
        failed |= vdHooksRunScript(p, dir, scripts->pdata[i], env, errors, &stop);

    if (!(result = vdHooksReadData(tmp_path, &local)))
        goto cleanup;
    if (p->data == VD_HOOK_DATA_JSON) {
        json_object *parsed = json_tokener_parse(result);

        if (!parsed) {
            vdErrorSetCode(&local, VD_ERR_HOOK_ERROR, "the hooks left invalid JSON");
            goto cleanup;
        }
        json_object_put(parsed);
    }
    if (failed && p->fatal) {
        vdErrorSetCode(&local, VD_ERR_HOOK_ERROR, "%s", errors->str);
        goto cleanup;
    }
    if (out)
        *out = g_steal_pointer(&result);
    rc = 0;

cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp_path)
        unlink(tmp_path);
    if (rc < 0 && local) {
        if (p->fatal) {
            g_propagate_error(error, g_steal_pointer(&local));
        } else {
            /* Not fatal: log it and hand the data on unchanged, as VDSM. */
            g_warning("hooks: %s: %s", p->name, local->message);
            if (out)
                *out = g_strdup(data);
            rc = 0;
        }
    }
    return rc;
}

static char *
vdHooksChecksum(const char *path)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 buf[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return g_strdup(""); /* VDSM reports an unreadable script with "" */
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return g_strdup("");
        }
        g_checksum_update(sum, buf, n);
    }
    close(fd);
    return g_strdup(g_checksum_get_string(sum));
}

json_object *
vdHooksInventory(void)
{
    json_object *inv = json_object_new_object();
    g_autoptr(GDir) d = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    if (!(d = g_dir_open(vdHooksDir(), 0, &error))) {
        if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_warning("hooks: cannot list %s: %s", vdHooksDir(), error->message);
        return inv;
    }
    while ((name = g_dir_read_name(d))) {
        if (name[0] != '.')
            g_ptr_array_add(dirs, g_strdup(name));
    }
    g_ptr_array_sort(dirs, vdHooksCompareNames);
    for (guint i = 0; i < dirs->len; i++) {
        g_autofree char *dir = g_build_filename(vdHooksDir(), dirs->pdata[i], NULL);
        g_autoptr(GPtrArray) scripts = vdHooksScripts(dir);
        json_object *point;

        if (scripts->len == 0)
            continue;
        point = json_object_new_object();
        for (guint j = 0; j < scripts->len; j++) {
            g_autofree char *path = g_build_filename(dir, scripts->pdata[j], NULL);
            g_autofree char *sum = vdHooksChecksum(path);
            json_object *info = json_object_new_object();

            json_object_object_add(info, "checksum", json_object_new_string(sum));
            json_object_object_add(point, scripts->pdata[j], info);
        }
        json_object_object_add(inv, dirs->pdata[i], point);
    }
    return inv;
}

int
vdHooksRunJson(const char *point, json_object **value, GError **error)
{
    g_autofree char *out = NULL;
    json_object *parsed;

    if (!vdHooksPointActive(point))
        return 0;
    if (vdHooksRun(point,
                   value && *value ? json_object_to_json_string_ext(*value, JSON_C_TO_STRING_PLAIN)
                                   : NULL,
                   NULL, &out, error) < 0)
        return -1;
    /* The runner only hands back JSON that parses. */
    if (value && *value && (parsed = json_tokener_parse(out))) {
        json_object_put(*value);
        *value = parsed;
    }
    return 0;
}
