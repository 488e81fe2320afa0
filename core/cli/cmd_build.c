/*
 * cmd_build.c - `bkcache build [options] -- <build command>`: one command
 * around the user's own build.
 *
 *   1. read the command (core/buildspec/buildcmd.h): its Dockerfile,
 *      target, build args, platforms and builder, or the compose or bake
 *      file it builds; a Dockerfile on stdin (`-f -`, or `-` as the
 *      context) is read once and handed to the build unchanged;
 *   2. restore every cache those builds mount, through the builder the
 *      command uses (docker build: the daemon's BuildKit; buildx: its
 *      --builder; buildctl: its --addr), unless --driver and friends say
 *      otherwise;
 *   3. run the command with stdin, stdout and stderr untouched;
 *   4. save the caches after a successful build (after a failed one only
 *      with --save-on-failure: BuildKit keeps the cache mounts of the steps
 *      that ran, never those of the step that failed).
 * bkcache's own lines go to stderr, so stdout is the build's alone.
 *
 * Exit status: the build's own (128+N when a signal N ended it). A cache
 * problem is a warning, unless --fail-on-error (then 1 after a successful
 * build); --fail-on-cache-miss stops before the build with 1 when a cache
 * did not hit exactly. A command bkcache cannot read is bad input (2),
 * before anything runs.
 *
 * With --layers (and --layers-from T) the layer cache (core/layers/) goes
 * along: restore also imports it into the working directory (--layers-dir,
 * else beside the state file), its --cache-from/--cache-to options are
 * added to the command right after `build` (buildctl: --import-cache and
 * --export-cache; core/buildspec/buildcmd.h), and save uploads what the
 * build exported. A builder that cannot export a cache gets restore's
 * one-line explanation and no option; the mounts still go; so does a build
 * whose Dockerfile cannot be read (a remote context). One build of
 * one platform for now: a compose or bake command, or several platforms,
 * with --layers is bad input (2) before anything runs.
 */
#include "core/buildspec/bake.h"
#include "core/buildspec/buildcmd.h"
#include "core/buildspec/compose.h"
#include "core/cli/cli.h"
#include "core/cli/projset.h"
#include "core/cli/restore_cli.h"
#include "core/layers/layers.h"
#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the builds the command runs ---- */

/* A Dockerfile on stdin: read it once into a file that both bkcache and the
 * build read. Returns the open file (the build's stdin) or -1. */
