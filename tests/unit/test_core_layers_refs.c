/*
 * test_core_layers_refs.c - the blobs the store's entries reference
 * (core/layers/layers_refs.c) and what prune and ls do with them: prune
 * keeps every blob a mount cache's layered entry references and every blob
 * a layer cache's index references, removes the unreferenced ones once
 * older than the grace period, frees the blobs of an index prune's policy
 * removed in the same run, and removes nothing when an index cannot be
 * read (nor counts its reads as uses); ls counts each entry's own and
 * shared bytes. Layered entries are
 * made directly (archive blobs + bk_index_write_file + bk_store_upload)
 * until save writes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/archive/archive.h"
#include "core/layers/layers.h"
#include "core/store/store_index.h"
#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/json.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"
#include "support/store_fixture.h"

#include <cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define KEY_MAIN "bkcache-app-go-0011223344556677-main"
#define KEY_FEAT "bkcache-app-go-0011223344556677-feat"
#define KEY_PLAIN "bkcache-app-npm-8899aabbccddeeff-1"
#define KEY_LAYERS "bkcache-.layers-app-linux-amd64-00112233445566778899aabbccddeeff"
#define TREE_HEX "abababababababababababababababababababababababababababababababab"

static char *g_dir;
static int g_seq;

static int setup(void **state)
{
    (void)state;
    g_dir = bk_test_mkdtemp();
    g_seq = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bk_test_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static struct bk_store *open_local(void)
{
    struct bk_store *s = bk_test_open_local(g_dir);
    assert_non_null(s);
    return s;
}

/* Pack a tree of one file holding `content` (`bytes` of it, repeated) into a
 * new archive file; `layer` gets its digest and size. Returns the path. */
static char *make_archive(const char *content, size_t bytes, struct bk_archive_layer *layer)
{
    int seq = g_seq++;
    char *tree = bk_xasprintf("%s/tree%d", g_dir, seq), *file = bk_xasprintf("%s/f", tree);
    char *path = bk_xasprintf("%s/archive%d.tzst", g_dir, seq);
    struct bk_pack_opts po = {.level = 1, .threads = 1};
    char *data = bk_xmalloc(bytes + 1), hex[65];
    uint64_t size;
    int fd;

    for (size_t i = 0; i < bytes; i++) /* incompressible when content is "random" */
        data[i] =
            strcmp(content, "random") == 0 ? (char)(rand() & 0xff) : content[i % strlen(content)];
    assert_int_equal(bk_mkdir_p(tree), 0);
    bk_test_write_file(file, data, bytes);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(bk_archive_pack(tree, fd, &po, NULL), BK_OK);
    assert_int_equal(bk_sha256_fd(fd, path, hex, &size), 0);
    close(fd);
    memset(layer, 0, sizeof(*layer));
    snprintf(layer->digest, sizeof(layer->digest), "sha256:%s", hex);
    layer->size = size;
    snprintf(layer->tree, sizeof(layer->tree), "%s", TREE_HEX);
    free(data);
    free(file);
    free(tree);
    return path;
}

/* An archive stored as a blob. */
static void put_layer(struct bk_store *s, const char *content, struct bk_archive_layer *layer)
{
    char *path = make_archive(content, 4096, layer);
    assert_int_equal(bk_store_blob_put(s, layer->digest, path), BK_OK);
    free(path);
}

static void upload_file(struct bk_store *s, const char *key, const char *path)
{
    struct stat st;
    struct bk_upload u = {.key = key};
    assert_int_equal(stat(path, &st), 0);
    u.size = (uint64_t)st.st_size;
    assert_int_equal(bk_store_upload(s, &u, path), BK_OK);
}

/* A layered entry under `key` whose layers are l[0..n). */
static void put_index(struct bk_store *s, const char *key, const struct bk_archive_layer *l,
                      size_t n)
{
    struct bk_index ix;
    char *path = bk_xasprintf("%s/index%d", g_dir, g_seq++);

    memset(&ix, 0, sizeof(ix));
    ix.key = (char *)key;
    snprintf(ix.digest, sizeof(ix.digest), "%s", TREE_HEX);
    ix.nlayers = n;
    memcpy(ix.layers, l, n * sizeof(*l));
    assert_int_equal(bk_index_write_file(&ix, path), BK_OK);
    upload_file(s, key, path);
    free(path);
}

/* A plain archive entry under `key`; returns its size. */
static uint64_t put_plain(struct bk_store *s, const char *key, const char *content, size_t bytes)
{
    struct bk_archive_layer l;
    char *path = make_archive(content, bytes, &l);
    upload_file(s, key, path);
    free(path);
    return l.size;
}

