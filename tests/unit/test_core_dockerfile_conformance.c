/*
 * test_core_dockerfile_conformance.c - BuildKit's own parser fixtures.
 *
 * Runs the parser over ../shared/testdata/buildkit-parser (BuildKit's
 * frontend/dockerfile/parser test data, see its README):
 *   - testfiles/<case>/Dockerfile must parse, and the dump plus "\n" must
 *     equal testfiles/<case>/result byte for byte;
 *   - testfiles-negative/<case>/Dockerfile must fail with BuildKit's text;
 *   - testfile-line/Dockerfile must give BuildKit's line ranges.
 * The data is found through $SHARED (set by `make test-unit`), else
 * ../shared from the project root; without it the tests are skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/dockerfile/dockerfile.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char g_root[4096];

static int find_fixtures(void)
{
    const char *shared = getenv("SHARED");
    struct stat st;

    snprintf(g_root, sizeof(g_root), "%s/testdata/buildkit-parser",
             shared && *shared ? shared : "../shared");
    return stat(g_root, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted case directories under g_root/sub; returns the count. */
static size_t list_cases(const char *sub, char ***out)
{
    char path[4200];
    DIR *d;
    struct dirent *e;
    size_t n = 0;
    char **v = NULL;

    snprintf(path, sizeof(path), "%s/%s", g_root, sub);
    d = opendir(path);
    assert_non_null(d);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        v = bk_xrealloc(v, (n + 1) * sizeof(*v));
        v[n++] = bk_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(v, n, sizeof(*v), cmp_names);
    *out = v;
    return n;
}

static void free_cases(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Print the first differing line of want/got, diff-style. */
static void show_diff(const char *name, const char *want, const char *got)
{
    int line = 1;
    const char *w = want, *g = got;

    while (*w && *w == *g) {
        if (*w == '\n')
            line++;
        w++, g++;
    }
    while (w > want && w[-1] != '\n')
        w--, g--;
    fprintf(stderr, "%s: dump differs at line %d\n-%.*s\n+%.*s\n", name, line,
            (int)strcspn(w, "\n"), w, (int)strcspn(g, "\n"), g);
}

static void test_positive_fixtures(void **state)
{
    char **cases;
    size_t n, failed = 0;

    (void)state;
    if (!find_fixtures()) {
        fprintf(stderr, "skipped: no fixtures at %s\n", g_root);
        skip();
    }
    n = list_cases("testfiles", &cases);
    assert_true(n >= 33);
    for (size_t i = 0; i < n; i++) {
        char path[4300];
        struct bk_strbuf want = BK_STRBUF_INIT, got = BK_STRBUF_INIT;
        struct bk_dockerfile *df = NULL;

        snprintf(path, sizeof(path), "%s/testfiles/%s/result", g_root, cases[i]);
        assert_int_equal(bk_strbuf_read_file(&want, path), BK_OK);
        snprintf(path, sizeof(path), "%s/testfiles/%s/Dockerfile", g_root, cases[i]);
        if (bk_dockerfile_parse_file(path, &df) != BK_OK) {
            fprintf(stderr, "%s: parse failed: %s\n", cases[i], bk_error_msg());
            failed++;
        } else {
            bk_dockerfile_dump(df, &got);
            bk_strbuf_addch(&got, '\n');
            if (got.len != want.len || memcmp(got.buf, want.buf, got.len) != 0) {
                show_diff(cases[i], want.buf, got.buf);
                failed++;
            }
        }
        bk_dockerfile_free(df);
        bk_strbuf_release(&want);
        bk_strbuf_release(&got);
    }
    free_cases(cases, n);
    assert_int_equal(failed, 0);
}

static const struct {
    const char *name;
    const char *message;
} k_negative[] = {
    {"empty_dockerfile", "file with no instructions"},
    {"env_no_value", "ENV must have two arguments"},
    {"only_comments", "file with no instructions"},
    {"shykes-nested-json",
     "when using JSON array syntax, arrays must be comprised of strings only"},
};

static void test_negative_fixtures(void **state)
{
    char **cases;
    size_t n;

    (void)state;
    if (!find_fixtures()) {
        fprintf(stderr, "skipped: no fixtures at %s\n", g_root);
        skip();
    }
    n = list_cases("testfiles-negative", &cases);
    assert_int_equal(n, sizeof(k_negative) / sizeof(k_negative[0]));
    for (size_t i = 0; i < n; i++) {
        char path[4300];
        const char *msg, *tail;
        struct bk_dockerfile *df = NULL;

        assert_string_equal(cases[i], k_negative[i].name);
        snprintf(path, sizeof(path), "%s/testfiles-negative/%s/Dockerfile", g_root, cases[i]);
        assert_int_equal(bk_dockerfile_parse_file(path, &df), BK_EINVAL);
        assert_null(df);
        msg = bk_error_msg();
        /* "PATH:LINE: message" */
        assert_true(strncmp(msg, path, strlen(path)) == 0);
        tail = strstr(msg + strlen(path), ": ");
        assert_non_null(tail);
        assert_string_equal(tail + 2, k_negative[i].message);
    }
    free_cases(cases, n);
}

static void test_line_numbers(void **state)
{
    char path[4300];
    struct bk_dockerfile *df = NULL;

    (void)state;
    if (!find_fixtures()) {
        fprintf(stderr, "skipped: no fixtures at %s\n", g_root);
        skip();
    }
    snprintf(path, sizeof(path), "%s/testfile-line/Dockerfile", g_root);
    assert_int_equal(bk_dockerfile_parse_file(path, &df), BK_OK);
    assert_int_equal(df->start_line, 5);
    assert_int_equal(df->end_line, 31);
    assert_int_equal(df->nnodes, 3);
    assert_int_equal(df->nodes[0].start_line, 5);
    assert_int_equal(df->nodes[0].end_line, 5);
    assert_int_equal(df->nodes[1].start_line, 11);
    assert_int_equal(df->nodes[1].end_line, 12);
    assert_int_equal(df->nodes[2].start_line, 17);
    assert_int_equal(df->nodes[2].end_line, 31);
    assert_int_equal(df->escape, '\\');
    bk_dockerfile_free(df);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positive_fixtures),
        cmocka_unit_test(test_negative_fixtures),
        cmocka_unit_test(test_line_numbers),
    };
    return cmocka_run_group_tests_name("core/dockerfile conformance", tests, NULL, NULL);
}
