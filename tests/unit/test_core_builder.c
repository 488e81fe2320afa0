/*
 * test_core_builder.c - the builder drivers: exact command lines for buildx,
 * docker and buildctl, driver selection, and the one-line explanations a
 * probe gives for a missing client, an unreachable daemon, a client without
 * BuildKit and a permission problem (fake clients written as shell scripts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/builder/builder.h"
#include "core/util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

static const char *env_host(const char *name)
{
    return strcmp(name, "BUILDKIT_HOST") == 0 ? "tcp://buildkitd:1234" : NULL;
}

static char *command_line(const struct bk_builder_ops *ops, const struct bk_builder_config *cfg,
                          const struct bk_build_request *req, char **env_out)
{
    struct bk_strvec argv = BK_STRVEC_INIT, env = BK_STRVEC_INIT;
    assert_int_equal(ops->command(cfg, req, &argv, &env), BK_OK);
    char *s = bk_strvec_join(&argv, " ");
    *env_out = bk_strvec_join(&env, " ");
    bk_strvec_clear(&argv);
    bk_strvec_clear(&env);
    return s;
}

static char g_dir[] = "/tmp/bk-builder-test-XXXXXX";

static const char *env_config(const char *name)
{
    return strcmp(name, "DOCKER_CONFIG") == 0 ? g_dir : NULL;
}

static struct bk_strvec g_args = BK_STRVEC_INIT;

static struct bk_build_request full_request(void)
{
    if (g_args.n == 0) {
        bk_strvec_push(&g_args, "BUILDKIT_CACHE_MOUNT_NS=ci");
        bk_strvec_push(&g_args, "BKCACHE_NONCE=42");
    }
    struct bk_build_request req = {"/tmp/ctx", "/tmp/gen/Dockerfile", "-",
                                   &g_args,    "bkcache-out",         "linux/arm64"};
    return req;
}

static void test_docker_command(void **state)
{
    struct bk_builder_config cfg = {0};
    struct bk_build_request req = full_request();
    char *env, *s;

    s = command_line(&bk_builder_docker, &cfg, &req, &env);
    assert_string_equal(s, "docker build --network=none --progress=plain -f /tmp/gen/Dockerfile "
                           "--build-arg BUILDKIT_CACHE_MOUNT_NS=ci --build-arg BKCACHE_NONCE=42 "
                           "--target bkcache-out --platform linux/arm64 "
                           "-o type=tar,dest=- /tmp/ctx");
    assert_string_equal(env, "DOCKER_BUILDKIT=1");
    free(s);
    free(env);

    struct bk_build_request min = {"ctx", "ctx/Dockerfile", NULL, NULL, NULL, NULL};
    cfg.docker = "/usr/bin/docker";
    s = command_line(&bk_builder_docker, &cfg, &min, &env);
    assert_string_equal(s, "/usr/bin/docker build --network=none --progress=plain "
                           "-f ctx/Dockerfile ctx");
    free(s);
    free(env);
}

static void test_buildx_command(void **state)
{
    struct bk_builder_config cfg = {0};
    struct bk_build_request req = full_request();
    char *env, *s;

    s = command_line(&bk_builder_buildx, &cfg, &req, &env);
    assert_string_equal(s, "docker buildx build --network=none --progress=plain "
                           "-f /tmp/gen/Dockerfile --build-arg BUILDKIT_CACHE_MOUNT_NS=ci "
                           "--build-arg BKCACHE_NONCE=42 --target bkcache-out "
                           "--platform linux/arm64 -o type=tar,dest=- /tmp/ctx");
    assert_string_equal(env, "");
    free(s);
    free(env);

    cfg.builder = "ci-builder";
    cfg.docker = "/opt/docker";
    s = command_line(&bk_builder_buildx, &cfg, &req, &env);
    assert_string_equal(s, "/opt/docker buildx build --builder ci-builder --network=none "
                           "--progress=plain -f /tmp/gen/Dockerfile "
                           "--build-arg BUILDKIT_CACHE_MOUNT_NS=ci --build-arg BKCACHE_NONCE=42 "
                           "--target bkcache-out --platform linux/arm64 "
                           "-o type=tar,dest=- /tmp/ctx");
    free(s);
    free(env);
}

static void test_buildctl_command(void **state)
{
    struct bk_builder_config cfg = {0};
    struct bk_build_request req = full_request();
    char *env, *s;

    cfg.getenv = no_env;
    s = command_line(&bk_builder_buildctl, &cfg, &req, &env);
    assert_string_equal(s, "buildctl build --progress=plain --frontend dockerfile.v0 "
                           "--local context=/tmp/ctx --local dockerfile=/tmp/gen "
                           "--opt filename=Dockerfile "
                           "--opt build-arg:BUILDKIT_CACHE_MOUNT_NS=ci "
                           "--opt build-arg:BKCACHE_NONCE=42 --opt target=bkcache-out "
                           "--opt platform=linux/arm64 --opt force-network-mode=none "
                           "--output type=tar,dest=-");
    assert_string_equal(env, "");
    free(s);
    free(env);

    /* BUILDKIT_HOST, overridden by --buildkit-addr */
    struct bk_build_request min = {"ctx", "Dockerfile.gen", NULL, NULL, NULL, NULL};
    cfg.getenv = env_host;
    s = command_line(&bk_builder_buildctl, &cfg, &min, &env);
    assert_string_equal(s, "buildctl --addr tcp://buildkitd:1234 build --progress=plain "
                           "--frontend dockerfile.v0 --local context=ctx --local dockerfile=. "
                           "--opt filename=Dockerfile.gen --opt force-network-mode=none");
    free(s);
    free(env);
    cfg.buildkit_addr = "unix:///run/buildkit/buildkitd.sock";
    s = command_line(&bk_builder_buildctl, &cfg, &min, &env);
    assert_non_null(strstr(s, "buildctl --addr unix:///run/buildkit/buildkitd.sock build "));
    free(s);
    free(env);
}