/* A layer cache's index naming the blob `digest` (a stored blob). */
static void put_layer_cache(struct bk_store *s, const char *key, const char *blob_data,
                            struct bk_layer_blob *blob)
{
    char *path = bk_xasprintf("%s/blob%d", g_dir, g_seq++), hex[65];
    struct bk_layer_index ix = {0};
    struct bk_strbuf enc = BK_STRBUF_INIT;

    bk_test_write_file(path, blob_data, strlen(blob_data));
    bk_sha256_hex(blob_data, strlen(blob_data), hex);
    snprintf(blob->digest, sizeof(blob->digest), "sha256:%s", hex);
    blob->size = strlen(blob_data);
    assert_int_equal(bk_store_blob_put(s, blob->digest, path), BK_OK);
    ix.oci_index = "{}";
    ix.blobs = blob;
    ix.n = 1;
    assert_int_equal(bk_layer_index_encode(&ix, &enc), BK_OK);
    bk_test_write_file(path, enc.buf, enc.len);
    upload_file(s, key, path);
    bk_strbuf_release(&enc);
    free(path);
}

static int has_blob(struct bk_store *s, const char *digest)
{
    uint64_t size;
    return bk_store_blob_stat(s, digest, &size) == BK_OK;
}

static int prune(struct bk_store *s, int64_t age, size_t *removed)
{
    uint64_t bytes;
    return bk_layers_prune_blobs(s, NULL, (int64_t)time(NULL) + age, 3600, 0, removed, &bytes);
}

/* ---- prune ---- */

static void test_prune_keeps_what_a_mount_index_references(void **state)
{
    struct bk_store *s = open_local();
    struct bk_archive_layer base, delta, lost;
    size_t removed = 99;
    (void)state;

    put_layer(s, "base", &base);
    put_layer(s, "delta", &delta);
    put_layer(s, "unreferenced", &lost);
    put_index(s, KEY_MAIN, (struct bk_archive_layer[]){base, delta}, 2);
    put_plain(s, KEY_PLAIN, "plain", 1000);

    assert_int_equal(prune(s, 0, &removed), BK_OK);
    assert_int_equal(removed, 0); /* young: within the grace period */
    assert_true(has_blob(s, lost.digest));

    assert_int_equal(prune(s, 7200, &removed), BK_OK);
    assert_int_equal(removed, 1);
    assert_true(has_blob(s, base.digest));
    assert_true(has_blob(s, delta.digest));
    assert_false(has_blob(s, lost.digest));
    bk_store_close(s);
}

static void test_prune_keeps_layer_cache_and_mount_blobs(void **state)
{
    struct bk_store *s = open_local();
    struct bk_archive_layer base, lost;
    struct bk_layer_blob lc;
    size_t removed = 99;
    (void)state;

    put_layer(s, "base", &base);
    put_layer(s, "unreferenced", &lost);
    put_index(s, KEY_MAIN, &base, 1);
    put_layer_cache(s, KEY_LAYERS, "a layer of the layer cache", &lc);

    assert_int_equal(prune(s, 7200, &removed), BK_OK);
    assert_int_equal(removed, 1);
    assert_true(has_blob(s, base.digest));
    assert_true(has_blob(s, lc.digest));
    assert_false(has_blob(s, lost.digest));
    bk_store_close(s);
}

static void test_prune_frees_the_blobs_of_a_removed_index(void **state)
{
    struct bk_store *s = open_local();
    struct bk_archive_layer base, d1, d2;
    struct bk_provider_entry *v;
    size_t n, removed = 99;
    (void)state;

    put_layer(s, "base", &base);
    put_layer(s, "main's delta", &d1);
    put_layer(s, "feat's delta", &d2);
    put_index(s, KEY_MAIN, (struct bk_archive_layer[]){base, d1}, 2);
    put_index(s, KEY_FEAT, (struct bk_archive_layer[]){base, d2}, 2);

    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, KEY_FEAT) == 0)
            assert_int_equal(bk_store_remove(s, &v[i]), BK_OK);
    bk_store_entries_free(v, n);

    assert_int_equal(prune(s, 7200, &removed), BK_OK);
    assert_int_equal(removed, 1); /* feat's delta alone; the base is main's too */
    assert_true(has_blob(s, base.digest));
    assert_true(has_blob(s, d1.digest));
    assert_false(has_blob(s, d2.digest));
    bk_store_close(s);
}

