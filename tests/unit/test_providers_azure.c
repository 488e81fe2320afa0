/*
 * test_providers_azure.c - the Azure Pipelines provider's pure parts:
 * azure_parse_config() from predefined variables and --store-opt words,
 * detection, the missing-token message, branch normalisation, logging-command
 * escaping, container references and build timestamps. No network: the
 * requests are covered by `make test-azure` against the emulator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/error.h"
#include "core/util/log.h"
#include "providers/azure_common.h"

#include <stdlib.h>
#include <string.h>

/* The fake environment: NAME=value strings, NULL-terminated. */
static const char *const *g_env;

static const char *fake_getenv(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; g_env && g_env[i]; i++)
        if (strncmp(g_env[i], name, n) == 0 && g_env[i][n] == '=')
            return g_env[i] + n + 1;
    return NULL;
}

static const char *const k_pipeline_env[] = {
    "TF_BUILD=True",
    "SYSTEM_COLLECTIONURI=https://dev.azure.com/fabrikam",
    "SYSTEM_TEAMPROJECT=Fabrikam Fiber",
    "SYSTEM_TEAMPROJECTID=6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c",
    "SYSTEM_DEFINITIONID=12",
    "BUILD_BUILDID=345",
    "BUILD_CONTAINERID=9876",
    "SYSTEM_JOBID=job-1",
    "BUILD_SOURCEBRANCH=refs/pull/7/merge",
    "SYSTEM_PULLREQUEST_TARGETBRANCH=main",
    "SYSTEM_ACCESSTOKEN=s3cr3t-token",
    "AGENT_TEMPDIRECTORY=/agent/_temp",
    NULL,
};

static int parse_with(const char *const *env, const char *store, const char *const *attrs,
                      struct azure_config *out)
{
    struct bk_strvec sv = BK_STRVEC_INIT;
    for (size_t i = 0; attrs && attrs[i]; i++)
        bk_strvec_push(&sv, attrs[i]);
    struct bk_provider_config cfg = {store, &sv, fake_getenv, 0, 0};
    g_env = env;
    int rc = azure_parse_config(&cfg, out);
    bk_strvec_clear(&sv);
    return rc;
}

static void test_config_from_pipeline_variables(void **state)
{
    struct azure_config c;
    assert_int_equal(parse_with(k_pipeline_env, NULL, NULL, &c), BK_OK);
    assert_string_equal(c.collection, "https://dev.azure.com/fabrikam/");
    assert_string_equal(c.project, "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c");
    assert_string_equal(c.project_id, "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c");
    assert_int_equal(c.definition_id, 12);
    assert_int_equal(c.build_id, 345);
    assert_int_equal(c.container_id, 9876);
    assert_string_equal(c.job_id, "job-1");
    assert_string_equal(c.branch, "refs/pull/7/merge");
    assert_string_equal(c.target_branch, "refs/heads/main");
    assert_null(c.default_branch);
    assert_string_equal(c.auth_header, "Authorization: Bearer s3cr3t-token");
    assert_string_equal(c.temp_dir, "/agent/_temp");
    assert_int_equal(c.upload_agent, 0);
    assert_int_equal(c.chunk_size, AZURE_DEFAULT_CHUNK);
    assert_int_equal(c.page_size, 20);
    assert_int_equal(c.max_builds, 50);
    azure_config_release(&c);
    /* the token is a registered secret from now on */
    char out[128];
    assert_string_equal(bk_log_redact("token s3cr3t-token", out, sizeof(out)), "token ***");
    bk_log_clear_secrets();
}

