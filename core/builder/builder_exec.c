/*
 * builder_exec.c - running a BuildKit client and making sense of its failures.
 *
 * bk_builder__exec() starts a client with posix_spawnp(), so a missing or
 * non-executable client is reported as BK_ENOTFOUND / BK_EDENIED instead of
 * a child that exits 127. Both output streams go through one pipe into the
 * caller's buffer; at -vv (debug) they are also copied to stderr as they
 * arrive, so a long build shows its progress. bk_builder__exec_sink() gives
 * stdout its own pipe, read by the caller's sink (a build's exported tar
 * stream), while a thread collects stderr.
 *
 * bk_builder__explain() turns the text of a failed client into the one-line
 * explanations users need: permission denied on the socket, daemon not
 * reachable, BuildKit not available (a client that needs buildx, a legacy
 * builder). The texts it looks for are the clients' own error messages.
 */
#include "core/builder/builder.h"

#include "core/util/error.h"
#include "core/util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* environ with `env` entries added, replacing variables of the same name. */
static void build_envp(const struct bk_strvec *env, struct bk_strvec *out)
{
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
        int replaced = 0;
        for (size_t i = 0; env && i < env->n; i++)
            if (strncmp(env->v[i], *e, n) == 0 && env->v[i][n] == '=')
                replaced = 1;
        if (!replaced)
            bk_strvec_push(out, *e);
    }
    for (size_t i = 0; env && i < env->n; i++)
        bk_strvec_push(out, env->v[i]);
}

/* Append everything readable on `fd` to `out` (may be NULL), echoing it to
 * stderr at -vv, until end of file. */
static void drain_fd(int fd, struct bk_strbuf *out)
{
    char buf[65536];
    int echo = bk_log_verbosity >= BK_LOG_DEBUG;

    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        if (out)
            bk_strbuf_add(out, buf, (size_t)n);
        if (echo && write(2, buf, (size_t)n) < 0)
            echo = 0;
    }
}

struct drain_job {
    int fd;
    struct bk_strbuf *out;
};

static void *drain_thread(void *arg)
{
    struct drain_job *j = arg;
    drain_fd(j->fd, j->out);
    return NULL;
}

/* Hand `fd` to the sink while a thread collects the log pipe; then discard
 * whatever the sink left unread, so the client never blocks on a full pipe. */
static int feed_sink(const struct bk_build_sink *sink, int fd, int log_fd, struct bk_strbuf *out)
{
    struct drain_job job = {log_fd, out};
    pthread_t t;
    int rc, threaded = pthread_create(&t, NULL, drain_thread, &job) == 0;

    if (!threaded) /* keep the log moving: stderr then goes unread until the end */
        bk_debug("builder: no thread for the client's log: %s", strerror(errno));
    rc = sink->consume(fd, sink->arg);
    drain_fd(fd, NULL);
    if (threaded)
        pthread_join(t, NULL);
    else
        drain_fd(log_fd, out);
    return rc;
}

int bk_builder__exec_sink(const struct bk_strvec *argv, const struct bk_strvec *env,
                          const struct bk_build_sink *sink, struct bk_strbuf *out, int *status)
{
    struct bk_strvec envp = BK_STRVEC_INIT;
    posix_spawn_file_actions_t fa;
    int logp[2], datap[2] = {-1, -1}, rc, wstatus;
    pid_t pid;

    *status = -1;
    if (argv->n == 0)
        return bk_error_set(BK_ERR, "no command to run");
    if (pipe2(logp, O_CLOEXEC) != 0)
        return bk_error_set(BK_ERR, "pipe: %s", strerror(errno));
    if (sink && pipe2(datap, O_CLOEXEC) != 0) {
        rc = bk_error_set(BK_ERR, "pipe: %s", strerror(errno));
        close(logp[0]);
        close(logp[1]);
        return rc;
    }
    if (sink) /* fewer wake-ups for a stream of hundreds of MiB; best effort */
        (void)fcntl(datap[0], F_SETPIPE_SZ, 1 << 20);
    build_envp(env, &envp);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, sink ? datap[1] : logp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, logp[1], 2);
    rc = posix_spawnp(&pid, argv->v[0], &fa, NULL, argv->v, envp.v);
    posix_spawn_file_actions_destroy(&fa);
    bk_strvec_clear(&envp);
    close(logp[1]);
    if (sink)
        close(datap[1]);
    if (rc != 0) {
        close(logp[0]);
        if (sink)
            close(datap[0]);
        if (rc == ENOENT || rc == ENOTDIR)
            return bk_error_set(BK_ENOTFOUND, "%s: not found", argv->v[0]);
        if (rc == EACCES || rc == EPERM)
            return bk_error_set(BK_EDENIED, "%s: permission denied", argv->v[0]);
        return bk_error_set(BK_ERR, "%s: cannot run: %s", argv->v[0], strerror(rc));
    }
    if (sink) {
        rc = feed_sink(sink, datap[0], logp[0], out);
        close(datap[0]);
    } else {
        rc = BK_OK;
        drain_fd(logp[0], out);
    }
    close(logp[0]);
    while (waitpid(pid, &wstatus, 0) < 0)
        if (errno != EINTR)
            return bk_error_set(BK_ERR, "%s: wait: %s", argv->v[0], strerror(errno));
    *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    return rc;
}

