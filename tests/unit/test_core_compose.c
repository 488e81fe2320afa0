/*
 * test_core_compose.c - compose and bake files to build specs
 * (core/buildspec/compose.c, bake.c, interpolate.c, yaml_json.c).
 *
 * The compose corpus is tests/unit/compose-corpus/<case>/ (short and long
 * build: syntax, interpolation with .env, extends, profiles, anchors and
 * merge keys, an override file, dockerfile_inline). Each case's builtin
 * reading is pinned here; when `docker compose` answers (the resolver, e.g.
 * Docker 26's compose plugin), the same cases are also read through
 * `docker compose config --format json` and both paths must give the same
 * builds: same contexts, Dockerfiles, targets, args and platforms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buildspec/bake.h"
#include "core/buildspec/compose.h"
#include "core/buildspec/interpolate.h"
#include "core/buildspec/yaml_json.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CORPUS "tests/unit/compose-corpus"

/* ---- interpolation ---- */

static const char *test_var(const char *name, void *arg)
{
    (void)arg;
    if (strcmp(name, "SET") == 0)
        return "v";
    if (strcmp(name, "EMPTY") == 0)
        return "";
    return NULL;
}

static void test_interpolate(void **state)
{
    static const char *const cases[][2] = {
        {"plain", "plain"},
        {"$SET-${SET}", "v-v"},
        {"${UNSET}|$UNSET|", "||"},
        {"${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}|${UNSET-d}", "d|d||d"},
        {"${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}", "alt||alt|"},
        {"$$SET $${SET} a$$", "$SET ${SET} a$"},
        {"${UNSET:-${SET}x}", "vx"},
        {"${UNSET:-${ALSO:-deep}}", "deep"},
        {"${SET:?never}", "v"},
        {"a$", "a$"},
        {"$1", "$1"},
    };
    struct bk_vars_lookup vars = {test_var, NULL};
    char *out;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (bk_interpolate(cases[i][0], &vars, &out) != BK_OK)
            fail_msg("%s: %s", cases[i][0], bk_error_msg());
        if (strcmp(out, cases[i][1]) != 0)
            fail_msg("%s: got '%s', want '%s'", cases[i][0], out, cases[i][1]);
        free(out);
    }
    assert_int_equal(bk_interpolate("${UNSET:?set it please}", &vars, &out), BK_EINVAL);
    assert_string_equal(bk_error_msg(),
                        "required variable UNSET is missing a value: set it please");
    assert_int_equal(bk_interpolate("${EMPTY?}", &vars, &out), BK_OK);
    free(out);
    assert_int_equal(bk_interpolate("${EMPTY:?}", &vars, &out), BK_EINVAL);
    assert_int_equal(bk_interpolate("${SET", &vars, &out), BK_EINVAL);
    assert_int_equal(bk_interpolate("${}", &vars, &out), BK_EINVAL);
}

/* ---- YAML ---- */

static void test_yaml(void **state)
{
    const char *text = "a: &x\n  k: 1\n  n: ~\n  e:\n  s: 'null'\n"
                       "b:\n  <<: *x\n  k: 2\n"
                       "c: [*x, yes]\n";
    cJSON *doc;
    char *s;

    (void)state;
    assert_int_equal(bk_yaml_to_json("t.yaml", text, strlen(text), &doc), BK_OK);
    s = cJSON_PrintUnformatted(doc);
    assert_string_equal(s, "{\"a\":{\"k\":\"1\",\"n\":null,\"e\":null,\"s\":\"null\"},"
                           "\"b\":{\"k\":\"2\",\"n\":null,\"e\":null,\"s\":\"null\"},"
                           "\"c\":[{\"k\":\"1\",\"n\":null,\"e\":null,\"s\":\"null\"},\"yes\"]}");
    free(s);
    cJSON_Delete(doc);

    text = "services:\n  a:\n    build: .\n  b: [\n";
    assert_int_equal(bk_yaml_to_json("bad.yaml", text, strlen(text), &doc), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "bad.yaml:"));
    assert_non_null(strstr(bk_error_msg(), "not YAML"));
    text = "- a\n- b\n";
    assert_int_equal(bk_yaml_to_json("list.yaml", text, strlen(text), &doc), BK_EINVAL);
    assert_string_equal(bk_error_msg(),
                        "list.yaml: not a compose file (the document is not a mapping)");
}