static void test_config_store_opts(void **state)
{
    struct azure_config c;
    const char *const attrs[] = {"azure-upload=agent",
                                 "chunk-size=64K",
                                 "page-size=2",
                                 "max-builds=7",
                                 "default-branch=develop",
                                 "project=Other Proj",
                                 "definition=3",
                                 "retry-ms=10",
                                 NULL};
    assert_int_equal(parse_with(k_pipeline_env, "http://127.0.0.1:1234/org", attrs, &c), BK_OK);
    assert_string_equal(c.collection, "http://127.0.0.1:1234/org/");
    assert_string_equal(c.project, "Other%20Proj");
    assert_int_equal(c.definition_id, 3);
    assert_int_equal(c.upload_agent, 1);
    assert_int_equal(c.chunk_size, 64 * 1024);
    assert_int_equal(c.page_size, 2);
    assert_int_equal(c.max_builds, 7);
    assert_int_equal(c.retry_ms, 10);
    assert_string_equal(c.default_branch, "refs/heads/develop");
    azure_config_release(&c);

    const char *const direct[] = {"upload=direct", NULL};
    assert_int_equal(parse_with(k_pipeline_env, NULL, direct, &c), BK_OK);
    assert_int_equal(c.upload_agent, 0);
    azure_config_release(&c);
    bk_log_clear_secrets();
}

static void test_config_rejects_bad_values(void **state)
{
    struct azure_config c;
    const char *const bad_upload[] = {"upload=sideways", NULL};
    assert_int_equal(parse_with(k_pipeline_env, NULL, bad_upload, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "sideways"));
    const char *const bad_chunk[] = {"chunk-size=1G", NULL};
    assert_int_equal(parse_with(k_pipeline_env, NULL, bad_chunk, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "chunk-size"));
    const char *const bad_page[] = {"page-size=0", NULL};
    assert_int_equal(parse_with(k_pipeline_env, NULL, bad_page, &c), BK_EINVAL);
    assert_int_equal(parse_with(k_pipeline_env, "ftp://x/", NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "ftp://x/"));

    const char *const bad_build[] = {"SYSTEM_COLLECTIONURI=https://x/o/",
                                     "SYSTEM_TEAMPROJECT=p",
                                     "SYSTEM_DEFINITIONID=1",
                                     "BUILD_BUILDID=12abc",
                                     "SYSTEM_ACCESSTOKEN=tok1",
                                     NULL};
    assert_int_equal(parse_with(bad_build, NULL, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "BUILD_BUILDID"));
    bk_log_clear_secrets();
}

static void test_config_missing_variables(void **state)
{
    struct azure_config c;
    const char *const none[] = {NULL};
    assert_int_equal(parse_with(none, NULL, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "SYSTEM_COLLECTIONURI"));

    const char *const no_def[] = {"SYSTEM_COLLECTIONURI=https://x/o/", "SYSTEM_TEAMPROJECT=p",
                                  "SYSTEM_ACCESSTOKEN=tok1", NULL};
    assert_int_equal(parse_with(no_def, NULL, NULL, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "SYSTEM_DEFINITIONID"));
}

static void test_config_missing_token_says_how_to_map_it(void **state)
{
    struct azure_config c;
    const char *const env[] = {"SYSTEM_COLLECTIONURI=https://x/o/", "SYSTEM_TEAMPROJECT=p",
                               "SYSTEM_DEFINITIONID=1", "SYSTEM_ACCESSTOKEN=", NULL};
    assert_int_equal(parse_with(env, NULL, NULL, &c), BK_EDENIED);
    assert_non_null(strstr(bk_error_msg(), "SYSTEM_ACCESSTOKEN: $(System.AccessToken)"));
    assert_null(strchr(bk_error_msg(), '\n'));

    const char *const named[] = {"token-env=MY_TOKEN", NULL};
    assert_int_equal(parse_with(env, NULL, named, &c), BK_EDENIED);
    assert_non_null(strstr(bk_error_msg(), "MY_TOKEN"));
}

