/*
 * test_providers_gitlab.c - the gitlab provider without a network: its
 * configuration from CI_* variables and --store-opt, the key to package
 * version mapping, and the runner-cache store (a local store plus LRU
 * eviction to max-size and keep) through the ops table in a temporary
 * directory. The package registry store is tested against the emulator by
 * `make test-gitlab` (tests/gitlab/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/error.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"
#include "providers/gitlab_common.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a fake environment ---- */

static const char *g_env[32][2];

static void env_set(const char *name, const char *value)
{
    size_t i;
    for (i = 0; g_env[i][0]; i++)
        if (strcmp(g_env[i][0], name) == 0)
            break;
    g_env[i][0] = name;
    g_env[i][1] = value;
}

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; g_env[i][0]; i++)
        if (strcmp(g_env[i][0], name) == 0)
            return g_env[i][1];
    return NULL;
}

static struct bk_strvec g_attrs = BK_STRVEC_INIT;

static struct bk_provider_config make_cfg(const char *store)
{
    struct bk_provider_config cfg = {store, &g_attrs, fake_getenv, 0, 0};
    return cfg;
}

static int setup_env(void **state)
{
    memset(g_env, 0, sizeof(g_env));
    bk_strvec_clear(&g_attrs);
    env_set("GITLAB_CI", "true");
    env_set("CI_PROJECT_DIR", "/builds/group/app");
    env_set("CI_API_V4_URL", "https://gitlab.example.com/api/v4/");
    env_set("CI_PROJECT_ID", "42");
    env_set("CI_PROJECT_PATH", "group/app");
    env_set("CI_JOB_TOKEN", "job-token-secret");
    return 0;
}

static int teardown_env(void **state)
{
    bk_strvec_clear(&g_attrs);
    return 0;
}

/* ---- configuration ---- */

static void test_config_runner_defaults(void **state)
{
    struct bk_provider_config cfg = make_cfg(NULL);
    struct gitlab_config c;

    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_OK);
    assert_int_equal(c.kind, GITLAB_STORE_RUNNER);
    assert_string_equal(c.dir, "/builds/group/app/.bkcache");
    assert_int_equal(c.outside_project, 0);
    assert_true(c.max_size == 0);
    assert_int_equal(c.keep, -1);
    gitlab_config_release(&c);

    cfg = make_cfg("cache/bk");
    bk_strvec_push(&g_attrs, "max-size=2G");
    bk_strvec_push(&g_attrs, "keep=5");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_OK);
    assert_string_equal(c.dir, "/builds/group/app/cache/bk");
    assert_true(c.max_size == 2ull << 30);
    assert_int_equal(c.keep, 5);
    gitlab_config_release(&c);

    cfg = make_cfg("/tmp/elsewhere");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_OK);
    assert_int_equal(c.outside_project, 1);
    gitlab_config_release(&c);

    /* a sibling directory sharing the name's start is outside too */
    cfg = make_cfg("/builds/group/app2/x");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_OK);
    assert_int_equal(c.outside_project, 1);
    gitlab_config_release(&c);
}

static void test_config_rejects_bad_values(void **state)
{
    struct bk_provider_config cfg = make_cfg(NULL);
    struct gitlab_config c;

    bk_strvec_push(&g_attrs, "store=s3");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "store"));
    assert_non_null(strstr(bk_error_msg(), "s3"));

    bk_strvec_clear(&g_attrs);
    bk_strvec_push(&g_attrs, "max-size=lots");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "max-size"));

    bk_strvec_clear(&g_attrs);
    bk_strvec_push(&g_attrs, "keep=-2");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "keep"));

    bk_strvec_clear(&g_attrs);
    bk_strvec_push(&g_attrs, "tokn-env=X");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "tokn-env"));
}