/* ---- the compose corpus, builtin reader ---- */

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

/* One line per spec: "name ctx=... df=... target=... args=... platforms=...",
 * contexts and Dockerfile directories made absolute, args sorted. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *abs_path(const char *p)
{
    char buf[PATH_MAX];
    if (!p)
        return bk_xstrdup("-");
    if (realpath(p, buf))
        return bk_xstrdup(buf);
    return bk_xstrdup(p);
}

static char *describe(const struct bk_buildspec_list *l)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (size_t i = 0; i < l->n; i++) {
        const struct bk_buildspec *s = &l->v[i];
        struct bk_strvec args = BK_STRVEC_INIT;
        char *ctx = abs_path(s->context), *a, *p;
        for (size_t k = 0; k < s->build_args.n; k++)
            bk_strvec_push(&args, s->build_args.v[k]);
        qsort(args.v, args.n, sizeof(*args.v), cmp_str);
        a = bk_strvec_join(&args, ",");
        p = bk_strvec_join(&s->platforms, ",");
        bk_strbuf_addf(
            &sb, "%s ctx=%s df=%s inline=%s target=%s args=%s platforms=%s\n", s->name, ctx,
            s->dockerfile
                ? s->dockerfile + (strncmp(s->dockerfile, s->context, strlen(s->context)) == 0
                                       ? strlen(s->context)
                                       : 0)
                : "-",
            s->dockerfile_inline ? "yes" : "no", s->target ? s->target : "-", a, p);
        free(ctx);
        free(a);
        free(p);
        bk_strvec_clear(&args);
    }
    return bk_strbuf_detach(&sb);
}

static char *read_case(const char *name, const struct bk_strvec *profiles,
                       const struct bk_spec_runner *runner, struct bk_buildspec_list *l)
{
    char *dir = bk_xasprintf(CORPUS "/%s", name);
    struct bk_compose_opts o = {NULL, NULL, profiles, NULL, dir, NULL, no_env, runner};
    int rc = bk_compose_read(&o, l);
    char *d;

    if (rc)
        fail_msg("%s: %s", name, bk_error_msg());
    if (l->errors.n)
        fail_msg("%s: %s", name, l->errors.v[0]);
    d = describe(l);
    free(dir);
    return d;
}

static void expect_case(const char *name, const struct bk_strvec *profiles, const char *want)
{
    struct bk_buildspec_list l = BK_BUILDSPEC_LIST_INIT;
    char *got = read_case(name, profiles, NULL, &l);
    char cwd[PATH_MAX];
    struct bk_strbuf w = BK_STRBUF_INIT;

    /* want uses "@" for the case directory */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    for (const char *p = want; *p; p++) {
        if (*p == '@')
            bk_strbuf_addf(&w, "%s/" CORPUS "/%s", cwd, name);
        else
            bk_strbuf_addch(&w, *p);
    }
    if (strcmp(got, w.buf) != 0)
        fail_msg("%s:\ngot:\n%swant:\n%s", name, got, w.buf);
    free(got);
    bk_strbuf_release(&w);
    bk_buildspec_list_free(&l);
}

static void test_corpus_builtin(void **state)
{
    struct bk_strvec ci = BK_STRVEC_INIT;

    (void)state;
    bk_strvec_push(&ci, "ci");
    expect_case("short-long", NULL,
                "a ctx=@/a df=/Dockerfile inline=no target=- args= platforms=\n"
                "b ctx=@/b df=/ci/Dockerfile.b inline=no target=test "
                "args=BOOL=true,NUM=1,TEXT=two words platforms=linux/amd64,linux/arm64\n");
    expect_case("interpolation", NULL,
                "app ctx=@/app df=/Dockerfile inline=no target=- "
                "args=D=dflt,DOLLAR=$HOME,E=,F=colon,NESTED=1.2-n,P=plus,Q=x y,V=1.2,X=yes "
                "platforms=\n");
    expect_case("extends", NULL,
                "base ctx=@/base df=/Dockerfile inline=no target=dev args=A=1,B=1 platforms=\n"
                "child ctx=@/base df=/Dockerfile inline=no target=dev args=A=1,B=2,C=3 "
                "platforms=\n"
                "grandchild ctx=@/base df=/Dockerfile inline=no target=prod args=A=1,B=2,C=3 "
                "platforms=\n"
                "other ctx=@/child df=/Dockerfile inline=no target=- args=FROM_FILE=1 "
                "platforms=\n");
    expect_case("profiles", NULL, "a ctx=@/a df=/Dockerfile inline=no target=- args= platforms=\n");
    expect_case("profiles", &ci,
                "a ctx=@/a df=/Dockerfile inline=no target=- args= platforms=\n"
                "c ctx=@/c df=/Dockerfile inline=no target=- args= platforms=\n");
    expect_case("anchors", NULL,
                "s1 ctx=@ df=/Dockerfile inline=no target=- args=A=1 platforms=\n"
                "s2 ctx=@ df=/Dockerfile inline=no target=t2 args=A=1 platforms=\n");
    expect_case("multi-file", NULL,
                "app ctx=@/app df=/Dockerfile inline=no target=debug args=KEEP=yes,MODE=debug "
                "platforms=\n");
    expect_case("inline", NULL, "tool ctx=@/ctx df=- inline=yes target=- args= platforms=\n");
    bk_strvec_clear(&ci);
}

