/*
 * test_core_save.c - save orchestration (core/xfer/save.c): upload, skip when
 * unchanged since restore (state file), skip when an immutable store holds
 * the key (without packing), empty caches, policy refusals and failing
 * uploads with and without --fail-on-error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xfer/restore.h"
#include "core/xfer/state.h"
#include "core/util/strbuf.h"
#include "support/store_fixture.h"

#include <stdlib.h>
#include <string.h>

#define ZST "\x28\xb5\x2f\xfd"

static int setup(void **state)
{
    *state = xfer_fixture_new(BK_CAP_LIST | BK_CAP_DELETE, "bk-go-build-k1", "bk-apt-k1");
    return 0;
}

static int setup_immutable(void **state)
{
    *state = xfer_fixture_new(BK_CAP_IMMUTABLE_KEYS, "bk-go-build-k1", "bk-apt-k1");
    return 0;
}

static int teardown(void **state)
{
    xfer_fixture_free(*state);
    return 0;
}

static void test_save_uploads(void **state)
{
    struct xfer_fixture *c = *state;

    fake_io_set("go-build", "go-v1");
    fake_io_set("apt", "apt-v1");
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
    assert_string_equal(c->x.items[1].action, "saved");
    assert_int_equal(fake_io.extract_calls, 1); /* one batch */
    assert_string_equal(fake_get("bk-go-build-k1")->data, ZST "go-v1");
    assert_string_equal(fake_get("bk-apt-k1")->data, ZST "apt-v1");
    assert_int_equal(c->x.items[0].bytes, 9);
    assert_string_equal(c->x.items[0].digest, "go-v1");
    assert_int_equal(bk_xfer_exit_status(&c->x, 1, 1), 1); /* no restore: not exact */
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 1), 0);
}

static void test_save_skips_when_unchanged(void **state)
{
    struct xfer_fixture *c = *state;

    fake_put("bk-go-build-k1", ZST "go-v1", 1); /* exact hit for go-build */
    fake_put("bk-apt-old", ZST "apt-v0", 1);    /* partial hit for apt */
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(fake_io_get("go-build")->content, "go-v1");
    xfer_fixture_reset_items(c);

    /* Nothing changed: go-build skipped; apt came from another key: saved. */
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "unchanged");
    assert_non_null(strstr(c->x.items[0].reason, "same digest"));
    assert_int_equal(c->x.items[0].hit, BK_HIT_EXACT);
    assert_string_equal(c->x.items[1].action, "saved");
    assert_int_equal(c->x.items[1].hit, BK_HIT_PARTIAL);
    assert_int_equal(fake_store.calls[BK_STORE_UPLOAD], 1);

    /* The build changed go-build: save uploads it. */
    fake_io_set("go-build", "go-v2");
    xfer_fixture_reset_items(c);
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
    assert_string_equal(fake_get("bk-go-build-k1")->data, ZST "go-v2");
}

static void test_immutable_store_holding_the_key(void **state)
{
    struct xfer_fixture *c = *state;

    fake_put("bk-go-build-k1", ZST "go-v0", 1);
    fake_io_set("go-build", "go-v1");
    fake_io_set("apt", "apt-v1");
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "exists");
    assert_non_null(strstr(c->x.items[0].reason, "immutable"));
    assert_string_equal(c->x.items[1].action, "saved");
    assert_int_equal(fake_io.extracted, 1); /* go-build was not even packed */
    assert_string_equal(fake_get("bk-go-build-k1")->data, ZST "go-v0");
}

static void test_empty_cache_is_not_saved(void **state)
{
    struct xfer_fixture *c = *state;

    fake_io_set("apt", "apt-v1");
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "empty");
    assert_int_equal(c->x.items[0].failed, 0);
    assert_null(fake_get("bk-go-build-k1"));
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 1), 0);
}

static void test_failed_upload_is_a_warning(void **state)
{
    struct xfer_fixture *c = *state;

    fake_io_set("go-build", "go-v1");
    fake_io_set("apt", "apt-v1");
    fake_store.fail_count[BK_STORE_UPLOAD] = 3; /* go-build: all three attempts */
    fake_store.fail_code[BK_STORE_UPLOAD] = BK_ETIMEOUT;
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "error");
    assert_int_equal(c->x.items[0].failed, 1);
    assert_string_equal(c->x.items[1].action, "saved");
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 0), 0);
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 1), 1);
}

static void test_policy_refusal_is_a_skip(void **state)
{
    struct xfer_fixture *c = *state;

    fake_io_set("go-build", "go-v1");
    fake_store.fail_count[BK_STORE_UPLOAD] = 1;
    fake_store.fail_code[BK_STORE_UPLOAD] = BK_EEXISTS;
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "skipped");
    assert_int_equal(c->x.items[0].failed, 0);
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_skips_when_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_immutable_store_holding_the_key, setup_immutable,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_empty_cache_is_not_saved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_upload_is_a_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_refusal_is_a_skip, setup, teardown),
    };
    bk_log_verbosity = 0;
    return cmocka_run_group_tests_name("core_save", tests, NULL, NULL);
}
