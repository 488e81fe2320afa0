/*
 * test_core_layers.c - the layer cache through a store (core/layers/): the
 * walk of an OCI layout, the stored index, save then restore through the
 * local store (blobs at blobs/sha256/<hex>) and through a provider without
 * blob slots (blobs as reserved entries), dedup on a second save, a wrong
 * or lost blob never placed and a fall back to the next restore key, and
 * prune of unreferenced blobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/layers/layers.h"
#include "core/util/fileio.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"
#include "support/store_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY "bkcache-.layers-app-linux-amd64-00112233445566778899aabbccddeeff"
#define KEY_OLD "bkcache-.layers-app-linux-amd64-0011223344556677ffffffffffffffff"
#define PREFIX "bkcache-.layers-app-linux-amd64-"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = bk_test_mkdtemp();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bk_test_rmtree(g_dir);
    free(g_dir);
    return 0;
}

/* ---- an OCI layout like BuildKit's local cache export ---- */

/* Write `data` as a blob of `dir`; its descriptor JSON into `desc`. */
static void put_blob(const char *dir, const char *data, const char *media_type,
                     struct bk_strbuf *desc)
{
    char *tmp = bk_xasprintf("%s/blobs/sha256/.new", dir), *path;
    char hex[65];
    int fd;

    {
        char *blobs = bk_xasprintf("%s/blobs/sha256", dir);
        assert_int_equal(bk_mkdir_p(blobs), 0);
        free(blobs);
    }
    bk_test_write_file(tmp, data, strlen(data));
    fd = open(tmp, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(bk_sha256_fd(fd, tmp, hex, NULL), 0);
    close(fd);
    path = bk_xasprintf("%s/blobs/sha256/%s", dir, hex);
    assert_int_equal(rename(tmp, path), 0);
    bk_strbuf_reset(desc);
    bk_strbuf_addf(desc, "{\"mediaType\":\"%s\",\"digest\":\"sha256:%s\",\"size\":%zu}", media_type,
                   hex, strlen(data));
    free(path);
    free(tmp);
}

/* A cache of `n` layers; the last one's content depends on `tag`. Blobs:
 * n layers + config + manifest list. */
static void make_layout(const char *dir, int n, const char *tag)
{
    struct bk_strbuf list = BK_STRBUF_INIT, desc = BK_STRBUF_INIT, data = BK_STRBUF_INIT;
    char *path;

    bk_strbuf_adds(&list, "{\"schemaVersion\":2,\"mediaType\":"
                          "\"application/vnd.oci.image.index.v1+json\",\"manifests\":[");
    for (int i = 0; i < n; i++) {
        bk_strbuf_reset(&data);
        for (int r = 0; r < 200; r++)
            bk_strbuf_addf(&data, "layer %d %s\n", i, i == n - 1 ? tag : "");
        put_blob(dir, data.buf, "application/vnd.oci.image.layer.v1.tar+gzip", &desc);
        bk_strbuf_addf(&list, "%s,", desc.buf);
    }
    bk_strbuf_reset(&data);
    bk_strbuf_addf(&data, "{\"layers\":%d,\"tag\":\"%s\"}", n, tag);
    put_blob(dir, data.buf, "application/vnd.buildkit.cacheconfig.v0", &desc);
    bk_strbuf_addf(&list, "%s]}", desc.buf);
    put_blob(dir, list.buf, "application/vnd.oci.image.index.v1+json", &desc);
    bk_strbuf_reset(&data);
    bk_strbuf_addf(&data, "{\"schemaVersion\":2,\"manifests\":[%s]}", desc.buf);
    path = bk_xasprintf("%s/index.json", dir);
    bk_test_write_file(path, data.buf, data.len);
    free(path);
    bk_strbuf_release(&list);
    bk_strbuf_release(&desc);
    bk_strbuf_release(&data);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    while (d && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static struct bk_store *open_local(void)
{
    struct bk_store *s = bk_test_open_local(g_dir);
    assert_non_null(s);
    return s;
}

static void layers_for(struct bk_layers *l, const char *key, const char *const *restore, size_t n)
{
    struct bk_strvec rk = BK_STRVEC_INIT;
    char *dir = bk_xasprintf("%s/work", g_dir);
    for (size_t i = 0; i < n; i++)
        bk_strvec_push(&rk, restore[i]);
    bk_layers_init(l, dir, "app", key, NULL, &rk);
    bk_strvec_clear(&rk);
    free(dir);
}

/* Restore KEY (restore key PREFIX) on a fresh runner, with nothing of the
 * working directory left; it must be an exact hit when `exact`. */
static void restore_fresh(struct bk_store *s, struct bk_layers *l, int exact)
{
    const char *restore[] = {PREFIX};
    char *work = bk_xasprintf("%s/work", g_dir);

    bk_remove_tree(work);
    free(work);
    layers_for(l, KEY, restore, 1);
    assert_int_equal(bk_layers_restore(l, s, NULL), BK_OK);
    if (exact)
        assert_string_equal(l->sources[0].hit, "exact");
}

/* ---- the walk and the stored index ---- */

static void test_read_dir_reaches_every_blob(void **state)
{
    struct bk_layer_index ix;
    char *dir = bk_xasprintf("%s/oci", g_dir);
    (void)state;

    make_layout(dir, 4, "one");
    assert_int_equal(bk_layer_index_read_dir(dir, &ix), BK_OK);
    assert_int_equal(ix.n, 6); /* 4 layers, the config, the manifest list */
    assert_non_null(strstr(ix.oci_index, "\"manifests\""));
    bk_layer_index_release(&ix);
    free(dir);
}

static void test_read_dir_rejects_a_missing_or_short_blob(void **state)
{
    struct bk_layer_index ix;
    char *dir = bk_xasprintf("%s/oci", g_dir), *blobs = bk_xasprintf("%s/blobs/sha256", dir);
    DIR *d;
    struct dirent *de;
    (void)state;

    assert_int_equal(bk_layer_index_read_dir(dir, &ix), BK_ENOTFOUND);
    make_layout(dir, 2, "x");
    /* truncate one layer: its descriptor's size no longer matches */
    d = opendir(blobs);
    while ((de = readdir(d)) != NULL) {
        char *p = bk_xasprintf("%s/%s", blobs, de->d_name);
        size_t len = 0;
        char *data = de->d_name[0] == '.' ? NULL : bk_test_read_file(p, &len);
        if (data && strncmp(data, "layer 0", 7) == 0)
            assert_int_equal(truncate(p, 10), 0);
        free(data);
        free(p);
    }
    closedir(d);
    assert_int_equal(bk_layer_index_read_dir(dir, &ix), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "bytes"));
    free(blobs);
    free(dir);
}

static void test_index_round_trip_and_garbage(void **state)
{
    struct bk_layer_index ix, back;
    struct bk_strbuf enc = BK_STRBUF_INIT;
    char *dir = bk_xasprintf("%s/oci", g_dir);
    (void)state;

    make_layout(dir, 3, "t");
    assert_int_equal(bk_layer_index_read_dir(dir, &ix), BK_OK);
    assert_int_equal(bk_layer_index_encode(&ix, &enc), BK_OK);
    assert_memory_equal(enc.buf, "\x28\xb5\x2f\xfd", 4); /* a zstd frame, as every entry */
    assert_int_equal(bk_layer_index_decode(enc.buf, enc.len, "k", &back), BK_OK);
    assert_string_equal(back.oci_index, ix.oci_index);
    assert_int_equal(back.n, ix.n);
    for (size_t i = 0; i < ix.n; i++) {
        assert_string_equal(back.blobs[i].digest, ix.blobs[i].digest);
        assert_int_equal(back.blobs[i].size, ix.blobs[i].size);
    }
    bk_layer_index_release(&back);
    assert_int_equal(bk_layer_index_decode("garbage", 7, "k", &back), BK_ECORRUPT);
    assert_int_equal(bk_layer_index_decode(enc.buf, enc.len - 3, "k", &back), BK_ECORRUPT);
    bk_layer_index_release(&ix);
    bk_strbuf_release(&enc);
    free(dir);
}

/* ---- save and restore ---- */

static void save_layout(struct bk_store *s, const char *key, int n, const char *tag,
                        struct bk_layers *out)
{
    layers_for(out, key, NULL, 0);
    bk_remove_tree(out->dest);
    make_layout(out->dest, n, tag);
    assert_int_equal(bk_layers_save(out, s, NULL), BK_OK);
}

static void test_save_then_restore_local(void **state)
{
    struct bk_store *s = open_local();
    struct bk_layers l;
    struct bk_strbuf want = BK_STRBUF_INIT, got = BK_STRBUF_INIT;
    char *blobs = bk_xasprintf("%s/store/blobs/sha256", g_dir);
    (void)state;

    save_layout(s, KEY, 5, "v1", &l);
    assert_string_equal(l.action, "saved");
    assert_int_equal(l.blobs_uploaded, 7);
    assert_int_equal(l.blobs_skipped, 0);
    assert_int_equal(count_files(blobs), 7);
    {
        char *p = bk_xasprintf("%s/index.json", l.dest);
        assert_int_equal(bk_strbuf_read_file(&want, p), 0);
        free(p);
    }
    bk_layers_release(&l);

    /* a fresh runner: nothing of the working directory is left */
    restore_fresh(s, &l, 1);
    assert_string_equal(l.sources[0].matched_key, KEY);
    assert_int_equal(l.sources[0].blobs_fetched, 7);
    {
        char *p = bk_xasprintf("%s/index.json", l.sources[0].dir);
        char *b = bk_xasprintf("%s/blobs/sha256", l.sources[0].dir);
        assert_int_equal(bk_strbuf_read_file(&got, p), 0);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.buf, want.buf, want.len);
        assert_int_equal(count_files(b), 7);
        free(p);
        free(b);
    }
    /* the build gets both arguments; the destination is empty for the new export */
    assert_int_equal(l.build_args.n, 4);
    assert_string_equal(l.build_args.v[0], "--cache-from");
    assert_non_null(strstr(l.build_args.v[1], "type=local,src="));
    assert_string_equal(l.build_args.v[2], "--cache-to");
    assert_non_null(strstr(l.build_args.v[3], ",mode=max"));
    assert_int_equal(count_files(l.dest), 0);
    bk_layers_release(&l);

    /* one changed layer: only it, the config and the manifest list go up */
    save_layout(s, KEY, 5, "v2", &l);
    assert_string_equal(l.action, "saved");
    assert_int_equal(l.blobs_uploaded, 3);
    assert_int_equal(l.blobs_skipped, 4);
    bk_layers_release(&l);

    /* the same export again: nothing to upload */
    save_layout(s, KEY, 5, "v2", &l);
    assert_string_equal(l.action, "unchanged");
    assert_int_equal(l.blobs_uploaded, 0);
    bk_layers_release(&l);

    bk_strbuf_release(&want);
    bk_strbuf_release(&got);
    free(blobs);
    bk_store_close(s);
}

/* Overwrite every stored blob that holds `needle` with other bytes. */
static void damage_store_blobs(const char *needle, int remove)
{
    char *blobs = bk_xasprintf("%s/store/blobs/sha256", g_dir);
    DIR *d = opendir(blobs);
    struct dirent *de;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char *p = bk_xasprintf("%s/%s", blobs, de->d_name);
        size_t len = 0;
        char *data = de->d_name[0] == '.' ? NULL : bk_test_read_file(p, &len);
        if (data && strstr(data, needle)) {
            if (remove) {
                unlink(p);
            } else {
                data[0] ^= 1; /* same size, wrong content */
                bk_test_write_file(p, data, len);
            }
        }
        free(data);
        free(p);
    }
    closedir(d);
    free(blobs);
}