/* ---- the same corpus through docker compose config ---- */

static int popen_run(const struct bk_strvec *argv, struct bk_strbuf *out, struct bk_strbuf *err,
                     int *status, void *arg)
{
    struct bk_strbuf cmd = BK_STRBUF_INIT;
    char errfile[] = "/tmp/bkcache-test-err-XXXXXX";
    int fd = mkstemp(errfile);
    FILE *f;
    char buf[4096];
    size_t n;

    (void)arg;
    if (fd < 0)
        return BK_ERR;
    close(fd);
    for (size_t i = 0; i < argv->n; i++) {
        bk_strbuf_adds(&cmd, i ? " '" : "'");
        for (const char *p = argv->v[i]; *p; p++)
            bk_strbuf_adds(&cmd, *p == '\'' ? "'\\''" : (char[]){*p, 0});
        bk_strbuf_addch(&cmd, '\'');
    }
    bk_strbuf_addf(&cmd, " 2>%s", errfile);
    f = popen(cmd.buf, "r");
    while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        bk_strbuf_add(out, buf, n);
    *status = f ? WEXITSTATUS(pclose(f)) : 127;
    bk_strbuf_read_file(err, errfile);
    unlink(errfile);
    bk_strbuf_release(&cmd);
    return *status == 127 ? BK_ENOTFOUND : BK_OK;
}

static int have_compose(void)
{
    return system("docker compose version >/dev/null 2>&1") == 0;
}

static void test_corpus_against_compose(void **state)
{
    static const char *const cases[] = {"short-long", "interpolation", "extends", "profiles",
                                        "anchors",    "multi-file",    "inline"};
    struct bk_spec_runner runner = {popen_run, NULL, NULL, "docker"};
    struct bk_strvec ci = BK_STRVEC_INIT;

    (void)state;
    if (!have_compose()) {
        printf("skip: `docker compose` is not available\n");
        skip();
    }
    bk_strvec_push(&ci, "ci");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int with_profile = 0; with_profile < 2; with_profile++) {
            struct bk_buildspec_list a = BK_BUILDSPEC_LIST_INIT, b = BK_BUILDSPEC_LIST_INIT;
            const struct bk_strvec *p = with_profile ? &ci : NULL;
            char *ours = read_case(cases[i], p, NULL, &a);
            char *theirs = read_case(cases[i], p, &runner, &b);
            if (strcmp(ours, theirs) != 0)
                fail_msg("%s: the builtin reader and docker compose config differ:\nours:\n%s"
                         "docker compose:\n%s",
                         cases[i], ours, theirs);
            free(ours);
            free(theirs);
            bk_buildspec_list_free(&a);
            bk_buildspec_list_free(&b);
        }
    }
    bk_strvec_clear(&ci);
}

/* ---- bad input: one line per service, the others still read ---- */

static char *g_tmp;

