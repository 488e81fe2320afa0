/*
 * test_core_archive.c - pack/unpack round trips, determinism, compatibility.
 *
 * A "rich" tree exercises every attribute the archive keeps: nested and
 * empty directories, odd modes (setgid, 0600, 0700), long and non-ASCII
 * names, relative, absolute and dangling symlinks, a file with three hard
 * links, mtimes with nanoseconds on files, directories and symlinks, owners
 * (when running as root) and user.* xattrs (when the file system has them).
 * The fingerprint (support/archive_fixture.c) compares trees entry by entry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/archive/archive.h"
#include "core/archive/archive_internal.h"
#include "core/util/error.h"
#include "core/util/log.h"
#include "tests/unit/support/archive_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static char *pathf(struct tu_dirs *f, const char *rel)
{
    static char bufs[4][8192]; /* rotating, so two calls can share an expression */
    static int next;
    char *buf = bufs[next++ % 4];
    snprintf(buf, sizeof(bufs[0]), "%s/%s", f->src, rel);
    return buf;
}

static void set_times(const char *path, long long sec, long nsec)
{
    struct timespec ts[2] = {{(time_t)sec, nsec}, {(time_t)sec, nsec}};
    if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0)
        abort();
}

/* Returns whether the file system took user xattrs (then they are in the tree). */
static int make_rich_tree(struct tu_dirs *f)
{
    char big[100001];
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)(1 + (i * 2654435761u >> 13) % 250);
    big[sizeof(big) - 1] = '\0';

    tu_mkdir(f->src);
    tu_mkdir(pathf(f, "a"));
    tu_mkdir(pathf(f, "a/b"));
    tu_mkdir(pathf(f, "empty"));
    tu_mkdir(pathf(f, "x"));
    tu_write(pathf(f, "a/f1"), "hello\n");
    tu_write(pathf(f, "a/b/f2"), big);
    tu_write(pathf(f, "x/exe"), "#!/bin/sh\necho hi\n");
    tu_write(pathf(f, "name with space & \xc3\xbcnicode"), "u\n");
    tu_write(pathf(f, "zero"), "");
    tu_mkdir(pathf(f, "ro"));
    tu_write(pathf(f, "ro/inside"), "read-only parent\n");
    tu_mkdir(pathf(f, "a/b/a-directory-with-a-rather-long-name-that-goes-on-and-on"));
    tu_write(pathf(f, "a/b/a-directory-with-a-rather-long-name-that-goes-on-and-on/"
                      "and-a-file-with-an-even-longer-name-so-the-path-needs-pax.txt"),
             "long\n");
    assert_int_equal(symlink("f1", pathf(f, "a/rel")), 0);
    assert_int_equal(symlink("/etc/hostname", pathf(f, "abs")), 0);
    assert_int_equal(symlink("does/not/exist", pathf(f, "dangling")), 0);
    assert_int_equal(link(pathf(f, "a/f1"), pathf(f, "x/hard1")), 0);
    assert_int_equal(link(pathf(f, "a/f1"), pathf(f, "hard2")), 0);
    chmod(pathf(f, "a/b/f2"), 0600);
    chmod(pathf(f, "x/exe"), 0755);
    chmod(pathf(f, "empty"), 0700);
    chmod(pathf(f, "x"), 02750);
    chmod(pathf(f, "ro"), 0555);

    int xattrs = setxattr(pathf(f, "a/f1"), "user.bk.test", "v1", 2, 0) == 0;
    if (xattrs)
        setxattr(pathf(f, "a"), "user.bk.dir", "d", 1, 0);
    if (geteuid() == 0) {
        lchown(pathf(f, "a/b/f2"), 1234, 5678);
        lchown(pathf(f, "dangling"), 4321, 8765);
        lchown(pathf(f, "empty"), 99, 98);
    }
    const char *leaves[] = {"a/f1",  "a/b/f2", "x/exe",    "zero",
                            "a/rel", "abs",    "dangling", "name with space & \xc3\xbcnicode"};
    for (size_t i = 0; i < sizeof(leaves) / sizeof(*leaves); i++)
        set_times(pathf(f, leaves[i]), 1600000000 + (long long)i, 123456789 + (long)i);
    const char *dirs[] = {"a/b/a-directory-with-a-rather-long-name-that-goes-on-and-on",
                          "a/b",
                          "a",
                          "empty",
                          "x",
                          "ro"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
        set_times(pathf(f, dirs[i]), 1500000000 + (long long)i, 987654321 - (long)i);
    return xattrs;
}

