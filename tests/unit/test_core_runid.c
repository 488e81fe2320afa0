/*
 * test_core_runid.c - the run part of saved keys (core/plan/runid.c): which
 * variable wins, what each CI's part looks like, the clock fallback, and
 * bad explicit ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/plan/runid.h"
#include "core/util/error.h"

#include <string.h>

static const char *const *g_env;

static const char *fake_env(const char *name)
{
    for (size_t i = 0; g_env && g_env[i]; i += 2)
        if (strcmp(g_env[i], name) == 0)
            return g_env[i + 1];
    return NULL;
}

/* The run part for `env` (name, value pairs, NULL-terminated). */
static struct bk_run_part detect(const char *override, const char *const *env)
{
    struct timespec now = {1796579590, 123456789}; /* 2026-12-06 17:53:10 UTC */
    struct bk_run_part r;
    g_env = env;
    assert_int_equal(bk_run_part_detect(override, fake_env, &now, 4242, &r), BK_OK);
    return r;
}

static void test_each_ci(void **state)
{
    const char *gh[] = {"GITHUB_RUN_ID", "7712345678", "GITHUB_RUN_ATTEMPT", "2", NULL};
    const char *gh1[] = {"GITHUB_RUN_ID", "77", NULL};
    const char *az[] = {"BUILD_BUILDID", "901", NULL};
    const char *az2[] = {"BUILD_BUILDID", "901", "SYSTEM_JOBATTEMPT", "3", NULL};
    const char *gl[] = {"CI_PIPELINE_ID", "55", "CI_JOB_ID", "5501", NULL};
    struct bk_run_part r;
    (void)state;

    r = detect(NULL, gh);
    assert_string_equal(r.text, "gh7712345678.2");
    assert_string_equal(r.source, "GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT");
    assert_string_equal(detect(NULL, gh1).text, "gh77.1"); /* no attempt: the first */
    r = detect(NULL, az);
    assert_string_equal(r.text, "az901");
    assert_string_equal(r.source, "BUILD_BUILDID");
    assert_string_equal(detect(NULL, az2).text, "az901.3"); /* a re-run job */
    r = detect(NULL, gl);
    assert_string_equal(r.text, "gl55.5501");
    assert_string_equal(r.source, "CI_PIPELINE_ID, CI_JOB_ID");
}

static void test_order_and_fallback(void **state)
{
    const char *all[] = {
        "BKCACHE_RUN_ID", "nightly-3", "GITHUB_RUN_ID", "1", "BUILD_BUILDID", "2", NULL};
    const char *bad_ci[] = {"GITHUB_RUN_ID", "12x", "CI_PIPELINE_ID", "5", NULL};
    struct bk_run_part r;
    (void)state;

    r = detect("mine", all); /* --run-id first */
    assert_string_equal(r.text, "mine");
    assert_string_equal(r.source, "--run-id");
    r = detect(NULL, all);
    assert_string_equal(r.text, "nightly-3");
    assert_string_equal(r.source, "BKCACHE_RUN_ID");
    /* a non-numeric id and a pipeline without its job are ignored: the clock */
    r = detect(NULL, bad_ci);
    assert_string_equal(r.text, "t20261206T175310.123456-p4242");
    assert_non_null(strstr(r.source, "clock"));
}

static void test_bad_explicit_ids(void **state)
{
    const char *env[] = {"BKCACHE_RUN_ID", "a/b", NULL};
    struct timespec now = {0, 0};
    struct bk_run_part r;
    char longid[80];
    (void)state;

    g_env = env;
    assert_int_equal(bk_run_part_detect(NULL, fake_env, &now, 1, &r), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "BKCACHE_RUN_ID"));
    assert_non_null(strstr(bk_error_msg(), "'/'"));
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(bk_run_part_detect(longid, fake_env, &now, 1, &r), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "--run-id"));
    assert_int_equal(bk_run_part_detect("", fake_env, &now, 1, &r), BK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_ci),
        cmocka_unit_test(test_order_and_fallback),
        cmocka_unit_test(test_bad_explicit_ids),
    };
    return cmocka_run_group_tests_name("core_runid", tests, NULL, NULL);
}