static void write_file(const char *name, const char *text)
{
    char *p = bk_xasprintf("%s/%s", g_tmp, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static int setup_tmp(void **state)
{
    char t[] = "/tmp/bkcache-buildspec-XXXXXX";
    (void)state;
    g_tmp = bk_xstrdup(mkdtemp(t));
    return 0;
}

static int teardown_tmp(void **state)
{
    char *cmd = bk_xasprintf("rm -rf '%s'", g_tmp);
    (void)state;
    if (system(cmd) != 0)
        return 1;
    free(cmd);
    free(g_tmp);
    return 0;
}

static void test_compose_bad_services(void **state)
{
    struct bk_strvec files = BK_STRVEC_INIT, names = BK_STRVEC_INIT;
    struct bk_buildspec_list l = BK_BUILDSPEC_LIST_INIT;
    struct bk_compose_opts o = {&files, &names, NULL, NULL, NULL, NULL, no_env, NULL};

    (void)state;
    write_file("c.yaml", "services:\n"
                         "  web: {build: web}\n"
                         "  db: {image: postgres}\n"
                         "  req: {build: {context: '${NEED:?set NEED}'}}\n"
                         "  remote: {build: 'https://github.com/o/r.git'}\n"
                         "  loop: {extends: nosuch, build: x}\n");
    bk_strvec_pushf(&files, "%s/c.yaml", g_tmp);
    bk_strvec_push(&names, "web");
    bk_strvec_push(&names, "db");
    bk_strvec_push(&names, "req");
    bk_strvec_push(&names, "ghost");
    bk_strvec_push(&names, "remote");
    bk_strvec_push(&names, "loop");
    assert_int_equal(bk_compose_read(&o, &l), BK_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].name, "web");
    assert_int_equal(l.errors.n, 4);
    assert_non_null(strstr(l.errors.v[0], "c.yaml: service req: required variable NEED"));
    assert_non_null(strstr(l.errors.v[1], "c.yaml: service loop: extends unknown service nosuch"));
    assert_non_null(strstr(l.errors.v[2], "c.yaml: service db: no build: section"));
    assert_non_null(strstr(l.errors.v[3], "c.yaml: service ghost: no such service"));
    assert_int_equal(l.warnings.n, 1);
    assert_non_null(strstr(l.warnings.v[0], "service remote: the build context"));
    bk_buildspec_list_free(&l);

    /* not YAML: the whole project fails, naming the file and line */
    write_file("bad.yaml", "services:\n  web:\n    build: [\n");
    free(files.v[0]);
    files.v[0] = bk_xasprintf("%s/bad.yaml", g_tmp);
    bk_strvec_clear(&names);
    o.services = NULL;
    assert_int_equal(bk_compose_read(&o, &l), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "bad.yaml:"));
    bk_buildspec_list_free(&l);
    bk_strvec_clear(&files);
}

/* ---- bake JSON ---- */

static const char *bake_env(const char *name)
{
    return strcmp(name, "TAG") == 0 ? "from-env" : NULL;
}

/* The same bake read through `docker buildx bake --print`, when buildx is
 * there: the same builds (and the error naming `error`, if given). */
static void bake_via_buildx(struct bk_bake_opts *o, const char *want, const char *error)
{
    struct bk_spec_runner runner = {popen_run, NULL, NULL, "docker"};
    struct bk_buildspec_list l = BK_BUILDSPEC_LIST_INIT;
    char *d;

    if (system("docker buildx version >/dev/null 2>&1") != 0) {
        printf("skip: `docker buildx` is not available for the bake comparison\n");
        return;
    }
    o->runner = &runner;
    setenv("TAG", "from-env", 1);
    assert_int_equal(bk_bake_read(o, &l), BK_OK);
    unsetenv("TAG");
    assert_int_equal(l.errors.n, error ? 1 : 0);
    if (error)
        assert_non_null(strstr(l.errors.v[0], error));
    d = describe(&l);
    assert_string_equal(d, want);
    free(d);
    bk_buildspec_list_free(&l);
    o->runner = NULL;
}

