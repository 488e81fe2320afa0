/*
 * test_core_archive_hostile.c - unpack refuses hostile and damaged archives.
 *
 * Each case crafts an archive with libarchive (support/archive_fixture.c) or
 * damages a real one, unpacks it over an existing target, and checks three
 * things: the unpack fails, the target's fingerprint (every entry's
 * attributes and content) is unchanged, and nothing was written next to it
 * or outside it (no temporary directory left, the "outside" directory still
 * empty). The crafted manifests carry the correct digest unless the case is
 * about a lying manifest, so each rejection comes from the check under test;
 * a control case proves that a well-formed crafted archive is accepted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/archive/archive.h"
#include "core/util/error.h"
#include "core/util/log.h"
#include "tests/unit/support/archive_fixture.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char *base, *target, *outside, *archive;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char p[4096];
    f->base = tu_mkdtemp();
    f->target = bk_xasprintf("%s/target", f->base);
    f->outside = bk_xasprintf("%s/outside", f->base);
    f->archive = bk_xasprintf("%s/in.tzst", f->base);
    tu_mkdir(f->target);
    tu_mkdir(f->outside);
    snprintf(p, sizeof(p), "%s/keep", f->target);
    tu_write(p, "old contents\n");
    snprintf(p, sizeof(p), "%s/sub", f->target);
    tu_mkdir(p);
    snprintf(p, sizeof(p), "%s/sub/x", f->target);
    tu_write(p, "x\n");
    bk_log_verbosity = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tu_rm_rf(f->base);
    free(f->base);
    free(f->target);
    free(f->outside);
    free(f->archive);
    free(f);
    return 0;
}

/* Unpack f->archive into the target and assert it failed without a trace. */
static void expect_rejected(struct fx *f, const char *why)
{
    struct bk_strbuf before = BK_STRBUF_INIT, after = BK_STRBUF_INIT;
    struct bk_strbuf lb = BK_STRBUF_INIT, la = BK_STRBUF_INIT, out = BK_STRBUF_INIT;
    tu_fingerprint(f->target, NULL, 1, &before);
    tu_listing(f->base, &lb);

    int rc = tu_unpack_file(f->archive, f->target, 0, 0);
    if (rc == 0)
        fail_msg("%s: unpack accepted the archive", why);
    assert_true(rc < 0);
    assert_true(strlen(bk_error_msg()) > 0);
    print_message("  %s: %s\n", why, bk_error_msg());

    tu_fingerprint(f->target, NULL, 1, &after);
    tu_listing(f->base, &la);
    tu_listing(f->outside, &out);
    assert_string_equal(before.buf, after.buf);
    assert_string_equal(lb.buf, la.buf);
    assert_string_equal(out.buf, "");
    bk_strbuf_release(&before);
    bk_strbuf_release(&after);
    bk_strbuf_release(&lb);
    bk_strbuf_release(&la);
    bk_strbuf_release(&out);
}

static void craft_and_reject(struct fx *f, const struct tu_member *m, size_t n, int flags,
                             const char *why)
{
    tu_craft(f->archive, m, n, flags);
    expect_rejected(f, why);
}

static void test_control_crafted_archive_is_accepted(void **state)
{
    struct fx *f = *state;
    struct tu_member m[] = {
        {"a", 'd', NULL, NULL},
        {"a/f", 'f', "data\n", NULL},
        {"a/h", 'h', NULL, "a/f"},
        {"a/l", 'l', NULL, "../outside"},
    };
    char p[4096];
    tu_craft(f->archive, m, 4, 0);
    assert_int_equal(tu_unpack_file(f->archive, f->target, 0, 0), 0);
    snprintf(p, sizeof(p), "%s/keep", f->target);
    assert_false(tu_exists(p));
    snprintf(p, sizeof(p), "%s/a/h", f->target);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_nlink, 2);
}

