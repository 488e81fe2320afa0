/*
 * test_providers_azblob.c - the azblob provider's offline pieces: store
 * URL and credential sources, their precedence and errors, blob URLs, and
 * the Shared Key signature (pinned to a value computed independently from
 * the documented string to sign).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/error.h"
#include "core/util/strbuf.h"
#include "core/util/strvec.h"
#include "providers/azblob.h"
#include "providers/provider.h"
#include "tests/unit/support/provider_config.h"

#include <stdlib.h>
#include <string.h>

#define DEV_KEY                                                                                    \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static int parse(const char *store, const char *const *env, const char *const *attrs,
                 struct azblob_config *c)
{
    struct bk_test_config t;
    bk_test_config_init(&t, store, env, attrs);
    int rc = azblob_parse_config(&t.cfg, c);
    bk_test_config_release(&t);
    return rc;
}

static void test_account_key_and_defaults(void **state)
{
    const char *const env[] = {"AZURE_STORAGE_ACCOUNT=acct", "AZURE_STORAGE_KEY=" DEV_KEY, NULL};
    struct azblob_config c;
    assert_int_equal(parse("azblob://acct/cache/ci/x/", env, NULL, &c), 0);
    assert_string_equal(c.account, "acct");
    assert_string_equal(c.container, "cache");
    assert_string_equal(c.prefix, "ci/x/");
    assert_string_equal(c.endpoint, "https://acct.blob.core.windows.net");
    assert_string_equal(c.key, DEV_KEY);
    assert_null(c.sas);
    assert_true(c.block_size == AZBLOB_DEFAULT_BLOCK);
    assert_int_equal(c.parallel, AZBLOB_DEFAULT_PARALLEL);
    char *u = azblob_url(&c, "ci/x/a b+é.tar.zst");
    assert_string_equal(u, "https://acct.blob.core.windows.net/cache/ci/x/a%20b%2B%C3%A9.tar.zst");
    free(u);
    azblob_config_release(&c);
}

static void test_connection_string_wins(void **state)
{
    const char *const env[] = {
        "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=dev;"
        "AccountKey=" DEV_KEY ";BlobEndpoint=http://127.0.0.1:10000/dev/;",
        "AZURE_STORAGE_SAS_TOKEN=sv=x&sig=y", NULL};
    struct azblob_config c;
    assert_int_equal(parse("azblob://dev/cache", env, NULL, &c), 0);
    assert_string_equal(c.endpoint, "http://127.0.0.1:10000/dev");
    assert_string_equal(c.key, DEV_KEY);
    assert_null(c.sas);
    assert_string_equal(c.prefix, "");
    azblob_config_release(&c);

    const char *const suffix[] = {"AZURE_STORAGE_CONNECTION_STRING=AccountName=dev;"
                                  "SharedAccessSignature=sv=1&sig=abc;EndpointSuffix=core.example",
                                  NULL};
    const char *const attrs[] = {"endpoint=http://override:1/dev/", "block-size=4M", "parallel=2",
                                 "list-page=10", NULL};
    assert_int_equal(parse("azblob://dev/cache", suffix, NULL, &c), 0);
    assert_string_equal(c.endpoint, "https://dev.blob.core.example");
    assert_string_equal(c.sas, "sv=1&sig=abc");
    char *u = azblob_url(&c, "k");
    assert_string_equal(u, "https://dev.blob.core.example/cache/k?sv=1&sig=abc");
    free(u);
    azblob_config_release(&c);
    assert_int_equal(parse("azblob://dev/cache", suffix, attrs, &c), 0);
    assert_string_equal(c.endpoint, "http://override:1/dev");
    assert_true(c.block_size == 4ull << 20);
    assert_int_equal(c.parallel, 2);
    assert_int_equal(c.list_page, 10);
    azblob_config_release(&c);
}

static void test_sas_token(void **state)
{
    const char *const env[] = {"AZURE_STORAGE_SAS_TOKEN=?sv=2020-12-06&sig=s%2Fig", NULL};
    struct azblob_config c;
    assert_int_equal(parse("azblob://a/cache", env, NULL, &c), 0);
    assert_string_equal(c.sas, "sv=2020-12-06&sig=s%2Fig");
    assert_null(c.key);
    azblob_config_release(&c);
}

static void test_errors_name_the_culprit(void **state)
{
    const char *const none[] = {NULL};
    const char *const key[] = {"AZURE_STORAGE_KEY=" DEV_KEY, NULL};
    const char *const other[] = {"AZURE_STORAGE_ACCOUNT=b", "AZURE_STORAGE_KEY=" DEV_KEY, NULL};
    const char *const conn[] = {"AZURE_STORAGE_CONNECTION_STRING=AccountName=a", NULL};
    struct azblob_config c;

    assert_int_equal(parse("azblob://a/cache", none, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "AZURE_STORAGE_SAS_TOKEN"));
    assert_int_equal(parse("s3://a/cache", key, NULL, &c), BK_EINVAL);
    assert_int_equal(parse("azblob://a", key, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "azblob://ACCOUNT/CONTAINER"));
    assert_int_equal(parse("azblob://a/Ca", key, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "container name"));
    assert_int_equal(parse("azblob://a/cache", other, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "AZURE_STORAGE_ACCOUNT"));
    assert_int_equal(parse("azblob://a/cache", conn, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "AccountKey"));
    const char *const bad[] = {"parallel=0", NULL};
    assert_int_equal(parse("azblob://a/cache", key, bad, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "parallel"));
}

static void test_shared_key_signature(void **state)
{
    struct bk_strvec h = BK_STRVEC_INIT;
    bk_strvec_push(&h, "x-ms-version: 2024-11-04");
    bk_strvec_push(&h, "Range: bytes=0-1023");
    assert_int_equal(azblob_sign_shared_key("devstoreaccount1", DEV_KEY, "GET",
                                            "http://127.0.0.1:10000/devstoreaccount1/bkc/ci/"
                                            "k.tar.zst?comp=list&restype=container&Prefix=a%2Fb",
                                            0, &h, "Fri, 27 Nov 2026 20:00:00 GMT"),
                     0);
    assert_true(bk_strvec_find(&h, "x-ms-date: Fri, 27 Nov 2026 20:00:00 GMT") >= 0);
    assert_true(bk_strvec_find(&h, "Authorization: SharedKey devstoreaccount1:"
                                   "LqKPkMxhgWAhgfUF44J9LhfYxTyc2AZJvg8ddPPMdEY=") >= 0);
    bk_strvec_clear(&h);

    /* the body length is signed: another length, another signature */
    bk_strvec_push(&h, "x-ms-version: 2024-11-04");
    assert_int_equal(azblob_sign_shared_key("devstoreaccount1", DEV_KEY, "PUT",
                                            "http://h/devstoreaccount1/bkc/k", 10, &h,
                                            "Fri, 27 Nov 2026 20:00:00 GMT"),
                     0);
    char *a = bk_xstrdup(h.v[h.n - 1]);
    bk_strvec_clear(&h);
    bk_strvec_push(&h, "x-ms-version: 2024-11-04");
    azblob_sign_shared_key("devstoreaccount1", DEV_KEY, "PUT", "http://h/devstoreaccount1/bkc/k",
                           11, &h, "Fri, 27 Nov 2026 20:00:00 GMT");
    assert_string_not_equal(a, h.v[h.n - 1]);
    free(a);
    bk_strvec_clear(&h);

    assert_int_equal(
        azblob_sign_shared_key("a", "not base64!", "GET", "http://h/a/c/k", 0, &h, NULL),
        BK_EINVAL);
    bk_strvec_clear(&h);
}

static void test_registered(void **state)
{
    assert_non_null(bk_provider_find("azblob"));
    assert_ptr_equal(bk_provider_for_store("azblob://a/c/p"), bk_provider_find("azblob"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_key_and_defaults),
        cmocka_unit_test(test_connection_string_wins),
        cmocka_unit_test(test_sas_token),
        cmocka_unit_test(test_errors_name_the_culprit),
        cmocka_unit_test(test_shared_key_signature),
        cmocka_unit_test(test_registered),
    };
    return cmocka_run_group_tests_name("providers/azblob", tests, NULL, NULL);
}
