/*
 * test_core_delta_xfer.c - delta saves in core/xfer/ (save.c, restore.c,
 * restore_entry.c) over the fake provider (blobs kept as entries, as on
 * the GitHub cache) and the fake mountio: a save stores a blob and, last,
 * an index; a delta lists its parent layers; a delta whose parent is gone
 * is packed again in full; a restore fetches the layers once per batch; a
 * broken layer on a store that cannot list falls back to the next restore
 * key, or is a miss, never a partial cache; a layer refused by the unpack
 * (the fake mountio checks SHA-256s as the real unpacks do) falls back
 * too, within 4 injects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/store/store_index.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"
#include "core/xfer/restore.h"
#include "support/store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZST "\x28\xb5\x2f\xfd"
#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HEX_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define HEX_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

/* Blobs kept as entries (no blob slots), lookups without a list. */
static int setup(void **state)
{
    struct xfer_fixture *c = xfer_fixture_new(BK_CAP_DELETE, "bk-go-build-k1", "bk-apt-k1");
    c->x.delta = 1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    xfer_fixture_free(*state);
    return 0;
}

/* The blob digest of the fake archive of `content`. */
static void blob_of(const char *content, char digest[80])
{
    char *data = bk_xasprintf(ZST "%s", content), hex[65];
    bk_sha256_hex(data, strlen(data), hex);
    snprintf(digest, 80, "sha256:%s", hex);
    free(data);
}

static const struct fake_entry *blob_entry(const char *content)
{
    char digest[80], *key;
    const struct fake_entry *e;

    blob_of(content, digest);
    key = bk_xasprintf("%s%s", BK_BLOB_KEY_PREFIX, digest + 7);
    e = fake_get(key);
    free(key);
    return e;
}

/* The index stored under `key`. */
static void read_index(struct xfer_fixture *c, const char *key, struct bk_index *ix)
{
    const struct fake_entry *e = fake_get(key);
    char *path = bk_xasprintf("%s/index", c->dir);

    assert_non_null(e);
    bk_test_write_file(path, e->data, e->len);
    assert_int_equal(bk_index_read_file(path, ix), BK_OK);
    free(path);
}

/* Save go-build (content `content`) under `save_key`. */
static void save_as(struct xfer_fixture *c, const char *save_key, const char *content)
{
    xfer_fixture_reset_items(c);
    fake_io_set("go-build", content);
    c->x.items[0].save_key = save_key;
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "saved");
}

static void test_save_stores_blob_then_index(void **state)
{
    struct xfer_fixture *c = *state;
    struct bk_index ix;
    char digest[80];

    save_as(c, "bk-go-build-k1", HEX_A);
    assert_non_null(blob_entry(HEX_A));
    read_index(c, "bk-go-build-k1", &ix);
    blob_of(HEX_A, digest);
    assert_int_equal(ix.nlayers, 1);
    assert_string_equal(ix.layers[0].digest, digest);
    assert_int_equal(ix.layers[0].size, 4 + 64);
    assert_string_equal(ix.layers[0].tree, HEX_A);
    assert_string_equal(ix.digest, HEX_A);
    assert_string_equal(ix.key, "bk-go-build-k1");
    /* bytes: the blob and the index */
    assert_int_equal(c->x.items[0].bytes, 68 + fake_get("bk-go-build-k1")->len);
    assert_int_equal(c->x.items[0].layers, 1);
    bk_index_release(&ix);

    /* the same tree under another key: the blob is not sent again */
    save_as(c, "bk-go-build-k2", HEX_A);
    assert_int_equal(c->x.items[0].bytes, fake_get("bk-go-build-k2")->len);

    /* --delta off: one plain archive under the key */
    c->x.delta = 0;
    save_as(c, "bk-go-build-k3", HEX_B);
    assert_string_equal(fake_get("bk-go-build-k3")->data, ZST HEX_B);
    assert_null(blob_entry(HEX_B));
    assert_int_equal(c->x.items[0].layers, 0);
}

/* A failed transfer leaves no index: the blob's upload failing fails the
 * cache and stores nothing under the key; the index's upload failing (the
 * blob already stored) does the same, and the blob stays for the next
 * save (prune removes it if none comes). */
