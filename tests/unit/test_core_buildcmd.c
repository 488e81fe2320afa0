/*
 * test_core_buildcmd.c - the build command line reader
 * (core/buildspec/buildcmd.c): a table of real command lines of the three
 * build commands, compose and bake, and what bkcache must read from each;
 * then where the layer cache's options go in each command and how each
 * tool spells them (`bkcache build --layers`).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buildspec/buildcmd.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

static const char *fake_env(const char *name)
{
    if (strcmp(name, "FROM_ENV") == 0)
        return "env-value";
    if (strcmp(name, "BUILDKIT_HOST") == 0)
        return "tcp://buildkitd:1234";
    return NULL;
}

struct row {
    const char *line; /* the command, words separated by single spaces */
    enum bk_buildcmd_kind kind;
    const char *dockerfile; /* expected values; NULL: unset */
    const char *context;
    const char *target;
    const char *args;      /* build args joined with ' ' */
    const char *platforms; /* joined with ' ' */
    const char *builder;
    size_t insert_at;
    const char *warning; /* a substring of the first warning, or NULL: none */
};

static const struct row rows[] = {
    {"docker build .", BK_BUILDCMD_DOCKER, "Dockerfile", ".", NULL, "", "", NULL, 2, NULL},
    {"docker build -f ci/Dockerfile.app --target test --build-arg A=1 --build-arg=B=2 app",
     BK_BUILDCMD_DOCKER, "ci/Dockerfile.app", "app", "test", "A=1 B=2", "", NULL, 2, NULL},
    {"docker build -t img:1 -o type=local,dest=out --progress plain --no-cache -fDf ctx",
     BK_BUILDCMD_DOCKER, "Df", "ctx", NULL, "", "", NULL, 2, NULL},
    {"/usr/bin/docker -H unix:///x.sock --debug image build --rm=false -q ctx", BK_BUILDCMD_DOCKER,
     "ctx/Dockerfile", "ctx", NULL, "", "", NULL, 6, NULL},
    {"docker build --build-arg FROM_ENV --build-arg UNSET --build-arg A=1 --build-arg A=2 .",
     BK_BUILDCMD_DOCKER, "Dockerfile", ".", NULL, "FROM_ENV=env-value A=2", "", NULL, 2, NULL},
    {"docker build -f - .", BK_BUILDCMD_DOCKER, "-", ".", NULL, "", "", NULL, 2, NULL},
    {"docker build -", BK_BUILDCMD_DOCKER, "-", NULL, NULL, "", "", NULL, 2, NULL},
    {"docker build https://github.com/o/r.git#main", BK_BUILDCMD_DOCKER, NULL, NULL, NULL, "", "",
     NULL, 2, "is not a local directory"},
    {"docker build --build-context base=../base .", BK_BUILDCMD_DOCKER, "Dockerfile", ".", NULL, "",
     "", NULL, 2, "named contexts"},
    {"docker buildx build --platform linux/amd64,linux/arm64 --platform linux/riscv64 "
     "--builder ci --cache-to type=local,dest=c --load -t x:y .",
     BK_BUILDCMD_BUILDX, "Dockerfile", ".", NULL, "", "linux/amd64 linux/arm64 linux/riscv64", "ci",
     3, NULL},
    {"docker buildx --builder b1 b --target=t --file=x/D x", BK_BUILDCMD_BUILDX, "x/D", "x", "t",
     "", "", "b1", 5, NULL},
    {"docker-buildx build --sbom true --provenance mode=max ctx", BK_BUILDCMD_BUILDX,
     "ctx/Dockerfile", "ctx", NULL, "", "", NULL, 2, NULL},
    {"buildctl build --frontend dockerfile.v0 --local context=. --local dockerfile=df "
     "--opt filename=Dockerfile.ci --opt target=prod --opt build-arg:V=3 "
     "--opt platform=linux/arm64 --output type=image,name=x",
     BK_BUILDCMD_BUILDCTL, "df/Dockerfile.ci", ".", "prod", "V=3", "linux/arm64", NULL, 2, NULL},
    {"buildctl --addr unix:///run/b.sock build --frontend=dockerfile.v0 --local context=src",
     BK_BUILDCMD_BUILDCTL, "src/Dockerfile", "src", NULL, "", "", NULL, 4, NULL},
    {"buildctl build --frontend custom.v0 --local context=.", BK_BUILDCMD_BUILDCTL, "Dockerfile",
     ".", NULL, "", "", NULL, 2, "not the Dockerfile frontend"},
};