/* ---- probes against fake clients ---- */

static char *fake_client(const char *name, const char *script)
{
    char *path = bk_xasprintf("%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", script);
    fclose(f);
    chmod(path, 0755);
    return path;
}

static int setup(void **state)
{
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char *cmd = bk_xasprintf("rm -rf %s", g_dir);
    int rc = system(cmd);
    free(cmd);
    bk_strvec_clear(&g_args);
    return rc;
}

static void test_probe_missing_client(void **state)
{
    struct bk_builder_config cfg = {0};
    const struct bk_builder_ops *ops;

    cfg.docker = "/nonexistent/docker";
    cfg.buildctl = "/nonexistent/buildctl";
    cfg.getenv = no_env;
    assert_int_equal(bk_builder_docker.probe(&cfg, NULL), BK_ENOTFOUND);
    assert_non_null(strstr(bk_error_msg(), "no docker client '/nonexistent/docker'"));
    assert_int_equal(bk_builder_select("auto", &cfg, &ops), BK_ENOTFOUND);
    assert_null(ops);
    assert_non_null(strstr(bk_error_msg(), "no BuildKit client found"));
}

static void test_probe_daemon_unreachable(void **state)
{
    struct bk_builder_config cfg = {0};
    const struct bk_builder_ops *ops;

    cfg.docker = fake_client("docker-down",
                             "[ \"$1\" = buildx ] && { echo \"docker: 'buildx' is not a docker "
                             "command.\"; exit 1; }\n"
                             "echo 'Cannot connect to the Docker daemon at "
                             "unix:///var/run/docker.sock. Is the docker daemon running?' >&2\n"
                             "exit 1");
    cfg.buildctl = "/nonexistent/buildctl";
    cfg.getenv = no_env;
    assert_int_equal(bk_builder_select("auto", &cfg, &ops), BK_ERR);
    assert_non_null(strstr(bk_error_msg(), "docker: the daemon is unreachable"));
    assert_non_null(strstr(bk_error_msg(), "Is the docker daemon running?"));
    assert_null(strchr(bk_error_msg(), '\n'));
    free((char *)cfg.docker);
}

