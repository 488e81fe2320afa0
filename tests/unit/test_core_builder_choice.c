/*
 * test_core_builder_choice.c - `--driver auto`, decision by decision, from
 * what real docker clients printed (tests/data/clients/): a fake docker
 * replays the recording of each command it is asked, so the probes read
 * exactly the real text. buildctl does not exist on the test machine: its
 * fake answers `debug workers` as BuildKit's client does (a table of
 * workers), or fails like it with no daemon.
 *
 * The table (docs/builders.md):
 *   no daemon, buildkitd running             -> buildctl
 *   daemon, --buildkit-addr / BUILDKIT_HOST  -> buildctl, buildx never asked
 *   buildx's default builder running         -> buildx
 *   --builder / BUILDX_BUILDER               -> buildx, its failure the answer
 *   current builder inactive                 -> not buildx, not docker build
 *                                               (the same builder): buildctl
 *                                               or the builder's explanation
 *   Docker 26 without buildx                 -> BuildKit unavailable
 *   Docker 20.10                             -> docker (DOCKER_BUILDKIT=1)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/builder/builder.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[] = "/tmp/bk-choice-test-XXXXXX";
static char g_clients[PATH_MAX];
static const char *g_env[8]; /* "NAME=value" the fake getenv answers */

static const char *fake_env(const char *name)
{
    size_t n = strlen(name);
    if (strcmp(name, "DOCKER_CONFIG") == 0)
        return g_dir; /* $g_dir/cli-plugins/docker-buildx exists */
    for (size_t i = 0; g_env[i]; i++)
        if (strncmp(g_env[i], name, n) == 0 && g_env[i][n] == '=')
            return g_env[i] + n + 1;
    return NULL;
}

static const char *no_plugin_env(const char *name)
{
    return strcmp(name, "DOCKER_CONFIG") == 0 ? "/nonexistent" : fake_env(name);
}