static void test_wrong_blob_falls_back_to_the_next_key(void **state)
{
    struct bk_store *s = open_local();
    const char *restore[] = {PREFIX};
    struct bk_layers l;
    (void)state;

    save_layout(s, KEY_OLD, 3, "old", &l);
    bk_layers_release(&l);
    save_layout(s, KEY, 3, "new", &l);
    bk_layers_release(&l);
    damage_store_blobs("layer 2 new", 0);

    layers_for(&l, KEY, restore, 1);
    assert_int_equal(bk_layers_restore(&l, s, NULL), BK_OK);
    assert_string_equal(l.sources[0].hit, "partial");
    assert_string_equal(l.sources[0].matched_key, KEY_OLD);
    {
        /* the damaged blob never got a name in the directory */
        char *b = bk_xasprintf("%s/blobs/sha256", l.sources[0].dir);
        DIR *d = opendir(b);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            char *p = bk_xasprintf("%s/%s", b, de->d_name);
            size_t len = 0;
            char *data = de->d_name[0] == '.' ? NULL : bk_test_read_file(p, &len);
            assert_true(!data || !strstr(data, "layer 2 new"));
            free(data);
            free(p);
        }
        closedir(d);
        free(b);
    }
    bk_layers_release(&l);
    bk_store_close(s);
}

