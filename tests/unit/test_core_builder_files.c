/*
 * test_core_builder_files.c - the builder mountio's file chores
 * (core/builder/builder_files.c): an archive is checked on the host before any build
 * (valid, truncated, not an archive; a damaged frame is left to the unpack), helper reports are
 * parsed strictly, a build's exported tar stream is read and its archives checked on the way
 * (core/builder/builder_export.c), and files are placed and removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/archive/archive.h"
#include "core/builder/builder_files.h"
#include "core/util/fileio.h"
#include "core/util/error.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static char g_dir[] = "/tmp/bk-bfiles-test-XXXXXX";

static char *path_of(const char *name)
{
    return bk_xasprintf("%s/%s", g_dir, name);
}

static int setup(void **state)
{
    char *src, *f;
    int fd;
    struct bk_archive_stats st;

    if (!mkdtemp(g_dir))
        return -1;
    src = path_of("src");
    mkdir(src, 0755);
    f = path_of("src/a.txt");
    bk_bfiles_write(f, "hello\n", 6);
    free(f);
    f = path_of("good.tar.zst");
    fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    free(f);
    if (fd < 0 || bk_archive_pack(src, fd, NULL, &st) != BK_OK)
        return -1;
    close(fd);
    free(src);
    return 0;
}

static int teardown(void **state)
{
    bk_remove_tree(g_dir);
    return 0;
}

/* bk_archive_unpack's verdict on the archive at `path` (into a fresh
 * directory, removed again). */
static int unpack_rc(const char *path)
{
    char *out = path_of("unpacked");
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    bk_remove_tree(out);
    rc = fd < 0 ? BK_ERR : bk_archive_unpack(fd, out, NULL, NULL, NULL);
    if (fd >= 0)
        close(fd);
    bk_remove_tree(out);
    free(out);
    return rc;
}

static void test_check_archive(void **state)
{
    struct bk_bfiles_report r;
    struct bk_strbuf sb = BK_STRBUF_INIT;
    char *good = path_of("good.tar.zst"), *bad = path_of("bad.tar.zst");

    if (bk_bfiles_check_archive(good, &r) != BK_OK)
        fail_msg("%s", bk_error_msg());
    assert_int_equal(strlen(r.digest), BK_DIGEST_HEX);
    assert_int_equal(r.files, 1);
    assert_true(r.archive_bytes > 0);

    /* a byte flipped in the compressed data (the last frame; the first
     * frames hold the manifest and padding): the framing holds, so this
     * check passes it on to the helper, whose unpack refuses it */
    assert_int_equal(bk_strbuf_read_file(&sb, good), BK_OK);
    sb.buf[sb.len - 12] ^= 0x55;
    bk_bfiles_write(bad, sb.buf, sb.len);
    assert_int_equal(bk_bfiles_check_archive(bad, &r), BK_OK);
    assert_int_equal(unpack_rc(bad), BK_ECORRUPT);
    assert_int_equal(unpack_rc(good), BK_OK);
    /* truncated */
    sb.buf[sb.len - 12] ^= 0x55;
    bk_bfiles_write(bad, sb.buf, sb.len - 7);
    assert_int_equal(bk_bfiles_check_archive(bad, &r), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "bad.tar.zst: corrupt archive"));
    /* not an archive at all; missing */
    bk_bfiles_write(bad, "plain text\n", 11);
    assert_int_equal(bk_bfiles_check_archive(bad, &r), BK_ECORRUPT);
    bk_bfiles_write(bad, "", 0);
    assert_int_equal(bk_bfiles_check_archive(bad, &r), BK_ECORRUPT);
    unlink(bad);
    assert_int_equal(bk_bfiles_check_archive(bad, &r), BK_ENOTFOUND);
    bk_strbuf_release(&sb);
    free(good);
    free(bad);
}

/* The framing check: whole frames with checksums pass; a frame without
 * a checksum, a cut frame or trailing bytes fail. */