static char *write_script(const char *name, const char *body)
{
    char *path = bk_xasprintf("%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
    return path;
}

/*
 * A docker client that replays STACK's recordings: `version` ->
 * version.txt, `build --help` -> build-help.txt, `buildx version`,
 * `buildx inspect` (`buildx inspect NAME` -> inspect-NAME), each renamed
 * by `overrides` ("key=recording ..."). Every call is logged to
 * $g_dir/calls; a command without a recording fails the test (exit 99).
 */
static char *replay_docker(const char *stack, const char *overrides)
{
    char *body =
        bk_xasprintf("d='%s/%s'\n"
                     "case \"$1 $2\" in\n"
                     "'version --format') k=version;;\n"
                     "'build --help') k=build-help;;\n"
                     "'buildx version') k=buildx-version;;\n"
                     "'buildx inspect') k=buildx-inspect; [ -n \"$3\" ] && k=inspect-$3;;\n"
                     "*) echo \"replay: no recording for: $*\" >&2; exit 99;;\n"
                     "esac\n"
                     "echo \"$k\" >>'%s/calls'\n"
                     "f=$k\n"
                     "for o in %s; do [ \"${o%%%%=*}\" = \"$k\" ] && f=${o#*=}; done\n"
                     "[ -f \"$d/$f.txt\" ] || { echo \"replay: no $d/$f.txt\" >&2; exit 99; }\n"
                     "rc=$(sed -n '1s/^rc=//p' \"$d/$f.txt\")\n"
                     "sed 1d \"$d/$f.txt\"\n"
                     "exit \"$rc\"",
                     g_clients, stack, g_dir, overrides ? overrides : "");
    char *path = write_script("docker", body);
    free(body);
    return path;
}

/* buildctl: `debug workers` with a running buildkitd, or with none. */
static char *fake_buildctl(int running)
{
    char *body = bk_xasprintf(
        "echo \"buildctl $*\" >>'%s/calls'\n%s", g_dir,
        running ? "printf 'ID                              PLATFORMS\\n"
                  "x3k2i0pd6shy2ap5vwhe1pmb8       linux/amd64,linux/amd64/v2\\n'; exit 0"
                : "echo 'error: listing workers: connection error: desc = \"transport: error "
                  "while dialing: dial unix /run/buildkit/buildkitd.sock: connect: no such file "
                  "or directory\"' >&2; exit 1");
    char *path = write_script("buildctl", body);
    free(body);
    return path;
}

static int calls_contain(const char *what)
{
    struct bk_strbuf calls = BK_STRBUF_INIT;
    char *path = bk_xasprintf("%s/calls", g_dir);
    int found = bk_strbuf_read_file(&calls, path) == BK_OK && strstr(calls.buf, what);
    free(path);
    bk_strbuf_release(&calls);
    return found;
}

struct choice {
    const struct bk_builder_ops *ops;
    int rc;
    char why[600];
};

static struct choice choose(const char *driver, const char *stack, const char *overrides,
                            int buildkitd, struct bk_builder_config *cfg)
{
    struct choice c;
    char *docker = replay_docker(stack, overrides), *buildctl = NULL, *calls;

    if (buildkitd >= 0)
        buildctl = fake_buildctl(buildkitd);
    calls = bk_xasprintf("%s/calls", g_dir);
    unlink(calls);
    free(calls);
    cfg->docker = docker;
    cfg->buildctl = buildctl ? buildctl : "/nonexistent/buildctl";
    if (!cfg->getenv)
        cfg->getenv = fake_env;
    c.rc = bk_builder_choose(driver, cfg, &c.ops, c.why, sizeof(c.why));
    free(docker);
    free(buildctl);
    return c;
}

static int setup(void **state)
{
    char *plugins;
    if (!mkdtemp(g_dir) || !realpath("tests/data/clients", g_clients))
        return -1;
    plugins = bk_xasprintf("%s/cli-plugins", g_dir);
    mkdir(plugins, 0755);
    free(plugins);
    free(write_script("cli-plugins/docker-buildx", "exit 0"));
    return 0;
}

static int teardown(void **state)
{
    char *cmd = bk_xasprintf("rm -rf %s", g_dir);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

static int reset_env(void **state)
{
    memset(g_env, 0, sizeof(g_env));
    return 0;
}

/* no daemon, a buildkitd: buildx's inspect exits 0 with an Error: line,
 * docker version fails; buildctl answers */
static void test_no_daemon_buildkitd(void **state)
{
    struct bk_builder_config cfg = {0};
    struct choice c = choose(NULL, "docker26-buildx0.13",
                             "version=down-version buildx-inspect=down-buildx-inspect", 1, &cfg);
    assert_int_equal(c.rc, BK_OK);
    assert_ptr_equal(c.ops, &bk_builder_buildctl);
    assert_string_equal(c.why, "auto: buildkitd answers at buildctl's default address");

    memset(&cfg, 0, sizeof(cfg));
    c = choose(NULL, "docker20", "version=down-version", 1, &cfg);
    assert_int_equal(c.rc, BK_OK);
    assert_ptr_equal(c.ops, &bk_builder_buildctl);
}

/* no daemon and no buildkitd: the first real explanation, on one line */
static void test_no_daemon_no_buildkitd(void **state)
{
    struct bk_builder_config cfg = {0};
    struct choice c = choose(NULL, "docker26-buildx0.13",
                             "version=down-version buildx-inspect=down-buildx-inspect", 0, &cfg);
    assert_int_equal(c.rc, BK_ERR);
    assert_null(c.ops);
    assert_string_equal(bk_error_msg(), "buildx: the daemon is unreachable (is it running?): "
                                        "Cannot connect to the Docker daemon at "
                                        "unix:///nonexistent/docker.sock. Is the docker daemon "
                                        "running?");
}

/* a running daemon with buildx, but the user's builds go to a buildkitd */
static void test_daemon_and_buildkit_addr(void **state)
{
    struct bk_builder_config cfg = {0};
    struct choice c;

    cfg.buildkit_addr = "tcp://buildkitd:1234";
    c = choose(NULL, "docker26-buildx0.13", NULL, 1, &cfg);
    assert_int_equal(c.rc, BK_OK);
    assert_ptr_equal(c.ops, &bk_builder_buildctl);
    assert_string_equal(c.why, "--buildkit-addr tcp://buildkitd:1234: buildkitd answers at "
                               "tcp://buildkitd:1234");
    assert_true(calls_contain("buildctl --addr tcp://buildkitd:1234 debug workers"));
    assert_false(calls_contain("buildx"));

    /* BUILDKIT_HOST says the same */
    memset(&cfg, 0, sizeof(cfg));
    g_env[0] = "BUILDKIT_HOST=unix:///run/user/1000/buildkit/buildkitd.sock";
    c = choose(NULL, "docker26-buildx0.13", NULL, 1, &cfg);
    assert_ptr_equal(c.ops, &bk_builder_buildctl);
    assert_non_null(strstr(c.why, "BUILDKIT_HOST=unix:///run/user/1000/buildkit/buildkitd.sock"));
    assert_false(calls_contain("buildx"));

    /* ... and when that buildkitd is down, that is the answer: the caches
     * must not go into dockerd's BuildKit while the user's build uses it */
    memset(&cfg, 0, sizeof(cfg));
    c = choose(NULL, "docker26-buildx0.13", NULL, 0, &cfg);
    assert_int_equal(c.rc, BK_ERR);
    assert_null(c.ops);
    assert_non_null(strstr(bk_error_msg(), "buildctl: the daemon is unreachable"));
    assert_false(calls_contain("buildx"));
}

/* Docker 26 + buildx 0.13, default builder (docker driver) running */
static void test_buildx_default_builder(void **state)
{
    struct bk_builder_config cfg = {0};
    struct choice c = choose(NULL, "docker26-buildx0.13", NULL, 1, &cfg);
    assert_int_equal(c.rc, BK_OK);
    assert_ptr_equal(c.ops, &bk_builder_buildx);
    assert_string_equal(c.why, "auto: buildx builder default (docker driver) is running");
    assert_false(calls_contain("buildctl"));
}

/* --builder NAME and BUILDX_BUILDER: buildx, and its failure is the answer */
static void test_named_buildx_builder(void **state)
{
    struct bk_builder_config cfg = {0};
    struct choice c;

    cfg.builder = "bkcache-inactive";
    c = choose(NULL, "docker26-buildx0.13", "inspect-bkcache-inactive=inactive-buildx-inspect", 1,
               &cfg);
    assert_int_equal(c.rc, BK_ERR);
    assert_null(c.ops);
    assert_string_equal(bk_error_msg(),
                        "buildx: builder bkcache-inactive (docker-container driver) is inactive, "
                        "not running: start it with 'docker buildx inspect --bootstrap "
                        "bkcache-inactive', or pick another with --builder");
    assert_false(calls_contain("buildctl"));

    cfg.builder = "bkcache-no-such-builder";
    c = choose(NULL, "docker26-buildx0.13",
               "inspect-bkcache-no-such-builder=missing-buildx-inspect", 1, &cfg);
    assert_int_equal(c.rc, BK_ENOTFOUND);
    assert_non_null(strstr(bk_error_msg(), "no builder named 'bkcache-no-such-builder'"));

    cfg.builder = "default";
    c = choose(NULL, "docker26-buildx0.13", "inspect-default=buildx-inspect", 1, &cfg);
    assert_int_equal(c.rc, BK_OK);
    assert_ptr_equal(c.ops, &bk_builder_buildx);
    assert_string_equal(c.why, "--builder default: buildx builder default (docker driver) is "
                               "running");

    memset(&cfg, 0, sizeof(cfg));
    g_env[0] = "BUILDX_BUILDER=default";
    c = choose(NULL, "docker26-buildx0.13", NULL, 1, &cfg);
    assert_ptr_equal(c.ops, &bk_builder_buildx);
    assert_non_null(strstr(c.why, "BUILDX_BUILDER=default: "));

    /* both kinds of builder named: refuse rather than guess */
    memset(&cfg, 0, sizeof(cfg));
    g_env[0] = NULL;
    cfg.builder = "default";
    cfg.buildkit_addr = "tcp://buildkitd:1234";
    c = choose(NULL, "docker26-buildx0.13", NULL, 1, &cfg);
    assert_int_equal(c.rc, BK_EINVAL);
}

/* the current builder is inactive (a docker-container builder never
 * started): docker build would use the same builder, so auto goes on to
 * buildctl, or explains */
static void test_inactive_builder(void **state)
{
    struct bk_builder_config cfg = {0};
    struct choice c =
        choose(NULL, "docker26-buildx0.13", "buildx-inspect=inactive-buildx-inspect", 1, &cfg);
    assert_int_equal(c.rc, BK_OK);
    assert_ptr_equal(c.ops, &bk_builder_buildctl);
    assert_true(calls_contain("build-help")); /* docker was asked, and is buildx */

    memset(&cfg, 0, sizeof(cfg));
    c = choose(NULL, "docker26-buildx0.13", "buildx-inspect=inactive-buildx-inspect", -1, &cfg);
    assert_int_equal(c.rc, BK_ERR);
    assert_null(c.ops);
    assert_non_null(strstr(bk_error_msg(), "builder bkcache-inactive (docker-container driver) "
                                           "is inactive, not running"));

    /* --driver docker is the user's choice: docker build, which is buildx */
    memset(&cfg, 0, sizeof(cfg));
    c = choose("docker", "docker26-buildx0.13", NULL, -1, &cfg);
    assert_int_equal(c.rc, BK_OK);
    assert_ptr_equal(c.ops, &bk_builder_docker);
    assert_string_equal(c.why, "--driver docker: docker 26.1.5+dfsg1: docker build is a buildx "
                               "build (daemon 26.1.5+dfsg1)");
}

/* Docker 26 (and the 28 client) without the buildx plugin */
static void test_docker26_without_buildx(void **state)
{
    struct bk_builder_config cfg = {0};
    struct choice c;

    cfg.getenv = no_plugin_env;
    c = choose(NULL, "docker26-nobuildx", NULL, -1, &cfg);
    assert_int_equal(c.rc, BK_ERR);
    assert_null(c.ops);
    assert_string_equal(bk_error_msg(),
                        "docker: BuildKit unavailable: this docker client builds with BuildKit "
                        "only through the buildx component, which is missing (install "
                        "docker-buildx, or pass --docker with another client)");

    memset(&cfg, 0, sizeof(cfg));
    cfg.getenv = no_plugin_env;
    c = choose(NULL, "docker28-nobuildx", NULL, 1, &cfg);
    assert_int_equal(c.rc, BK_OK);
    assert_ptr_equal(c.ops, &bk_builder_buildctl);
}

/* Docker 20.10: no buildx; docker build is BuildKit with DOCKER_BUILDKIT=1 */
static void test_docker20(void **state)
{
    struct bk_builder_config cfg = {0};
    struct choice c;

    cfg.getenv = no_plugin_env;
    c = choose(NULL, "docker20", NULL, -1, &cfg);
    assert_int_equal(c.rc, BK_OK);
    assert_ptr_equal(c.ops, &bk_builder_docker);
    assert_string_equal(c.why, "auto: docker 20.10.24+dfsg1 builds with the daemon's BuildKit "
                               "(daemon 20.10.24+dfsg1)");

    memset(&cfg, 0, sizeof(cfg));
    cfg.getenv = no_plugin_env;
    c = choose(NULL, "docker20", "version=denied-version", -1, &cfg);
    assert_int_equal(c.rc, BK_EDENIED);
    assert_non_null(strstr(bk_error_msg(), "docker: permission denied talking to the daemon"));
}

/* buildx with the socket refused: inspect exits 0, its Error: line says why */
static void test_buildx_socket_denied(void **state)
{
    struct bk_builder_config cfg = {0};
    struct choice c =
        choose(NULL, "docker26-buildx0.13",
               "version=denied-version buildx-inspect=denied-buildx-inspect", -1, &cfg);
    assert_int_equal(c.rc, BK_EDENIED);
    assert_non_null(strstr(bk_error_msg(), "buildx: permission denied talking to the daemon"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_daemon_buildkitd, reset_env),
        cmocka_unit_test_setup(test_no_daemon_no_buildkitd, reset_env),
        cmocka_unit_test_setup(test_daemon_and_buildkit_addr, reset_env),
        cmocka_unit_test_setup(test_buildx_default_builder, reset_env),
        cmocka_unit_test_setup(test_named_buildx_builder, reset_env),
        cmocka_unit_test_setup(test_inactive_builder, reset_env),
        cmocka_unit_test_setup(test_docker26_without_buildx, reset_env),
        cmocka_unit_test_setup(test_docker20, reset_env),
        cmocka_unit_test_setup(test_buildx_socket_denied, reset_env),
    };
    return cmocka_run_group_tests_name("core/builder auto choice", tests, setup, teardown);
}
