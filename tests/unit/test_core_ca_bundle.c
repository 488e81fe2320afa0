/*
 * test_core_ca_bundle.c - core/net/ca_bundle.c: which CA bundle an https
 * request is verified against (SSL_CERT_FILE / SSL_CERT_DIR, libcurl's own,
 * the usual places in order), the one-line error when there is none, and
 * that core/net/http.c refuses an https request with that error before
 * connecting while plain http is left alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/net/ca_bundle.h"
#include "core/net/http.h"
#include "core/util/error.h"
#include "support/archive_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct paths {
    char *base, *a, *b, *missing;
};

static int setup(void **state)
{
    struct paths *p = calloc(1, sizeof(*p));
    p->base = tu_mkdtemp();
    if (asprintf(&p->a, "%s/a.pem", p->base) < 0 || asprintf(&p->b, "%s/b.pem", p->base) < 0 ||
        asprintf(&p->missing, "%s/missing.pem", p->base) < 0)
        return -1;
    tu_write(p->a, "a\n");
    tu_write(p->b, "b\n");
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct paths *p = *state;
    tu_rm_rf(p->base);
    free(p->base);
    free(p->a);
    free(p->b);
    free(p->missing);
    free(p);
    return 0;
}

static void test_environment_comes_first(void **state)
{
    struct paths *p = *state;
    const char *cands[] = {p->b, NULL};
    struct bk_ca_bundle ca;

    assert_int_equal(bk_ca_bundle_pick(p->a, NULL, p->b, cands, &ca), 0);
    assert_string_equal(ca.file, p->a);
    assert_null(ca.dir);

    /* SSL_CERT_DIR alone: that directory, and no file of ours */
    assert_int_equal(bk_ca_bundle_pick("", p->base, p->b, cands, &ca), 0);
    assert_null(ca.file);
    assert_string_equal(ca.dir, p->base);
}

static void test_unreadable_environment_file_is_an_error(void **state)
{
    struct paths *p = *state;
    const char *cands[] = {p->b, NULL};
    struct bk_ca_bundle ca;

    assert_int_equal(bk_ca_bundle_pick(p->missing, NULL, NULL, cands, &ca), BK_ERR);
    assert_non_null(strstr(bk_error_msg(), "SSL_CERT_FILE="));
    assert_non_null(strstr(bk_error_msg(), p->missing));
    assert_null(ca.file);
}

static void test_built_in_then_usual_places_in_order(void **state)
{
    struct paths *p = *state;
    const char *cands[] = {p->missing, p->b, p->a, NULL};
    struct bk_ca_bundle ca;

    assert_int_equal(bk_ca_bundle_pick(NULL, NULL, p->a, cands, &ca), 0);
    assert_string_equal(ca.file, p->a);
    /* libcurl's own bundle is absent: the first readable usual place */
    assert_int_equal(bk_ca_bundle_pick(NULL, NULL, p->missing, cands, &ca), 0);
    assert_string_equal(ca.file, p->b);
}

static void test_none_found_says_where_and_what_to_do(void **state)
{
    struct paths *p = *state;
    const char *cands[] = {p->missing, "/nonexistent/ca.pem", NULL};
    struct bk_ca_bundle ca;

    assert_int_equal(bk_ca_bundle_pick(NULL, NULL, NULL, cands, &ca), BK_ERR);
    const char *msg = bk_error_msg();
    assert_non_null(strstr(msg, "no CA certificate bundle found"));
    assert_non_null(strstr(msg, p->missing));
    assert_non_null(strstr(msg, "/nonexistent/ca.pem"));
    assert_non_null(strstr(msg, "set SSL_CERT_FILE"));
    assert_null(strchr(msg, '\n'));
}

/* The lookup is made once per process, so this is the only test that goes
 * through the environment. */
static void test_https_request_fails_before_connecting(void **state)
{
    struct paths *p = *state;
    struct bk_http_request req;
    struct bk_http_response resp = {0};

    setenv("SSL_CERT_FILE", p->missing, 1);
    bk_http_request_init(&req, "GET", "https://127.0.0.1:1/x?sig=secret");
    assert_int_equal(bk_http_do(&req, &resp), BK_ERR);
    assert_non_null(strstr(bk_error_msg(), "GET https://127.0.0.1:1/x: SSL_CERT_FILE="));
    assert_null(strstr(bk_error_msg(), "secret"));

    /* plain http needs no bundle: the failure is the refused connection */
    bk_http_request_init(&req, "GET", "http://127.0.0.1:1/x");
    assert_int_equal(bk_http_do(&req, &resp), BK_ETRANSIENT);
    assert_null(strstr(bk_error_msg(), "SSL_CERT_FILE"));
    bk_http_response_release(&resp);
    unsetenv("SSL_CERT_FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_environment_comes_first),
        cmocka_unit_test(test_unreadable_environment_file_is_an_error),
        cmocka_unit_test(test_built_in_then_usual_places_in_order),
        cmocka_unit_test(test_none_found_says_where_and_what_to_do),
        cmocka_unit_test(test_https_request_fails_before_connecting),
    };
    return cmocka_run_group_tests_name("core_ca_bundle", tests, setup, teardown);
}
