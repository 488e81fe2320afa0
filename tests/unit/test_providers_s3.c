/*
 * test_providers_s3.c - the s3 provider's offline pieces: configuration
 * precedence and errors, object URLs, SigV4 against AWS's published
 * examples, the list-response XML reader and timestamps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/error.h"
#include "core/util/strvec.h"
#include "providers/provider.h"
#include "tests/unit/support/provider_config.h"
#include "providers/s3.h"

#include <stdlib.h>
#include <string.h>

static const char *const k_creds[] = {"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=SECRET",
                                      NULL};

static int parse(const char *store, const char *const *env, const char *const *attrs,
                 struct s3_config *c)
{
    struct bk_test_config t;
    bk_test_config_init(&t, store, env, attrs);
    int rc = s3_parse_config(&t.cfg, c);
    bk_test_config_release(&t);
    return rc;
}

static void test_config_defaults_to_aws(void **state)
{
    struct s3_config c;
    assert_int_equal(parse("s3://my-bucket/ci/cache/", k_creds, NULL, &c), 0);
    assert_string_equal(c.bucket, "my-bucket");
    assert_string_equal(c.prefix, "ci/cache/");
    assert_string_equal(c.region, "us-east-1");
    assert_string_equal(c.endpoint, "https://s3.us-east-1.amazonaws.com");
    assert_int_equal(c.path_style, 0);
    assert_null(c.session_token);
    assert_true(c.part_size == S3_DEFAULT_PART_SIZE);
    assert_int_equal(c.parallel, S3_DEFAULT_PARALLEL);
    assert_int_equal(c.list_page, 1000);
    char *u = s3_object_url(&c, "ci/cache/a b+c.tar.zst");
    assert_string_equal(u,
                        "https://my-bucket.s3.us-east-1.amazonaws.com/ci/cache/a%20b%2Bc.tar.zst");
    free(u);
    s3_config_release(&c);

    assert_int_equal(parse("s3://b", k_creds, NULL, &c), 0);
    assert_string_equal(c.prefix, "");
    s3_config_release(&c);
}

static void test_config_precedence(void **state)
{
    const char *const env[] = {"AWS_ACCESS_KEY_ID=AKID",
                               "AWS_SECRET_ACCESS_KEY=SECRET",
                               "AWS_SESSION_TOKEN=TOKEN",
                               "AWS_DEFAULT_REGION=eu-west-1",
                               "AWS_REGION=eu-central-1",
                               "AWS_ENDPOINT_URL=http://env:9000/",
                               NULL};
    struct s3_config c;
    assert_int_equal(parse("s3://b/p", env, NULL, &c), 0);
    assert_string_equal(c.region, "eu-central-1");
    assert_string_equal(c.endpoint, "http://env:9000");
    assert_int_equal(c.path_style, 1);
    assert_string_equal(c.session_token, "TOKEN");
    char *u = s3_object_url(&c, NULL);
    assert_string_equal(u, "http://env:9000/b/");
    free(u);
    s3_config_release(&c);

    const char *const attrs[] = {"endpoint=https://minio.local",
                                 "region=r1",
                                 "path-style=false",
                                 "part-size=8M",
                                 "parallel=3",
                                 NULL};
    assert_int_equal(parse("s3://b/p", env, attrs, &c), 0);
    assert_string_equal(c.endpoint, "https://minio.local");
    assert_string_equal(c.region, "r1");
    assert_int_equal(c.path_style, 0);
    assert_true(c.part_size == 8ull << 20);
    assert_int_equal(c.parallel, 3);
    u = s3_object_url(&c, "p/k");
    assert_string_equal(u, "https://b.minio.local/p/k");
    free(u);
    s3_config_release(&c);

    /* a dotted bucket cannot be a TLS host name: path style */
    assert_int_equal(parse("s3://my.bucket", k_creds, NULL, &c), 0);
    assert_int_equal(c.path_style, 1);
    s3_config_release(&c);
}

static void test_config_errors_name_the_culprit(void **state)
{
    struct s3_config c;
    const char *const no_secret[] = {"AWS_ACCESS_KEY_ID=AKID", NULL};
    const char *const empty_key[] = {"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=S", NULL};

    assert_int_equal(parse("gs://b", k_creds, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "s3://BUCKET"));
    assert_int_equal(parse("s3://", k_creds, NULL, &c), BK_EINVAL);
    assert_int_equal(parse("s3://Bad_Bucket!", k_creds, NULL, &c), BK_EINVAL);
    assert_int_equal(parse("s3://b", no_secret, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "AWS_SECRET_ACCESS_KEY"));
    assert_int_equal(parse("s3://b", empty_key, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "AWS_ACCESS_KEY_ID"));

    const char *const small[] = {"part-size=1M", NULL};
    assert_int_equal(parse("s3://b", k_creds, small, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "part-size"));
    const char *const style[] = {"path-style=maybe", NULL};
    assert_int_equal(parse("s3://b", k_creds, style, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "path-style"));
    const char *const ep[] = {"endpoint=minio:9000", NULL};
    assert_int_equal(parse("s3://b", k_creds, ep, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "minio:9000"));
}

