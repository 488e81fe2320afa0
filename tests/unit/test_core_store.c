/*
 * test_core_store.c - core/store/store.c: provider selection, retries with
 * backoff on transient failures, statistics, secret masking and verified
 * downloads, against the fake provider of support/store_fixture.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/store/store.h"
#include "core/util/strbuf.h"
#include "support/store_fixture.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZST "\x28\xb5\x2f\xfd"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    fake_reset(BK_CAP_LIST | BK_CAP_DELETE);
    g_dir = bk_test_mkdtemp();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bk_test_rmtree(g_dir);
    free(g_dir);
    fake_reset(0);
    bk_log_clear_secrets();
    return 0;
}

static void test_lookup_retries_transient_then_succeeds(void **state)
{
    struct bk_store *s = fake_open(3);
    struct bk_lookup q = {.key = "k1"};
    struct bk_provider_entry e;
    (void)state;

    fake_put("k1", ZST "one", 1);
    fake_store.fail_count[BK_STORE_LOOKUP] = 2;
    fake_store.fail_code[BK_STORE_LOOKUP] = BK_ETRANSIENT;
    assert_int_equal(bk_store_lookup(s, &q, &e), BK_OK);
    assert_string_equal(e.key, "k1");
    assert_int_equal(fake_store.calls[BK_STORE_LOOKUP], 3);
    assert_int_equal(s->stats[BK_STORE_LOOKUP].retries, 2);
    assert_int_equal(s->stats[BK_STORE_LOOKUP].failures, 0);
    bk_provider_entry_release(&e);
    bk_store_close(s);
}

static void test_retries_are_bounded(void **state)
{
    struct bk_store *s = fake_open(2);
    struct bk_lookup q = {.key = "k1"};
    struct bk_provider_entry e;
    (void)state;

    fake_store.fail_count[BK_STORE_LOOKUP] = 10;
    fake_store.fail_code[BK_STORE_LOOKUP] = BK_ETIMEOUT;
    assert_int_equal(bk_store_lookup(s, &q, &e), BK_ETIMEOUT);
    assert_int_equal(fake_store.calls[BK_STORE_LOOKUP], 3);
    assert_int_equal(s->stats[BK_STORE_LOOKUP].failures, 1);
    bk_store_close(s);
}

static void test_retry_after_is_honoured(void **state)
{
    struct bk_store *s = fake_open(2);
    struct bk_lookup q = {.key = "k1"};
    struct bk_provider_entry e;
    (void)state;

    fake_put("k1", ZST "one", 1);
    fake_store.fail_count[BK_STORE_LOOKUP] = 1;
    fake_store.fail_code[BK_STORE_LOOKUP] = BK_ETRANSIENT;
    fake_store.retry_after_ms = 2;
    assert_int_equal(bk_store_lookup(s, &q, &e), BK_OK);
    assert_int_equal(s->stats[BK_STORE_LOOKUP].retries, 1);
    assert_int_equal(s->stats[BK_STORE_LOOKUP].waited_ms, 2); /* zero base delay, server's 2 ms */
    bk_provider_entry_release(&e);
    bk_store_close(s);
}

static void test_fatal_and_miss_are_not_retried(void **state)
{
    struct bk_store *s = fake_open(5);
    struct bk_lookup q = {.key = "nope"};
    struct bk_provider_entry e;
    (void)state;

    assert_int_equal(bk_store_lookup(s, &q, &e), BK_ENOTFOUND);
    assert_int_equal(fake_store.calls[BK_STORE_LOOKUP], 1);
    assert_int_equal(s->stats[BK_STORE_LOOKUP].failures, 0);
    fake_store.fail_count[BK_STORE_LOOKUP] = 1;
    fake_store.fail_code[BK_STORE_LOOKUP] = BK_EDENIED;
    assert_int_equal(bk_store_lookup(s, &q, &e), BK_EDENIED);
    assert_int_equal(fake_store.calls[BK_STORE_LOOKUP], 2);
    bk_store_close(s);
}

static void test_download_retry_restarts_the_file(void **state)
{
    struct bk_store *s = fake_open(2);
    struct bk_lookup q = {.key = "k1"};
    struct bk_provider_entry e;
    char *path = bk_xasprintf("%s/a.tar.zst", g_dir);
    uint64_t bytes = 0;
    size_t len;
    char *data;
    (void)state;

    fake_put("k1", ZST "payload", 1);
    assert_int_equal(bk_store_lookup(s, &q, &e), BK_OK);
    fake_store.fail_count[BK_STORE_DOWNLOAD] = 1; /* writes "partial" then fails */
    fake_store.fail_code[BK_STORE_DOWNLOAD] = BK_ETRANSIENT;
    assert_int_equal(bk_store_download(s, &e, path, &bytes), BK_OK);
    data = bk_test_read_file(path, &len);
    assert_non_null(data);
    assert_int_equal(len, 11);
    assert_memory_equal(data, ZST "payload", 11);
    assert_int_equal(bytes, 11);
    assert_int_equal(s->stats[BK_STORE_DOWNLOAD].bytes, 11);
    free(data);
    bk_provider_entry_release(&e);
    bk_store_close(s);
    free(path);
}

