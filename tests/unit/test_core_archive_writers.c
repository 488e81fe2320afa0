/*
 * test_core_archive_writers.c - unpack's pool of file-creating threads.
 *
 * Unpack hands small plain files to a pool of threads (archive_writers.c),
 * one directory per thread at a time. These cases check what the pool must
 * keep of write_disk's behaviour and of unpack's promises:
 *   - many small files over many directories come back exactly: every
 *     permission pattern (also ones the umask would strip), owners, mtimes
 *     to the nanosecond, empty files, hardlinks to files still queued in
 *     the pool (one right after its target), and set-id files and large files, which stay with
 *     write_disk, mixed in between;
 *   - a file the pool fails to write (here: over RLIMIT_FSIZE) fails the
 *     unpack with a message naming it, and leaves the target as it was,
 *     with no temporary directory left behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/archive/archive.h"
#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"
#include "tests/unit/support/archive_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRS 12
#define FILES 40

static void write_bytes(const char *path, size_t n, unsigned seed)
{
    char *buf = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)((i * 2654435761u + seed) >> 7);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
    close(fd);
    free(buf);
}

static void set_mtime(const char *path, long long sec, long nsec)
{
    struct timespec ts[2] = {{(time_t)sec, nsec}, {(time_t)sec, nsec}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* DIRS directories of FILES files each, every permission pattern, some
 * hardlinks back to earlier files, set-id and large files in between. */
static void make_many_small(struct tu_dirs *f)
{
    static const mode_t modes[] = {0600, 0640, 0644, 0666, 0700, 0755, 0777, 0444, 0400, 0620};
    char p[4096], q[4096];
    tu_mkdir(f->src);
    for (int d = 0; d < DIRS; d++) {
        snprintf(p, sizeof(p), "%s/d%02d", f->src, d);
        tu_mkdir(p);
        for (int i = 0; i < FILES; i++) {
            snprintf(p, sizeof(p), "%s/d%02d/f%03d", f->src, d, i);
            write_bytes(p, (size_t)((d * 7919 + i * 104729) % 20000) * (i % 9 != 0), d * 100u + i);
            if (geteuid() == 0)
                assert_int_equal(chown(p, 1000 + i % 3, 2000 + d % 4), 0);
            assert_int_equal(chmod(p, modes[(d + i) % 10]), 0);
            set_mtime(p, 1700000000 + d * 1000 + i, (d * 37 + i * 1000003) % 1000000000);
        }
        if (d > 0) { /* a hardlink to a file of the previous directory */
            snprintf(p, sizeof(p), "%s/d%02d/f%03d", f->src, d - 1, d % FILES);
            snprintf(q, sizeof(q), "%s/d%02d/link", f->src, d);
            assert_int_equal(link(p, q), 0);
        }
        /* and one right after its target: f039 is still queued when the
         * link comes, so unpack must wait for the pool before linking */
        snprintf(p, sizeof(p), "%s/d%02d/f%03d", f->src, d, FILES - 1);
        snprintf(q, sizeof(q), "%s/d%02d/f%03d-link", f->src, d, FILES - 1);
        assert_int_equal(link(p, q), 0);
        if (d % 4 == 1) { /* set-id and large files stay with write_disk */
            snprintf(p, sizeof(p), "%s/d%02d/setuid", f->src, d);
            write_bytes(p, 100, 7);
            assert_int_equal(chmod(p, 04755), 0);
            snprintf(p, sizeof(p), "%s/d%02d/large", f->src, d);
            write_bytes(p, (2u << 20) + 3, 9);
        }
        snprintf(p, sizeof(p), "%s/d%02d", f->src, d);
        set_mtime(p, 1600000000 + d, 500 + d);
    }
}

static int pack_to(struct tu_dirs *f, struct bk_archive_stats *st)
{
    int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    int rc = bk_archive_pack(f->src, fd, NULL, st);
    close(fd);
    return rc;
}

static void test_many_small_files_come_back_exactly(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_archive_stats ps, us;
    struct bk_strbuf a = BK_STRBUF_INIT, b = BK_STRBUF_INIT;
    mode_t old = umask(022); /* strips bits of 0666, 0777, 0620: the pool must put them back */

    make_many_small(f);
    assert_int_equal(pack_to(f, &ps), 0);
    int fd = open(f->archive, O_RDONLY);
    assert_int_equal(bk_archive_unpack(fd, f->out, NULL, &us, NULL), 0);
    close(fd);
    umask(old);

    assert_string_equal(ps.digest, us.digest);
    assert_int_equal(us.entries, ps.entries);
    tu_fingerprint(f->src, NULL, 0, &a);
    tu_fingerprint(f->out, NULL, 0, &b);
    assert_string_equal(a.buf, b.buf);

    char p[4096];
    struct stat s1, s2;
    snprintf(p, sizeof(p), "%s/d00/f001", f->out);
    assert_int_equal(stat(p, &s1), 0);
    snprintf(p, sizeof(p), "%s/d01/link", f->out);
    assert_int_equal(stat(p, &s2), 0);
    assert_int_equal(s1.st_ino, s2.st_ino);
    snprintf(p, sizeof(p), "%s/d03/f003", f->out); /* modes[6] = 0777 */
    assert_int_equal(stat(p, &s1), 0);
    assert_int_equal(s1.st_mode & 07777, 0777);
    snprintf(p, sizeof(p), "%s/d01/setuid", f->out);
    assert_int_equal(stat(p, &s1), 0);
    assert_int_equal(s1.st_mode & 07777, 04755);
    bk_strbuf_release(&a);
    bk_strbuf_release(&b);
}

static void test_a_failed_write_leaves_the_target_untouched(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_archive_stats ps;
    struct bk_strbuf before = BK_STRBUF_INIT, after = BK_STRBUF_INIT;
    char p[4096];

    tu_mkdir(f->src);
    for (int d = 0; d < 4; d++) {
        snprintf(p, sizeof(p), "%s/d%d", f->src, d);
        tu_mkdir(p);
        for (int i = 0; i < 20; i++) {
            snprintf(p, sizeof(p), "%s/d%d/f%02d", f->src, d, i);
            write_bytes(p, d == 2 && i == 5 ? 64 * 1024 : 1000, (unsigned)i);
        }
    }
    assert_int_equal(pack_to(f, &ps), 0);
    tu_mkdir(f->out);
    snprintf(p, sizeof(p), "%s/kept", f->out);
    tu_write(p, "the old cache\n");
    tu_fingerprint(f->out, NULL, 0, &before);

    /* Files over 32 KiB cannot be written: d2/f05 fails in a pool thread. */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 32 * 1024;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int fd = open(f->archive, O_RDONLY);
    int rc = bk_archive_unpack(fd, f->out, NULL, NULL, NULL);
    close(fd);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);

    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(bk_error_msg(), "d2/f05"));
    tu_fingerprint(f->out, NULL, 0, &after);
    assert_string_equal(before.buf, after.buf);
    struct bk_strbuf names = BK_STRBUF_INIT;
    tu_listing(f->base, &names);
    assert_null(strstr(names.buf, ".bkcache-")); /* no temporary directory left */
    bk_strbuf_release(&names);
    bk_strbuf_release(&before);
    bk_strbuf_release(&after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_small_files_come_back_exactly, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_write_leaves_the_target_untouched,
                                        tu_dirs_setup, tu_dirs_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