static void test_config_packages(void **state)
{
    struct bk_provider_config cfg = make_cfg(NULL);
    struct gitlab_config c;

    bk_strvec_push(&g_attrs, "store=packages");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_OK);
    assert_int_equal(c.kind, GITLAB_STORE_PACKAGES);
    assert_string_equal(c.api_url, "https://gitlab.example.com/api/v4");
    assert_string_equal(c.project, "42");
    assert_string_equal(c.token, "job-token-secret");
    assert_string_equal(c.token_header, "JOB-TOKEN");
    assert_null(c.package);
    assert_true(c.max_file_size == GITLAB_DEFAULT_MAX_FILE_SIZE);
    assert_int_equal(c.hidden, 0);
    gitlab_config_release(&c);

    /* the project path when there is no id; another token as PRIVATE-TOKEN */
    env_set("CI_PROJECT_ID", "");
    env_set("MY_TOKEN", "glpat-secret");
    bk_strvec_push(&g_attrs, "token-env=MY_TOKEN");
    bk_strvec_push(&g_attrs, "package=go-cache");
    bk_strvec_push(&g_attrs, "status=hidden");
    bk_strvec_push(&g_attrs, "max-file-size=0");
    bk_strvec_push(&g_attrs, "keep=3");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_OK);
    assert_string_equal(c.project, "group%2Fapp");
    assert_string_equal(c.token, "glpat-secret");
    assert_string_equal(c.token_header, "PRIVATE-TOKEN");
    assert_string_equal(c.package, "go-cache");
    assert_int_equal(c.hidden, 1);
    assert_true(c.max_file_size == 0);
    assert_int_equal(c.keep, 3);
    gitlab_config_release(&c);

    bk_strvec_push(&g_attrs, "token-type=deploy");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_OK);
    assert_string_equal(c.token_header, "DEPLOY-TOKEN");
    gitlab_config_release(&c);
}

static void test_config_packages_env_selects_store(void **state)
{
    struct bk_provider_config cfg = make_cfg(NULL);
    struct gitlab_config c;

    env_set("BKCACHE_GITLAB_STORE", "packages");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_OK);
    assert_int_equal(c.kind, GITLAB_STORE_PACKAGES);
    gitlab_config_release(&c);
    /* the option wins over the variable */
    bk_strvec_push(&g_attrs, "store=runner");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_OK);
    assert_int_equal(c.kind, GITLAB_STORE_RUNNER);
    gitlab_config_release(&c);
}

static void test_config_packages_errors(void **state)
{
    struct bk_provider_config cfg = make_cfg(NULL);
    struct gitlab_config c;

    bk_strvec_push(&g_attrs, "store=packages");
    env_set("CI_JOB_TOKEN", "");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "CI_JOB_TOKEN"));
    cfg.read_only = 1; /* reading a public project needs no token */
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_OK);
    assert_null(c.token);
    gitlab_config_release(&c);
    cfg.read_only = 0;
    env_set("CI_JOB_TOKEN", "job-token-secret");

    env_set("CI_API_V4_URL", "");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "CI_API_V4_URL"));
    env_set("CI_API_V4_URL", "ftp://x/api/v4");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    env_set("CI_API_V4_URL", "http://127.0.0.1:1/api/v4");

    env_set("CI_PROJECT_ID", "");
    env_set("CI_PROJECT_PATH", "");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "CI_PROJECT_ID"));
    env_set("CI_PROJECT_ID", "7");

    bk_strvec_push(&g_attrs, "package=bad/name");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "bad/name"));
    bk_strvec_clear(&g_attrs);
    bk_strvec_push(&g_attrs, "store=packages");
    bk_strvec_push(&g_attrs, "token-type=oauth");
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "oauth"));

    bk_strvec_clear(&g_attrs);
    bk_strvec_push(&g_attrs, "store=packages");
    cfg.store = "/some/dir";
    assert_int_equal(gitlab_parse_config(&cfg, &c), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "--store"));
}

static void test_detect(void **state)
{
    struct bk_provider_config cfg = make_cfg(NULL);
    assert_true(bk_provider_gitlab.detect(&cfg));
    env_set("GITLAB_CI", "false");
    assert_false(bk_provider_gitlab.detect(&cfg));
    env_set("GITLAB_CI", "");
    assert_false(bk_provider_gitlab.detect(&cfg));
    assert_ptr_equal(bk_provider_find("gitlab"), &bk_provider_gitlab);
}

