/* vd-spawn.h - the one way vdsm-c starts a child process.
 *
 * DESIGN: vdSpawnRun() runs a program from an argv (never through a
 * shell) and waits for it: posix_spawn() into a new process group with a
 * clean environment (the caller's NAME=value entries plus a fixed PATH),
 * every descriptor but 0/1/2 closed, all signals reset to default and
 * unblocked, cwd "/", stdin from /dev/null or from a caller's buffer,
 * stdout and stderr captured up to a size limit each (the rest is read and
 * dropped so the child never blocks on a full pipe).  One poll() loop
 * feeds stdin, drains both pipes and watches a pidfd for the child's exit;
 * at the deadline the whole process group gets SIGTERM, then SIGKILL after
 * a grace period.  The child is always reaped before returning, so no
 * zombie is left; grandchildren that closed their output and stay in the
 * group after the child exited are left alone (a daemon may do that).
 *
 * Threading: synchronous and blocking for up to timeout + grace.  Call it
 * only from a worker thread, NEVER on the main loop: it fails with an error
 * when the calling thread owns the default main context.  It keeps no
 * global state, so any number of workers may spawn at once.  SIGPIPE is
 * blocked in the calling thread while it runs.  The process must not set
 * SIGCHLD to SIG_IGN (the exit status would be lost; GLib does not).
 */
#pragma once

#include <glib.h>

/* The PATH every child gets, and the one used to find a bare argv[0]. */
#define VD_SPAWN_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
/* Defaults for the options left at 0. */
#define VD_SPAWN_DEFAULT_TIMEOUT_MS (60 * 1000)
#define VD_SPAWN_DEFAULT_OUTPUT_LIMIT (1024 * 1024)
#define VD_SPAWN_DEFAULT_KILL_GRACE_MS 2000
/* Most environment entries a caller may pass. */
#define VD_SPAWN_MAX_ENV 1024

typedef struct {
    /* NULL-terminated "NAME=value" entries added to PATH=VD_SPAWN_PATH; an
     * entry named PATH is refused (the fixed PATH always wins). */
    const char *const *env;
    /* stdin: @stdin_len bytes of @stdin_data, or /dev/null when NULL. */
    const char *stdin_data;
    gsize stdin_len;
    /* Bytes of stdout/stderr kept (0: VD_SPAWN_DEFAULT_OUTPUT_LIMIT). */
    gsize stdout_limit;
    gsize stderr_limit;
    /* Run time after which the process group is killed (0: default). */
    guint timeout_ms;
    /* Between SIGTERM and SIGKILL (0: VD_SPAWN_DEFAULT_KILL_GRACE_MS). */
    guint kill_grace_ms;
    /* Working directory (NULL: "/"). */
    const char *cwd;
} VdSpawnOptions;

typedef struct {
    int pid;            /* also the process group id */
    int exit_status;    /* exit code, or -1 when killed by a signal */
    int term_signal;    /* the signal that killed it, or 0 */
    gboolean timed_out; /* still running at the deadline, so it was killed */
    char *out;          /* captured stdout, NUL-terminated (may hold NULs) */
    gsize out_len;
    gboolean out_truncated;
    char *err; /* captured stderr, NUL-terminated */
    gsize err_len;
    gboolean err_truncated;
    gint64 duration_us;
} VdSpawnResult;

/* Run @argv (argv[0] absolute, or a bare name looked up in VD_SPAWN_PATH)
 * with @opts (NULL: all defaults) and wait for it.  Returns 0 and sets
 * *@result whenever the child was started, whatever its exit status; -1
 * with @error when it could not be started or on the main loop. */
int vdSpawnRun(const char *const *argv, const VdSpawnOptions *opts, VdSpawnResult **result,
               GError **error);

/* TRUE when the child exited with status 0 before its deadline. */
gboolean vdSpawnResultSucceeded(const VdSpawnResult *result);

/* "exit status 3", "killed by signal 9 (timed out after 60000 ms)", ... */
char *vdSpawnResultDescribe(const VdSpawnResult *result);

void vdSpawnResultFree(VdSpawnResult *result);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdSpawnResult, vdSpawnResultFree)