static void test_probe_buildx_component_missing(void **state)
{
    struct bk_builder_config cfg = {0};
    const struct bk_builder_ops *ops;

    cfg.docker = fake_client("docker-new",
                             "case \"$1\" in\n"
                             "buildx) echo 'docker: unknown command: docker buildx' >&2; exit 1;;\n"
                             "version) echo '28.2.2|20.10.24'; exit 0;;\n"
                             "build) echo 'ERROR: BuildKit is enabled but the buildx component "
                             "is missing or broken.' >&2; exit 0;;\n"
                             "esac");
    cfg.buildctl = "/nonexistent/buildctl";
    cfg.getenv = no_env;
    assert_int_equal(bk_builder_select("docker", &cfg, &ops), BK_ERR);
    assert_non_null(strstr(bk_error_msg(), "docker: BuildKit unavailable"));
    assert_int_equal(bk_builder_select("buildx", &cfg, &ops), BK_ENOTFOUND);
    assert_non_null(strstr(bk_error_msg(), "no docker-buildx plugin installed"));
    /* a plugin file that does not work */
    char *plugins = bk_xasprintf("%s/cli-plugins", g_dir);
    mkdir(plugins, 0755);
    free(plugins);
    free(fake_client("cli-plugins/docker-buildx", "exit 1"));
    cfg.getenv = env_config;
    assert_int_equal(bk_builder_select("buildx", &cfg, &ops), BK_ENOTFOUND);
    assert_non_null(strstr(bk_error_msg(), "has no buildx component"));
    free((char *)cfg.docker);
}

static void test_probe_permission_denied(void **state)
{
    struct bk_builder_config cfg = {0};
    const struct bk_builder_ops *ops;

    cfg.docker = fake_client("docker-denied",
                             "echo 'permission denied while trying to connect to the Docker "
                             "daemon socket at unix:///var/run/docker.sock' >&2; exit 1");
    cfg.getenv = no_env;
    assert_int_equal(bk_builder_select("docker", &cfg, &ops), BK_EDENIED);
    assert_non_null(strstr(bk_error_msg(), "docker: permission denied"));
    free((char *)cfg.docker);

    /* a client that is not executable */
    char *path = bk_xasprintf("%s/not-exec", g_dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    cfg.docker = path;
    assert_int_equal(bk_builder_docker.probe(&cfg, NULL), BK_EDENIED);
    free(path);
}

static void test_select_auto_and_run(void **state)
{
    struct bk_builder_config cfg = {0};
    const struct bk_builder_ops *ops;
    struct bk_strbuf log = BK_STRBUF_INIT;
    struct bk_build_request req = {"ctx", "ctx/Dockerfile", NULL, NULL, NULL, NULL};

    /* no buildx, a working docker: auto picks docker; a failing build
     * reports the client's last real line */
    cfg.docker = fake_client(
        "docker-ok", "case \"$1\" in\n"
                     "buildx) echo \"docker: 'buildx' is not a docker command.\"; exit 1;;\n"
                     "version) echo 20.10.24; exit 0;;\n"
                     "build) [ \"$2\" = --help ] && exit 0\n"
                     "  [ \"$DOCKER_BUILDKIT\" = 1 ] || exit 3\n"
                     "  echo '#1 [internal] load build definition'\n"
                     "  echo 'ERROR: failed to solve: no such stage'\n"
                     "  echo '#1 DONE 0.1s'; exit 1;;\n"
                     "esac");
    cfg.getenv = no_env;
    assert_int_equal(bk_builder_select(NULL, &cfg, &ops), BK_OK);
    assert_ptr_equal(ops, &bk_builder_docker);
    assert_int_equal(bk_builder_run(ops, &cfg, &req, NULL, &log), BK_ERR);
    assert_string_equal(bk_error_msg(),
                        "docker: build failed: ERROR: failed to solve: no such stage");
    assert_non_null(strstr(log.buf, "load build definition"));
    assert_int_equal(bk_builder_select("podman", &cfg, &ops), BK_EINVAL);
    bk_strbuf_release(&log);
    free((char *)cfg.docker);
}

struct sink_seen {
    struct bk_strbuf data;
    int fail; /* return BK_ECORRUPT after the first read */
};

static int sink_consume(int fd, void *arg)
{
    struct sink_seen *seen = arg;
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        bk_strbuf_add(&seen->data, buf, (size_t)n);
        if (seen->fail)
            return bk_error_set(BK_ECORRUPT, "sink: bad stream");
    }
    return BK_OK;
}