static void test_lost_blob_is_a_miss(void **state)
{
    struct bk_store *s = open_local();
    const char *restore[] = {PREFIX};
    struct bk_layers l;
    struct stat st;
    (void)state;

    save_layout(s, KEY, 3, "only", &l);
    bk_layers_release(&l);
    damage_store_blobs("layer 0", 1);

    layers_for(&l, KEY, restore, 1);
    assert_int_equal(bk_layers_restore(&l, s, NULL), BK_OK);
    assert_string_equal(l.sources[0].hit, "miss");
    assert_null(l.sources[0].matched_key);
    assert_int_equal(l.sources[0].failed, 0); /* a miss, not a failure */
    {
        char *p = bk_xasprintf("%s/index.json", l.sources[0].dir);
        assert_int_not_equal(stat(p, &st), 0);
        free(p);
    }
    assert_int_equal(l.build_args.n, 2); /* only --cache-to: nothing to import */
    assert_string_equal(l.build_args.v[0], "--cache-to");
    bk_layers_release(&l);
    bk_store_close(s);
}

static void test_save_without_export_is_skipped(void **state)
{
    struct bk_store *s = open_local();
    struct bk_layers l;
    (void)state;

    layers_for(&l, KEY, NULL, 0);
    assert_int_equal(bk_layers_save(&l, s, NULL), BK_OK);
    assert_string_equal(l.action, "skipped");
    assert_non_null(strstr(l.save_reason, "--cache-to"));
    assert_int_equal(l.save_failed, 0);
    bk_layers_release(&l);
    bk_store_close(s);
}

