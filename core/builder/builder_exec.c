/*
 * builder_exec.c - running a BuildKit client.
 *
 * bk_builder__exec() starts a client with fork and exec, reporting a missing
 * or non-executable client as BK_ENOTFOUND / BK_EDENIED (the child sends
 * exec's errno back through a close-on-exec pipe) instead of a child that
 * exits 127. The client dies with bkcache: it runs in its own process group,
 * which SIGINT, SIGTERM and SIGHUP to bkcache are passed on to (so a
 * cancelled restore or save cancels its build; bkcache then finishes its
 * own work, see bk_builder_cancelled), and it gets SIGTERM from the kernel
 * when bkcache dies in any other way (PR_SET_PDEATHSIG, SIGKILL included).
 * With no client running, those signals keep their usual effect. Both output streams go through one
 * pipe into the caller's buffer; at -vv (debug) they are also copied to stderr as they arrive, so a
 * long build shows its progress. bk_builder__exec_sink() gives stdout its own pipe, read by the
 * caller's sink (a build's exported tar stream), while a thread collects stderr.
 *
 * bk_builder__last_line() picks the line worth quoting from a client's
 * output; core/builder/builder_explain.c says what a failure means.
 */
#include "core/builder/builder.h"

#include "core/util/error.h"
#include "core/util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t g_client_pgid; /* the running client's group, or 0 */
static volatile sig_atomic_t g_cancel_sig;  /* the first stop signal received, or 0 */
static const int k_stop_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void on_stop_signal(int sig)
{
    pid_t pg = (pid_t)g_client_pgid;
    if (!g_cancel_sig)
        g_cancel_sig = sig;
    if (pg > 0) { /* cancel the build; bkcache cleans up, then stops */
        kill(-pg, SIGTERM);
        return;
    }
    signal(sig, SIG_DFL); /* nothing to cancel: stop as if no handler were there */
    raise(sig);
}

static void catch_stop_signals(void)
{
    static int done;
    struct sigaction sa;

    if (done)
        return;
    done = 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(k_stop_signals) / sizeof(*k_stop_signals); i++) {
        struct sigaction old;
        if (sigaction(k_stop_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue; /* nohup and the like: keep ignoring it */
        sigaction(k_stop_signals[i], &sa, NULL);
    }
}

int bk_builder_cancelled(void)
{
    return (int)g_cancel_sig;
}

/* fork + exec `argv` with `envp`, stdin /dev/null, stdout `out_fd`, stderr
 * `err_fd`, in its own process group, with SIGTERM when bkcache dies.
 * Returns the pid, or -1 with *err the errno of fork or exec. */
static pid_t spawn_client(char *const *argv, char *const *envp, int out_fd, int err_fd, int *err)
{
    int ep[2], e = 0;
    pid_t parent = getpid(), pid;
    ssize_t n;

    if (pipe2(ep, O_CLOEXEC) != 0) {
        *err = errno;
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        for (size_t i = 0; i < sizeof(k_stop_signals) / sizeof(*k_stop_signals); i++)
            sigaction(k_stop_signals[i], &dfl, NULL);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) /* bkcache died before the line above */
            _exit(127);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) {
            e = errno;
        } else {
            execvpe(argv[0], argv, envp);
            e = errno;
        }
        (void)!write(ep[1], &e, sizeof(e));
        _exit(127);
    }
    close(ep[1]);
    if (pid < 0) {
        *err = errno;
        close(ep[0]);
        return -1;
    }
    setpgid(pid, pid); /* also from here, so that the group exists before it is used */
    g_client_pgid = pid;
    while ((n = read(ep[0], &e, sizeof(e))) < 0 && errno == EINTR)
        ;
    close(ep[0]);
    if (n == (ssize_t)sizeof(e)) { /* exec failed */
        g_client_pgid = 0;
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        *err = e;
        return -1;
    }
    return pid;
}

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
    int logp[2], datap[2] = {-1, -1}, rc = 0, wstatus;
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
    catch_stop_signals();
    pid = spawn_client(argv->v, envp.v, sink ? datap[1] : logp[1], logp[1], &rc);
    bk_strvec_clear(&envp);
    close(logp[1]);
    if (sink)
        close(datap[1]);
    if (pid < 0) {
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
        if (errno != EINTR) {
            g_client_pgid = 0;
            return bk_error_set(BK_ERR, "%s: wait: %s", argv->v[0], strerror(errno));
        }
    g_client_pgid = 0;
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