/* With a sink, stdout goes to the sink alone while stderr (more than a pipe
 * holds, so it must be read at the same time) goes to the log. A sink's
 * failure is the answer when the build succeeded; a failed build's own
 * reason wins over the sink's. */
static void test_run_with_sink(void **state)
{
    struct bk_builder_config cfg = {0};
    struct bk_strbuf log = BK_STRBUF_INIT;
    struct bk_build_request req = {"ctx", "ctx/Dockerfile", "-", NULL, NULL, NULL};
    struct sink_seen seen = {BK_STRBUF_INIT, 0};
    struct bk_build_sink sink = {sink_consume, &seen};

    cfg.docker =
        fake_client("docker-tar", "i=0; while [ $i -lt 3000 ]; do\n"
                                  "  echo \"#5 sending tarball $i of a long progress log\" >&2\n"
                                  "  i=$((i + 1)); done\n"
                                  "printf 'TARSTREAM'\n"
                                  "[ -n \"$FAIL_BUILD\" ] && { echo 'ERROR: failed to export' >&2; "
                                  "exit 1; }\n"
                                  "exit 0");
    assert_int_equal(bk_builder_run(&bk_builder_docker, &cfg, &req, &sink, &log), BK_OK);
    assert_string_equal(seen.data.buf, "TARSTREAM");
    assert_non_null(strstr(log.buf, "sending tarball 2999 of"));
    assert_null(strstr(log.buf, "TARSTREAM"));

    seen.fail = 1;
    bk_strbuf_reset(&seen.data);
    assert_int_equal(bk_builder_run(&bk_builder_docker, &cfg, &req, &sink, NULL), BK_ECORRUPT);
    assert_string_equal(bk_error_msg(), "sink: bad stream");

    setenv("FAIL_BUILD", "1", 1);
    assert_int_equal(bk_builder_run(&bk_builder_docker, &cfg, &req, &sink, NULL), BK_ERR);
    assert_string_equal(bk_error_msg(), "docker: build failed: ERROR: failed to export");
    unsetenv("FAIL_BUILD");
    bk_strbuf_release(&seen.data);
    bk_strbuf_release(&log);
    free((char *)cfg.docker);
}

/* Which builders can export a layer cache, from what the clients say. */
static void test_cache_export_verdict(void **state)
{
    const char *containerd = "[[\"driver-type\",\"io.containerd.snapshotter.v1\"]]";
    const char *overlay = "[[\"Backing Filesystem\",\"extfs\"],[\"Supports d_type\",\"true\"]]";
    (void)state;

    /* BuildKit in its own container always can */
    assert_int_equal(bk_builder_cache_export_verdict(NULL, "docker-container", NULL), BK_OK);
    assert_int_equal(bk_builder_cache_export_verdict(NULL, "remote", ""), BK_OK);
    /* the daemon's BuildKit only with the containerd image store */
    assert_int_equal(bk_builder_cache_export_verdict(NULL, "docker", containerd), BK_OK);
    assert_int_equal(bk_builder_cache_export_verdict(NULL, "docker", overlay), BK_ESKIPPED);
    assert_non_null(strstr(bk_error_msg(), "containerd-snapshotter"));
    assert_non_null(strstr(bk_error_msg(), "cache mounts still work"));
    assert_null(strchr(bk_error_msg(), '\n'));
    assert_int_equal(bk_builder_cache_export_verdict("26.1.4", NULL, containerd), BK_OK);
    assert_int_equal(bk_builder_cache_export_verdict("26.1.4", NULL, overlay), BK_ESKIPPED);
    /* Docker 20.10's docker build has no --cache-to, containerd or not */
    assert_int_equal(bk_builder_cache_export_verdict("20.10.24", NULL, containerd), BK_ESKIPPED);
    assert_non_null(strstr(bk_error_msg(), "20.10.24"));
}

