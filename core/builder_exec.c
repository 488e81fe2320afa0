/*
 * builder_exec.c - running a BuildKit client and making sense of its failures.
 *
 * bk_builder__exec() starts a client with posix_spawnp(), so a missing or
 * non-executable client is reported as BK_ENOTFOUND / BK_EDENIED instead of
 * a child that exits 127. Both output streams go through one pipe into the
 * caller's buffer; at -vv (debug) they are also copied to stderr as they
 * arrive, so a long build shows its progress.
 *
 * bk_builder__explain() turns the text of a failed client into the one-line
 * explanations users need: permission denied on the socket, daemon not
 * reachable, BuildKit not available (a client that needs buildx, a legacy
 * builder). The texts it looks for are the clients' own error messages.
 */
#include "core/builder.h"

#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
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

int bk_builder__exec(const struct bk_strvec *argv, const struct bk_strvec *env,
                     struct bk_strbuf *out, int *status)
{
    struct bk_strvec envp = BK_STRVEC_INIT;
    posix_spawn_file_actions_t fa;
    int fds[2], rc, wstatus;
    pid_t pid;
    char buf[65536];

    if (argv->n == 0)
        return bk_error_set(BK_ERR, "no command to run");
    if (pipe2(fds, O_CLOEXEC) != 0)
        return bk_error_set(BK_ERR, "pipe: %s", strerror(errno));
    build_envp(env, &envp);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    rc = posix_spawnp(&pid, argv->v[0], &fa, NULL, argv->v, envp.v);
    posix_spawn_file_actions_destroy(&fa);
    bk_strvec_clear(&envp);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        if (rc == ENOENT || rc == ENOTDIR)
            return bk_error_set(BK_ENOTFOUND, "%s: not found", argv->v[0]);
        if (rc == EACCES || rc == EPERM)
            return bk_error_set(BK_EDENIED, "%s: permission denied", argv->v[0]);
        return bk_error_set(BK_ERR, "%s: cannot run: %s", argv->v[0], strerror(rc));
    }
    for (;;) {
        ssize_t n = read(fds[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out)
            bk_strbuf_add(out, buf, (size_t)n);
        if (bk_log_verbosity >= BK_LOG_DEBUG && write(2, buf, (size_t)n) < 0)
            break;
    }
    close(fds[0]);
    while (waitpid(pid, &wstatus, 0) < 0)
        if (errno != EINTR)
            return bk_error_set(BK_ERR, "%s: wait: %s", argv->v[0], strerror(errno));
    *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    return BK_OK;
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
