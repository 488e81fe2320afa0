/*
 * test_providers_github.c - the GitHub provider's pure parts: configuration
 * from the runner's environment and attributes, the service choice, the
 * version string (vectors from the spec, §3.6), the key rules and detect().
 * The network side is tested against the emulator (make test-github).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/error.h"
#include "providers/github_common.h"
#include "providers/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const *g_env;

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; g_env && g_env[i]; i += 2)
        if (strcmp(g_env[i], name) == 0)
            return g_env[i + 1];
    return NULL;
}

static struct bk_provider_config config(const char *const *env, struct bk_strvec *attrs)
{
    struct bk_provider_config c = {.store = NULL, .attrs = attrs, .getenv = fake_getenv};
    g_env = env;
    return c;
}

static const char *const k_runner_v2[] = {
    "GITHUB_ACTIONS",
    "true",
    "ACTIONS_RESULTS_URL",
    "https://results-receiver.actions.githubusercontent.com/some/path",
    "ACTIONS_CACHE_URL",
    "https://artifactcache.actions.githubusercontent.com/abc",
    "ACTIONS_RUNTIME_TOKEN",
    "tok-123456",
    "ACTIONS_CACHE_SERVICE_V2",
    "True",
    NULL,
};

static void test_config_v2_from_runner_env(void **state)
{
    struct bk_provider_config cfg = config(k_runner_v2, NULL);
    struct github_config c;

    assert_int_equal(github_parse_config(&cfg, &c), BK_OK);
    assert_int_equal(c.v2, 1);
    /* the official client resolves /twirp/... against the URL: the path is dropped */
    assert_string_equal(c.url, "https://results-receiver.actions.githubusercontent.com/");
    assert_string_equal(c.token, "tok-123456");
    assert_string_equal(c.compression, "zstd-without-long");
    assert_null(c.version);
    github_config_release(&c);
}

static void test_config_v1_and_ghes(void **state)
{
    static const char *const v1[] = {
        "ACTIONS_CACHE_URL",
        "https://cache.example.test/tenant",
        "ACTIONS_RUNTIME_TOKEN",
        "t0ken",
        NULL,
    };
    static const char *const ghes[] = {
        "GITHUB_SERVER_URL",
        "https://ghe.corp.test",
        "ACTIONS_CACHE_SERVICE_V2",
        "true",
        "ACTIONS_CACHE_URL",
        "https://cache.corp.test/",
        "ACTIONS_RESULTS_URL",
        "https://r.test/",
        "ACTIONS_RUNTIME_TOKEN",
        "t0ken",
        NULL,
    };
    struct bk_provider_config cfg = config(v1, NULL);
    struct github_config c;

    assert_int_equal(github_parse_config(&cfg, &c), BK_OK);
    assert_int_equal(c.v2, 0);
    assert_string_equal(c.url, "https://cache.example.test/tenant/"); /* slash appended */
    github_config_release(&c);

    cfg = config(ghes, NULL);
    assert_int_equal(github_parse_config(&cfg, &c), BK_OK);
    assert_int_equal(c.v2, 0); /* GHES forces v1 whatever ACTIONS_CACHE_SERVICE_V2 says */
    assert_string_equal(c.url, "https://cache.corp.test/");
    github_config_release(&c);
}