static void test_absolute_path(void **state)
{
    struct fx *f = *state;
    char *abs = bk_xasprintf("%s/evil", f->outside);
    struct tu_member m[] = {{abs, 'f', "pwned\n", NULL}};
    craft_and_reject(f, m, 1, 0, "absolute path");
    free(abs);
}

static void test_dotdot(void **state)
{
    struct fx *f = *state;
    struct tu_member m1[] = {{"../outside/evil", 'f', "pwned\n", NULL}};
    craft_and_reject(f, m1, 1, 0, "leading ..");
    struct tu_member m2[] = {{"a", 'd', NULL, NULL},
                             {"a/../../outside/evil", 'f', "pwned\n", NULL}};
    craft_and_reject(f, m2, 2, 0, "inner ..");
}

static void test_write_through_symlink(void **state)
{
    struct fx *f = *state;
    struct tu_member m1[] = {{"d", 'l', NULL, f->outside}, {"d/evil", 'f', "pwned\n", NULL}};
    craft_and_reject(f, m1, 2, 0, "absolute symlink then write");
    struct tu_member m2[] = {{"d", 'l', NULL, "../../outside"}, {"d/evil", 'f', "pwned\n", NULL}};
    craft_and_reject(f, m2, 2, 0, "relative symlink then write");
    struct tu_member m3[] = {
        {"d", 'd', NULL, NULL}, {"d/e", 'l', NULL, f->outside}, {"d/e/evil", 'd', NULL, NULL}};
    craft_and_reject(f, m3, 3, 0, "symlink then mkdir");
}

static void test_hardlink_escape(void **state)
{
    struct fx *f = *state;
    char secret[4096];
    snprintf(secret, sizeof(secret), "%s/../secret", f->outside);
    tu_write(secret, "secret\n");
    struct tu_member m1[] = {{"h", 'h', NULL, "../secret"}};
    craft_and_reject(f, m1, 1, 0, "hardlink with ..");
    struct tu_member m2[] = {{"h", 'h', NULL, secret}};
    craft_and_reject(f, m2, 1, 0, "hardlink to an absolute path");
    struct tu_member m3[] = {{"d", 'l', NULL, f->base}, {"e", 'h', NULL, "d/secret"}};
    craft_and_reject(f, m3, 2, 0, "hardlink through a symlinked directory");
    struct tu_member m4[] = {{"l", 'l', NULL, secret}, {"m", 'h', NULL, "l"}};
    craft_and_reject(f, m4, 2, 0, "hardlink to a symlink");
    struct tu_member m5[] = {{"a", 'h', NULL, "b"}, {"b", 'f', "x", NULL}};
    craft_and_reject(f, m5, 2, 0, "hardlink to a later member");
    unlink(secret);
}

static void test_reserved_and_duplicate_names(void **state)
{
    struct fx *f = *state;
    struct tu_member m1[] = {{".bkcache/manifest.json", 'f', "{}", NULL}};
    craft_and_reject(f, m1, 1, 0, "second manifest");
    struct tu_member m2[] = {{".bkcache", 'd', NULL, NULL}};
    craft_and_reject(f, m2, 1, 0, ".bkcache directory");
    struct tu_member m3[] = {{"a", 'f', "1", NULL}, {"a", 'l', NULL, f->outside}};
    craft_and_reject(f, m3, 2, 0, "duplicate member");
    struct tu_member m4[] = {{"b", 'f', "1", NULL}, {"a", 'f', "2", NULL}};
    craft_and_reject(f, m4, 2, 0, "out of order");
    struct tu_member m5[] = {{".bkcache-restoring", 'f', "x", NULL}};
    craft_and_reject(f, m5, 1, 0, "a planted unfinished-restore marker");
    struct tu_member m6[] = {{".bkcache-unpack-x", 'd', NULL, NULL}};
    craft_and_reject(f, m6, 1, 0, "bkcache's own temporary name");
}

