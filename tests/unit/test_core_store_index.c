/*
 * test_core_store_index.c - the index of a layered cache entry
 * (core/store/store_index.c): a round trip keeps every field; a plain
 * bkcache archive and files that are not zstd frames of an index read as
 * "not an index" (BK_ENOTFOUND); a file claiming to be an index with a bad
 * field (digest, no layers, too many, unknown format, trailing bytes) is
 * BK_ECORRUPT and the message names the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/archive/archive.h"
#include "core/store/store_index.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"
#include "support/store_fixture.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

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

static char *in_dir(const char *name)
{
    return bk_xasprintf("%s/%s", g_dir, name);
}

/* `json` as one zstd frame at `path`, `extra` bytes of junk after it. */
static void write_frame(const char *path, const char *json, size_t extra)
{
    size_t bound = ZSTD_compressBound(strlen(json)), got;
    char *buf = malloc(bound + extra);
    got = ZSTD_compress(buf, bound, json, strlen(json), 3);
    assert_false(ZSTD_isError(got));
    memset(buf + got, 'x', extra);
    bk_test_write_file(path, buf, got + extra);
    free(buf);
}

/* An index JSON with `layers` as its layers array text and `fmt` as its
 * format number. */
static char *doc(const char *fmt, const char *digest, const char *layers)
{
    return bk_xasprintf("{\"bkcache_index\":%s,\"key\":\"k\",\"digest\":\"%s\",\"files\":1,"
                        "\"entries\":2,\"bytes\":3,\"layers\":%s}",
                        fmt, digest, layers);
}

#define LAYER_JSON "{\"digest\":\"sha256:" HEX_B "\",\"size\":10,\"tree\":\"sha256:" HEX_C "\"}"

/* Write the document and read it back: the status, and the message must name `field`. */
static int read_doc(const char *json, const char *field, struct bk_index *ix)
{
    char *path = in_dir("entry");
    int rc;
    write_frame(path, json, 0);
    rc = bk_index_read_file(path, ix);
    if (field) {
        assert_int_equal(rc, BK_ECORRUPT);
        if (!strstr(bk_error_msg(), field))
            fail_msg("message \"%s\" does not name %s", bk_error_msg(), field);
    }
    free(path);
    return rc;
}

static void fill(struct bk_index *ix, size_t nlayers)
{
    memset(ix, 0, sizeof(*ix));
    ix->key = "bkcache-app-go-1234";
    ix->identity = "{\"mount\":\"go\"}";
    ix->created = "2026-12-06T22:00:00Z";
    snprintf(ix->digest, sizeof(ix->digest), "%s", HEX_A);
    ix->files = 100000;
    ix->entries = 100500;
    ix->bytes = 1ull << 40;
    ix->nlayers = nlayers;
    for (size_t i = 0; i < nlayers; i++) {
        snprintf(ix->layers[i].digest, sizeof(ix->layers[i].digest), "sha256:%064zx", i + 1);
        ix->layers[i].size = 1000 * (i + 1);
        snprintf(ix->layers[i].tree, sizeof(ix->layers[i].tree), "%064zx", 100 + i);
    }
}

static void test_round_trip(void **state)
{
    struct bk_index in, out;
    char *path = in_dir("index");
    struct stat st;
    (void)state;

    fill(&in, BK_ARCHIVE_MAX_LAYERS);
    assert_int_equal(bk_index_write_file(&in, path), BK_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size <= (off_t)BK_INDEX_MAX_BYTES);
    assert_int_equal(bk_index_read_file(path, &out), BK_OK);
    assert_string_equal(out.key, in.key);
    assert_string_equal(out.identity, in.identity);
    assert_string_equal(out.created, in.created);
    assert_string_equal(out.digest, HEX_A);
    assert_int_equal(out.files, 100000);
    assert_int_equal(out.entries, 100500);
    assert_int_equal(out.bytes, 1ull << 40);
    assert_int_equal(out.nlayers, BK_ARCHIVE_MAX_LAYERS);
    for (size_t i = 0; i < out.nlayers; i++) {
        assert_string_equal(out.layers[i].digest, in.layers[i].digest);
        assert_int_equal(out.layers[i].size, in.layers[i].size);
        assert_string_equal(out.layers[i].tree, in.layers[i].tree);
    }
    assert_int_equal(bk_index_bytes(&out), 1000ull * 16 * 17 / 2);
    bk_index_release(&out);

    /* optional strings may be absent; a rewrite truncates the old file */
    fill(&in, 1);
    in.key = in.identity = in.created = NULL;
    assert_int_equal(bk_index_write_file(&in, path), BK_OK);
    assert_int_equal(bk_index_read_file(path, &out), BK_OK);
    assert_null(out.key);
    assert_null(out.identity);
    assert_null(out.created);
    assert_int_equal(out.nlayers, 1);
    assert_int_equal(bk_index_bytes(&out), 1000);
    bk_index_release(&out);
    free(path);
}

