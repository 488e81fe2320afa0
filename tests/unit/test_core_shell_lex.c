/*
 * test_core_shell_lex.c - BuildKit's variable expansion (core/dockerfile/shell_lex.c).
 *
 * Expected values follow BuildKit's lexer behaviour as described in
 * ../shared/specs/dockerfile-cache-mounts.md section 2.6.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/error.h"
#include "core/dockerfile/shell_lex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct bk_vars g_vars = BK_VARS_INIT;

static int setup(void **state)
{
    bk_vars_set(&g_vars, "A", "alpha");
    bk_vars_set(&g_vars, "EMPTY", "");
    bk_vars_set(&g_vars, "P", "/root/.cache/go-build");
    bk_vars_set(&g_vars, "F", "file.tar.gz");
    bk_vars_set(&g_vars, "SP", "a b");
    return 0;
}

static int teardown(void **state)
{
    bk_vars_release(&g_vars);
    return 0;
}

static void expect_esc(const char *word, char esc, const char *want)
{
    char *got = NULL;
    int rc = bk_shell_expand(word, esc, &g_vars, &got);
    if (rc != 0)
        fail_msg("expand(%s) failed: %s", word, bk_error_msg());
    if (strcmp(got, want) != 0)
        fail_msg("expand(%s) = '%s', want '%s'", word, got, want);
    free(got);
}

static void expect(const char *word, const char *want)
{
    expect_esc(word, '\\', want);
}

static void expect_error(const char *word, const char *msg_part)
{
    char *got = NULL;
    int rc = bk_shell_expand(word, '\\', &g_vars, &got);
    if (rc != BK_EINVAL)
        fail_msg("expand(%s) should fail, got '%s'", word, got ? got : "(null)");
    if (!strstr(bk_error_msg(), msg_part))
        fail_msg("expand(%s): message '%s' lacks '%s'", word, bk_error_msg(), msg_part);
    assert_null(got);
}

static void test_plain_names(void **state)
{
    expect("$A", "alpha");
    expect("${A}", "alpha");
    expect("x$A-y", "xalpha-y");
    expect("$Ab", "");
    expect("${A}b", "alphab");
    expect("$UNSET", "");
    expect("a$", "a$");
    expect("$", "$");
    expect("$1x", "x");
    expect("$@$*$#$?$-$$$!$0", "");
    expect("no vars", "no vars");
}

static void test_default_forms(void **state)
{
    expect("${UNSET:-w}", "w");
    expect("${EMPTY:-w}", "w");
    expect("${EMPTY-w}", "");
    expect("${UNSET-w}", "w");
    expect("${A:-w}", "alpha");
    expect("${A:+w}", "w");
    expect("${EMPTY:+w}", "");
    expect("${EMPTY+w}", "w");
    expect("${UNSET+w}", "");
    expect("${A:?boom}", "alpha");
    expect("${EMPTY?boom}", "");
    expect("${UNSET:-$A}", "alpha");
    expect("${UNSET:-${A:+nested}}", "nested");
}

static void test_question_errors(void **state)
{
    expect_error("${UNSET?}", "UNSET: is not allowed to be unset");
    expect_error("${EMPTY:?}", "EMPTY: is not allowed to be empty");
    expect_error("${UNSET:?custom text}", "UNSET: custom text");
}

static void test_patterns(void **state)
{
    expect("${F#*.}", "tar.gz");
    expect("${F##*.}", "gz");
    expect("${F%.*}", "file.tar");
    expect("${F%%.*}", "file");
    expect("${F#nomatch}", "file.tar.gz");
    expect("${P#/root}", "/.cache/go-build");
    expect("${F/./-}", "file-tar.gz");
    expect("${F//./-}", "file-tar-gz");
    expect("${F/t?r/X}", "file.X.gz");
    expect("${F//a*/Z}", "file.tZ");
    expect("${UNSET#x}", "");
    expect("${F#\\*}", "file.tar.gz");
}

static void test_quotes_and_escapes(void **state)
{
    expect("'$A'", "$A");
    expect("\"$A\"", "alpha");
    expect("\"a'b'\"", "a'b'");
    expect("\\$A", "$A");
    expect("a\\ b", "a b");
    expect("\"\\$A\"", "$A");
    expect("\"\\x\"", "\\x");
    expect("x\\", "x");
    expect_esc("`$A", '`', "$A");
    expect_esc("C:\\cache", '`', "C:\\cache");
    expect("$SP", "a b");
}

static void test_syntax_errors(void **state)
{
    expect_error("${}", "bad substitution");
    expect_error("${:x}", "bad substitution");
    expect_error("${{x}", "bad substitution");
    expect_error("${A", "unsupported modifier (\xef\xbf\xbd) in substitution");
    expect_error("${A:-x", "missing '}'");
    expect_error("${A:x}", "unsupported modifier (:x) in substitution");
    expect_error("${A:#x}", "unsupported modifier (:#) in substitution");
    expect_error("'abc", "matching single-quote");
    expect_error("\"abc", "matching double-quote");
    expect_error("${A/x}", "missing '/' in ${}");
    expect_error("${A#\\x}", "invalid escape");
    expect_error("${}", "failed to process \"${}\"");
}

/* ARGs that double at each level, or patterns that backtrack without end,
 * stop with an error instead of taking the machine's memory and time. */
static void test_expansion_is_bounded(void **state)
{
    struct bk_vars v = BK_VARS_INIT;
    char *got = NULL, name[16], word[32];
    int rc = 0, level;

    bk_vars_set(&v, "A0", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    for (level = 1; level <= 40 && rc == 0; level++) {
        snprintf(word, sizeof(word), "${A%d}${A%d}", level - 1, level - 1);
        rc = bk_shell_expand(word, '\\', &v, &got);
        if (rc == 0) {
            snprintf(name, sizeof(name), "A%d", level);
            bk_vars_set(&v, name, got);
            free(got);
        }
    }
    assert_int_equal(rc, BK_EINVAL);
    assert_int_equal(level - 1, 16); /* 32 << 15 is the last word within 1 MiB */
    assert_non_null(strstr(bk_error_msg(), "longer than 1048576 bytes"));
    assert_null(got);

    /* one replacement that would multiply the length: stopped as it grows */
    rc = bk_shell_expand("${A12//?/${A12}}", '\\', &v, &got);
    assert_int_equal(rc, BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "longer than"));

    /* a pattern with many stars that cannot match: bounded in steps */
    rc = bk_shell_expand("${A15%%*x*x*x*x*x*x*y}", '\\', &v, &got);
    assert_int_equal(rc, BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "steps"));
    bk_vars_release(&v);
}

static void test_vars_store(void **state)
{
    struct bk_vars v = BK_VARS_INIT, c = BK_VARS_INIT;
    bk_vars_set(&v, "K", "1");
    bk_vars_set(&v, "L", "2");
    bk_vars_set(&v, "K", "3");
    assert_int_equal(v.n, 2);
    assert_string_equal(v.names[0], "K");
    assert_string_equal(bk_vars_get(&v, "K"), "3");
    assert_null(bk_vars_get(&v, "M"));
    bk_vars_copy(&c, &v);
    bk_vars_set(&v, "K", "4");
    assert_string_equal(bk_vars_get(&c, "K"), "3");
    bk_vars_release(&v);
    bk_vars_release(&c);
    assert_null(bk_vars_get(NULL, "K"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_names),        cmocka_unit_test(test_default_forms),
        cmocka_unit_test(test_question_errors),    cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_quotes_and_escapes), cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_vars_store),         cmocka_unit_test(test_expansion_is_bounded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