/* ---- key mapping ---- */

static void test_key_to_version(void **state)
{
    char *v;
    int hashed;

    v = gitlab_key_to_version("bkcache-go-linux-amd64-0123abcd");
    assert_string_equal(v, "bkcache-go-linux-amd64-0123abcd");
    free(v);
    v = gitlab_version_key_part("bkcache-go-linux-amd64-0123abcd", &hashed);
    assert_string_equal(v, "bkcache-go-linux-amd64-0123abcd");
    assert_int_equal(hashed, 0);
    free(v);

    /* ".." is not allowed in a version: readable part + hash */
    v = gitlab_key_to_version("bkcache-a..b-c");
    assert_int_equal(strncmp(v, "bkcache-a.h", 11), 0);
    assert_int_equal(strlen(v), strlen("bkcache-a.h") + 24);
    char *part = gitlab_version_key_part(v, &hashed);
    assert_int_equal(hashed, 1);
    assert_string_equal(part, "bkcache-a");
    free(part);
    free(v);

    /* a trailing '-' (restore-key style) and a leading '.' */
    v = gitlab_key_to_version("bkcache-go-");
    assert_int_equal(strncmp(v, "bkcache-go.h", 12), 0);
    free(v);
    v = gitlab_key_to_version(".hidden");
    assert_int_equal(v[0], 'h');
    assert_int_equal(strlen(v), 25);
    part = gitlab_version_key_part(v, &hashed);
    assert_int_equal(hashed, 1);
    assert_string_equal(part, "");
    free(part);
    free(v);

    /* a long key keeps an exact 120-character prefix; different keys differ */
    char key[400];
    memset(key, 'a', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    v = gitlab_key_to_version(key);
    key[398] = 'b';
    char *w = gitlab_key_to_version(key);
    assert_string_not_equal(v, w);
    assert_int_equal(strlen(v), 120 + 2 + 24);
    part = gitlab_version_key_part(v, NULL);
    assert_int_equal(strlen(part), 120);
    assert_int_equal(strncmp(part, key, 120), 0);
    free(part);
    free(v);
    free(w);

    v = gitlab_package_for_key("bkcache-go-linux");
    assert_string_equal(v, "bkcache");
    free(v);
    v = gitlab_package_for_key("-x");
    assert_string_equal(v, "bkcache");
    free(v);
}

/* ---- runner-cache store, through the ops table ---- */

struct rstate {
    char base[64]; /* $CI_PROJECT_DIR: scratch files go here */
    char dir[80];  /* the store, inside it */
    struct bk_provider *p;
};

static int write_file(const char *path, size_t size, char fill)
{
    char *buf = malloc(size ? size : 1);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    memset(buf, fill, size);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    free(buf);
    return fd;
}

static struct bk_provider *runner_create(const char *dir, const char *max_size, const char *keep)
{
    struct bk_provider_config cfg = make_cfg(dir);
    struct bk_provider *p = NULL;
    bk_strvec_clear(&g_attrs);
    if (max_size)
        bk_strvec_pushf(&g_attrs, "max-size=%s", max_size);
    if (keep)
        bk_strvec_pushf(&g_attrs, "keep=%s", keep);
    assert_int_equal(bk_provider_gitlab.create(&cfg, &p), BK_OK);
    return p;
}

static void upload(struct bk_provider *p, const char *scratch, const char *key, size_t size,
                   char fill)
{
    char *path = bk_xasprintf("%s/in-%s", scratch, key);
    int fd = write_file(path, size, fill);
    struct bk_upload u = {.key = key, .size = size};
    assert_int_equal(p->ops->upload(p, &u, fd), BK_OK);
    close(fd);
    unlink(path);
    free(path);
}

/* Rewrite an entry's sidecar (the local store's entries/<sha256>.json) with
 * chosen times. */
static void set_times(const char *dir, const char *key, long created, long last_used)
{
    char hex[65];
    struct bk_strbuf sb = BK_STRBUF_INIT;
    bk_sha256_hex(key, strlen(key), hex);
    char *path = bk_xasprintf("%s/entries/%s.json", dir, hex);
    assert_int_equal(bk_strbuf_read_file(&sb, path), BK_OK);
    cJSON *doc = cJSON_Parse(sb.buf);
    assert_non_null(doc);
    cJSON_ReplaceItemInObject(doc, "created", cJSON_CreateNumber((double)created));
    cJSON_ReplaceItemInObject(doc, "last_used", cJSON_CreateNumber((double)last_used));
    char *text = cJSON_PrintUnformatted(doc);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    cJSON_free(text);
    cJSON_Delete(doc);
    bk_strbuf_release(&sb);
    free(path);
}

static int count_cb(const struct bk_provider_entry *e, void *payload)
{
    struct bk_strvec *keys = payload;
    bk_strvec_push(keys, e->key);
    return 0;
}

static int has_key(struct bk_provider *p, const char *key)
{
    struct bk_strvec keys = BK_STRVEC_INIT;
    assert_int_equal(p->ops->list(p, count_cb, &keys), BK_OK);
    int found = bk_strvec_find(&keys, key) >= 0;
    bk_strvec_clear(&keys);
    return found;
}

static size_t count(struct bk_provider *p)
{
    struct bk_strvec keys = BK_STRVEC_INIT;
    assert_int_equal(p->ops->list(p, count_cb, &keys), BK_OK);
    size_t n = keys.n;
    bk_strvec_clear(&keys);
    return n;
}

static int setup_runner(void **state)
{
    struct rstate *s = calloc(1, sizeof(*s));
    setup_env(state);
    strcpy(s->base, "/tmp/bk-gitlab-test-XXXXXX");
    assert_non_null(mkdtemp(s->base));
    snprintf(s->dir, sizeof(s->dir), "%s/store", s->base);
    env_set("CI_PROJECT_DIR", s->base);
    *state = s;
    return 0;
}

static int teardown_runner(void **state)
{
    struct rstate *s = *state;
    char *cmd = bk_xasprintf("rm -rf '%s'", s->base);
    if (s->p)
        s->p->ops->destroy(s->p);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(s);
    teardown_env(state);
    return 0;
}

static void test_runner_roundtrip_and_prefix(void **state)
{
    struct rstate *s = *state;
    struct bk_provider_entry e = {0};
    const char *restore[] = {"bkcache-go-linux-", "bkcache-"};
    struct bk_lookup q = {"bkcache-go-linux-cafe", restore, 2, NULL};
    char out[128], buf[200];

    s->p = runner_create(s->dir, NULL, NULL);
    assert_int_equal(s->p->ops->lookup(s->p, &q, &e), BK_ENOTFOUND);
    upload(s->p, s->base, "bkcache-go-linux-aaaa", 100, 'a');
    upload(s->p, s->base, "bkcache-go-linux-bbbb", 150, 'b');
    upload(s->p, s->base, "bkcache-npm-linux-cccc", 50, 'c');
    set_times(s->dir, "bkcache-go-linux-aaaa", 1000, 1000);
    set_times(s->dir, "bkcache-go-linux-bbbb", 2000, 2000);

    /* prefix: the newest created entry under the first matching restore key */
    assert_int_equal(s->p->ops->lookup(s->p, &q, &e), BK_OK);
    assert_string_equal(e.key, "bkcache-go-linux-bbbb");
    assert_true(e.size == 150);
    snprintf(out, sizeof(out), "%s/out", s->base);
    int fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(s->p->ops->download(s->p, &e, fd), BK_OK);
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), 150);
    assert_int_equal(buf[0], 'b');
    assert_int_equal(buf[149], 'b');
    close(fd);
    bk_provider_entry_release(&e);

    /* exact wins over any prefix */
    q.key = "bkcache-npm-linux-cccc";
    assert_int_equal(s->p->ops->lookup(s->p, &q, &e), BK_OK);
    assert_string_equal(e.key, "bkcache-npm-linux-cccc");
    assert_int_equal(s->p->ops->remove(s->p, &e), BK_OK);
    assert_int_equal(s->p->ops->remove(s->p, &e), BK_ENOTFOUND);
    bk_provider_entry_release(&e);
    assert_int_equal(count(s->p), 2);

    /* keys that are not file names are stored under a hash, listed by key */
    upload(s->p, s->base, ".odd-key", 10, 'o');
    assert_true(has_key(s->p, ".odd-key"));
    unlink(out);
}

