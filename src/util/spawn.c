/* spawn.c - see vd-spawn.h.  (The header is prefixed like vd-error.h: a
 * plain spawn.h in src/util would hide the system <spawn.h> on the include
 * path of every file in the project.)
 *
 * DESIGN: everything happens on the calling (worker) thread.  The child is
 * created with posix_spawn() (glibc uses CLONE_VFORK, so nothing of ours
 * runs in the child between fork and exec, which matters in a threaded
 * daemon) with these attributes: own process group, empty signal mask,
 * every signal at its default action, fds 0-2 from our pipes or
 * /dev/null, closefrom(3), chdir.  The parent then runs one poll() loop
 * over stdin (write end), stdout, stderr and a pidfd of the child; the
 * pidfd turns readable when the child exits but leaves it unreaped, so the
 * process group id cannot be recycled while we may still signal it.  Kernels
 * without pidfd_open fall back to waitid(WNOWAIT) every 50 ms.
 */
#include "vd-spawn.h"

#include "vd-error.h"

#include <errno.h>
#include <glib-unix.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define VD_SPAWN_READ_CHUNK 65536
#define VD_SPAWN_FALLBACK_TICK_MS 50

typedef struct {
    int fd; /* read end, -1 once at EOF */
    GByteArray *buf;
    gsize limit;
    gboolean truncated;
} VdSpawnSink;

gboolean
vdSpawnResultSucceeded(const VdSpawnResult *result)
{
    return result && !result->timed_out && result->exit_status == 0;
}

char *
vdSpawnResultDescribe(const VdSpawnResult *result)
{
    const char *suffix = result->timed_out ? " (timed out)" : "";

    if (result->term_signal)
        return g_strdup_printf("killed by signal %d%s", result->term_signal, suffix);
    return g_strdup_printf("exit status %d%s", result->exit_status, suffix);
}

void
vdSpawnResultFree(VdSpawnResult *result)
{
    if (!result)
        return;
    g_free(result->out);
    g_free(result->err);
    g_free(result);
}

/* A bare name is looked up in VD_SPAWN_PATH, never in our own PATH. */
static char *
vdSpawnFindProgram(const char *name, GError **error)
{
    g_auto(GStrv) dirs = NULL;

    if (g_path_is_absolute(name))
        return g_strdup(name);
    if (strchr(name, '/')) {
        g_set_error(error, VD_ERROR, VD_ERR_GENERAL,
                    "cannot run %s: a program must be an absolute path or a bare name", name);
        return NULL;
    }
    dirs = g_strsplit(VD_SPAWN_PATH, ":", -1);
    for (gsize i = 0; dirs[i]; i++) {
        g_autofree char *path = g_build_filename(dirs[i], name, NULL);

        if (access(path, X_OK) == 0)
            return g_steal_pointer(&path);
    }
    g_set_error(error, VD_ERROR, VD_ERR_GENERAL, "cannot run %s: not found in %s", name,
                VD_SPAWN_PATH);
    return NULL;
}

static GPtrArray *
vdSpawnBuildEnv(const char *const *env, GError **error)
{
    g_autoptr(GPtrArray) envp = g_ptr_array_new_with_free_func(g_free);
    gsize n = 0;

    g_ptr_array_add(envp, g_strdup("PATH=" VD_SPAWN_PATH));
    for (; env && env[n]; n++) {
        const char *eq = strchr(env[n], '=');

        if (n >= VD_SPAWN_MAX_ENV) {
            g_set_error(error, VD_ERROR, VD_ERR_GENERAL, "more than %d environment entries",
                        VD_SPAWN_MAX_ENV);
            return NULL;
        }
        if (!eq || eq == env[n]) {
            g_set_error(error, VD_ERROR, VD_ERR_GENERAL, "malformed environment entry '%s'",
                        env[n]);
            return NULL;
        }
        if (eq - env[n] == 4 && strncmp(env[n], "PATH", 4) == 0) {
            g_set_error_literal(error, VD_ERROR, VD_ERR_GENERAL,
                                "PATH cannot be set: children get " VD_SPAWN_PATH);
            return NULL;
        }
        g_ptr_array_add(envp, g_strdup(env[n]));
    }
    g_ptr_array_add(envp, NULL);
    return g_steal_pointer(&envp);
}

static void
vdSpawnCloseFd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* A close-on-exec pipe whose ends are both >= 3, so the dup2 file actions
 * onto 0-2 can never clobber one another, even in a process that was
 * started with 0-2 closed. */
static int
vdSpawnPipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 3) {
            int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);

            if (moved < 0) {
                int saved = errno;

                close(fds[0]);
                close(fds[1]);
                errno = saved;
                return -1;
            }
            close(fds[i]);
            fds[i] = moved;
        }
    }
    return 0;
}