/* ---- a provider without blob slots: blobs are reserved entries ---- */

static void test_blobs_as_entries(void **state)
{
    struct bk_store *s;
    struct bk_layers l;
    struct bk_provider_entry *v;
    size_t n, blobs = 0;
    (void)state;

    fake_reset(BK_CAP_LIST | BK_CAP_DELETE);
    s = fake_open(0);
    save_layout(s, KEY, 3, "a", &l);
    assert_string_equal(l.action, "saved");
    assert_int_equal(l.blobs_uploaded, 5);
    bk_layers_release(&l);
    for (size_t i = 0; i < fake_store.n; i++)
        blobs +=
            strncmp(fake_store.entries[i].key, BK_BLOB_KEY_PREFIX, strlen(BK_BLOB_KEY_PREFIX)) == 0;
    assert_int_equal(blobs, 5);
    assert_non_null(fake_get(KEY));

    /* dedup: a second cache sharing two layers uploads only what differs */
    save_layout(s, KEY_OLD, 3, "b", &l);
    assert_int_equal(l.blobs_uploaded, 3);
    assert_int_equal(l.blobs_skipped, 2);
    bk_layers_release(&l);

    restore_fresh(s, &l, 1);
    assert_int_equal(l.sources[0].blobs_fetched, 5);
    bk_layers_release(&l);

    /* ls and prune's policy see the two indexes, not the blobs */
    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    n = bk_store_drop_blob_entries(v, n);
    assert_int_equal(n, 2);
    bk_store_entries_free(v, n);
    bk_store_close(s);
}

/* ---- prune ---- */

static void test_prune_removes_only_unreferenced_blobs(void **state)
{
    struct bk_store *s = open_local();
    struct bk_layers l;
    size_t removed = 0;
    uint64_t bytes = 0;
    char *blobs = bk_xasprintf("%s/store/blobs/sha256", g_dir);
    (void)state;

    save_layout(s, KEY, 4, "v1", &l);
    bk_layers_release(&l);
    save_layout(s, KEY, 4, "v2", &l); /* replaces the index: 3 blobs of v1 now unreferenced */
    bk_layers_release(&l);
    assert_int_equal(count_files(blobs), 9);

    assert_int_equal(bk_layers_prune_blobs(s, NULL, time(NULL), 3600, 0, &removed, &bytes), BK_OK);
    assert_int_equal(removed, 0); /* young: a save may be about to reference them */
    assert_int_equal(bk_layers_prune_blobs(s, NULL, time(NULL) + 7200, 3600, 1, &removed, &bytes),
                     BK_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(count_files(blobs), 9); /* dry run */
    assert_int_equal(bk_layers_prune_blobs(s, NULL, time(NULL) + 7200, 3600, 0, &removed, &bytes),
                     BK_OK);
    assert_int_equal(removed, 3);
    assert_true(bytes > 0);
    assert_int_equal(count_files(blobs), 6);

    /* what is left restores completely */
    {
        const char *restore[] = {PREFIX};
        layers_for(&l, KEY, restore, 1);
        assert_int_equal(bk_layers_restore(&l, s, NULL), BK_OK);
        assert_string_equal(l.sources[0].hit, "exact");
        bk_layers_release(&l);
    }
    free(blobs);
    bk_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_dir_reaches_every_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_dir_rejects_a_missing_or_short_blob, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_index_round_trip_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_then_restore_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_blob_falls_back_to_the_next_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lost_blob_is_a_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_without_export_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blobs_as_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_removes_only_unreferenced_blobs, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
