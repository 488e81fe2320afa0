/*
 * test_core_save.c - save orchestration (core/save.c): upload, skip when
 * unchanged since restore (state file), skip when an immutable store holds
 * the key (without packing), empty caches, policy refusals and failing
 * uploads with and without --fail-on-error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/restore.h"
#include "core/state.h"
#include "core/strbuf.h"
#include "support/store_fixture.h"

#include <stdlib.h>
#include <string.h>

#define ZST "\x28\xb5\x2f\xfd"

struct ctx {
    char *dir, *state;
    struct bk_keyset *ks;
    struct bk_xfer x;
};

static void reset_items(struct ctx *c)
{
    bk_xfer_items_free(c->x.items, c->x.n);
    assert_int_equal(bk_xfer_items_from_plan(NULL, c->ks, NULL, &c->x.items, &c->x.n), BK_OK);
}

static int setup_caps(void **state, unsigned caps)
{
    struct ctx *c = bk_xcalloc(1, sizeof(*c));
    fake_reset(caps);
    fake_io_reset();
    c->dir = bk_test_mkdtemp();
    c->state = bk_xasprintf("%s/state.json", c->dir);
    c->ks = fixture_keys("bk-go-build-k1", "bk-apt-k1");
    c->x.store = fake_open(1);
    c->x.io = fake_io_create();
    c->x.state_path = c->state;
    c->x.tmpdir = c->dir;
    reset_items(c);
    *state = c;
    return 0;
}

static int setup(void **state)
{
    return setup_caps(state, BK_CAP_LIST | BK_CAP_DELETE);
}

static int setup_immutable(void **state)
{
    return setup_caps(state, BK_CAP_IMMUTABLE_KEYS);
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    bk_xfer_items_free(c->x.items, c->x.n);
    bk_store_close(c->x.store);
    c->x.io->ops->destroy(c->x.io);
    fixture_keys_free(c->ks);
    bk_test_rmtree(c->dir);
    free(c->dir);
    free(c->state);
    free(c);
    fake_reset(0);
    return 0;
}

static void test_save_uploads(void **state)
{
    struct ctx *c = *state;

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
    struct ctx *c = *state;

    fake_put("bk-go-build-k1", ZST "go-v1", 1); /* exact hit for go-build */
    fake_put("bk-apt-old", ZST "apt-v0", 1);    /* partial hit for apt */
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(fake_io_get("go-build")->content, "go-v1");
    reset_items(c);

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
    reset_items(c);
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
    assert_string_equal(fake_get("bk-go-build-k1")->data, ZST "go-v2");
}

static void test_immutable_store_holding_the_key(void **state)
{
    struct ctx *c = *state;

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
    struct ctx *c = *state;

    fake_io_set("apt", "apt-v1");
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "empty");
    assert_int_equal(c->x.items[0].failed, 0);
    assert_null(fake_get("bk-go-build-k1"));
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 1), 0);
}

static void test_failed_upload_is_a_warning(void **state)
{
    struct ctx *c = *state;

    fake_io_set("go-build", "go-v1");
    fake_io_set("apt", "apt-v1");
    fake_store.fail_count[BK_STORE_UPLOAD] = 2; /* go-build: both attempts */
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
    struct ctx *c = *state;

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