static void test_runner_evicts_least_recently_used(void **state)
{
    struct rstate *s = *state;
    struct bk_provider_entry e = {0};
    struct bk_lookup q = {"k-a", NULL, 0, NULL};
    char out[128];

    s->p = runner_create(s->dir, "250", NULL);
    upload(s->p, s->base, "k-a", 100, 'a');
    upload(s->p, s->base, "k-b", 100, 'b');
    set_times(s->dir, "k-a", 1000, 1000);
    set_times(s->dir, "k-b", 2000, 2000);
    /* restoring k-a makes it recently used; k-b is now the LRU entry */
    assert_int_equal(s->p->ops->lookup(s->p, &q, &e), BK_OK);
    snprintf(out, sizeof(out), "%s/out", s->base);
    int fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(s->p->ops->download(s->p, &e, fd), BK_OK);
    close(fd);
    unlink(out);
    bk_provider_entry_release(&e);

    upload(s->p, s->base, "k-c", 100, 'c'); /* 300 bytes > 250: one must go */
    assert_true(has_key(s->p, "k-a"));
    assert_false(has_key(s->p, "k-b"));
    assert_true(has_key(s->p, "k-c"));

    /* the entry just saved survives even when it is the oldest by use */
    set_times(s->dir, "k-a", 1, 5000);
    upload(s->p, s->base, "k-d", 200, 'd');
    assert_true(has_key(s->p, "k-d"));
    assert_int_equal(count(s->p), 1);

    /* an archive over the whole budget is refused, and nothing is evicted */
    char *path = bk_xasprintf("%s/big", s->base);
    fd = write_file(path, 300, 'x');
    struct bk_upload u = {.key = "k-big", .size = 300};
    assert_int_equal(s->p->ops->upload(s->p, &u, fd), BK_ESKIPPED);
    assert_non_null(strstr(bk_error_msg(), "max-size"));
    close(fd);
    unlink(path);
    free(path);
    assert_true(has_key(s->p, "k-d"));
}