static void test_check_frames(void **state)
{
    char *p = path_of("frames.zst"), *gp = path_of("good.tar.zst");
    char src[4096], dst[8192];
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t n;
    uint64_t size = 0;
    int fd;

    memset(src, 'x', sizeof(src));
    fd = open(gp, O_RDONLY);
    assert_int_equal(bk_bfiles_check_frames(fd, gp, &size), BK_OK);
    assert_true(size > 0);
    close(fd);

    n = ZSTD_compressCCtx(c, dst, sizeof(dst), src, sizeof(src), 3); /* no checksum */
    assert_false(ZSTD_isError(n));
    bk_bfiles_write(p, dst, n);
    fd = open(p, O_RDONLY);
    assert_int_equal(bk_bfiles_check_frames(fd, p, &size), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "without a checksum"));
    close(fd);

    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    n = ZSTD_compress2(c, dst, sizeof(dst), src, sizeof(src));
    assert_false(ZSTD_isError(n));
    bk_bfiles_write(p, dst, n);
    fd = open(p, O_RDONLY);
    assert_int_equal(bk_bfiles_check_frames(fd, p, &size), BK_OK);
    assert_int_equal(size, n);
    close(fd);
    bk_bfiles_write(p, dst, n - 1);
    fd = open(p, O_RDONLY);
    assert_int_equal(bk_bfiles_check_frames(fd, p, &size), BK_ECORRUPT);
    close(fd);
    bk_bfiles_write(p, "", 0);
    fd = open(p, O_RDONLY);
    assert_int_equal(bk_bfiles_check_frames(fd, p, &size), BK_ECORRUPT);
    close(fd);
    unlink(p);
    ZSTD_freeCCtx(c);
    free(p);
    free(gp);
}

static void test_parse_report(void **state)
{
    struct bk_bfiles_report r;
    static const char ok[] = "{\"status\":\"ok\",\"digest\":\"abc\",\"files\":3,\"entries\":5,"
                             "\"bytes\":42,\"archive_bytes\":17}\n";

    assert_int_equal(bk_bfiles_parse_report(ok, "r.json", &r), BK_OK);
    assert_string_equal(r.status, "ok");
    assert_string_equal(r.digest, "abc");
    assert_int_equal(r.files, 3);
    assert_int_equal(r.entries, 5);
    assert_int_equal(r.bytes, 42);
    assert_int_equal(r.archive_bytes, 17);
    assert_string_equal(r.code, "");
    assert_int_equal(bk_bfiles_parse_report("{\"status\":\"error\",\"code\":\"corrupt\","
                                            "\"digest\":\"\",\"message\":\"layer 1: no\"}",
                                            "r.json", &r),
                     BK_OK);
    assert_string_equal(r.status, "error");
    assert_string_equal(r.code, "corrupt");
    assert_string_equal(r.message, "layer 1: no");
    assert_int_equal(bk_bfiles_parse_report("{\"status\":1}", "r.json", &r), BK_ERR);
    assert_non_null(strstr(bk_error_msg(), "r.json: malformed helper report"));
    assert_int_equal(bk_bfiles_parse_report("not json", "r.json", &r), BK_ERR);
    assert_int_equal(bk_bfiles_parse_report("", "r.json", &r), BK_ERR);
    assert_int_equal(r.delta, 0);
}

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* A pack that wrote a delta reports its parent and the parent's layers. */
static void test_parse_report_delta(void **state)
{
    struct bk_bfiles_report r;
    static const char delta[] =
        "{\"status\":\"ok\",\"digest\":\"" HEX_C "\",\"files\":3,\"delta\":true,"
        "\"parent\":\"" HEX_B "\",\"layers\":["
        "{\"digest\":\"sha256:" HEX_A "\",\"size\":100,\"tree\":\"" HEX_A "\"},"
        "{\"digest\":\"sha256:" HEX_B "\",\"size\":7,\"tree\":\"sha256:" HEX_B "\"}]}";
    static const char cut[] = "{\"status\":\"ok\",\"digest\":\"" HEX_C "\",\"delta\":true,"
                              "\"parent\":\"" HEX_B "\"}";
    static const char wrong_parent[] =
        "{\"status\":\"ok\",\"digest\":\"" HEX_C "\",\"delta\":true,\"parent\":\"" HEX_A
        "\",\"layers\":[{\"digest\":\"sha256:" HEX_B "\",\"size\":7,\"tree\":\"" HEX_B "\"}]}";

    assert_int_equal(bk_bfiles_parse_report(delta, "r.json", &r), BK_OK);
    assert_int_equal(r.delta, 1);
    assert_string_equal(r.parent, HEX_B);
    assert_int_equal(r.nlayers, 2);
    assert_string_equal(r.layers[0].digest, "sha256:" HEX_A);
    assert_int_equal(r.layers[0].size, 100);
    assert_string_equal(r.layers[0].tree, HEX_A);
    assert_string_equal(r.layers[1].tree, HEX_B); /* "sha256:" is optional there */
    assert_int_equal(bk_bfiles_parse_report(cut, "r.json", &r), BK_ERR);
    assert_non_null(strstr(bk_error_msg(), "r.json: a delta without its parent and layers"));
    assert_int_equal(bk_bfiles_parse_report(wrong_parent, "r.json", &r), BK_ERR);
    assert_non_null(strstr(bk_error_msg(), "not its top layer's tree"));
}