int bk_builder__exec(const struct bk_strvec *argv, const struct bk_strvec *env,
                     struct bk_strbuf *out, int *status)
{
    return bk_builder__exec_sink(argv, env, NULL, out, status);
}

/* Progress lines of --progress=plain ("#5 [2/3] RUN ...", "#5 DONE 0.1s")
 * are not worth showing as the reason for a failure. */
static int is_noise(const char *s, size_t n)
{
    if (n >= 2 && s[0] == '#' && s[1] >= '0' && s[1] <= '9') {
        const char *sp = memchr(s, ' ', n);
        if (!sp)
            return 1;
        sp++;
        size_t rest = n - (size_t)(sp - s);
        return rest == 0 || strncmp(sp, "DONE", 4) == 0 || strncmp(sp, "CACHED", 6) == 0 ||
               (rest > 4 && strncmp(sp, "...", 3) == 0) || *sp == '[' || *sp == 's';
    }
    return 0;
}

void bk_builder__last_line(const char *text, char *line, size_t size)
{
    const char *end = text + strlen(text), *best = NULL;
    size_t best_len = 0;

    line[0] = '\0';
    while (end > text) {
        const char *e = end;
        while (e > text && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
            e--;
        const char *b = e;
        while (b > text && b[-1] != '\n')
            b--;
        if (e > b && !is_noise(b, (size_t)(e - b))) {
            best = b;
            best_len = (size_t)(e - b);
            break;
        }
        end = b;
    }
    if (!best)
        return;
    if (best_len > 300)
        best_len = 300;
    if (best_len >= size)
        best_len = size - 1;
    memcpy(line, best, best_len);
    line[best_len] = '\0';
}

int bk_builder__explain(const char *driver, const char *what, const char *output)
{
    char line[301];

    bk_builder__last_line(output, line, sizeof(line));
    if (strstr(output, "buildx component is missing") ||
        strstr(output, "'buildx' is not a docker command") ||
        strstr(output, "unknown command: docker buildx"))
        return bk_error_set(BK_ERR,
                            "%s: BuildKit unavailable: this docker client builds with BuildKit "
                            "only through the buildx component, which is missing (install "
                            "docker-buildx, or pass --docker with another client)",
                            driver);
    if (strstr(output, "legacy builder is deprecated") || strstr(output, "BuildKit is disabled") ||
        strstr(output, "buildkit not supported by daemon"))
        return bk_error_set(BK_ERR, "%s: BuildKit unavailable: %s uses the legacy builder", driver,
                            what);
    if (strstr(output, "permission denied") || strstr(output, "Permission denied"))
        return bk_error_set(BK_EDENIED,
                            "%s: permission denied talking to the daemon (add the user to the "
                            "docker group, or run as root): %s",
                            driver, line);
    if (strstr(output, "Cannot connect to the Docker daemon") ||
        strstr(output, "Is the docker daemon running") || strstr(output, "error during connect") ||
        strstr(output, "connection refused") || strstr(output, "no such file or directory") ||
        strstr(output, "failed to dial") || strstr(output, "context deadline exceeded"))
        return bk_error_set(BK_ERR, "%s: the daemon is unreachable (is it running?): %s", driver,
                            line);
    return bk_error_set(BK_ERR, "%s: %s failed: %s", driver, what, line[0] ? line : "no output");
}