static void test_config_attrs_override(void **state)
{
    struct bk_strvec attrs = BK_STRVEC_INIT;
    static const char *const env[] = {
        "ACTIONS_RESULTS_URL",
        "https://r.test/",
        "ACTIONS_CACHE_SERVICE_V2",
        "1",
        "ACTIONS_RUNTIME_TOKEN",
        "runner-token",
        "MY_TOKEN",
        "other-token",
        NULL,
    };
    bk_strvec_push(&attrs, "service=v1");
    bk_strvec_push(&attrs, "url=http://127.0.0.1:8080/base");
    bk_strvec_push(&attrs, "token-env=MY_TOKEN");
    bk_strvec_push(&attrs, "path=~/.npm");
    bk_strvec_push(&attrs, "path=other");
    bk_strvec_push(&attrs, "compression=gzip");
    bk_strvec_push(&attrs, "block-size=8M");
    bk_strvec_push(&attrs, "range-size=2M");
    bk_strvec_push(&attrs, "parallel=4");
    struct bk_provider_config cfg = config(env, &attrs);
    struct github_config c;

    assert_int_equal(github_parse_config(&cfg, &c), BK_OK);
    assert_int_equal(c.v2, 0);
    assert_string_equal(c.url, "http://127.0.0.1:8080/base/");
    assert_string_equal(c.token, "other-token");
    assert_int_equal(c.paths.n, 2);
    assert_string_equal(c.paths.v[0], "~/.npm");
    assert_string_equal(c.compression, "gzip");
    assert_true(c.blob.block_size == 8u << 20);
    assert_true(c.blob.range_size == 2u << 20);
    assert_int_equal(c.blob.parallel, 4);
    github_config_release(&c);
    bk_strvec_clear(&attrs);
}

static void test_config_errors_name_the_culprit(void **state)
{
    struct bk_strvec attrs = BK_STRVEC_INIT;
    static const char *const no_token[] = {"ACTIONS_RESULTS_URL", "https://r.test/",
                                           "ACTIONS_CACHE_SERVICE_V2", "1", NULL};
    static const char *const no_url[] = {"ACTIONS_RUNTIME_TOKEN", "t0ken",
                                         "ACTIONS_CACHE_SERVICE_V2", "1", NULL};
    struct bk_provider_config cfg = config(no_token, NULL);
    struct github_config c;

    assert_int_equal(github_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "ACTIONS_RUNTIME_TOKEN"));
    cfg = config(no_url, NULL);
    assert_int_equal(github_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "ACTIONS_RESULTS_URL"));

    const char *bad[] = {"parallel=0",      "block-size=1K", "range-size=9000M", "service=v3",
                         "compression=lz4", "version=xyz",   "url=ftp://x/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bk_strvec_clear(&attrs);
        bk_strvec_push(&attrs, bad[i]);
        cfg = config(k_runner_v2, &attrs);
        assert_int_equal(github_parse_config(&cfg, &c), BK_EINVAL);
        char name[32];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(bad[i], "="), bad[i]);
        if (strcmp(name, "url") != 0)
            assert_non_null(strstr(bk_error_msg(), name));
    }
    bk_strvec_clear(&attrs);
}

/* The version for `attrs` (NULL-terminated) and `identity` must be `want`. */
static void assert_version(const char *const *attrs, const char *identity, const char *want)
{
    struct bk_strvec av = BK_STRVEC_INIT;
    struct github_config c;
    struct bk_provider_config cfg;
    char *v;

    for (size_t i = 0; attrs[i]; i++)
        bk_strvec_push(&av, attrs[i]);
    cfg = config(k_runner_v2, &av);
    assert_int_equal(github_parse_config(&cfg, &c), BK_OK);
    v = github_version(&c, identity);
    assert_string_equal(v, want);
    free(v);
    github_config_release(&c);
    bk_strvec_clear(&av);
}

static void test_version_vectors(void **state)
{
    static const char *const data[] = {"path=data", NULL};
    static const char *const npm_gzip[] = {"path=~/.npm", "compression=gzip", NULL};
    static const char *const two[] = {"path=path/a", "path=path/b", NULL};
    static const char *const none[] = {NULL};
    static const char *const fixed[] = {"version=ABCDEF01", NULL};

    assert_version(data, "ignored-identity",
                   "3ad75f27293d65a135214b8c82b296080f911dc107e52f1e7ec871a2eda46e69");
    assert_version(npm_gzip, NULL,
                   "9e0ba804245d8292e3d31c4651caa1d2c2e10e81739c3a6224daf431cd079309");
    assert_version(two, NULL, "18705739bd55bf92089cab50a54b337a20e2dd8e5da5c02d0dac7c4c90b8fa05");
    /* no paths: the identity stands in for them; ~/.npm gives the spec's vector */
    assert_version(none, "~/.npm",
                   "c242501c19ada3dcced7a83b074ccb8e79f816602d4125493924624b38591de2");
    assert_version(fixed, "x", "ABCDEF01");
}