/* Write a tar stream (as a build exports it) holding `names[i]` with
 * `data[i]` (`lens[i]` bytes) to `path`; cut the file to `cut` bytes
 * when cut > 0. */
static void write_export(const char *path, const char *const *names, const char *const *data,
                         const size_t *lens, size_t n, size_t cut)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();

    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    archive_entry_set_pathname(e, ".bkcache/");
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    archive_write_header(a, e);
    for (size_t i = 0; i < n; i++) {
        archive_entry_clear(e);
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)lens[i]);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, data[i], lens[i]), (la_ssize_t)lens[i]);
    }
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    if (cut)
        assert_int_equal(truncate(path, (off_t)cut), 0);
}

static int read_export_file(const char *path, struct bk_bfiles_export_item *items, size_t n)
{
    int fd = open(path, O_RDONLY), rc;
    assert_true(fd >= 0);
    rc = bk_bfiles_read_export(fd, items, n);
    close(fd);
    return rc;
}

/* The exported tar stream: reports are read, an archive is written where
 * its cache asked and its framing checked; a cut or misframed archive is
 * removed and reported for its cache; a cut stream fails the batch. */
static void test_read_export(void **state)
{
    struct bk_strbuf good = BK_STRBUF_INIT, got = BK_STRBUF_INIT;
    struct bk_bfiles_report want;
    char *gp = path_of("good.tar.zst"), *tarp = path_of("export.tar"), *a0 = path_of("a0.tar.zst");
    static const char rep[] = "{\"status\":\"ok\",\"digest\":\"abc\",\"files\":1}";
    const char *names[] = {".bkcache/out/0.json", "./.bkcache/out/0.tar.zst", ".bkcache/out/1.json",
                           ".bkcache/out/9.json", "other.txt"};
    const char *data[5];
    size_t lens[5];
    struct bk_bfiles_export_item items[2];

    assert_int_equal(bk_strbuf_read_file(&good, gp), BK_OK);
    assert_int_equal(bk_bfiles_check_archive(gp, &want), BK_OK);
    for (int i = 0; i < 5; i++) {
        data[i] = i == 1 ? good.buf : rep;
        lens[i] = i == 1 ? good.len : strlen(rep);
    }

    /* whole: cache 0 (save) gets its archive, cache 1 (no archive wanted)
     * its report; an index out of range and other members are ignored */
    write_export(tarp, names, data, lens, 5, 0);
    memset(items, 0, sizeof(items));
    items[0].archive_path = a0;
    items[0].hash = 1;
    assert_int_equal(read_export_file(tarp, items, 2), BK_OK);
    assert_true(items[0].have_report && items[1].have_report);
    assert_string_equal(items[0].report.digest, "abc");
    assert_int_equal(items[0].archive_status, BK_OK);
    assert_string_equal(items[0].archive.digest, want.digest);
    assert_int_equal(items[0].archive.files, 1);
    assert_int_equal(items[0].archive.archive_bytes, good.len);
    assert_int_equal(bk_strbuf_read_file(&got, a0), BK_OK);
    assert_int_equal(got.len, good.len);
    assert_memory_equal(got.buf, good.buf, good.len);
    assert_int_equal(items[1].archive_status, BK_ENOTFOUND);
    /* hashed on the way: the SHA-256 of the file's bytes, no second pass */
    {
        char hex[65];
        uint64_t size = 0;
        int fd = open(a0, O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(bk_sha256_fd(fd, a0, hex, &size), BK_OK);
        close(fd);
        assert_int_equal(size, good.len);
        assert_string_equal(items[0].archive_sha256, hex);
    }
    /* a plain archive (no `hash`) is written the same, with no hash */
    memset(items, 0, sizeof(items));
    items[0].archive_path = a0;
    assert_int_equal(read_export_file(tarp, items, 2), BK_OK);
    assert_int_equal(items[0].archive_status, BK_OK);
    assert_string_equal(items[0].archive_sha256, "");

    /* bytes after the last frame: that cache fails, its file is gone */
    struct bk_strbuf longer = BK_STRBUF_INIT;
    bk_strbuf_add(&longer, good.buf, good.len);
    bk_strbuf_add(&longer, "trail", 5);
    data[1] = longer.buf;
    lens[1] = longer.len;
    write_export(tarp, names, data, lens, 3, 0);
    assert_int_equal(read_export_file(tarp, items, 2), BK_OK);
    assert_int_equal(items[0].archive_status, BK_ECORRUPT);
    assert_non_null(strstr(items[0].archive_error, "corrupt archive at byte"));
    assert_int_equal(access(a0, F_OK), -1);
    assert_true(items[1].have_report);
    data[1] = good.buf;
    lens[1] = good.len;
    bk_strbuf_release(&longer);

    /* an archive cut short inside a whole tar stream */
    lens[1] = good.len - 7;
    write_export(tarp, names, data, lens, 3, 0);
    assert_int_equal(read_export_file(tarp, items, 2), BK_OK);
    assert_int_equal(items[0].archive_status, BK_ECORRUPT);
    assert_non_null(strstr(items[0].archive_error, "corrupt archive at byte"));
    assert_int_equal(access(a0, F_OK), -1);
    lens[1] = good.len;

    /* the tar stream cut inside the archive: the batch fails */
    write_export(tarp, names, data, lens, 3, 1024 + good.len / 2);
    assert_int_equal(read_export_file(tarp, items, 2), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "exported output is damaged or cut short"));
    assert_int_equal(access(a0, F_OK), -1);
    assert_int_not_equal(items[0].archive_status, BK_OK);

    /* no archive in the stream at all; an empty stream */
    write_export(tarp, names + 2, data + 2, lens + 2, 1, 0);
    assert_int_equal(read_export_file(tarp, items, 2), BK_OK);
    assert_int_equal(items[0].archive_status, BK_ENOTFOUND);
    assert_false(items[0].have_report);
    bk_bfiles_write(tarp, "", 0);
    assert_int_equal(read_export_file(tarp, items, 2), BK_ECORRUPT);

    unlink(tarp);
    bk_strbuf_release(&good);
    bk_strbuf_release(&got);
    free(gp);
    free(tarp);
    free(a0);
}

