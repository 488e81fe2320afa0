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

/* The state is per store: after a restore from one store, a save into
 * another uploads everything and reports no hit of its own; an entry from
 * a state file without the store (older bkcache) counts for no store. */
static void test_save_into_another_store_uploads(void **state)
{
    struct xfer_fixture *c = *state;
    struct bk_state st = BK_STATE_INIT;

    fake_put("bk-go-build-k1", ZST "go-v1", 1);
    fake_put("bk-apt-k1", ZST "apt-v1", 1);
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_int_equal(bk_state_load(c->x.state_path, &st), BK_OK);
    assert_string_equal(bk_state_find(&st, "go-build")->store, "fake-0123456789abcdef");

    c->x.store_id = "fake-fedcba9876543210"; /* the same data, another store */
    xfer_fixture_reset_items(c);
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
    assert_string_equal(c->x.items[1].action, "saved");
    assert_int_equal(c->x.items[0].hit, BK_HIT_NONE); /* no hit of this store */
    assert_int_equal(fake_store.calls[BK_STORE_UPLOAD], 2);

    /* the state file of an older bkcache: no "store" */
    bk_state_set_store(&st, "go-build", NULL);
    bk_state_set_store(&st, "apt", NULL);
    assert_int_equal(bk_state_save(c->x.state_path, &st), BK_OK);
    c->x.store_id = "fake-0123456789abcdef";
    xfer_fixture_reset_items(c);
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
    assert_int_equal(fake_store.calls[BK_STORE_UPLOAD], 4);
    bk_state_release(&st);
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

/* ---- runs of one key (docs/keys.md) ---- */

#define GO "bk-go-build-0123456789abcdef0123456789abcdef"

/* Give go-build the key GO, saved as GO-<run>, restored from GO first. */
static void go_run(struct xfer_fixture *c, const char *run)
{
    struct bk_cache_key *k = &c->ks->keys[0];
    free(k->key);
    free(k->save_key);
    k->key = bk_xstrdup(GO);
    k->save_key = bk_xasprintf("%s-%s", GO, run);
    bk_strvec_clear(&k->restore_keys);
    bk_strvec_push(&k->restore_keys, GO);
    bk_strvec_push(&k->restore_keys, "bk-go-build-");
    xfer_fixture_reset_items(c);
}

static void test_runs_keep_learning(void **state)
{
    struct xfer_fixture *c = *state;

    /* run 1 saves under its own key */
    go_run(c, "r1");
    fake_io_set("go-build", "go-v1");
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
    assert_string_equal(fake_get(GO "-r1")->data, ZST "go-v1");

    /* run 2: any run of the key is an exact hit; the changed cache is saved */
    go_run(c, "r2");
    fake_io_reset();
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_int_equal(c->x.items[0].hit, BK_HIT_EXACT);
    assert_string_equal(c->x.items[0].matched_key, GO "-r1");
    fake_io_set("go-build", "go-v2");
    go_run(c, "r2");
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
    assert_int_equal(c->x.items[0].hit, BK_HIT_EXACT); /* what restore found */
    assert_string_equal(fake_get(GO "-r2")->data, ZST "go-v2");

    /* run 3 restores run 2's content (the newest run), and does not upload it again */
    go_run(c, "r3");
    fake_io_reset();
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].matched_key, GO "-r2");
    assert_string_equal(fake_io_get("go-build")->content, "go-v2");
    go_run(c, "r3");
    fake_store.calls[BK_STORE_UPLOAD] = 0;
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "unchanged");
    assert_non_null(strstr(c->x.items[0].reason, GO "-r2"));
    assert_null(fake_get(GO "-r3"));
}

static void test_restore_prefers_this_runs_key(void **state)
{
    struct xfer_fixture *c = *state;

    fake_put(GO "-r1", ZST "go-v1", 5);
    fake_put(GO "-r9", ZST "go-v9", 1); /* older, but this run's own */
    go_run(c, "r9");
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].matched_key, GO "-r9");
    go_run(c, "r2");
    fake_io_reset();
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].matched_key, GO "-r1");
}

static void test_save_keeps_the_newest_runs(void **state)
{
    struct xfer_fixture *c = *state;

    fake_store.clock = 10;
    fake_put(GO, ZST "old", 1); /* saved before run parts: a run too */
    fake_put(GO "-r1", ZST "go-v1", 2);
    fake_put(GO "-r2", ZST "go-v2", 3);
    fake_put("bk-go-build-fedcba9876543210fedcba9876543210-r1", ZST "other", 1); /* other key */
    fake_put("bk-apt-k1", ZST "apt", 1);
    go_run(c, "r3");
    c->x.keep_runs = 2;
    fake_io_set("go-build", "go-v3");
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
    assert_non_null(fake_get(GO "-r3"));
    assert_non_null(fake_get(GO "-r2"));
    assert_null(fake_get(GO "-r1"));
    assert_null(fake_get(GO));
    assert_non_null(fake_get("bk-go-build-fedcba9876543210fedcba9876543210-r1"));
    assert_non_null(fake_get("bk-apt-k1"));

    /* a failing list or remove is a warning, never a failed save */
    go_run(c, "r4");
    fake_io_set("go-build", "go-v4");
    fake_store.fail_count[BK_STORE_LIST] = 3;
    fake_store.fail_code[BK_STORE_LIST] = BK_EDENIED;
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
    assert_int_equal(c->x.items[0].failed, 0);
}

static void test_immutable_store_gets_a_new_key_per_run(void **state)
{
    struct xfer_fixture *c = *state;

    fake_put(GO "-r1", ZST "go-v1", 1);
    go_run(c, "r2");
    fake_io_set("go-build", "go-v2");
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved"); /* not "exists" */
    assert_string_equal(fake_get(GO "-r2")->data, ZST "go-v2");
    /* the same run again: its key is there, nothing is packed */
    fake_io.extracted = 0;
    go_run(c, "r2");
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "exists");
    /* a prefix match is not the key: run "r2" is not held by "r20" */
    fake_put(GO "-r20", ZST "x", 9);
    go_run(c, "r2x");
    fake_io_set("go-build", "go-v3");
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_skips_when_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_into_another_store_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_immutable_store_holding_the_key, setup_immutable,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_empty_cache_is_not_saved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_upload_is_a_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_refusal_is_a_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_keep_learning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_prefers_this_runs_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_keeps_the_newest_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_immutable_store_gets_a_new_key_per_run,
                                        setup_immutable, teardown),
    };
    bk_log_verbosity = 0;
    return cmocka_run_group_tests_name("core_save", tests, NULL, NULL);
}
