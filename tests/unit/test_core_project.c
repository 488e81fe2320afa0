/*
 * test_core_project.c - bk_project_load() on real Dockerfiles, and the
 * `mounts` / `key` commands' handling of bad input through the CLI.
 *
 * The real Dockerfiles are read from $SHARED/testdata/real-dockerfiles
 * (make test-unit sets SHARED; else ../shared); the test skips when they
 * are absent. The CLI cases run $BKCACHE (set by make test-unit) and skip
 * without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/error.h"
#include "core/cli/project.h"
#include "core/util/strbuf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int load_target(const char *file, const char *target, struct bk_project **out)
{
    struct bk_options o;
    int rc;

    memset(&o, 0, sizeof(o));
    o.file = file;
    o.target = target;
    o.platform = "linux/amd64";
    o.build_args = (struct bk_strvec)BK_STRVEC_INIT;
    o.key_files = (struct bk_strvec)BK_STRVEC_INIT;
    o.key_extra = (struct bk_strvec)BK_STRVEC_INIT;
    rc = bk_project_load(&o, BK_PROJECT_KEYS, out);
    return rc;
}

static void test_real_dockerfiles(void **state)
{
    const char *shared = getenv("SHARED") ? getenv("SHARED") : "../shared";
    char *dir = bk_xasprintf("%s/testdata/real-dockerfiles", shared);
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t files = 0, runs = 0, uses = 0;

    if (!d) {
        printf("skip: %s is absent\n", dir);
        free(dir);
        skip();
    }
    while ((e = readdir(d))) {
        struct bk_project *p = NULL;
        char *file;
        struct stat st;

        if (e->d_name[0] == '.')
            continue;
        file = bk_xasprintf("%s/%s/Dockerfile", dir, e->d_name);
        if (stat(file, &st) != 0) {
            free(file);
            continue;
        }
        files++;
        if (load_target(file, NULL, &p) != 0)
            fail_msg("%s (default target): %s", file, bk_error_msg());
        runs++;
        uses += p->plan->nuses;
        for (size_t s = 0; s < p->plan->nstages; s++) {
            struct bk_project *q = NULL;
            if (!p->plan->stages[s].name)
                continue;
            if (load_target(file, p->plan->stages[s].name, &q) != 0)
                fail_msg("%s --target %s: %s", file, p->plan->stages[s].name, bk_error_msg());
            assert_string_equal(q->plan->stages[q->plan->target].name, p->plan->stages[s].name);
            runs++;
            bk_project_free(q);
        }
        bk_project_free(p);
        free(file);
    }
    closedir(d);
    free(dir);
    printf("real dockerfiles: %zu files, %zu resolutions, %zu mounts in default targets\n", files,
           runs, uses);
    assert_true(files >= 10);
    assert_true(uses > 0);
}

/* ---- the CLI ------------------------------------------------------------- */

struct run {
    int status;
    struct bk_strbuf out, err;
};

static char g_tmp[] = "/tmp/bk-cli-XXXXXX";

/* Run bkcache ARGS in g_tmp with `env` (VAR=VALUE words, may be "") set. */
static void run_cli_env(struct run *r, const char *env, const char *args)
{
    char *cmd = bk_xasprintf("cd %s && env %s \"%s\" %s >out.txt 2>err.txt", g_tmp, env,
                             getenv("BKCACHE"), args);
    char *o = bk_xasprintf("%s/out.txt", g_tmp), *e = bk_xasprintf("%s/err.txt", g_tmp);
    int st = system(cmd);

    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->out = (struct bk_strbuf)BK_STRBUF_INIT;
    r->err = (struct bk_strbuf)BK_STRBUF_INIT;
    assert_int_equal(bk_strbuf_read_file(&r->out, o), 0);
    assert_int_equal(bk_strbuf_read_file(&r->err, e), 0);
    free(cmd);
    free(o);
    free(e);
}

static void run_cli(struct run *r, const char *args)
{
    run_cli_env(r, "", args);
}