static void test_bake_json(void **state)
{
    struct bk_strvec files = BK_STRVEC_INIT, targets = BK_STRVEC_INIT, set = BK_STRVEC_INIT;
    struct bk_buildspec_list l = BK_BUILDSPEC_LIST_INIT;
    struct bk_bake_opts o = {&files, NULL, NULL, bake_env, NULL};
    char *d;

    (void)state;
    write_file("docker-bake.json",
               "{\"variable\": {\"TAG\": {\"default\": \"latest\"}, \"V\": {\"default\": \"7\"}},\n"
               " \"group\": {\"default\": {\"targets\": [\"app\", \"all\"]},\n"
               "           \"all\": {\"targets\": [\"tools\", \"app\"]}},\n"
               " \"target\": {\n"
               "  \"base\": {\"context\": \"web\", \"args\": {\"X\": \"1\", \"V\": \"${V}\"}},\n"
               "  \"app\": {\"inherits\": [\"base\"], \"dockerfile\": \"Dockerfile.web\",\n"
               "          \"target\": \"prod\", \"args\": {\"T\": \"${TAG}\"},\n"
               "          \"platforms\": [\"linux/amd64\"]},\n"
               "  \"tools\": {\"context\": \"api\", \"dockerfile-inline\": \"FROM scratch\\n\"}\n"
               "}}\n");
    bk_strvec_pushf(&files, "%s/docker-bake.json", g_tmp);
    assert_int_equal(bk_bake_read(&o, &l), BK_OK);
    assert_int_equal(l.errors.n, 0);
    d = describe(&l);
    assert_string_equal(d, "app ctx=web df=/Dockerfile.web inline=no target=prod "
                           "args=T=from-env,V=7,X=1 platforms=linux/amd64\n"
                           "tools ctx=api df=- inline=yes target=- args= platforms=\n");
    free(d);
    bk_buildspec_list_free(&l);

    bake_via_buildx(&o,
                    "app ctx=web df=/Dockerfile.web inline=no target=prod "
                    "args=T=from-env,V=7,X=1 platforms=linux/amd64\n"
                    "tools ctx=api df=- inline=yes target=- args= platforms=\n",
                    NULL);

    /* named targets, one unknown; --set overrides */
    bk_strvec_push(&targets, "nosuch");
    bk_strvec_push(&targets, "app");
    bk_strvec_push(&set, "app.args.X=2");
    bk_strvec_push(&set, "*.platform=linux/arm64,linux/amd64");
    bk_strvec_push(&set, "a?p.target=debug");
    o.targets = &targets;
    o.set = &set;
    assert_int_equal(bk_bake_read(&o, &l), BK_OK);
    assert_int_equal(l.errors.n, 1);
    assert_non_null(strstr(l.errors.v[0], "docker-bake.json: target nosuch: no such target"));
    d = describe(&l);
    assert_string_equal(d, "app ctx=web df=/Dockerfile.web inline=no target=debug "
                           "args=T=from-env,V=7,X=2 platforms=linux/arm64,linux/amd64\n");
    free(d);
    bk_buildspec_list_free(&l);
    bake_via_buildx(&o,
                    "app ctx=web df=/Dockerfile.web inline=no target=debug "
                    "args=T=from-env,V=7,X=2 platforms=linux/arm64,linux/amd64\n",
                    "docker-bake.json: target nosuch: failed to find");

    /* HCL without buildx */
    write_file("docker-bake.hcl", "target \"app\" {}\n");
    free(files.v[0]);
    files.v[0] = bk_xasprintf("%s/docker-bake.hcl", g_tmp);
    o.targets = NULL;
    o.set = NULL;
    assert_int_equal(bk_bake_read(&o, &l), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "docker-bake.hcl: an HCL bake file needs"));
    bk_buildspec_list_free(&l);
    bk_strvec_clear(&files);
    bk_strvec_clear(&targets);
    bk_strvec_clear(&set);
}

static void test_dotenv(void **state)
{
    struct bk_strvec v = BK_STRVEC_INIT;
    char *p = bk_xasprintf("%s/e.env", g_tmp), *j;

    (void)state;
    write_file("e.env",
               "# c\n\nA=1\nexport B = two \nC='x # y'\nD=\"l1\\nl2\"\nE=v # note\nnoeq\n");
    assert_int_equal(bk_dotenv_read(p, 0, &v), BK_OK);
    j = bk_strvec_join(&v, "|");
    assert_string_equal(j, "A=1|B=two|C=x # y|D=l1\nl2|E=v");
    free(j);
    bk_strvec_clear(&v);
    free(p);
    assert_int_equal(bk_dotenv_read("/nonexistent/.env", 1, &v), BK_OK);
    assert_int_equal(v.n, 0);
    assert_int_equal(bk_dotenv_read("/nonexistent/.env", 0, &v), BK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interpolate),
        cmocka_unit_test(test_yaml),
        cmocka_unit_test(test_corpus_builtin),
        cmocka_unit_test(test_corpus_against_compose),
        cmocka_unit_test_setup_teardown(test_compose_bad_services, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_bake_json, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_dotenv, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