static int stdin_dockerfile(struct bk_buildcmd *cmd, char **path)
{
    struct bk_strbuf text = BK_STRBUF_INIT;
    const char *dir = getenv("TMPDIR");
    char *p = bk_xasprintf("%s/bkcache-stdin-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(p);

    *path = NULL;
    if (fd < 0 || bk_strbuf_read_file(&text, "-") != BK_OK ||
        write(fd, text.buf, text.len) != (ssize_t)text.len || lseek(fd, 0, SEEK_SET) != 0) {
        bk_warn("warning: cannot keep the Dockerfile read from stdin: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(p);
        }
        free(p);
        bk_strbuf_release(&text);
        return -1;
    }
    /* a tar on stdin (`docker build - < ctx.tar`) is a context, not a Dockerfile */
    if (!cmd->spec.context && text.len > 262 && memcmp(text.buf + 257, "ustar", 5) == 0) {
        bk_strvec_push(&cmd->warnings, "the build context is a tar archive on stdin: bkcache "
                                       "cannot read its Dockerfile");
        bk_buildspec_set(&cmd->spec.dockerfile, NULL);
    } else {
        bk_buildspec_set(&cmd->spec.dockerfile, p);
    }
    bk_strbuf_release(&text);
    *path = p;
    return fd;
}

static int read_builds(const struct bk_options *o, struct bk_buildcmd *cmd,
                       struct bk_buildspec_list *out)
{
    struct bk_spec_runner runner;

    bk_projset_runner(o, &runner);
    if (cmd->kind == BK_BUILDCMD_COMPOSE) {
        struct bk_compose_opts co = {
            &cmd->files,      &cmd->names,      &cmd->profiles, &cmd->env_files,
            cmd->project_dir, &cmd->build_args, NULL,           &runner};
        return bk_compose_read(&co, out);
    }
    if (cmd->kind == BK_BUILDCMD_BAKE) {
        struct bk_bake_opts bo = {&cmd->files, &cmd->names, &cmd->set, NULL, &runner};
        return bk_bake_read(&bo, out);
    }
    if (cmd->spec.dockerfile) {
        struct bk_buildspec *s = bk_buildspec_list_add(out, NULL, NULL);
        bk_buildspec_release(s);
        bk_buildspec_copy(s, &cmd->spec);
    }
    return BK_OK;
}

static void copy_list(const struct bk_buildspec_list *from, struct bk_buildspec_list *to)
{
    for (size_t i = 0; i < from->n; i++) {
        struct bk_buildspec *s = bk_buildspec_list_add(to, NULL, NULL);
        bk_buildspec_release(s);
        bk_buildspec_copy(s, &from->v[i]);
    }
}

/* The builder the command uses, unless bkcache's own options name one. */
static void builder_from_command(struct bk_options *o, const struct bk_buildcmd *cmd)
{
    const char *base = strrchr(cmd->client, '/');

    base = base ? base + 1 : cmd->client;
    if (strcmp(o->driver, "auto") == 0) {
        if (cmd->kind == BK_BUILDCMD_DOCKER)
            o->driver = "docker";
        else if (cmd->kind == BK_BUILDCMD_BUILDX)
            o->driver = "buildx";
        else if (cmd->kind == BK_BUILDCMD_BUILDCTL)
            o->driver = "buildctl";
    }
    if (!o->builder)
        o->builder = cmd->builder;
    if (!o->buildkit_addr)
        o->buildkit_addr = cmd->buildkit_addr;
    if (!o->docker && strcmp(base, "docker") == 0)
        o->docker = cmd->client;
}

/* DOCKER_HOST and friends from the command's global options, for bkcache's
 * own transfer builds only: set them, or put back what was there. */
static void swap_env(const struct bk_buildcmd *cmd, struct bk_strvec *saved, int set)
{
    for (size_t i = 0; i < cmd->env.n; i++) {
        const char *eq = strchr(cmd->env.v[i], '=');
        char *name = bk_xstrndup(cmd->env.v[i], (size_t)(eq - cmd->env.v[i]));
        if (set) {
            const char *old = getenv(name);
            bk_strvec_pushf(saved, "%s%s%s", name, old ? "=" : "", old ? old : "");
            setenv(name, eq + 1, 1);
        } else {
            const char *v = saved->v[i], *veq = strchr(v, '=');
            if (veq)
                setenv(name, veq + 1, 1);
            else
                unsetenv(name);
        }
        free(name);
    }
    if (!set)
        bk_strvec_clear(saved);
}

/* ---- running the build ---- */

static volatile sig_atomic_t g_child;

static void forward(int sig)
{
    if (g_child > 0)
        kill((pid_t)g_child, sig);
}

/* Run argv with this process's stdio (stdin from `in` when >= 0); its exit
 * status, 128+N for signal N, 127 when it cannot be started. */
static int run_build(const struct bk_strvec *argv, int in)
{
    struct sigaction sa, old_int, old_term, old_hup;
    int status;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        bk_error("cannot start %s: %s", argv->v[0], strerror(errno));
        return 127;
    }
    if (pid == 0) {
        if (in >= 0)
            dup2(in, STDIN_FILENO);
        execvp(argv->v[0], argv->v);
        fprintf(stderr, "bkcache: cannot run %s: %s\n", argv->v[0], strerror(errno));
        _exit(127);
    }
    g_child = pid;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    g_child = 0;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

/* ---- restore and save around it ---- */

/* Restore or save the caches of `specs` (copied), and the layer cache with
 * --layers (restore: its build arguments, as core/layers/ gives them, go to
 * `layer_args`); 1 when a cache operation failed or (restore,
 * --fail-on-cache-miss) missed, 2 bad input, else 0. */
static int transfer(struct bk_options *o, const struct bk_buildspec_list *specs,
                    enum bk_xfer_cli_mode mode, struct bk_strvec *layer_args)
{
    struct bk_buildspec_list copy = BK_BUILDSPEC_LIST_INIT;
    struct bk_xfer_cli c;
    const char *what = mode == BK_XFER_CLI_RESTORE ? "restore" : "save";
    int rc;

    copy_list(specs, &copy);
    rc = bk_xfer_cli_open(o, mode, &copy, &c);
    bk_buildspec_list_free(&copy);
    if (rc == 0) {
        if (bk_xfer_cli_run(&c, mode) < 0) {
            bk_warn("warning: %s: %s", what, bk_error_msg());
            rc = 1;
        } else {
            bk_xfer_fprint(stderr, &c.x, what, 0);
            rc = bk_xfer_exit_status(&c.x, mode == BK_XFER_CLI_RESTORE && o->fail_on_cache_miss, 1);
        }
        if (c.x.layers && layer_args)
            for (size_t i = 0; i < c.layers.build_args.n; i++)
                bk_strvec_push(layer_args, c.layers.build_args.v[i]);
        if (c.bad_input)
            rc = 2;
    }
    bk_xfer_cli_close(&c);
    return rc;
}

/* --layers with a command whose builds it cannot serve yet: the message, or NULL. */
static const char *layers_refusal(const struct bk_options *o, const struct bk_buildcmd *cmd)
{
    if (!o->layers)
        return NULL;
    if (cmd->kind == BK_BUILDCMD_COMPOSE || cmd->kind == BK_BUILDCMD_BAKE)
        return "--layers works with one docker build, docker buildx build or buildctl build "
               "for now, not with a compose or bake command";
    if (cmd->spec.platforms.n > 1)
        return "--layers works with one platform for now (the command builds several)";
    return NULL;
}

int bk_cmd_build(struct bk_options *o)
{
    struct bk_buildcmd cmd;
    struct bk_buildspec_list specs = BK_BUILDSPEC_LIST_INIT;
    struct bk_strvec argv = BK_STRVEC_INIT, extra = BK_STRVEC_INIT, env = BK_STRVEC_INIT;
    struct bk_strvec layer_args = BK_STRVEC_INIT;
    const char *refusal;
    char *stdin_path = NULL;
    int in = -1, status, cache_rc = 0, rc, layers = o->layers;

    if (!o->args.n) {
        bk_error("build: no build command (usage: bkcache build [options] -- docker build ...)");
        return 2;
    }
    if (o->lookup_only) {
        bk_error("build: --lookup-only does not apply to build");
        return 2;
    }
    if (bk_buildcmd_parse((int)o->args.n, o->args.v, NULL, &cmd) < 0) {
        bk_error("build: %s", bk_error_msg());
        return 2;
    }
    if ((refusal = layers_refusal(o, &cmd))) {
        bk_error("build: %s", refusal);
        bk_buildcmd_release(&cmd);
        return 2;
    }
    if (cmd.spec.dockerfile && strcmp(cmd.spec.dockerfile, "-") == 0)
        in = stdin_dockerfile(&cmd, &stdin_path);
    for (size_t i = 0; i < cmd.warnings.n; i++)
        bk_warn("warning: %s", cmd.warnings.v[i]);
    builder_from_command(o, &cmd);
    rc = read_builds(o, &cmd, &specs);
    if (rc < 0) {
        bk_warn("warning: the builds' caches cannot be read: %s", bk_error_msg());
        cache_rc = 2;
    }

    if (rc == BK_OK && o->layers && !specs.n) {
        bk_warn("warning: --layers: the build's Dockerfile cannot be read, so its layer cache "
                "is not restored or saved");
        o->layers = 0;
    }
    if (rc == BK_OK) {
        swap_env(&cmd, &env, 1);
        cache_rc = transfer(o, &specs, BK_XFER_CLI_RESTORE, &layer_args);
        swap_env(&cmd, &env, 0);
    }
    if (cache_rc && o->fail_on_cache_miss) {
        bk_error("build: not all caches were restored (--fail-on-cache-miss)");
        status = 1;
        goto out;
    }

    /* the layer cache's options, after `build`; no --cache-to, nothing for save to read */
    if (o->layers && bk_buildcmd_layer_args(&cmd, &layer_args, &extra) <= 0)
        o->layers = 0;
    bk_buildcmd_with_args(&cmd, (int)o->args.n, o->args.v, &extra, &argv);
    status = run_build(&argv, in);

    if (rc == BK_OK && (status == 0 || o->save_on_failure)) {
        int save_rc;
        swap_env(&cmd, &env, 1);
        save_rc = transfer(o, &specs, BK_XFER_CLI_SAVE, NULL);
        swap_env(&cmd, &env, 0);
        if (save_rc > cache_rc)
            cache_rc = save_rc;
    } else if (status != 0) {
        bk_info("build: the build failed (status %d): caches not saved (--save-on-failure "
                "saves them)",
                status);
    }
    if (status == 0 && cache_rc && o->fail_on_error)
        status = cache_rc == 2 ? 2 : 1;
out:
    o->layers = layers;
    if (in >= 0)
        close(in);
    if (stdin_path) {
        unlink(stdin_path);
        free(stdin_path);
    }
    bk_strvec_clear(&argv);
    bk_strvec_clear(&extra);
    bk_strvec_clear(&layer_args);
    bk_buildspec_list_free(&specs);
    bk_buildcmd_release(&cmd);
    return status;
}