static void test_download_verifies_and_leaves_nothing(void **state)
{
    struct bk_store *s = fake_open(0);
    struct bk_lookup q = {.key = "bad"};
    struct bk_provider_entry e;
    char *path = bk_xasprintf("%s/b.tar.zst", g_dir);
    (void)state;

    fake_put("bad", "not zstd at all", 1);
    assert_int_equal(bk_store_lookup(s, &q, &e), BK_OK);
    assert_int_equal(bk_store_download(s, &e, path, NULL), BK_ECORRUPT);
    assert_null(bk_test_read_file(path, NULL));
    e.size = 999; /* announced size differs from what arrives */
    fake_put("bad", ZST "x", 1);
    assert_int_equal(bk_store_download(s, &e, path, NULL), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "announced"));
    assert_null(bk_test_read_file(path, NULL));
    assert_int_equal(rmdir(g_dir), 0); /* no temporary file left behind */
    bk_provider_entry_release(&e);
    bk_store_close(s);
    free(path);
}

static void test_upload_list_remove(void **state)
{
    struct bk_store *s = fake_open(1);
    struct bk_upload u = {.key = "up1"};
    char *path = bk_xasprintf("%s/u.tar.zst", g_dir);
    struct bk_provider_entry *v;
    size_t n;
    (void)state;

    bk_test_write_file(path, ZST "abc", 7);
    fake_store.fail_count[BK_STORE_UPLOAD] = 1;
    fake_store.fail_code[BK_STORE_UPLOAD] = BK_ETRANSIENT;
    assert_int_equal(bk_store_upload(s, &u, path), BK_OK);
    assert_int_equal(fake_get("up1")->len, 7);
    assert_int_equal(s->stats[BK_STORE_UPLOAD].bytes, 7);
    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key, "up1");
    assert_int_equal(bk_store_remove(s, &v[0]), BK_OK);
    assert_null(fake_get("up1"));
    bk_store_entries_free(v, n);
    bk_store_close(s);
    free(path);
}

static void test_secrets_are_masked(void **state)
{
    struct bk_store *s = fake_open(0);
    struct bk_lookup q = {.key = "k"};
    struct bk_provider_entry e;
    (void)state;

    bk_log_add_secret("injected");
    fake_store.fail_count[BK_STORE_LOOKUP] = 1;
    fake_store.fail_code[BK_STORE_LOOKUP] = BK_ERR;
    assert_int_equal(bk_store_lookup(s, &q, &e), BK_ERR);
    assert_null(strstr(bk_error_msg(), "injected"));
    assert_non_null(strstr(bk_error_msg(), "***"));
    bk_store_close(s);
}

static void test_open_by_name(void **state)
{
    struct bk_store_opts o = {.provider = "nosuch", .retries = 0};
    struct bk_store *s = NULL;
    char *dir;
    (void)state;

    assert_int_equal(bk_store_open(&o, &s), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "local"));
    dir = bk_xasprintf("%s/store", g_dir);
    o.provider = "local";
    o.store = dir;
    assert_int_equal(bk_store_open(&o, &s), BK_OK);
    assert_string_equal(bk_store_name(s), "local");
    bk_store_close(s);
    o.provider = "auto";
    assert_int_equal(bk_store_open(&o, &s), BK_OK);
    assert_string_equal(bk_store_name(s), "local");
    bk_store_close(s);
    free(dir);
    dir = bk_xasprintf("file://%s/store", g_dir); /* the scheme picks the local store */
    o.store = dir;
    assert_int_equal(bk_store_open(&o, &s), BK_OK);
    assert_string_equal(bk_store_name(s), "local");
    bk_store_close(s);
    free(dir);
}

static void test_create_failure_is_reported(void **state)
{
    struct bk_store_opts o = {.retries = 0};
    struct bk_store *s = NULL;
    (void)state;

    fake_store.create_code = BK_EDENIED;
    assert_int_equal(bk_store_open_ops(fake_ops(), &o, &s), BK_EDENIED);
    assert_null(s);
    assert_non_null(strstr(bk_error_msg(), "fake"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookup_retries_transient_then_succeeds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retries_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_is_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fatal_and_miss_are_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_download_retry_restarts_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_download_verifies_and_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_list_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_are_masked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_failure_is_reported, setup, teardown),
    };
    return cmocka_run_group_tests_name("core_store", tests, NULL, NULL);
}