static void assert_same_tree(const char *a, const char *b, const char *skip, int xattrs)
{
    struct bk_strbuf fa = BK_STRBUF_INIT, fb = BK_STRBUF_INIT;
    tu_fingerprint(a, NULL, xattrs, &fa);
    tu_fingerprint(b, skip, xattrs, &fb);
    assert_true(fa.len > 0);
    assert_string_equal(fa.buf, fb.buf);
    bk_strbuf_release(&fa);
    bk_strbuf_release(&fb);
}

static void test_round_trip_keeps_every_attribute(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_archive_stats ps, us, ds;
    int xattrs = make_rich_tree(f);
    int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(bk_archive_pack(f->src, fd, NULL, &ps), 0);
    close(fd);
    fd = open(f->archive, O_RDONLY);
    assert_int_equal(bk_archive_unpack(fd, f->out, NULL, &us, NULL), 0);
    close(fd);

    assert_same_tree(f->src, f->out, NULL, xattrs);
    assert_string_equal(ps.digest, us.digest);
    assert_int_equal(bk_archive_digest_dir(f->out, &ds), 0);
    assert_string_equal(ps.digest, ds.digest);
    assert_int_equal(ps.files, 7);    /* hardlinks count once */
    assert_int_equal(ps.entries, 18); /* 6 dirs, 7 files, 3 symlinks, 2 hardlinks */
    assert_int_equal(us.entries, ps.entries);
    assert_true(ps.archive_bytes > 0);

    struct stat s1, s2, s3;
    char p[4096];
    snprintf(p, sizeof(p), "%s/a/f1", f->out);
    assert_int_equal(stat(p, &s1), 0);
    snprintf(p, sizeof(p), "%s/x/hard1", f->out);
    assert_int_equal(stat(p, &s2), 0);
    snprintf(p, sizeof(p), "%s/hard2", f->out);
    assert_int_equal(stat(p, &s3), 0);
    assert_int_equal(s1.st_ino, s2.st_ino);
    assert_int_equal(s1.st_ino, s3.st_ino);
    assert_int_equal(s1.st_nlink, 3);
    snprintf(p, sizeof(p), "%s/a/b/f2", f->out);
    assert_int_equal(lstat(p, &s1), 0);
    assert_int_equal(s1.st_mtim.tv_nsec, 123456789 + 1);
    if (!xattrs)
        print_message("  (no user xattrs on this file system: not checked)\n");
}

static void test_unpack_replaces_an_existing_target(void **state)
{
    struct tu_dirs *f = *state;
    char p[4096];
    int xattrs = make_rich_tree(f);
    assert_int_equal(tu_pack_file(f->src, f->archive), 0);
    tu_mkdir(f->out);
    snprintf(p, sizeof(p), "%s/stale", f->out);
    tu_write(p, "stale\n");
    assert_int_equal(tu_unpack_file(f->archive, f->out, 0, 0), 0);
    assert_false(tu_exists(p));
    assert_same_tree(f->src, f->out, NULL, xattrs);
    struct bk_strbuf l = BK_STRBUF_INIT;
    tu_listing(f->base, &l);
    assert_string_equal(l.buf, "a.tzst\nout\nsrc\n"); /* no temporary left */
    bk_strbuf_release(&l);
}

