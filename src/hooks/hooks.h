/* hooks.h - VDSM hook scripts: discovery, running, inventory.
 *
 * DESIGN: VDSM's layout.  [hooks] hooks_dir (default
 * /usr/libexec/vdsm/hooks) holds one sub-directory per hook point; every
 * executable regular file in it (names starting with "." are skipped, as
 * VDSM's glob does) runs in byte order of its name, one after the other,
 * through the one spawn helper (vd-spawn.h): argv = the script, a clean
 * environment, [hooks] timeout seconds each.  The data (domain or device
 * XML, or JSON) is in a temporary file whose path is in $_hook_domxml or
 * $_hook_json; scripts rewrite it in place and each sees the previous
 * one's output.  Custom properties and vmId reach the scripts as
 * environment variables, never through a shell.  Return codes: 0 ok, 1
 * failed (go on), 2 failed (skip the remaining scripts), anything else
 * failed (logged as unexpected, go on); a script killed at its time limit
 * or by a signal has failed.  Failures are logged with the script's stderr;
 * at a point whose failures are fatal (VDSM's raiseError: before_* mostly)
 * the run fails with VD_ERROR 1500 "Hook error: <stderr>".
 *
 * Threading: vdHooksRun() and vdHooksInventory() block (scripts, file I/O):
 * call them on workers only, never on the main loop.  They keep no state:
 * the configuration is read-only after start-up.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* Limits (docs/hooks.md). */
#define VD_HOOKS_MAX_ENV_VARS 256            /* custom properties + vmId per run */
#define VD_HOOKS_MAX_ENV_VALUE (64 * 1024)   /* bytes of one value (kernel: 128 KiB) */
#define VD_HOOKS_MAX_DATA (64 * 1024 * 1024) /* bytes of the data file read back */
#define VD_HOOKS_OUTPUT_LIMIT (64 * 1024)    /* stdout/stderr kept per script */

typedef enum {
    VD_HOOK_DATA_NONE, /* no data: an empty file named by $_hook_domxml */
    VD_HOOK_DATA_XML,  /* domain or device XML in $_hook_domxml */
    VD_HOOK_DATA_JSON, /* JSON in $_hook_json */
} VdHookData;

typedef struct {
    const char *name;
    VdHookData data;
    gboolean fatal;     /* a failing script fails the operation (VDSM raiseError) */
    int issue;          /* the vdsm-c issue that calls it; 0: its operation has no issue yet */
    const char *caller; /* the operation that runs it */
} VdHookPoint;

/* All of VDSM's hook points, terminated by an entry with name == NULL. */
const VdHookPoint *vdHooksPoints(void);
const VdHookPoint *vdHooksPointFind(const char *name);

/* Run the scripts of hook point @point on @data (XML or JSON text as the
 * point expects; NULL: empty, or "{}" for JSON points).  @env_vars maps
 * variable names to values (custom properties, vmId, call parameters);
 * names are sanitised with vdHooksEnvName() and refused ones are skipped
 * with a warning.  On success returns 0 and, when @out is not NULL, sets
 * it to the data as the scripts left it (a copy of @data when no script
 * is installed).  Returns -1 with VD_ERROR 1500 when a script of a fatal
 * point failed (its stderr in the message), or with another code when
 * @point is unknown.  Failures at non-fatal points are only logged. */
int vdHooksRun(const char *point, const char *data, GHashTable *env_vars, char **out,
               GError **error);

/* TRUE when @point's directory holds an executable script now.  Cheap
 * (a stat() of the directory; its listing is cached by mtime), so callers
 * ask before they prepare data a run would need. */
gboolean vdHooksPointActive(const char *point);

/* A JSON point on a verb's result, as VDSM's before_get_* / after_get_*:
 * when the point has no script nothing happens (no serialisation);
 * otherwise the scripts run on *@value as JSON text ("{}" when @value or
 * *@value is NULL) and *@value is replaced by what they left.  Returns -1
 * with code 1500 only at a fatal point whose script failed. */
int vdHooksRunJson(const char *point, json_object **value, GError **error);

/* The environment variable name for custom property @name: characters
 * other than [A-Za-z0-9_] become '_', a leading digit gets a '_' prefix.
 * Returns NULL for an empty name or one that would change how scripts or
 * the loader run (PATH, IFS, BASH_ENV, LD_*, _hook_*, ...). */
char *vdHooksEnvName(const char *name);

/* A name -> value table for vdHooksRun(): every member of @custom (a JSON
 * object, may be NULL; non-string values as JSON text) plus vmId when
 * @vm_id is not NULL. */
GHashTable *vdHooksEnvNew(const char *vm_id, json_object *custom);

/* Installed scripts per hook directory with their sha256, in VDSM's
 * Host.getCapabilities format: {"<point>": {"<script>": {"checksum": "<hex>"}}}.
 * Directories without an executable script are left out; a missing hooks
 * directory gives {}. */
json_object *vdHooksInventory(void);
