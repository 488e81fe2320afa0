/*
 * test_core_restore.c - restore orchestration (core/xfer/restore.c) over the
 * fake provider and the fake mountio: exact, partial (newest prefix) and
 * missing hits, the state file, --lookup-only, --mount filters, exit
 * statuses with and without --fail-on-cache-miss / --fail-on-error, a
 * refused archive that falls back to an older entry, and a failing
 * provider that does not fail the build.
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
#include <unistd.h>

#define ZST "\x28\xb5\x2f\xfd"

static int setup(void **state)
{
    *state = xfer_fixture_new(BK_CAP_LIST | BK_CAP_DELETE, "bk-go-build-new", "bk-apt-new");
    return 0;
}

static int teardown(void **state)
{
    xfer_fixture_free(*state);
    return 0;
}

static void test_exact_partial_and_miss(void **state)
{
    struct xfer_fixture *c = *state;
    struct bk_state st = BK_STATE_INIT;
    const struct bk_state_entry *e;

    fake_put("bk-go-build-new", ZST "go-tree", 5);
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_int_equal(c->x.items[0].hit, BK_HIT_EXACT);
    assert_string_equal(c->x.items[0].action, "restored");
    assert_string_equal(c->x.items[0].matched_key, "bk-go-build-new");
    assert_string_equal(c->x.items[0].digest, "go-tree");
    assert_string_equal(fake_io_get("go-build")->content, "go-tree");
    /* apt: "bk-" matches bk-go-build-new as a last resort: a partial hit */
    assert_int_equal(c->x.items[1].hit, BK_HIT_PARTIAL);
    assert_int_equal(fake_io.inject_calls, 1); /* one batch */
    assert_int_equal(fake_io.injected, 2);
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 0), 0);
    assert_int_equal(bk_xfer_exit_status(&c->x, 1, 0), 1); /* partial is not exact */

    assert_int_equal(bk_state_load(c->state, &st), BK_OK);
    e = bk_state_find(&st, "go-build");
    assert_non_null(e);
    assert_string_equal(e->hit, "exact");
    assert_string_equal(e->digest, "go-tree");
    e = bk_state_find(&st, "apt");
    assert_string_equal(e->hit, "partial");
    assert_string_equal(e->matched_key, "bk-go-build-new");
    bk_state_release(&st);
}

static void test_prefix_restore_picks_newest(void **state)
{
    struct xfer_fixture *c = *state;

    fake_put("bk-apt-old", ZST "apt-old", 10);
    fake_put("bk-apt-newer", ZST "apt-newer", 30);
    fake_put("bk-apt-middle", ZST "apt-middle", 20);
    fake_put("bk-other", ZST "other", 99); /* newer, but only matches the second prefix */
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_int_equal(c->x.items[1].hit, BK_HIT_PARTIAL);
    assert_string_equal(c->x.items[1].matched_key, "bk-apt-newer");
    assert_string_equal(fake_io_get("apt")->content, "apt-newer");
    /* go-build: only "bk-" matches, newest first */
    assert_string_equal(c->x.items[0].matched_key, "bk-other");
}

static void test_miss_exit_codes(void **state)
{
    struct xfer_fixture *c = *state;
    struct bk_state st = BK_STATE_INIT;

    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    for (size_t i = 0; i < c->x.n; i++) {
        assert_int_equal(c->x.items[i].hit, BK_HIT_MISS);
        assert_string_equal(c->x.items[i].action, "miss");
        assert_int_equal(c->x.items[i].failed, 0);
    }
    assert_int_equal(fake_io.inject_calls, 0);
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 0), 0);
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 1), 0);
    assert_int_equal(bk_xfer_exit_status(&c->x, 1, 0), 1);
    assert_int_equal(bk_state_load(c->state, &st), BK_OK);
    assert_string_equal(bk_state_find(&st, "apt")->hit, "miss");
    assert_null(bk_state_find(&st, "apt")->digest);
    bk_state_release(&st);
}

static void test_failing_provider_does_not_fail_the_build(void **state)
{
    struct xfer_fixture *c = *state;

    fake_put("bk-go-build-new", ZST "go", 1);
    fake_store.fail_count[BK_STORE_LOOKUP] = 100;
    fake_store.fail_code[BK_STORE_LOOKUP] = BK_ETRANSIENT;
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_int_equal(fake_store.calls[BK_STORE_LOOKUP], 6); /* 2 items x (1 + 2 retries) */
    assert_int_equal(c->x.items[0].failed, 1);
    assert_string_equal(c->x.items[0].action, "error");
    assert_non_null(c->x.items[0].reason);
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 0), 0);
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 1), 1);
}

static void test_no_store_at_all(void **state)
{
    struct xfer_fixture *c = *state;

    bk_store_close(c->x.store);
    c->x.store = NULL;
    c->x.store_error = "provider fake: no token";
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_int_equal(c->x.items[1].failed, 1);
    assert_non_null(strstr(c->x.items[1].reason, "no token"));
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 0), 0);
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 1), 1);
}