static void test_config_personal_access_token(void **state)
{
    struct azure_config c;
    const char *const env[] = {"SYSTEM_COLLECTIONURI=https://x/o/", "SYSTEM_TEAMPROJECT=p",
                               "SYSTEM_DEFINITIONID=1", "AZURE_DEVOPS_EXT_PAT=abcd1234", NULL};
    assert_int_equal(parse_with(env, NULL, NULL, &c), BK_OK);
    /* base64(":abcd1234") */
    assert_string_equal(c.auth_header, "Authorization: Basic OmFiY2QxMjM0");
    assert_string_equal(c.project, "p");
    assert_null(c.project_id);
    assert_int_equal(c.build_id, 0);
    azure_config_release(&c);

    const char *const env2[] = {"SYSTEM_COLLECTIONURI=https://x/o/",
                                "SYSTEM_TEAMPROJECT=p",
                                "SYSTEM_DEFINITIONID=1",
                                "MY_PAT=abcd1234",
                                "SYSTEM_ACCESSTOKEN=bearer1",
                                NULL};
    const char *const pat[] = {"pat-env=MY_PAT", NULL};
    assert_int_equal(parse_with(env2, NULL, pat, &c), BK_OK);
    assert_string_equal(c.auth_header, "Authorization: Basic OmFiY2QxMjM0");
    azure_config_release(&c);
    bk_log_clear_secrets();
}

static void test_detect(void **state)
{
    struct bk_provider_config cfg = {NULL, NULL, fake_getenv, 0, 0};
    const char *const yes[] = {"TF_BUILD=True", NULL};
    const char *const no[] = {"TF_BUILD=", NULL};
    g_env = yes;
    assert_true(bk_provider_azure.detect(&cfg));
    g_env = no;
    assert_false(bk_provider_azure.detect(&cfg));
    assert_ptr_equal(bk_provider_find("azure"), &bk_provider_azure);
    assert_null(bk_provider_azure.remove);
    assert_true(bk_provider_azure.caps & BK_CAP_BRANCH_SCOPED);
}

static void test_normalize_branch(void **state)
{
    char *b = azure_normalize_branch("main");
    assert_string_equal(b, "refs/heads/main");
    free(b);
    b = azure_normalize_branch("refs/heads/release/1.0");
    assert_string_equal(b, "refs/heads/release/1.0");
    free(b);
}

static void test_vso_escaping(void **state)
{
    char *p = azure_vso_escape_property("a;b]c%d\r\ne");
    assert_string_equal(p, "a%3Bb%5Dc%AZP25d%0D%0Ae");
    free(p);
    char *m = azure_vso_escape_message("/tmp/x;y]%\n");
    assert_string_equal(m, "/tmp/x;y]%AZP25%0A");
    free(m);
}

static void test_container_ref(void **state)
{
    long cid;
    char *root;
    assert_int_equal(azure_parse_container_ref("#/9876/bkcache-go-linux-amd64-ab12", &cid, &root),
                     BK_OK);
    assert_int_equal(cid, 9876);
    assert_string_equal(root, "bkcache-go-linux-amd64-ab12");
    free(root);
    assert_int_equal(azure_parse_container_ref("#/12/a/b", &cid, &root), BK_OK);
    assert_string_equal(root, "a/b");
    free(root);
    assert_int_equal(azure_parse_container_ref("\\\\share\\drop", &cid, &root), BK_EINVAL);
    assert_int_equal(azure_parse_container_ref("#/x/a", &cid, &root), BK_EINVAL);
    assert_int_equal(azure_parse_container_ref("#/12/", &cid, &root), BK_EINVAL);
}

static void test_parse_time(void **state)
{
    assert_int_equal(azure_parse_time("2024-05-01T10:00:00.1234567Z"), 1714557600);
    assert_int_equal(azure_parse_time("1970-01-01T00:00:10Z"), 10);
    assert_int_equal(azure_parse_time("yesterday"), 0);
    assert_int_equal(azure_parse_time(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_from_pipeline_variables),
        cmocka_unit_test(test_config_store_opts),
        cmocka_unit_test(test_config_rejects_bad_values),
        cmocka_unit_test(test_config_missing_variables),
        cmocka_unit_test(test_config_missing_token_says_how_to_map_it),
        cmocka_unit_test(test_config_personal_access_token),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_normalize_branch),
        cmocka_unit_test(test_vso_escaping),
        cmocka_unit_test(test_container_ref),
        cmocka_unit_test(test_parse_time),
    };
    return cmocka_run_group_tests_name("providers/azure", tests, NULL, NULL);
}