static int
vdSpawnPidfdOpen(pid_t pid)
{
#ifdef SYS_pidfd_open
    return syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* Has @pid exited?  Leaves it unreaped. */
static gboolean
vdSpawnExited(pid_t pid)
{
    siginfo_t info = {0};

    if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
        return errno == ECHILD;
    return info.si_pid == pid;
}

/* Read what is there; keep up to the limit, drop the rest. */
static void
vdSpawnSinkRead(VdSpawnSink *sink)
{
    guint8 chunk[VD_SPAWN_READ_CHUNK];
    ssize_t n = read(sink->fd, chunk, sizeof(chunk));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        vdSpawnCloseFd(&sink->fd);
        return;
    }
    if (sink->buf->len < sink->limit) {
        gsize keep = MIN((gsize)n, sink->limit - sink->buf->len);

        g_byte_array_append(sink->buf, chunk, keep);
        if (keep < (gsize)n)
            sink->truncated = TRUE;
    } else {
        sink->truncated = TRUE;
    }
}

/* After SIGKILL: take what is already in the pipe, never wait for more. */
static void
vdSpawnSinkDrain(VdSpawnSink *sink)
{
    if (sink->fd < 0)
        return;
    g_unix_set_fd_nonblocking(sink->fd, TRUE, NULL);
    for (int i = 0; i < 64 && sink->fd >= 0; i++) {
        gsize before = sink->buf->len;
        gboolean was_truncated = sink->truncated;

        vdSpawnSinkRead(sink);
        if (sink->fd >= 0 && sink->buf->len == before && sink->truncated == was_truncated)
            break; /* EAGAIN */
    }
    vdSpawnCloseFd(&sink->fd);
}

static char *
vdSpawnSinkSteal(VdSpawnSink *sink, gsize *len)
{
    *len = sink->buf->len;
    g_byte_array_append(sink->buf, (const guint8 *)"", 1);
    return (char *)g_byte_array_free(g_steal_pointer(&sink->buf), FALSE);
}