static void test_failed_uploads_leave_no_index(void **state)
{
    struct xfer_fixture *c = *state;

    xfer_fixture_reset_items(c);
    fake_io_set("go-build", HEX_C);
    c->x.items[0].save_key = "bk-go-build-k4";
    fake_store.fail_count[BK_STORE_UPLOAD] = 1; /* the blob (an entry here) */
    fake_store.fail_code[BK_STORE_UPLOAD] = BK_ERR;
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "error");
    assert_true(c->x.items[0].failed);
    assert_null(fake_get("bk-go-build-k4"));
    assert_null(blob_entry(HEX_C));

    save_as(c, "bk-go-build-k5", HEX_C); /* stores the blob */
    xfer_fixture_reset_items(c);
    c->x.items[0].save_key = "bk-go-build-k6";
    fake_store.fail_count[BK_STORE_UPLOAD] = 1; /* the blob is there: this is the index */
    fake_store.fail_code[BK_STORE_UPLOAD] = BK_ERR;
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "error");
    assert_null(fake_get("bk-go-build-k6"));
    assert_non_null(blob_entry(HEX_C));
}

static void test_delta_lists_parents_and_repacks_without_them(void **state)
{
    struct xfer_fixture *c = *state;
    struct bk_index ix;
    char digest[80];

    save_as(c, "bk-go-build-k1", HEX_A);
    xfer_fixture_reset_items(c);
    fake_io_set("go-build", "");
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "restored");
    assert_int_equal(fake_io_get("go-build")->injected_layers, 1);

    /* the cache changed: a delta over the restored layer */
    save_as(c, "bk-go-build-k2", HEX_B);
    assert_int_equal(fake_io.extract_calls, 2); /* one per save */
    assert_int_equal(c->x.items[0].layers, 2);
    read_index(c, "bk-go-build-k2", &ix);
    assert_int_equal(ix.nlayers, 2);
    blob_of(HEX_A, digest);
    assert_string_equal(ix.layers[0].digest, digest);
    assert_string_equal(ix.layers[1].tree, HEX_B);
    bk_index_release(&ix);

    /* the parent layer is gone from the store: packed again, in full */
    blob_of(HEX_A, digest);
    assert_int_equal(bk_store_blob_remove(c->x.store, digest), BK_OK);
    save_as(c, "bk-go-build-k3", HEX_C);
    assert_int_equal(fake_io.extract_calls, 4); /* the delta, then the full pack */
    read_index(c, "bk-go-build-k3", &ix);
    assert_int_equal(ix.nlayers, 1);
    assert_string_equal(ix.layers[0].tree, HEX_C);
    bk_index_release(&ix);
}

static void test_restore_fetches_a_shared_blob_once(void **state)
{
    struct xfer_fixture *c = *state;

    fake_io_set("go-build", HEX_A);
    fake_io_set("apt", HEX_A);
    assert_int_equal(bk_save_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[1].action, "saved");
    fake_io_set("go-build", "");
    fake_io_set("apt", "");
    memset(fake_store.calls, 0, sizeof(fake_store.calls));
    xfer_fixture_reset_items(c);
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
    assert_string_equal(c->x.items[0].action, "restored");
    assert_string_equal(c->x.items[1].action, "restored");
    assert_string_equal(fake_io_get("apt")->content, HEX_A);
    assert_int_equal(c->x.items[1].bytes, 68);                /* the layers' bytes */
    assert_int_equal(fake_store.calls[BK_STORE_DOWNLOAD], 3); /* 2 indexes, 1 blob */
}

/* A restore of go-build alone (apt's keys would find its entries too) into
 * an empty cache, with the fake mountio's counters reset. */
static void restore_go_build_alone(struct xfer_fixture *c)
{
    xfer_fixture_reset_items(c);
    c->x.n = 1; /* go-build alone: apt's keys would find these entries too */
    fake_io_set("go-build", "");
    fake_io.inject_calls = fake_io.refused = 0;
    assert_int_equal(bk_restore_run(&c->x), BK_OK);
}

/* A store that cannot list: the entry with a broken layer is skipped and
 * the candidates after it are asked; with none left, a miss. A damaged
 * blob of the right size is fetched as it is (restore does not read it a
 * second time) and refused by the unpack, which checks its SHA-256; the
 * lookup goes on from there. One cut short never reaches the unpack. */