static void test_write_refuses_invalid(void **state)
{
    struct bk_index in;
    char *path = in_dir("index");
    (void)state;

    fill(&in, 0);
    assert_int_equal(bk_index_write_file(&in, path), BK_EINVAL);
    fill(&in, 1);
    snprintf(in.layers[0].digest, sizeof(in.layers[0].digest), "%s", HEX_B); /* no sha256: */
    assert_int_equal(bk_index_write_file(&in, path), BK_EINVAL);
    assert_int_equal(access(path, F_OK), -1);
    free(path);
}

static void test_plain_archive_is_not_an_index(void **state)
{
    char *tree = in_dir("tree"), *file = in_dir("tree/a.txt"), *arch = in_dir("cache.tzst");
    struct bk_pack_opts po = {0};
    struct bk_index ix;
    struct stat st;
    int fd;
    (void)state;

    assert_int_equal(mkdir(tree, 0755), 0);
    bk_test_write_file(file, "{\"bkcache_index\":1}", 19); /* even with index-like content */
    fd = open(arch, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(bk_archive_pack(tree, fd, &po, NULL), BK_OK);
    close(fd);
    assert_int_equal(stat(arch, &st), 0);
    assert_true(st.st_size <= (off_t)BK_INDEX_MAX_BYTES); /* small: the content decides */
    assert_int_equal(bk_index_read_file(arch, &ix), BK_ENOTFOUND);
    assert_null(ix.key);
    free(tree);
    free(file);
    free(arch);
}

static void test_garbage_is_not_an_index(void **state)
{
    char *path = in_dir("entry"), *big;
    struct bk_index ix;
    (void)state;

    bk_test_write_file(path, "hello", 5); /* not zstd */
    assert_int_equal(bk_index_read_file(path, &ix), BK_ENOTFOUND);
    bk_test_write_file(path, "", 0);
    assert_int_equal(bk_index_read_file(path, &ix), BK_ENOTFOUND);
    write_frame(path, "not json", 0);
    assert_int_equal(bk_index_read_file(path, &ix), BK_ENOTFOUND);
    write_frame(path, "[1,2]", 0);
    assert_int_equal(bk_index_read_file(path, &ix), BK_ENOTFOUND);
    write_frame(path, "{\"schema\":\"bkcache-layers v1\"}", 0); /* JSON, not an index */
    assert_int_equal(bk_index_read_file(path, &ix), BK_ENOTFOUND);
    /* a truncated frame */
    {
        char *j = doc("1", "sha256:" HEX_A, "[" LAYER_JSON "]");
        size_t len;
        char *data;
        write_frame(path, j, 0);
        data = bk_test_read_file(path, &len);
        bk_test_write_file(path, data, len - 3);
        assert_int_equal(bk_index_read_file(path, &ix), BK_ENOTFOUND);
        free(data);
        free(j);
    }
    /* larger than BK_INDEX_MAX_BYTES: an archive, whatever it starts with */
    big = malloc(BK_INDEX_MAX_BYTES + 1);
    memset(big, ' ', BK_INDEX_MAX_BYTES + 1);
    {
        char *j = doc("1", "sha256:" HEX_A, "[" LAYER_JSON "]");
        size_t bound = ZSTD_compressBound(strlen(j));
        size_t got = ZSTD_compress(big, bound, j, strlen(j), 3);
        assert_false(ZSTD_isError(got));
        bk_test_write_file(path, big, BK_INDEX_MAX_BYTES + 1);
        free(j);
    }
    assert_int_equal(bk_index_read_file(path, &ix), BK_ENOTFOUND);
    free(big);
    /* missing */
    unlink(path);
    assert_int_equal(bk_index_read_file(path, &ix), BK_ENOTFOUND);
    free(path);
}

static void test_bad_digest(void **state)
{
    struct bk_index ix;
    char *j;
    (void)state;

    j = doc("1", HEX_A, "[" LAYER_JSON "]"); /* no sha256: prefix */
    read_doc(j, "\"digest\"", &ix);
    free(j);
    j = doc("1", "sha256:" HEX_A "0", "[" LAYER_JSON "]"); /* 65 digits */
    read_doc(j, "\"digest\"", &ix);
    free(j);
    j = doc("1", "sha256:" HEX_A,
            "[{\"digest\":\"sha256:XYZ\",\"size\":10,\"tree\":\"sha256:" HEX_C "\"}]");
    read_doc(j, "layers[0]: \"digest\"", &ix);
    free(j);
    j = doc("1", "sha256:" HEX_A, "[" LAYER_JSON ",{\"digest\":\"sha256:" HEX_B "\",\"size\":1}]");
    read_doc(j, "layers[1]: \"tree\"", &ix);
    free(j);
    j = doc("1", "sha256:" HEX_A,
            "[{\"digest\":\"sha256:" HEX_B "\",\"size\":-1,\"tree\":\"sha256:" HEX_C "\"}]");
    read_doc(j, "layers[0]: \"size\"", &ix);
    free(j);
    j = bk_xasprintf("{\"bkcache_index\":1,\"digest\":\"sha256:" HEX_A
                     "\",\"files\":1,\"entries\":\"2\",\"bytes\":3,\"layers\":[" LAYER_JSON "]}");
    read_doc(j, "\"entries\"", &ix);
    free(j);
}

static void test_zero_layers(void **state)
{
    struct bk_index ix;
    char *j = doc("1", "sha256:" HEX_A, "[]");
    (void)state;
    read_doc(j, "\"layers\"", &ix);
    free(j);
    j = doc("1", "sha256:" HEX_A, "{}");
    read_doc(j, "\"layers\"", &ix);
    free(j);
}

static void test_too_many_layers(void **state)
{
    struct bk_strbuf arr = BK_STRBUF_INIT;
    struct bk_index ix;
    char *j;
    (void)state;

    bk_strbuf_adds(&arr, "[");
    for (int i = 0; i < BK_ARCHIVE_MAX_LAYERS; i++)
        bk_strbuf_adds(&arr, i ? "," LAYER_JSON : LAYER_JSON);
    bk_strbuf_adds(&arr, "]");
    j = doc("1", "sha256:" HEX_A, arr.buf);
    assert_int_equal(read_doc(j, NULL, &ix), BK_OK); /* the most allowed */
    assert_int_equal(ix.nlayers, BK_ARCHIVE_MAX_LAYERS);
    bk_index_release(&ix);
    free(j);
    arr.len--;
    bk_strbuf_adds(&arr, "," LAYER_JSON "]");
    j = doc("1", "sha256:" HEX_A, arr.buf);
    read_doc(j, "\"layers\"", &ix);
    free(j);
    bk_strbuf_release(&arr);
}

static void test_unknown_format(void **state)
{
    struct bk_index ix;
    char *j = doc("2", "sha256:" HEX_A, "[" LAYER_JSON "]");
    (void)state;
    read_doc(j, "\"bkcache_index\"", &ix);
    free(j);
    j = doc("\"1\"", "sha256:" HEX_A, "[" LAYER_JSON "]");
    read_doc(j, "\"bkcache_index\"", &ix);
    free(j);
}

static void test_trailing_bytes(void **state)
{
    struct bk_index ix;
    char *path = in_dir("entry");
    char *j = doc("1", "sha256:" HEX_A, "[" LAYER_JSON "]");
    (void)state;
    write_frame(path, j, 0);
    assert_int_equal(bk_index_read_file(path, &ix), BK_OK);
    assert_int_equal(ix.nlayers, 1);
    assert_string_equal(ix.layers[0].digest, "sha256:" HEX_B);
    assert_int_equal(ix.layers[0].size, 10);
    assert_string_equal(ix.layers[0].tree, HEX_C);
    bk_index_release(&ix);
    write_frame(path, j, 7);
    assert_int_equal(bk_index_read_file(path, &ix), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "after the index"));
    free(j);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_refuses_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_archive_is_not_an_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_is_not_an_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