static void test_download_failure_and_skipped_inject(void **state)
{
    struct xfer_fixture *c = *state;

    fake_put("bk-go-build-new", ZST "go", 1);
    fake_put("bk-apt-new", ZST "apt", 1);
    fake_io_set("go-build", "warm");
    fake_io_get("go-build")->inject_status = BK_ESKIPPED;
    fake_store.fail_count[BK_STORE_DOWNLOAD] = 100;
    fake_store.fail_code[BK_STORE_DOWNLOAD] = BK_EDENIED;
    /* go-build is downloaded first and fails; apt too: everything fails */
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "error");
    assert_int_equal(fake_io.inject_calls, 0);

    fake_store.fail_count[BK_STORE_DOWNLOAD] = 0;
    xfer_fixture_reset_items(c);
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "skipped");
    assert_int_equal(c->x.items[0].failed, 0);
    assert_string_equal(fake_io_get("go-build")->content, "warm");
    assert_string_equal(c->x.items[1].action, "restored");
}

/* A plain archive the inject refuses (a damaged frame or digest, in the
 * builder or on the host) is a miss like a refused stack: the lookup goes
 * on and the next entry is injected; with none left, a miss with a warning
 * and an empty cache, not an error. */
static void test_refused_archive_falls_back(void **state)
{
    struct xfer_fixture *c = *state;

    fake_put("bk-go-build-old", ZST "go-old", 10);
    fake_put("bk-go-build-mid", ZST FAKE_IO_DAMAGED "-mid", 20);
    fake_put("bk-go-build-new", ZST FAKE_IO_DAMAGED "-new", 30);
    c->x.n = 1; /* go-build alone */
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "restored");
    assert_int_equal(c->x.items[0].hit, BK_HIT_PARTIAL);
    assert_string_equal(c->x.items[0].matched_key, "bk-go-build-old");
    assert_string_equal(fake_io_get("go-build")->content, "go-old");
    assert_int_equal(fake_io.refused, 2);
    assert_int_equal(fake_io.inject_calls, 3);

    /* nothing good left: a miss, the cache as it was */
    fake_put("bk-go-build-old", ZST FAKE_IO_DAMAGED "-old", 10);
    xfer_fixture_reset_items(c);
    c->x.n = 1;
    fake_io_set("go-build", "warm"); /* what the cache holds must stay */
    fake_io.inject_calls = fake_io.refused = 0;
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "miss");
    assert_int_equal(c->x.items[0].failed, 0);
    assert_non_null(strstr(c->x.items[0].reason, "bk-go-build-old was refused"));
    assert_string_equal(fake_io_get("go-build")->content, "warm");
    assert_int_equal(fake_io.refused, 3);
    assert_int_equal(bk_xfer_exit_status(&c->x, 0, 1), 0); /* --fail-on-error: not an error */
    assert_int_equal(bk_xfer_exit_status(&c->x, 1, 0), 1); /* --fail-on-cache-miss */
}

static void test_lookup_only(void **state)
{
    struct xfer_fixture *c = *state;

    char *big = calloc(BK_INDEX_MAX_BYTES + 16, 1);

    /* an entry small enough to be an index is read (it is not one: its
     * bytes are its own); a larger one is an archive, never downloaded */
    fake_put("bk-go-build-new", ZST "go", 1);
    memcpy(big, ZST, 4);
    memset(big + 4, 'a', BK_INDEX_MAX_BYTES + 8);
    fake_put("bk-apt-new", big, 1);
    c->x.lookup_only = 1;
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "found");
    assert_int_equal(c->x.items[0].hit, BK_HIT_EXACT);
    assert_int_equal(c->x.items[0].bytes, 6);
    assert_string_equal(c->x.items[1].action, "found");
    assert_int_equal(c->x.items[1].bytes, BK_INDEX_MAX_BYTES + 12);
    assert_int_equal(fake_store.calls[BK_STORE_DOWNLOAD], 1);
    assert_int_equal(fake_io.inject_calls, 0);
    assert_int_equal(access(c->state, F_OK), -1); /* no state written */
    free(big);
}

static void test_mount_filter(void **state)
{
    struct xfer_fixture *c = *state;
    struct bk_strvec only = BK_STRVEC_INIT;
    struct bk_xfer_item *items;
    size_t n;

    bk_strvec_push(&only, "apt");
    assert_int_equal(bk_xfer_items_from_plan(NULL, c->ks, &only, &items, &n), BK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].identity->name, "apt");
    bk_xfer_items_free(items, n);
    bk_strvec_push(&only, "nope");
    assert_int_equal(bk_xfer_items_from_plan(NULL, c->ks, &only, &items, &n), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "'nope'"));
    assert_non_null(strstr(bk_error_msg(), "go-build, apt"));
    bk_strvec_clear(&only);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact_partial_and_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_restore_picks_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_miss_exit_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_provider_does_not_fail_the_build, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_store_at_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_download_failure_and_skipped_inject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_archive_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount_filter, setup, teardown),
    };
    bk_log_verbosity = 0;
    return cmocka_run_group_tests_name("core_restore", tests, NULL, NULL);
}