static void test_runner_keep(void **state)
{
    struct rstate *s = *state;

    s->p = runner_create(s->dir, NULL, "2");
    upload(s->p, s->base, "k-1", 10, '1');
    upload(s->p, s->base, "k-2", 10, '2');
    set_times(s->dir, "k-1", 100, 100);
    set_times(s->dir, "k-2", 200, 200);
    upload(s->p, s->base, "k-3", 10, '3');
    assert_int_equal(count(s->p), 2);
    assert_false(has_key(s->p, "k-1"));
    assert_true(has_key(s->p, "k-2"));
    assert_true(has_key(s->p, "k-3"));
    s->p->ops->destroy(s->p);

    /* keep=0 still keeps the entry just saved */
    s->p = runner_create(s->dir, NULL, "0");
    upload(s->p, s->base, "k-4", 10, '4');
    assert_int_equal(count(s->p), 1);
    assert_true(has_key(s->p, "k-4"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_runner_defaults, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_config_rejects_bad_values, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_config_packages, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_config_packages_env_selects_store, setup_env,
                                        teardown_env),
        cmocka_unit_test_setup_teardown(test_config_packages_errors, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_detect, setup_env, teardown_env),
        cmocka_unit_test(test_key_to_version),
        cmocka_unit_test_setup_teardown(test_runner_roundtrip_and_prefix, setup_runner,
                                        teardown_runner),
        cmocka_unit_test_setup_teardown(test_runner_evicts_least_recently_used, setup_runner,
                                        teardown_runner),
        cmocka_unit_test_setup_teardown(test_runner_keep, setup_runner, teardown_runner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