static void test_broken_layer_falls_back(void **state)
{
    struct xfer_fixture *c = *state;
    struct fake_entry *blob;

    save_as(c, "bk-go-build-k1", HEX_A);
    save_as(c, "bk-go-build-other", HEX_B); /* newer, another key */
    blob = (struct fake_entry *)blob_entry(HEX_A);
    blob->data[10] ^= 1; /* corrupt, same size */
    restore_go_build_alone(c);
    assert_string_equal(c->x.items[0].action, "restored");
    assert_int_equal(c->x.items[0].hit, BK_HIT_PARTIAL);
    assert_string_equal(c->x.items[0].matched_key, "bk-go-build-other");
    assert_string_equal(fake_io_get("go-build")->content, HEX_B);
    assert_int_equal(fake_io.refused, 1);
    assert_int_equal(fake_io.inject_calls, 2);

    /* no other candidate: a miss, and nothing injected */
    blob = (struct fake_entry *)blob_entry(HEX_B);
    blob->data[10] ^= 1;
    restore_go_build_alone(c);
    assert_string_equal(c->x.items[0].action, "miss");
    assert_int_equal(c->x.items[0].hit, BK_HIT_MISS);
    assert_null(c->x.items[0].matched_key);
    assert_non_null(strstr(c->x.items[0].reason, "missing or corrupt layers"));
    assert_int_equal(c->x.items[0].failed, 0);
    assert_string_equal(fake_io_get("go-build")->content, "");
    assert_int_equal(fake_io.refused, 2);
    assert_int_equal(fake_io.inject_calls, 2);

    /* a blob cut short: refused by the fetch, the unpack never sees it */
    blob->data[10] ^= 1; /* B is whole again */
    blob = (struct fake_entry *)blob_entry(HEX_A);
    blob->len -= 1;
    restore_go_build_alone(c);
    assert_string_equal(c->x.items[0].matched_key, "bk-go-build-other");
    assert_int_equal(fake_io.refused, 0);
    assert_int_equal(fake_io.inject_calls, 1);
}

/* A blob an unpack refused is fetched again with its SHA-256 checked on
 * the host when the next entry names it too: that entry fails there, with
 * no second transfer. */
static void test_a_refused_blob_is_hashed_when_named_again(void **state)
{
    struct xfer_fixture *c = *state;
    struct fake_entry *blob;

    save_as(c, "bk-go-build-k1", HEX_A);
    save_as(c, "bk-go-build-other", HEX_A); /* the same tree: the same blob */
    assert_int_equal(fake_store.n, 3);      /* two indexes, one blob */
    blob = (struct fake_entry *)blob_entry(HEX_A);
    blob->data[10] ^= 1;
    restore_go_build_alone(c);
    assert_string_equal(c->x.items[0].action, "miss");
    assert_int_equal(fake_io.refused, 1);
    assert_int_equal(fake_io.inject_calls, 1);
    assert_string_equal(fake_io_get("go-build")->content, "");
}

/* A store that can list: a refused entry's cache picks again among the
 * entries left. */
static int setup_listing(void **state)
{
    struct xfer_fixture *c =
        xfer_fixture_new(BK_CAP_LIST | BK_CAP_DELETE, "bk-go-build-k1", "bk-apt-k1");
    c->x.delta = 1;
    *state = c;
    return 0;
}

/* An unpack that refuses every stack: the restore goes from entry to entry
 * until its 4 injects are spent, then that cache fails (an error, not a
 * miss) and holds nothing. */
static void test_refused_stacks_stop_after_four_injects(void **state)
{
    struct xfer_fixture *c = *state;
    static const char *const trees[] = {HEX_A, HEX_B, HEX_C, HEX_D, HEX_E};
    char key[32];

    for (int k = 0; k < 5; k++) {
        snprintf(key, sizeof(key), "bk-go-build-k%d", k + 1);
        save_as(c, key, trees[k]);
    }
    fake_io_set("go-build", "");
    fake_io_get("go-build")->inject_status = BK_ECORRUPT;
    restore_go_build_alone(c);
    assert_int_equal(fake_io.inject_calls, 4);
    assert_int_equal(c->x.items[0].failed, 1);
    assert_string_equal(c->x.items[0].action, "error");
    assert_non_null(strstr(c->x.items[0].reason, "unpack"));
    assert_string_equal(fake_io_get("go-build")->content, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_stores_blob_then_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_uploads_leave_no_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delta_lists_parents_and_repacks_without_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restore_fetches_a_shared_blob_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_layer_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_refused_blob_is_hashed_when_named_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_stacks_stop_after_four_injects, setup_listing,
                                        teardown),
    };
    return cmocka_run_group_tests_name("core/delta_xfer", tests, NULL, NULL);
}