/* ---- a client dies with bkcache ---- */

/* Fork a "bkcache" that runs a build with a fake client which records its
 * pid and sleeps; return the fork's pid and the client's. The fork writes
 * "rc=N cancelled=S" to g_dir/result when bk_builder_run returns. */
static pid_t run_sleeping_client(pid_t *client)
{
    char *pidfile = bk_xasprintf("%s/client.pid", g_dir);
    char *script =
        bk_xasprintf("echo $$ >%s.tmp; mv %s.tmp %s; exec sleep 60", pidfile, pidfile, pidfile);
    struct bk_builder_config cfg = {0};
    struct bk_build_request req = {"ctx", "ctx/Dockerfile", NULL, NULL, NULL, NULL};
    struct bk_strbuf sb = BK_STRBUF_INIT;
    pid_t pid;

    unlink(pidfile);
    cfg.docker = fake_client("docker-sleeps", script);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = bk_builder_run(&bk_builder_docker, &cfg, &req, NULL, NULL);
        char *res = bk_xasprintf("%s/result", g_dir);
        FILE *f = fopen(res, "w");
        fprintf(f, "rc=%d cancelled=%d", rc, bk_builder_cancelled());
        fclose(f);
        _exit(0);
    }
    for (int i = 0; i < 200 && bk_strbuf_read_file(&sb, pidfile) != BK_OK; i++)
        usleep(50000);
    assert_true(sb.len > 0);
    *client = (pid_t)atol(sb.buf);
    bk_strbuf_release(&sb);
    free(pidfile);
    free(script);
    free((char *)cfg.docker);
    return pid;
}

/* Gone, or a zombie waiting for its new parent to reap it. */
static int process_gone(pid_t pid)
{
    for (int i = 0; i < 100; i++) {
        char *path = bk_xasprintf("/proc/%ld/stat", (long)pid), st[512] = "";
        FILE *f = fopen(path, "r");
        free(path);
        if (!f)
            return 1;
        if (!fgets(st, sizeof(st), f))
            st[0] = '\0';
        fclose(f);
        if (strstr(st, ") Z "))
            return 1;
        usleep(50000);
    }
    return 0;
}

static void test_client_dies_with_bkcache(void **state)
{
    pid_t client, bk = run_sleeping_client(&client);
    int st;

    kill(bk, SIGKILL);
    assert_int_equal(waitpid(bk, &st, 0), bk);
    assert_true(process_gone(client)); /* PR_SET_PDEATHSIG */
}

static void test_stop_signal_cancels_the_build(void **state)
{
    pid_t client, bk = run_sleeping_client(&client);
    struct bk_strbuf res = BK_STRBUF_INIT;
    char *path = bk_xasprintf("%s/result", g_dir);
    int st;

    kill(bk, SIGTERM); /* bkcache lives on, the build is cancelled */
    assert_int_equal(waitpid(bk, &st, 0), bk);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(process_gone(client));
    assert_int_equal(bk_strbuf_read_file(&res, path), BK_OK);
    assert_string_equal(res.buf, "rc=-1 cancelled=15");
    bk_strbuf_release(&res);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_export_verdict),
        cmocka_unit_test(test_docker_command),
        cmocka_unit_test(test_buildx_command),
        cmocka_unit_test(test_buildctl_command),
        cmocka_unit_test(test_probe_missing_client),
        cmocka_unit_test(test_probe_daemon_unreachable),
        cmocka_unit_test(test_probe_buildx_component_missing),
        cmocka_unit_test(test_probe_permission_denied),
        cmocka_unit_test(test_select_auto_and_run),
        cmocka_unit_test(test_run_with_sink),
        cmocka_unit_test(test_client_dies_with_bkcache),
        cmocka_unit_test(test_stop_signal_cancels_the_build),
    };
    return cmocka_run_group_tests_name("core/builder", tests, setup, teardown);
}