static void test_unreadable_index_stops_blob_removal(void **state)
{
    struct bk_store *s = open_local();
    struct bk_archive_layer base, lost;
    char *path = bk_xasprintf("%s/bad-index", g_dir);
    size_t removed = 99;
    (void)state;

    put_layer(s, "base", &base);
    put_layer(s, "unreferenced", &lost);
    put_index(s, KEY_MAIN, &base, 1);
    {
        /* claims to be an index, of a format this bkcache does not know */
        const char *json = "{\"bkcache_index\":2,\"layers\":[]}";
        char buf[256];
        size_t got = ZSTD_compress(buf, sizeof(buf), json, strlen(json), 3);
        bk_test_write_file(path, buf, got);
    }
    upload_file(s, KEY_FEAT, path);

    assert_int_equal(prune(s, 7200, &removed), BK_ERR);
    assert_non_null(strstr(bk_error_msg(), KEY_FEAT));
    assert_non_null(strstr(bk_error_msg(), "bkcache_index"));
    assert_int_equal(removed, 0);
    assert_true(has_blob(s, lost.digest));
    free(path);
    bk_store_close(s);
}

/* Through a provider without blob slots (blobs are reserved entries): an
 * entry of unknown size is read to tell; one larger than an index is not
 * downloaded; a download that fails stops the removal. */
static void test_unknown_sizes_and_failed_downloads(void **state)
{
    struct bk_store *s;
    struct bk_archive_layer base, lost;
    size_t removed = 99;
    (void)state;

    fake_reset(BK_CAP_LIST | BK_CAP_DELETE);
    s = fake_open(0);
    put_layer(s, "base", &base);
    put_layer(s, "unreferenced", &lost);
    put_index(s, KEY_MAIN, &base, 1);
    assert_true(put_plain(s, KEY_PLAIN, "random", 2 * BK_INDEX_MAX_BYTES) > BK_INDEX_MAX_BYTES);

    fake_store.calls[BK_STORE_DOWNLOAD] = 0;
    assert_int_equal(prune(s, 7200, &removed), BK_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(fake_store.calls[BK_STORE_DOWNLOAD], 1); /* the index; not the archive */
    assert_true(has_blob(s, base.digest));
    assert_false(has_blob(s, lost.digest));

    put_layer(s, "unreferenced", &lost);
    fake_store.unknown_size = 1; /* every entry must be read now */
    fake_store.calls[BK_STORE_DOWNLOAD] = 0;
    fake_store.fail_count[BK_STORE_DOWNLOAD] = 1;
    fake_store.fail_code[BK_STORE_DOWNLOAD] = BK_EDENIED;
    assert_true(prune(s, 7200, &removed) < 0);
    assert_int_equal(removed, 0);
    assert_true(has_blob(s, lost.digest));

    fake_store.calls[BK_STORE_DOWNLOAD] = 0;
    assert_int_equal(prune(s, 7200, &removed), BK_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(fake_store.calls[BK_STORE_DOWNLOAD], 2); /* the index and the archive */
    assert_true(has_blob(s, base.digest));
    assert_false(has_blob(s, lost.digest));
    bk_store_close(s);
}

/* ---- own and shared bytes ---- */

static long find(const struct bk_provider_entry *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0)
            return (long)i;
    fail_msg("no entry %s", key);
    return -1;
}

static void test_own_and_shared_bytes(void **state)
{
    struct bk_store *s = open_local();
    struct bk_archive_layer base, d1, d2;
    struct bk_layer_blob lc;
    struct bk_provider_entry *v;
    struct bk_entry_refs *r;
    uint64_t plain;
    size_t n;
    long m, f, p, l;
    (void)state;

    put_layer(s, "base", &base);
    put_layer(s, "main's delta", &d1);
    put_layer(s, "feat's delta, a bit longer", &d2);
    put_index(s, KEY_MAIN, (struct bk_archive_layer[]){base, d1}, 2);
    put_index(s, KEY_FEAT, (struct bk_archive_layer[]){base, d2}, 2);
    plain = put_plain(s, KEY_PLAIN, "plain", 1000);
    put_layer_cache(s, KEY_LAYERS, "a layer of the layer cache", &lc);

    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    n = bk_store_drop_blob_entries(v, n);
    assert_int_equal(n, 4);
    assert_int_equal(bk_entry_refs_read(s, v, n, &r), BK_OK);
    bk_entry_refs_share(v, r, n);
    m = find(v, n, KEY_MAIN);
    f = find(v, n, KEY_FEAT);
    p = find(v, n, KEY_PLAIN);
    l = find(v, n, KEY_LAYERS);
    assert_int_equal(r[m].kind, BK_ENTRY_LAYERED);
    assert_int_equal(r[m].n, 2);
    assert_int_equal(r[m].own, d1.size);
    assert_int_equal(r[m].shared, base.size);
    assert_int_equal(r[f].own, d2.size);
    assert_int_equal(r[f].shared, base.size);
    assert_int_equal(r[p].kind, BK_ENTRY_ARCHIVE);
    assert_int_equal(r[p].own, plain);
    assert_int_equal(r[p].shared, 0);
    assert_int_equal(r[l].kind, BK_ENTRY_LAYER_CACHE);
    assert_int_equal(r[l].own, lc.size);
    assert_int_equal(r[l].shared, 0);
    bk_entry_refs_free(r, n);
    bk_store_entries_free(v, n);
    bk_store_close(s);
}

/* ---- the CLI: ls and prune on the same store ---- */

static char *run_cli(const char *env, const char *args, int *status)
{
    char *out = bk_xasprintf("%s/cli.out", g_dir);
    char *cmd = bk_xasprintf("env %s \"%s\" %s --provider local --store %s/store >%s 2>&1", env,
                             getenv("BKCACHE"), args, g_dir, out);
    char *text;
    int st = system(cmd);

    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    text = bk_test_read_file(out, NULL);
    assert_non_null(text);
    free(cmd);
    free(out);
    return text;
}

static const cJSON *entry_of(const cJSON *arr, const char *key)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
            return e;
    }
    fail_msg("ls --json lacks %s", key);
    return NULL;
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v))
        fail_msg("field %s is not a number", name);
    return v->valuedouble;
}

