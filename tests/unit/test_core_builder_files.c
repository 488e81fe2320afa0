/*
 * test_core_builder_files.c - the builder mountio's file chores
 * (core/builder_files.c): an archive is checked on the host before any build
 * (valid, damaged, truncated, not an archive), helper reports are parsed
 * strictly, and files are placed, moved and removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/archive.h"
#include "core/builder_files.h"
#include "core/error.h"
#include "core/strbuf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    bk_bfiles_remove_tree(g_dir);
    return 0;
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
     * frames hold the manifest and padding) */
    assert_int_equal(bk_strbuf_read_file(&sb, good), BK_OK);
    sb.buf[sb.len - 12] ^= 0x55;
    bk_bfiles_write(bad, sb.buf, sb.len);
    assert_int_equal(bk_bfiles_check_archive(bad, &r), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "bad.tar.zst"));
    /* truncated */
    sb.buf[sb.len - 12] ^= 0x55;
    bk_bfiles_write(bad, sb.buf, sb.len - 7);
    assert_int_equal(bk_bfiles_check_archive(bad, &r), BK_ECORRUPT);
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

static void test_read_report(void **state)
{
    struct bk_bfiles_report r;
    char *p = path_of("r.json");
    static const char ok[] = "{\"status\":\"ok\",\"digest\":\"abc\",\"files\":3,\"entries\":5,"
                             "\"bytes\":42,\"archive_bytes\":17}\n";

    bk_bfiles_write(p, ok, strlen(ok));
    assert_int_equal(bk_bfiles_read_report(p, &r), BK_OK);
    assert_string_equal(r.status, "ok");
    assert_string_equal(r.digest, "abc");
    assert_int_equal(r.files, 3);
    assert_int_equal(r.entries, 5);
    assert_int_equal(r.bytes, 42);
    assert_int_equal(r.archive_bytes, 17);
    bk_bfiles_write(p, "{\"status\":1}", 12);
    assert_int_equal(bk_bfiles_read_report(p, &r), BK_ERR);
    assert_non_null(strstr(bk_error_msg(), "malformed helper report"));
    bk_bfiles_write(p, "not json", 8);
    assert_int_equal(bk_bfiles_read_report(p, &r), BK_ERR);
    unlink(p);
    assert_int_equal(bk_bfiles_read_report(p, &r), BK_ERR);
    assert_non_null(strstr(bk_error_msg(), "the helper wrote no report"));
    free(p);
}

static void test_place_move_remove(void **state)
{
    char *src = path_of("good.tar.zst"), *dir = path_of("ctx"), *placed = path_of("ctx/0.tar.zst");
    char *moved = path_of("moved"), *nested = path_of("ctx/deep/er");
    struct stat a, b;
    char nonce[33], nonce2[33];

    mkdir(dir, 0700);
    assert_int_equal(bk_bfiles_place(src, dir, "0.tar.zst"), BK_OK);
    assert_int_equal(stat(src, &a), 0);
    assert_int_equal(stat(placed, &b), 0);
    assert_int_equal(a.st_size, b.st_size);
    assert_int_equal(bk_bfiles_move(placed, moved), BK_OK);
    assert_int_equal(access(placed, F_OK), -1);
    assert_int_equal(access(moved, F_OK), 0);
    assert_int_equal(bk_bfiles_place("/nonexistent/x", dir, "y"), BK_ENOTFOUND);
    char *deep = path_of("ctx/deep"), *link = path_of("ctx/deep/root-link");
    mkdir(deep, 0755);
    mkdir(nested, 0755);
    symlink("/", link);
    free(deep);
    free(link);
    bk_bfiles_remove_tree(dir);
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
    free(moved);
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
        cmocka_unit_test(test_check_archive),
        cmocka_unit_test(test_read_report),
        cmocka_unit_test(test_place_move_remove),
        cmocka_unit_test(test_find_helper),
    };
    return cmocka_run_group_tests_name("core/builder_files", tests, setup, teardown);
}