static void split(const char *line, struct bk_strvec *out)
{
    const char *p = line;
    while (*p) {
        const char *e = strchr(p, ' ');
        if (!e)
            e = p + strlen(p);
        bk_strvec_push_nodup(out, bk_xstrndup(p, (size_t)(e - p)));
        p = *e ? e + 1 : e;
    }
}

static void assert_str(const char *want, const char *got, const char *what, const char *line)
{
    if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
        fail_msg("%s: %s: want '%s', got '%s'", line, what, want ? want : "(null)",
                 got ? got : "(null)");
}

static void test_table(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        const struct row *w = &rows[r];
        struct bk_strvec argv = BK_STRVEC_INIT;
        struct bk_buildcmd c;
        char *args, *plats;
        int rc;

        split(w->line, &argv);
        rc = bk_buildcmd_parse((int)argv.n, argv.v, fake_env, &c);
        if (rc)
            fail_msg("%s: %s", w->line, bk_error_msg());
        assert_int_equal(c.kind, w->kind);
        assert_str(w->dockerfile, c.spec.dockerfile, "dockerfile", w->line);
        assert_str(w->context, c.spec.context, "context", w->line);
        assert_str(w->target, c.spec.target, "target", w->line);
        args = bk_strvec_join(&c.spec.build_args, " ");
        plats = bk_strvec_join(&c.spec.platforms, " ");
        assert_str(w->args, args, "build args", w->line);
        assert_str(w->platforms, plats, "platforms", w->line);
        assert_str(w->builder, c.builder, "builder", w->line);
        assert_str(w->builder, c.spec.builder, "spec builder", w->line);
        if (c.insert_at != w->insert_at)
            fail_msg("%s: insert_at %zu, want %zu", w->line, c.insert_at, w->insert_at);
        if (w->warning) {
            assert_true(c.warnings.n >= 1);
            if (!strstr(c.warnings.v[0], w->warning))
                fail_msg("%s: warning '%s' lacks '%s'", w->line, c.warnings.v[0], w->warning);
        } else if (c.warnings.n) {
            fail_msg("%s: unexpected warning '%s'", w->line, c.warnings.v[0]);
        }
        free(args);
        free(plats);
        bk_buildcmd_release(&c);
        bk_strvec_clear(&argv);
    }
}

static void test_buildctl_addr_from_env(void **state)
{
    char *a1[] = {"buildctl", "build", "--local", "context=."};
    char *a2[] = {"buildctl", "--addr", "tcp://x:1", "build", "--local", "context=."};
    struct bk_buildcmd c;

    (void)state;
    assert_int_equal(bk_buildcmd_parse(4, a1, fake_env, &c), 0);
    assert_string_equal(c.buildkit_addr, "tcp://buildkitd:1234");
    bk_buildcmd_release(&c);
    assert_int_equal(bk_buildcmd_parse(6, a2, fake_env, &c), 0);
    assert_string_equal(c.buildkit_addr, "tcp://x:1");
    bk_buildcmd_release(&c);
}

static void test_docker_globals_become_env(void **state)
{
    char *a[] = {"docker", "--context", "ci", "-H", "tcp://d:2375", "--config", "/c", "build", "."};
    struct bk_buildcmd c;
    char *env;

    (void)state;
    assert_int_equal(bk_buildcmd_parse(9, a, fake_env, &c), 0);
    env = bk_strvec_join(&c.env, " ");
    assert_string_equal(env, "DOCKER_CONTEXT=ci DOCKER_HOST=tcp://d:2375 DOCKER_CONFIG=/c");
    free(env);
    bk_buildcmd_release(&c);
}

static void test_compose(void **state)
{
    char *a[] = {"docker",      "compose",    "-f",         "a.yml", "--file=b.yml", "--profile",
                 "ci",          "--env-file", "ci.env",     "-p",    "proj",         "build",
                 "--build-arg", "V=1",        "--no-cache", "web",   "api"};
    char *b[] = {"docker-compose", "--project-directory", "sub", "build", "--builder", "x"};
    struct bk_buildcmd c;
    char *s;

    (void)state;
    assert_int_equal(bk_buildcmd_parse(17, a, fake_env, &c), 0);
    assert_int_equal(c.kind, BK_BUILDCMD_COMPOSE);
    s = bk_strvec_join(&c.files, " ");
    assert_string_equal(s, "a.yml b.yml");
    free(s);
    s = bk_strvec_join(&c.names, " ");
    assert_string_equal(s, "web api");
    free(s);
    assert_string_equal(c.profiles.v[0], "ci");
    assert_string_equal(c.env_files.v[0], "ci.env");
    assert_string_equal(c.build_args.v[0], "V=1");
    assert_int_equal(c.spec.build_args.n, 0);
    assert_int_equal(c.insert_at, 12);
    bk_buildcmd_release(&c);

    assert_int_equal(bk_buildcmd_parse(6, b, fake_env, &c), 0);
    assert_int_equal(c.kind, BK_BUILDCMD_COMPOSE);
    assert_string_equal(c.project_dir, "sub");
    assert_string_equal(c.builder, "x");
    assert_int_equal(c.files.n, 0);
    bk_buildcmd_release(&c);
}