static void test_lying_or_missing_manifest(void **state)
{
    struct fx *f = *state;
    struct tu_member m[] = {{"a", 'f', "data", NULL}};
    craft_and_reject(f, m, 1, TU_LYING_DIGEST, "manifest lies about the digest");
    craft_and_reject(f, m, 1, TU_LYING_COUNTS, "manifest lies about the counts");
    craft_and_reject(f, m, 1, TU_NO_MANIFEST, "no manifest");
}

/* A bomb is stopped at the first member beyond the manifest's counts, not
 * at the end of the stream: the error names that member. */
static void test_bomb_stopped_at_first_excess_member(void **state)
{
    struct fx *f = *state;
    struct tu_member m[] = {{"a", 'f', "data", NULL},
                            {"b", 'f', "more data than announced", NULL},
                            {"c", 'f', "and more", NULL}};
    craft_and_reject(f, m, 3, TU_BOMB, "bomb");
    assert_non_null(strstr(bk_error_msg(), "member 'b'"));
    assert_non_null(strstr(bk_error_msg(), "more than its manifest says"));
}

static void test_expect_digest_mismatch(void **state)
{
    struct fx *f = *state;
    struct tu_member m[] = {{"a", 'f', "data", NULL}};
    struct bk_unpack_opts o = {0};
    tu_craft(f->archive, m, 1, 0);
    o.expect_digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    int fd = open(f->archive, O_RDONLY);
    assert_int_equal(bk_archive_unpack(fd, f->target, &o, NULL, NULL), BK_ECORRUPT);
    close(fd);
    char p[4096];
    snprintf(p, sizeof(p), "%s/keep", f->target);
    assert_true(tu_exists(p));
}

/* A real archive of a small tree, for the damage cases. */
static long real_archive(struct fx *f)
{
    char *src = bk_xasprintf("%s/src", f->base), p[4096];
    tu_mkdir(src);
    for (int i = 0; i < 20; i++) {
        snprintf(p, sizeof(p), "%s/file%02d", src, i);
        char data[2000];
        for (size_t j = 0; j < sizeof(data) - 1; j++)
            data[j] = (char)('a' + (i * 7 + (int)j * 13) % 26);
        data[sizeof(data) - 1] = '\0';
        tu_write(p, data);
    }
    assert_int_equal(tu_pack_file(src, f->archive), 0);
    tu_rm_rf(src);
    free(src);
    struct stat st;
    stat(f->archive, &st);
    return (long)st.st_size;
}

static void test_truncated_stream(void **state)
{
    struct fx *f = *state;
    long size = real_archive(f);
    assert_int_equal(truncate(f->archive, size / 2), 0);
    expect_rejected(f, "truncated in the middle");
    size = real_archive(f);
    assert_int_equal(truncate(f->archive, size - 2), 0);
    expect_rejected(f, "truncated inside the final checksum");
    assert_int_equal(truncate(f->archive, 0), 0);
    expect_rejected(f, "empty file");
}

static void flip_byte(const char *file, long off)
{
    int fd = open(file, O_RDWR);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void test_bad_checksum(void **state)
{
    struct fx *f = *state;
    long size = real_archive(f);
    flip_byte(f->archive, size - 1); /* the frame's XXH64 checksum */
    expect_rejected(f, "bad zstd frame checksum");
}

static void test_not_an_archive(void **state)
{
    struct fx *f = *state;
    tu_write(f->archive, "this is not a zstd stream at all\n");
    expect_rejected(f, "garbage");
    char *cmd = bk_xasprintf("tar -cf %s -C %s keep", f->archive, f->target);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    expect_rejected(f, "uncompressed tar");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_control_crafted_archive_is_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_through_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlink_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_and_duplicate_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_or_missing_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_digest_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bomb_stopped_at_first_excess_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_an_archive, setup, teardown),
    };
    return cmocka_run_group_tests_name("core/archive hostile", tests, NULL, NULL);
}