static void test_cli_ls_and_prune(void **state)
{
    struct bk_store *s;
    struct bk_archive_layer base, d1, d2, lost;
    uint64_t plain;
    cJSON *doc;
    char *out, line[512];
    int status;
    (void)state;

    if (!getenv("BKCACHE"))
        skip();
    s = open_local();
    put_layer(s, "base", &base);
    put_layer(s, "main's delta", &d1);
    put_layer(s, "feat's delta", &d2);
    put_layer(s, "unreferenced", &lost);
    put_index(s, KEY_MAIN, (struct bk_archive_layer[]){base, d1}, 2);
    sleep(1); /* feat is newer: --keep 2 drops main */
    put_index(s, KEY_FEAT, (struct bk_archive_layer[]){base, d2}, 2);
    plain = put_plain(s, KEY_PLAIN, "plain", 1000);
    sleep(1); /* a prune that counted its reads as uses would move last_used */

    out = run_cli("", "ls --json", &status);
    assert_int_equal(status, 0);
    doc = cJSON_Parse(out);
    assert_non_null(doc);
    assert_int_equal(cJSON_GetArraySize(doc), 3); /* blobs are no entries */
    assert_string_equal(bk_json_str(entry_of(doc, KEY_MAIN), "kind"), "layered");
    assert_true(num(entry_of(doc, KEY_MAIN), "own") == (double)d1.size);
    assert_true(num(entry_of(doc, KEY_MAIN), "shared") == (double)base.size);
    assert_true(num(entry_of(doc, KEY_FEAT), "own") == (double)d2.size);
    assert_true(num(entry_of(doc, KEY_FEAT), "shared") == (double)base.size);
    assert_string_equal(bk_json_str(entry_of(doc, KEY_PLAIN), "kind"), "archive");
    assert_true(num(entry_of(doc, KEY_PLAIN), "own") == (double)plain);
    assert_true(num(entry_of(doc, KEY_PLAIN), "shared") == 0);
    cJSON_Delete(doc);
    free(out);

    out = run_cli("", "ls", &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "OWN"));
    assert_non_null(strstr(out, "SHARED"));
    free(out);

    /* --keep 2 removes main (the oldest); main's delta and the unreferenced
     * blob go in the same run, the base stays for feat */
    out = run_cli("BKCACHE_BLOB_GRACE=0", "prune --keep 2", &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "removed " KEY_MAIN));
    snprintf(line, sizeof(line), "blobs: 2 removed");
    if (!strstr(out, line))
        fail_msg("prune said: %s", out);
    free(out);
    assert_true(has_blob(s, base.digest));
    assert_true(has_blob(s, d2.digest));
    assert_false(has_blob(s, d1.digest));
    assert_false(has_blob(s, lost.digest));

    /* after main went, the base is feat's alone */
    out = run_cli("", "ls --json", &status);
    doc = cJSON_Parse(out);
    assert_non_null(doc);
    assert_true(num(entry_of(doc, KEY_FEAT), "own") == (double)(base.size + d2.size));
    assert_true(num(entry_of(doc, KEY_FEAT), "shared") == 0);
    /* prune read feat's index without making it look used */
    assert_string_equal(bk_json_str(entry_of(doc, KEY_FEAT), "last_used"),
                        bk_json_str(entry_of(doc, KEY_FEAT), "created"));
    cJSON_Delete(doc);
    free(out);
    bk_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prune_keeps_what_a_mount_index_references, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prune_keeps_layer_cache_and_mount_blobs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prune_frees_the_blobs_of_a_removed_index, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_index_stops_blob_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_sizes_and_failed_downloads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_and_shared_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_ls_and_prune, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