static void test_bake(void **state)
{
    char *a[] = {"docker", "buildx",       "bake",   "-f",  "docker-bake.hcl",
                 "--set",  "app.args.V=2", "--load", "app", "tools"};
    struct bk_buildcmd c;
    char *s;

    (void)state;
    assert_int_equal(bk_buildcmd_parse(10, a, fake_env, &c), 0);
    assert_int_equal(c.kind, BK_BUILDCMD_BAKE);
    assert_string_equal(c.files.v[0], "docker-bake.hcl");
    assert_string_equal(c.set.v[0], "app.args.V=2");
    s = bk_strvec_join(&c.names, " ");
    assert_string_equal(s, "app tools");
    free(s);
    assert_int_equal(c.insert_at, 3);
    bk_buildcmd_release(&c);
}

static void test_not_a_build(void **state)
{
    char *a[] = {"make", "image"};
    char *b[] = {"docker", "run", "x"};
    char *d[] = {"docker", "compose", "up"};
    char *e[] = {"buildctl", "du"};
    struct bk_buildcmd c;

    (void)state;
    assert_int_equal(bk_buildcmd_parse(2, a, fake_env, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "'make' is not a build command"));
    assert_int_equal(bk_buildcmd_parse(3, b, fake_env, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "docker run: not a build"));
    assert_int_equal(bk_buildcmd_parse(3, d, fake_env, &c), BK_EINVAL);
    assert_int_equal(bk_buildcmd_parse(2, e, fake_env, &c), BK_EINVAL);
    assert_int_equal(bk_buildcmd_parse(0, a, fake_env, &c), BK_EINVAL);
}

/* The layer-cache seam: the options land right after `build`/`bake`,
 * spelled for each tool, and the rest of the command is unchanged. */
static void test_layer_seam(void **state)
{
    char *a[] = {"docker", "buildx", "build", "-t", "x", "."};
    char *b[] = {"buildctl", "build", "--local", "context=."};
    char *d[] = {"docker", "buildx", "bake", "app"};
    char *e[] = {"docker", "compose", "build"};
    struct bk_buildcmd c;
    struct bk_strvec extra = BK_STRVEC_INIT, out = BK_STRVEC_INIT;
    char *s;

    (void)state;
    assert_int_equal(bk_buildcmd_parse(6, a, fake_env, &c), 0);
    assert_int_equal(bk_buildcmd_cache_args(&c, "type=local,src=I", "type=local,dest=O", &extra),
                     0);
    bk_buildcmd_with_args(&c, 6, a, &extra, &out);
    s = bk_strvec_join(&out, " ");
    assert_string_equal(s, "docker buildx build --cache-from=type=local,src=I "
                           "--cache-to=type=local,dest=O -t x .");
    free(s);
    bk_strvec_clear(&extra);
    bk_strvec_clear(&out);
    bk_buildcmd_release(&c);

    assert_int_equal(bk_buildcmd_parse(4, b, fake_env, &c), 0);
    assert_int_equal(bk_buildcmd_cache_args(&c, "type=local,src=I", NULL, &extra), 0);
    bk_buildcmd_with_args(&c, 4, b, &extra, &out);
    s = bk_strvec_join(&out, " ");
    assert_string_equal(s, "buildctl build --import-cache=type=local,src=I --local context=.");
    free(s);
    bk_strvec_clear(&extra);
    bk_strvec_clear(&out);
    bk_buildcmd_release(&c);

    assert_int_equal(bk_buildcmd_parse(4, d, fake_env, &c), 0);
    assert_int_equal(bk_buildcmd_cache_args(&c, NULL, "type=local,dest=O", &extra), 0);
    assert_string_equal(extra.v[0], "--set=*.cache-to=type=local,dest=O");
    bk_strvec_clear(&extra);
    bk_buildcmd_release(&c);

    assert_int_equal(bk_buildcmd_parse(3, e, fake_env, &c), 0);
    assert_int_equal(bk_buildcmd_cache_args(&c, "a", "b", &extra), BK_EINVAL);
    bk_buildcmd_release(&c);
}