static int
vdSpawnStart(const char *path, const char *const *argv, char *const *envp, const char *cwd,
             int in_fd, int out_fd, int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int rc;

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawn_file_actions_addchdir_np(&fa, cwd);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(pid, path, &fa, &attr, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

int
vdSpawnRun(const char *const *argv, const VdSpawnOptions *opts, VdSpawnResult **result,
           GError **error)
{
    static const VdSpawnOptions defaults = {0};
    g_autofree char *path = NULL;
    g_autoptr(GPtrArray) envp = NULL;
    g_autoptr(VdSpawnResult) res = NULL;
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    VdSpawnSink out = {-1, NULL, 0, FALSE}, err = {-1, NULL, 0, FALSE};
    int in_fd = -1, pidfd = -1, status = 0, rc;
    gsize in_off = 0;
    gboolean exited = FALSE, sigpipe_was_pending;
    gint64 start = 0, deadline, kill_at = 0;
    enum { RUNNING, TERM_SENT, KILL_SENT } stage = RUNNING;
    sigset_t pipe_set, old_mask, pending;
    pid_t pid = -1, reaped;

    g_return_val_if_fail(argv && argv[0], -1);
    if (!opts)
        opts = &defaults;
    if (g_main_context_is_owner(g_main_context_default())) {
        g_set_error(error, VD_ERROR, VD_ERR_INTERNAL,
                    "refusing to run %s on the main loop: spawning blocks", argv[0]);
        return -1;
    }
    if (!(path = vdSpawnFindProgram(argv[0], error)))
        return -1;
    if (!(envp = vdSpawnBuildEnv(opts->env, error)))
        return -1;

    if ((opts->stdin_data && vdSpawnPipe(in_pipe) < 0) || vdSpawnPipe(out_pipe) < 0 ||
        vdSpawnPipe(err_pipe) < 0) {
        g_set_error(error, VD_ERROR, VD_ERR_GENERAL, "cannot run %s: pipe: %s", argv[0],
                    g_strerror(errno));
        rc = -1;
        goto cleanup;
    }

    start = g_get_monotonic_time();
    rc = vdSpawnStart(path, argv, (char *const *)envp->pdata, opts->cwd ? opts->cwd : "/",
                      in_pipe[0], out_pipe[1], err_pipe[1], &pid);
    if (rc != 0) {
        g_set_error(error, VD_ERROR, VD_ERR_GENERAL, "cannot run %s: %s", path, g_strerror(rc));
        rc = -1;
        goto cleanup;
    }
    vdSpawnCloseFd(&in_pipe[0]);
    vdSpawnCloseFd(&out_pipe[1]);
    vdSpawnCloseFd(&err_pipe[1]);

    res = g_new0(VdSpawnResult, 1);
    res->pid = pid;
    out.fd = out_pipe[0];
    out_pipe[0] = -1;
    out.buf = g_byte_array_new();
    out.limit = opts->stdout_limit ? opts->stdout_limit : VD_SPAWN_DEFAULT_OUTPUT_LIMIT;
    err.fd = err_pipe[0];
    err_pipe[0] = -1;
    err.buf = g_byte_array_new();
    err.limit = opts->stderr_limit ? opts->stderr_limit : VD_SPAWN_DEFAULT_OUTPUT_LIMIT;
    if (opts->stdin_data) {
        in_fd = in_pipe[1];
        in_pipe[1] = -1;
        g_unix_set_fd_nonblocking(in_fd, TRUE, NULL);
        if (opts->stdin_len == 0)
            vdSpawnCloseFd(&in_fd);
    }
    pidfd = vdSpawnPidfdOpen(pid);
    deadline =
        start + (gint64)(opts->timeout_ms ? opts->timeout_ms : VD_SPAWN_DEFAULT_TIMEOUT_MS) * 1000;

    /* A child that stops reading its stdin must not kill us with SIGPIPE. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    sigpipe_was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);

    for (;;) {
        struct pollfd pfd[4];
        nfds_t n = 0;
        int idx_in = -1, idx_out = -1, idx_err = -1, idx_pid = -1;
        gint64 now = g_get_monotonic_time(), wake;
        int wait_ms;

        if (exited && out.fd < 0 && err.fd < 0)
            break;
        if (stage == KILL_SENT && exited)
            break; /* what still holds the pipes left the group: stop reading */

        if (stage == RUNNING && now >= deadline) {
            res->timed_out = !exited;
            g_debug("spawn: %s (pid %d) past its deadline, sending SIGTERM to its group", argv[0],
                    pid);
            kill(-pid, SIGTERM);
            stage = TERM_SENT;
            kill_at = now + (gint64)(opts->kill_grace_ms ? opts->kill_grace_ms
                                                         : VD_SPAWN_DEFAULT_KILL_GRACE_MS) *
                                1000;
        } else if (stage == TERM_SENT && now >= kill_at) {
            kill(-pid, SIGKILL);
            stage = KILL_SENT;
        }

        if (in_fd >= 0) {
            idx_in = n;
            pfd[n++] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
        }
        if (out.fd >= 0) {
            idx_out = n;
            pfd[n++] = (struct pollfd){.fd = out.fd, .events = POLLIN};
        }
        if (err.fd >= 0) {
            idx_err = n;
            pfd[n++] = (struct pollfd){.fd = err.fd, .events = POLLIN};
        }
        if (!exited && pidfd >= 0) {
            idx_pid = n;
            pfd[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        }

        wake = stage == RUNNING ? deadline : stage == TERM_SENT ? kill_at : now + G_USEC_PER_SEC;
        wait_ms = (int)MAX(0, (wake - now + 999) / 1000);
        if (!exited && pidfd < 0)
            wait_ms = MIN(wait_ms, VD_SPAWN_FALLBACK_TICK_MS);

        if (poll(pfd, n, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            g_warning("spawn: poll: %s", g_strerror(errno));
            g_usleep(10 * 1000);
            continue;
        }
        if (idx_in >= 0 && pfd[idx_in].revents) {
            ssize_t w = write(in_fd, opts->stdin_data + in_off, opts->stdin_len - in_off);

            if (w > 0)
                in_off += w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off >= opts->stdin_len)
                vdSpawnCloseFd(&in_fd);
        }
        if (idx_out >= 0 && pfd[idx_out].revents)
            vdSpawnSinkRead(&out);
        if (idx_err >= 0 && pfd[idx_err].revents)
            vdSpawnSinkRead(&err);
        if (!exited && (idx_pid < 0 || pfd[idx_pid].revents))
            exited = vdSpawnExited(pid);
    }

    vdSpawnCloseFd(&in_fd);
    vdSpawnSinkDrain(&out);
    vdSpawnSinkDrain(&err);
    sigpending(&pending);
    if (!sigpipe_was_pending && sigismember(&pending, SIGPIPE)) {
        static const struct timespec zero = {0, 0};

        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);

    while ((reaped = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    res->duration_us = g_get_monotonic_time() - start;
    if (reaped < 0) {
        /* ECHILD: someone set SIGCHLD to SIG_IGN, so the kernel reaped it. */
        g_warning("spawn: %s (pid %d): exit status lost: %s", argv[0], pid, g_strerror(errno));
        res->exit_status = -1;
    } else if (WIFSIGNALED(status)) {
        res->exit_status = -1;
        res->term_signal = WTERMSIG(status);
    } else {
        res->exit_status = WEXITSTATUS(status);
    }
    res->out = vdSpawnSinkSteal(&out, &res->out_len);
    res->out_truncated = out.truncated;
    res->err = vdSpawnSinkSteal(&err, &res->err_len);
    res->err_truncated = err.truncated;
    g_debug("spawn: %s (pid %d) ended: status %d signal %d%s in %" G_GINT64_FORMAT " ms", argv[0],
            pid, res->exit_status, res->term_signal, res->timed_out ? " timed out" : "",
            res->duration_us / 1000);
    *result = g_steal_pointer(&res);
    rc = 0;

cleanup:
    for (int i = 0; i < 2; i++) {
        vdSpawnCloseFd(&in_pipe[i]);
        vdSpawnCloseFd(&out_pipe[i]);
        vdSpawnCloseFd(&err_pipe[i]);
    }
    vdSpawnCloseFd(&out.fd);
    vdSpawnCloseFd(&err.fd);
    vdSpawnCloseFd(&pidfd);
    if (out.buf)
        g_byte_array_unref(out.buf);
    if (err.buf)
        g_byte_array_unref(err.buf);
    return rc;
}