static void test_key_rules(void **state)
{
    char long_key[1200];
    const char *restore[10] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};

    assert_int_equal(github_check_keys("npm-Linux-abc", restore, 9), BK_OK);
    assert_int_equal(github_check_keys("npm-Linux-abc", restore, 10), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "at most 10"));
    assert_int_equal(github_check_keys("a,b", NULL, 0), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "comma"));
    assert_int_equal(github_check_keys("", NULL, 0), BK_EINVAL);
    const char *bad_restore[] = {"ok", "x,y"};
    assert_int_equal(github_check_keys("k", bad_restore, 2), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "x,y"));

    memset(long_key, 'k', 512);
    long_key[512] = '\0';
    assert_int_equal(github_check_keys(long_key, NULL, 0), BK_OK);
    long_key[512] = 'k';
    long_key[513] = '\0';
    assert_int_equal(github_check_keys(long_key, NULL, 0), BK_EINVAL);
    /* 256 characters outside the BMP are 512 UTF-16 units; 2-byte UTF-8 counts once */
    long_key[0] = '\0';
    for (int i = 0; i < 256; i++)
        strcat(long_key, "\xF0\x9F\x98\x80");
    assert_int_equal(github_check_keys(long_key, NULL, 0), BK_OK);
    strcat(long_key, "k");
    assert_int_equal(github_check_keys(long_key, NULL, 0), BK_EINVAL);
}

static void test_is_ghes(void **state)
{
    assert_false(github_is_ghes(NULL));
    assert_false(github_is_ghes("https://github.com"));
    assert_false(github_is_ghes("https://GitHub.com/"));
    assert_false(github_is_ghes("https://acme.ghe.com"));
    assert_false(github_is_ghes("http://cache.localhost:3000"));
    assert_true(github_is_ghes("https://ghe.corp.test"));
    assert_true(github_is_ghes("http://127.0.0.1"));
}

static void test_detect_and_registry(void **state)
{
    static const char *const no_token[] = {"GITHUB_ACTIONS", "true", "ACTIONS_RESULTS_URL",
                                           "https://r.test/", NULL};
    const struct bk_provider_ops *ops = bk_provider_find("github");
    struct bk_provider_config cfg;

    assert_non_null(ops);
    assert_non_null(ops->list); /* through the REST API, with a token (extra_caps) */
    assert_non_null(ops->remove);
    assert_false(ops->caps & (BK_CAP_LIST | BK_CAP_DELETE));
    assert_true(ops->caps & BK_CAP_IMMUTABLE_KEYS);
    assert_true(ops->caps & BK_CAP_BRANCH_SCOPED);
    cfg = config(k_runner_v2, NULL);
    assert_true(ops->detect(&cfg));
    assert_ptr_equal(bk_provider_detect(&cfg), ops);
    cfg = config(no_token, NULL); /* a plain run: step: no token, so not usable */
    assert_false(ops->detect(&cfg));
}