/* Assemble `argv` with the layer cache's arguments `pairs` (as restore
 * gives them) and compare with `want`; returns bk_buildcmd_layer_args(). */
static int assemble(int argc, char **argv, const struct bk_strvec *pairs, const char *want)
{
    struct bk_buildcmd c;
    struct bk_strvec extra = BK_STRVEC_INIT, out = BK_STRVEC_INIT;
    char *s;
    int rc;

    assert_int_equal(bk_buildcmd_parse(argc, argv, fake_env, &c), 0);
    rc = bk_buildcmd_layer_args(&c, pairs, &extra);
    bk_buildcmd_with_args(&c, argc, argv, &extra, &out);
    s = bk_strvec_join(&out, " ");
    assert_string_equal(s, want);
    free(s);
    bk_strvec_clear(&extra);
    bk_strvec_clear(&out);
    bk_buildcmd_release(&c);
    return rc;
}

/* `bkcache build --layers`: restore's arguments (two sources and the
 * destination) land after the tool's `build`, past its global options,
 * spelled for the tool; the user's own options follow unchanged. */
static void test_layer_args(void **state)
{
    char *docker[] = {"docker", "-H", "tcp://h:2375", "build", "--cache-from", "img", "-t",
                      "x",      "."};
    char *buildx[] = {"docker", "buildx", "--builder", "b", "build", "--push", "."};
    char *plugin[] = {"/usr/libexec/docker/cli-plugins/docker-buildx", "build", "."};
    char *buildctl[] = {"buildctl",   "--addr",        "tcp://k:1234", "build",
                        "--frontend", "dockerfile.v0", "--local",      "context=."};
    char *compose[] = {"docker", "compose", "build"};
    struct bk_strvec pairs = BK_STRVEC_INIT, from_only = BK_STRVEC_INIT;
    struct bk_strvec extra = BK_STRVEC_INIT;
    struct bk_buildcmd c;

    (void)state;
    bk_strvec_push(&pairs, "--cache-from");
    bk_strvec_push(&pairs, "type=local,src=/w/from/b");
    bk_strvec_push(&pairs, "--cache-from");
    bk_strvec_push(&pairs, "type=local,src=/w/from/a");
    bk_strvec_push(&pairs, "--cache-to");
    bk_strvec_push(&pairs, "type=local,dest=/w/to,mode=max");
    bk_strvec_push(&from_only, "--cache-from");
    bk_strvec_push(&from_only, "type=local,src=/w/from/b");

    assert_int_equal(assemble(9, docker, &pairs,
                              "docker -H tcp://h:2375 build --cache-from=type=local,src=/w/from/b "
                              "--cache-from=type=local,src=/w/from/a "
                              "--cache-to=type=local,dest=/w/to,mode=max --cache-from img -t x ."),
                     1);
    assert_int_equal(assemble(7, buildx, &pairs,
                              "docker buildx --builder b build "
                              "--cache-from=type=local,src=/w/from/b "
                              "--cache-from=type=local,src=/w/from/a "
                              "--cache-to=type=local,dest=/w/to,mode=max --push ."),
                     1);
    assert_int_equal(assemble(3, plugin, &from_only,
                              "/usr/libexec/docker/cli-plugins/docker-buildx build "
                              "--cache-from=type=local,src=/w/from/b ."),
                     0); /* no --cache-to: nothing for save to read */
    assert_int_equal(assemble(8, buildctl, &pairs,
                              "buildctl --addr tcp://k:1234 build "
                              "--import-cache=type=local,src=/w/from/b "
                              "--import-cache=type=local,src=/w/from/a "
                              "--export-cache=type=local,dest=/w/to,mode=max "
                              "--frontend dockerfile.v0 --local context=."),
                     1);

    assert_int_equal(bk_buildcmd_parse(3, compose, fake_env, &c), 0);
    assert_int_equal(bk_buildcmd_layer_args(&c, &pairs, &extra), BK_EINVAL);
    assert_int_equal(extra.n, 0);
    bk_buildcmd_release(&c);
    bk_strvec_clear(&pairs);
    bk_strvec_clear(&from_only);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_buildctl_addr_from_env),
        cmocka_unit_test(test_docker_globals_become_env),
        cmocka_unit_test(test_compose),
        cmocka_unit_test(test_bake),
        cmocka_unit_test(test_not_a_build),
        cmocka_unit_test(test_layer_seam),
        cmocka_unit_test(test_layer_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