static void test_place_remove(void **state)
{
    char *src = path_of("good.tar.zst"), *dir = path_of("ctx"), *placed = path_of("ctx/0.tar.zst");
    char *nested = path_of("ctx/deep/er");
    struct stat a, b;
    char nonce[33], nonce2[33];

    mkdir(dir, 0700);
    assert_int_equal(bk_bfiles_place(src, dir, "0.tar.zst"), BK_OK);
    assert_int_equal(stat(src, &a), 0);
    assert_int_equal(stat(placed, &b), 0);
    assert_int_equal(a.st_size, b.st_size);
    assert_int_equal(bk_bfiles_place("/nonexistent/x", dir, "y"), BK_ENOTFOUND);
    char *deep = path_of("ctx/deep"), *link = path_of("ctx/deep/root-link");
    mkdir(deep, 0755);
    mkdir(nested, 0755);
    symlink("/", link);
    free(deep);
    free(link);
    bk_remove_tree(dir);
    assert_int_equal(access(dir, F_OK), -1);
    assert_int_equal(access("/", F_OK), 0);

    bk_bfiles_nonce(nonce, sizeof(nonce));
    bk_bfiles_nonce(nonce2, sizeof(nonce2));
    assert_int_equal(strlen(nonce), 32);
    assert_string_not_equal(nonce, nonce2);
    assert_int_equal(strspn(nonce, "0123456789abcdef"), 32);
    free(src);
    free(dir);
    free(placed);
    free(nested);
}

static void test_find_helper(void **state)
{
    char *out = NULL;
    char *fake = path_of("helper");

    assert_int_equal(bk_bfiles_find_helper("/nonexistent/bkcache-helper", &out), BK_ENOTFOUND);
    assert_null(out);
    bk_bfiles_write(fake, "#!/bin/sh\n", 10);
    chmod(fake, 0755);
    assert_int_equal(bk_bfiles_find_helper(fake, &out), BK_OK);
    assert_string_equal(out, fake);
    free(out);
    setenv("BKCACHE_HELPER", fake, 1);
    assert_int_equal(bk_bfiles_find_helper(NULL, &out), BK_OK);
    assert_string_equal(out, fake);
    free(out);
    unsetenv("BKCACHE_HELPER");
    free(fake);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_archive), cmocka_unit_test(test_check_frames),
        cmocka_unit_test(test_parse_report),  cmocka_unit_test(test_parse_report_delta),
        cmocka_unit_test(test_read_export),   cmocka_unit_test(test_place_remove),
        cmocka_unit_test(test_find_helper),
    };
    return cmocka_run_group_tests_name("core/builder_files", tests, setup, teardown);
}