/* The REST API for list and delete: all of token, API URL and repository, or none. */
static void test_rest_api_config(void **state)
{
    static const char *const with_api[] = {"ACTIONS_RESULTS_URL",
                                           "https://r.test/",
                                           "ACTIONS_RUNTIME_TOKEN",
                                           "tok-1",
                                           "ACTIONS_CACHE_SERVICE_V2",
                                           "true",
                                           "GITHUB_TOKEN",
                                           "ghs-secret",
                                           "GITHUB_API_URL",
                                           "https://api.test/",
                                           "GITHUB_REPOSITORY",
                                           "octo/app",
                                           NULL};
    static const char *const no_repo[] = {"ACTIONS_RESULTS_URL",
                                          "https://r.test/",
                                          "ACTIONS_RUNTIME_TOKEN",
                                          "tok-1",
                                          "ACTIONS_CACHE_SERVICE_V2",
                                          "true",
                                          "GITHUB_TOKEN",
                                          "ghs-secret",
                                          "GITHUB_API_URL",
                                          "https://api.test",
                                          NULL};
    struct bk_strvec attrs = BK_STRVEC_INIT;
    const struct bk_provider_ops *ops = bk_provider_find("github");
    struct bk_provider_config cfg = config(with_api, NULL);
    struct bk_provider *p = NULL;
    struct github_config c;
    char out[64];

    assert_int_equal(github_parse_config(&cfg, &c), BK_OK);
    assert_string_equal(c.api_url, "https://api.test");
    assert_string_equal(c.repository, "octo/app");
    assert_string_equal(c.api_token, "ghs-secret");
    github_config_release(&c);
    /* the instance can list and delete, and the API token is a secret */
    assert_int_equal(ops->create(&cfg, &p), BK_OK);
    assert_int_equal(ops->extra_caps(p), BK_CAP_LIST | BK_CAP_DELETE);
    bk_log_redact("token ghs-secret", out, sizeof(out));
    assert_string_equal(out, "token ***");
    ops->destroy(p);
    bk_log_clear_secrets();

    /* without a repository: no REST API, so no list or delete */
    cfg = config(no_repo, NULL);
    assert_int_equal(github_parse_config(&cfg, &c), BK_OK);
    assert_null(c.api_token);
    github_config_release(&c);
    assert_int_equal(ops->create(&cfg, &p), BK_OK);
    assert_int_equal(ops->extra_caps(p), 0);
    assert_int_equal(ops->list(p, NULL, NULL), BK_EDENIED);
    assert_non_null(strstr(bk_error_msg(), "GITHUB_TOKEN"));
    ops->destroy(p);
    bk_log_clear_secrets();

    /* attributes name another variable and repository; a bad API URL is exit 2 */
    bk_strvec_push(&attrs, "api-token-env=MY_PAT");
    bk_strvec_push(&attrs, "repository=acme/tool");
    bk_strvec_push(&attrs, "api-url=ftp://x");
    cfg = config(no_repo, &attrs);
    assert_int_equal(github_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "ftp://x"));
    bk_strvec_clear(&attrs);
}

static void test_create_registers_the_token(void **state)
{
    struct bk_provider_config cfg = config(k_runner_v2, NULL);
    const struct bk_provider_ops *ops = bk_provider_find("github");
    struct bk_provider *p = NULL;
    char out[128];

    assert_int_equal(ops->create(&cfg, &p), BK_OK);
    assert_ptr_equal(p->ops, ops);
    bk_log_redact("Bearer tok-123456", out, sizeof(out));
    assert_string_equal(out, "Bearer ***");
    /* key rules apply before any request: this must not touch the network */
    struct bk_lookup q = {.key = "a,b"};
    struct bk_provider_entry e = {0};
    assert_int_equal(ops->lookup(p, &q, &e), BK_EINVAL);
    ops->destroy(p);
    bk_log_clear_secrets();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_v2_from_runner_env),
        cmocka_unit_test(test_config_v1_and_ghes),
        cmocka_unit_test(test_config_attrs_override),
        cmocka_unit_test(test_config_errors_name_the_culprit),
        cmocka_unit_test(test_version_vectors),
        cmocka_unit_test(test_key_rules),
        cmocka_unit_test(test_rest_api_config),
        cmocka_unit_test(test_is_ghes),
        cmocka_unit_test(test_detect_and_registry),
        cmocka_unit_test(test_create_registers_the_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