static void write_df(const char *name, const char *text)
{
    char *path = bk_xasprintf("%s/%s", g_tmp, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

/* Exit 2, nothing on stdout, one stderr line starting with `prefix` and
 * containing `part`. */
static void expect_bad(const char *args, const char *prefix, const char *part)
{
    for (int k = 0; k < 2; k++) {
        struct run r;
        char *full = bk_xasprintf("%s %s", k ? "key" : "mounts", args);
        run_cli(&r, full);
        if (r.status != 2 || r.out.len != 0 || strncmp(r.err.buf, prefix, strlen(prefix)) != 0 ||
            !strstr(r.err.buf, part) || strchr(r.err.buf, '\n') != r.err.buf + r.err.len - 1)
            fail_msg("bkcache %s: status %d, stdout '%s', stderr '%s'", full, r.status, r.out.buf,
                     r.err.buf);
        bk_strbuf_release(&r.out);
        bk_strbuf_release(&r.err);
        free(full);
    }
}

static int cli_setup(void **state)
{
    if (!getenv("BKCACHE"))
        return 0;
    if (!mkdtemp(g_tmp))
        return -1;
    write_df("good", "FROM alpine AS base\nRUN --mount=type=cache,target=/c true\n"
                     "FROM base AS final\n");
    write_df("heredoc", "FROM alpine\nRUN <<EOF\necho hi\n");
    write_df("sharing", "FROM alpine\nRUN --mount=type=cache,target=/c,sharing=bogus true\n");
    write_df("mode", "FROM alpine\n\nRUN --mount=type=cache,target=/c,mode=99a true\n");
    write_df("uid", "FROM alpine\nRUN --mount=type=cache,target=/c,uid=-1 true\n");
    write_df("from",
             "FROM alpine AS a\nFROM alpine\nRUN --mount=type=cache,target=/c,from=$A true\n");
    {
        struct bk_strbuf df = BK_STRBUF_INIT; /* ARGs doubling 40 times into an id= */
        bk_strbuf_adds(&df, "FROM alpine\nARG A0=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
        for (int i = 1; i <= 40; i++)
            bk_strbuf_addf(&df, "ARG A%d=${A%d}${A%d}\n", i, i - 1, i - 1);
        bk_strbuf_adds(&df, "RUN --mount=type=cache,id=${A40},target=/c true\n");
        write_df("doubling", df.buf);
        bk_strbuf_release(&df);
    }
    return 0;
}

static int cli_teardown(void **state)
{
    if (getenv("BKCACHE")) {
        char *cmd = bk_xasprintf("rm -rf %s", g_tmp);
        if (system(cmd) != 0)
            return -1;
        free(cmd);
    }
    return 0;
}

static void test_cli_bad_input(void **state)
{
    if (!getenv("BKCACHE"))
        skip();
    expect_bad("-f missing", "bkcache: missing", "");
    expect_bad("-f good --target nope", "bkcache: good:", "base, final");
    expect_bad("-f heredoc", "bkcache: heredoc:", "heredoc");
    expect_bad("-f sharing", "bkcache: sharing:2: ", "unsupported sharing value \"bogus\"");
    expect_bad("-f mode", "bkcache: mode:3: ", "invalid value 99a for mode");
    expect_bad("-f uid", "bkcache: uid:2: ", "invalid value -1 for uid");
    expect_bad("-f from", "bkcache: from:3: ", "'from' doesn't support variable expansion");
    expect_bad("-f good --build-arg =x", "bkcache: ", "--build-arg");
    expect_bad("-f doubling", "bkcache: doubling:18: ", "longer than 1048576 bytes");
}

/* -v prints the GitHub service URL; a password in it never reaches stderr. */
static void test_cli_masks_url_password(void **state)
{
    struct run r;
    if (!getenv("BKCACHE"))
        skip();
    run_cli_env(&r,
                "GITHUB_ACTIONS=true ACTIONS_RUNTIME_TOKEN=tok0 "
                "ACTIONS_CACHE_URL=http://user:SECRET@127.0.0.1:9/",
                "plan -v -v --provider github --dir d -f good");
    assert_non_null(strstr(r.err.buf, "service v1 at http://user:***@127.0.0.1:9/"));
    assert_null(strstr(r.err.buf, "SECRET"));
    assert_null(strstr(r.out.buf, "SECRET"));
    bk_strbuf_release(&r.out);
    bk_strbuf_release(&r.err);
}

static void test_cli_good(void **state)
{
    struct run r;
    if (!getenv("BKCACHE"))
        skip();
    run_cli(&r, "mounts -f good --json");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out.buf, "\"stage\":\"base\",\"line\":2,\"id\":\"/c\","
                                      "\"cache_id\":\"//c\",\"target\":\"/c\""));
    assert_int_equal(r.err.len, 0);
    bk_strbuf_release(&r.out);
    bk_strbuf_release(&r.err);
    run_cli(&r, "key -f good --json --key-prefix app");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out.buf, "\"key\":\"app-c-"));
    assert_non_null(strstr(r.out.buf, "\"restore_keys\":["));
    bk_strbuf_release(&r.out);
    bk_strbuf_release(&r.err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_dockerfiles),
        cmocka_unit_test(test_cli_bad_input),
        cmocka_unit_test(test_cli_good),
        cmocka_unit_test(test_cli_masks_url_password),
    };
    return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