static void test_replace_contents_keeps_the_root(void **state)
{
    struct tu_dirs *f = *state;
    char p[4096];
    struct stat before, after;
    int xattrs = make_rich_tree(f);
    assert_int_equal(tu_pack_file(f->src, f->archive), 0);
    tu_mkdir(f->out);
    chmod(f->out, 0711);
    snprintf(p, sizeof(p), "%s/stale", f->out);
    tu_write(p, "stale\n");
    snprintf(p, sizeof(p), "%s/a", f->out);
    tu_mkdir(p);
    assert_int_equal(stat(f->out, &before), 0);
    assert_int_equal(tu_unpack_file(f->archive, f->out, 0, 1), 0);
    assert_int_equal(stat(f->out, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(after.st_mode & 07777, 0711);
    assert_same_tree(f->src, f->out, NULL, xattrs);
}

static void read_all(const char *path, struct bk_strbuf *sb)
{
    assert_int_equal(bk_strbuf_read_file(sb, path), 0);
}

static void test_same_tree_gives_same_bytes(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_strbuf a = BK_STRBUF_INIT, b = BK_STRBUF_INIT;
    char *second = bk_xasprintf("%s/b.tzst", f->base);
    make_rich_tree(f);
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    assert_int_equal(tu_pack_file(f->src, f->archive), 0);
    assert_int_equal(tu_pack_file(f->src, second), 0);
    unsetenv("SOURCE_DATE_EPOCH");
    read_all(f->archive, &a);
    read_all(second, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, a.len);

    struct bk_archive_manifest m;
    int fd = open(f->archive, O_RDONLY);
    assert_int_equal(bk_archive_read_manifest(fd, &m), 0);
    close(fd);
    assert_string_equal(m.created, "2023-11-14T22:13:20Z");
    bk_archive_manifest_release(&m);

    /* A one-nanosecond change is a different tree. */
    struct bk_archive_stats s1, s2;
    assert_int_equal(bk_archive_digest_dir(f->src, &s1), 0);
    set_times(pathf(f, "a/b/f2"), 1600000001, 123456791);
    assert_int_equal(bk_archive_digest_dir(f->src, &s2), 0);
    assert_string_not_equal(s1.digest, s2.digest);
    free(second);
    bk_strbuf_release(&a);
    bk_strbuf_release(&b);
}

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_plain_zstd_and_tar_can_read_it(void **state)
{
    struct tu_dirs *f = *state;
    make_rich_tree(f);
    assert_int_equal(tu_pack_file(f->src, f->archive), 0);
    tu_mkdir(f->out);
    char *cmd =
        bk_xasprintf("zstd -d -q < '%s' | tar -xf - -C '%s' 2>/dev/null", f->archive, f->out);
    assert_int_equal(run(cmd), 0);
    free(cmd);
    assert_same_tree(f->src, f->out, ".bkcache", 0);
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", f->out, BK_ARCHIVE_MANIFEST_PATH);
    assert_true(tu_exists(p));
}

static void test_manifest_records_key_and_identity(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_pack_opts o = {0};
    struct bk_archive_manifest m;
    make_rich_tree(f);
    o.key = "bkcache-go-\"q\"\\\n\x01-\xc3\xa9";
    o.identity = "id=go-build,target=/root/.cache";
    o.level = 7;
    int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(bk_archive_pack(f->src, fd, &o, NULL), 0);
    close(fd);
    fd = open(f->archive, O_RDONLY);
    assert_int_equal(bk_archive_read_manifest(fd, &m), 0);
    close(fd);
    assert_string_equal(m.key, o.key);
    assert_string_equal(m.identity, o.identity);
    assert_string_equal(m.compression, "zstd");
    assert_int_equal(m.level, 7);
    assert_int_equal(m.files, 7);
    assert_non_null(m.bkcache_version);
    bk_archive_manifest_release(&m);
}

static void test_manifest_parser_is_strict(void **state)
{
    (void)state;
    const char *d = "\"digest\":\"sha256:"
                    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"";
    struct bk_archive_manifest m;
    char good[512];
    snprintf(good, sizeof(good),
             "{\"format\":1,%s,\"files\":1,\"entries\":2,\"bytes\":3,\"compression\":\"zstd\","
             "\"future\":\"ok\",\"key\":null}",
             d);
    assert_int_equal(bk_archive__manifest_parse(good, strlen(good), &m), 0);
    assert_int_equal(m.entries, 2);
    assert_null(m.key);
    bk_archive_manifest_release(&m);

    const char *bad[] = {
        "",
        "[]",
        "{",
        "{}",
        "{\"format\":1}",
        "{\"format\":2,%s,\"files\":1,\"entries\":2,\"bytes\":3,\"compression\":\"zstd\"}",
        "{\"format\":1,%s,\"files\":-1,\"entries\":2,\"bytes\":3,\"compression\":\"zstd\"}",
        "{\"format\":1,%s,\"files\":1,\"files\":1,\"entries\":2,\"bytes\":3,\"compression\":\"z\"}",
        "{\"format\":1,%s,\"files\":1,\"entries\":2,\"bytes\":3,\"compression\":\"zstd\"} x",
        "{\"format\":1,%s,\"files\":1.5,\"entries\":2,\"bytes\":3,\"compression\":\"zstd\"}",
        "{\"format\":1,%s,\"files\":1,\"entries\":2,\"bytes\":3,\"compression\":\"zs\\q\"}",
        "{\"format\":1,%s,\"files\":1,\"entries\":2,\"bytes\":3,\"compression\":\"zstd\","
        "\"x\":{}}",
        "{\"format\":1,\"digest\":\"sha256:XYZ\",\"files\":1,\"entries\":2,\"bytes\":3,"
        "\"compression\":\"zstd\"}",
        "{\"format\":1,%s,\"files\":1,\"entries\":2,\"bytes\":3,\"compression\":\"a\\u0000\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char buf[512];
        snprintf(buf, sizeof(buf), bad[i], d);
        if (bk_archive__manifest_parse(buf, strlen(buf), &m) != BK_ECORRUPT)
            fail_msg("accepted bad manifest %zu: %s", i, buf);
    }
}

static void test_pack_argument_errors(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_pack_opts o = {0};
    int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(bk_archive_pack(f->src, fd, NULL, NULL), BK_ENOTFOUND);
    assert_int_equal(bk_archive_pack(f->archive, fd, NULL, NULL), BK_EINVAL);
    o.level = 20;
    assert_int_equal(bk_archive_pack(f->base, fd, &o, NULL), BK_EINVAL);
    close(fd);
}

static int run(const char *cmd);

/* A write error in the compression thread (here EFBIG from a file size
 * limit, in a child process) fails the pack with a message, no hang. */
static void test_pack_reports_write_errors(void **state)
{
    struct tu_dirs *f = *state;
    make_rich_tree(f);
    char *cmd = bk_xasprintf("head -c 300000 /dev/urandom > '%s/noise'", f->src);
    assert_int_equal(run(cmd), 0);
    free(cmd);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {40000, 40000};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int rc = bk_archive_pack(f->src, fd, NULL, NULL);
        _exit(rc == BK_OK ? 0 : strstr(bk_error_msg(), "write failed") ? 3 : 4);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
}

static void test_special_files_are_skipped_unless_allowed(void **state)
{
    struct tu_dirs *f = *state;
    char p[4096];
    tu_mkdir(f->src);
    tu_write(pathf(f, "regular"), "r\n");
    assert_int_equal(mkfifo(pathf(f, "fifo"), 0644), 0);
    assert_int_equal(tu_pack_file(f->src, f->archive), 0);
    assert_int_equal(tu_unpack_file(f->archive, f->out, 0, 0), 0);
    snprintf(p, sizeof(p), "%s/fifo", f->out);
    assert_false(tu_exists(p));
    snprintf(p, sizeof(p), "%s/regular", f->out);
    assert_true(tu_exists(p));
    assert_int_equal(tu_unpack_file(f->archive, f->out, 1, 0), 0);
    struct stat st;
    snprintf(p, sizeof(p), "%s/fifo", f->out);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
}

/* A 5 GiB sparse file with three data regions: the archive stays small, the
 * restored file is sparse again and its content digest is the same. */
static void test_sparse_file_over_4gib(void **state)
{
    struct tu_dirs *f = *state;
    const off_t size = 5ll << 30;
    const off_t at[] = {0, 1ll << 30, (9ll << 29) + 4096};
    char p[4096];
    struct bk_archive_stats ps, ds;
    struct stat st;
    tu_mkdir(f->src);
    int fd = open(pathf(f, "sparse.img"), O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(pwrite(fd, "data block", 10, at[i]), 10);
    close(fd);
    fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(bk_archive_pack(f->src, fd, NULL, &ps), 0);
    close(fd);
    assert_true(ps.bytes == (uint64_t)size);
    assert_true(ps.archive_bytes < (1u << 20));
    assert_int_equal(tu_unpack_file(f->archive, f->out, 0, 0), 0);
    snprintf(p, sizeof(p), "%s/sparse.img", f->out);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, size);
    assert_true((uint64_t)st.st_blocks * 512 < (64u << 20));
    assert_int_equal(bk_archive_digest_dir(f->out, &ds), 0);
    assert_string_equal(ps.digest, ds.digest);
}

static void test_cli_pack_and_unpack(void **state)
{
    struct tu_dirs *f = *state;
    const char *bk = getenv("BKCACHE");
    if (!bk || !*bk)
        skip();
    int xattrs = make_rich_tree(f);
    char *cmd =
        bk_xasprintf("'%s' pack --json '%s' '%s' > '%s/out.json'", bk, f->src, f->archive, f->base);
    assert_int_equal(run(cmd), 0);
    free(cmd);
    struct bk_strbuf js = BK_STRBUF_INIT;
    char *jp = bk_xasprintf("%s/out.json", f->base);
    read_all(jp, &js);
    assert_non_null(strstr(js.buf, "\"digest\":\"sha256:"));
    assert_non_null(strstr(js.buf, "\"files\":7"));
    /* A pipe (two passes) and a file (one pass, head written last) give the
     * same bytes. */
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    cmd = bk_xasprintf("'%s' pack -q '%s' - | cat > '%s/pipe.tzst' && '%s' pack -q '%s' "
                       "'%s/file.tzst' && cmp -s '%s/pipe.tzst' '%s/file.tzst'",
                       bk, f->src, f->base, bk, f->src, f->base, f->base, f->base);
    assert_int_equal(run(cmd), 0);
    unsetenv("SOURCE_DATE_EPOCH");
    free(cmd);
    cmd = bk_xasprintf("'%s' unpack -q - '%s' < '%s'", bk, f->out, f->archive);
    assert_int_equal(run(cmd), 0);
    free(cmd);
    assert_same_tree(f->src, f->out, NULL, xattrs);
    cmd = bk_xasprintf("'%s' pack -q '%s' 2>/dev/null", bk, f->src);
    assert_int_equal(run(cmd), 2);
    free(cmd);
    cmd = bk_xasprintf("'%s' unpack '%s' '%s/x' 2> '%s/err'", bk, jp, f->base, f->base);
    assert_int_equal(run(cmd), 1);
    free(cmd);
    char *ep = bk_xasprintf("%s/err", f->base);
    bk_strbuf_reset(&js);
    read_all(ep, &js);
    assert_non_null(strstr(js.buf, "out.json"));
    free(ep);
    free(jp);
    bk_strbuf_release(&js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_keeps_every_attribute, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_unpack_replaces_an_existing_target, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_replace_contents_keeps_the_root, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_same_tree_gives_same_bytes, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_plain_zstd_and_tar_can_read_it, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_records_key_and_identity, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test(test_manifest_parser_is_strict),
        cmocka_unit_test_setup_teardown(test_pack_argument_errors, tu_dirs_setup, tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_pack_reports_write_errors, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_special_files_are_skipped_unless_allowed,
                                        tu_dirs_setup, tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_sparse_file_over_4gib, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_cli_pack_and_unpack, tu_dirs_setup, tu_dirs_teardown),
    };
    return cmocka_run_group_tests_name("core/archive", tests, NULL, NULL);
}