/* ---- SigV4: the examples of the S3 API reference ("Signature Calculations
 * for the Authorization Header"), key AKIAIOSFODNN7EXAMPLE ---- */

static const struct s3_sigv4 k_example = {
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL, "us-east-1", "s3"};

static const char *auth_of(const struct bk_strvec *h)
{
    for (size_t i = 0; i < h->n; i++)
        if (strncmp(h->v[i], "Authorization: ", 15) == 0)
            return h->v[i] + 15;
    return NULL;
}

static void test_sigv4_get_object_example(void **state)
{
    struct bk_strvec h = BK_STRVEC_INIT;
    bk_strvec_push(&h, "Range: bytes=0-9");
    assert_int_equal(s3_sigv4_sign(&k_example, "GET",
                                   "https://examplebucket.s3.amazonaws.com/test.txt", 0, &h,
                                   "20130524T000000Z"),
                     0);
    assert_string_equal(
        auth_of(&h), "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                     "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                     "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    bk_strvec_clear(&h);
}

static void test_sigv4_query_examples(void **state)
{
    struct bk_strvec h = BK_STRVEC_INIT;
    /* GET Bucket lifecycle: a subresource without a value */
    assert_int_equal(s3_sigv4_sign(&k_example, "GET",
                                   "https://examplebucket.s3.amazonaws.com/?lifecycle", 0, &h,
                                   "20130524T000000Z"),
                     0);
    assert_non_null(strstr(
        auth_of(&h), "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"));
    bk_strvec_clear(&h);
    /* GET Bucket (list objects): parameters are sorted */
    assert_int_equal(s3_sigv4_sign(&k_example, "GET",
                                   "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2", 0,
                                   &h, "20130524T000000Z"),
                     0);
    assert_non_null(strstr(
        auth_of(&h), "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
    bk_strvec_clear(&h);
}

static void test_sigv4_adds_token_and_payload_mode(void **state)
{
    struct s3_sigv4 k = k_example;
    struct bk_strvec h = BK_STRVEC_INIT;
    k.session_token = "SESSION/TOKEN";
    assert_int_equal(s3_sigv4_sign(&k, "PUT", "http://127.0.0.1:9000/b/k", 10, &h, NULL), 0);
    assert_true(bk_strvec_find(&h, "x-amz-security-token: SESSION/TOKEN") >= 0);
    assert_true(bk_strvec_find(&h, "x-amz-content-sha256: UNSIGNED-PAYLOAD") >= 0);
    assert_non_null(strstr(auth_of(&h), "SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                                        "x-amz-security-token,"));
    bk_strvec_clear(&h);
}

static void test_uri_encode(void **state)
{
    char *a = s3_uri_encode("a/b c~d=é", strlen("a/b c~d=é"), 1);
    char *b = s3_uri_encode("a/b", 3, 0);
    assert_string_equal(a, "a/b%20c~d%3D%C3%A9");
    assert_string_equal(b, "a%2Fb");
    free(a);
    free(b);
}

/* ---- XML and time ---- */

static void test_xml_list_page(void **state)
{
    const char *doc =
        "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated>"
        "<Contents><Key>p/a&amp;b&#x9;&#233;\xc3\xa9.tar.zst</Key><Size>12</Size></Contents>"
        "<Contents><Key>p/c</Key><Size/></Contents>"
        "<NextContinuationToken>t&lt;1&gt;</NextContinuationToken></ListBucketResult>";
    struct s3_xml_span all = {doc, strlen(doc)}, item;
    size_t pos = 0;
    char *t = s3_xml_text(&all, "NextContinuationToken");
    assert_string_equal(t, "t<1>");
    free(t);
    assert_true(s3_xml_next(doc, strlen(doc), &pos, "Contents", &item));
    t = s3_xml_text(&item, "Key");
    assert_string_equal(t, "p/a&b\t&#233;\xc3\xa9.tar.zst");
    free(t);
    assert_true(s3_xml_next(doc, strlen(doc), &pos, "Contents", &item));
    t = s3_xml_text(&item, "Size");
    assert_string_equal(t, "");
    free(t);
    assert_null(s3_xml_text(&item, "ETag"));
    assert_false(s3_xml_next(doc, strlen(doc), &pos, "Contents", &item));
}

static void test_parse_time(void **state)
{
    assert_true(s3_parse_time("2009-10-12T17:50:30.000Z") == 1255369830);
    assert_true(s3_parse_time("Mon, 12 Oct 2009 17:50:30 GMT") == 1255369830);
    assert_true(s3_parse_time("yesterday") == 0);
    assert_true(s3_parse_time(NULL) == 0);
}

static void test_registered(void **state)
{
    assert_non_null(bk_provider_find("s3"));
    assert_ptr_equal(bk_provider_for_store("s3://b/p"), bk_provider_find("s3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_to_aws),
        cmocka_unit_test(test_config_precedence),
        cmocka_unit_test(test_config_errors_name_the_culprit),
        cmocka_unit_test(test_sigv4_get_object_example),
        cmocka_unit_test(test_sigv4_query_examples),
        cmocka_unit_test(test_sigv4_adds_token_and_payload_mode),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_xml_list_page),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_registered),
    };
    return cmocka_run_group_tests_name("providers/s3", tests, NULL, NULL);
}
