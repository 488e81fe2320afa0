/*
 * test_core_archive_thread.c - unpack with decompression on its own thread.
 *
 * Unpack decompresses on a separate thread into a ring of 1 MiB buffers
 * once the manifest is read. These cases use a file of several MiB of
 * incompressible bytes, so its data crosses many buffers and wraps the
 * ring, and check that: a good stream read through a pipe unpacks exactly;
 * errors found by the thread (a truncated stream, a bad frame checksum)
 * surface as BK_ECORRUPT with the same messages as before, and leave the
 * target untouched; a member rejected while the input pipe is still open
 * (no end of file in sight) stops the thread instead of hanging.
 * Also packing with the writer's own workers (libzstd without threads, as
 * in the static helper): several frames, read back by unpack and zstd -d.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/archive/archive.h"
#include "core/archive/archive_internal.h"
#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"
#include "tests/unit/support/archive_fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define BIG (6u << 20)

/* The shared temporary paths, with src holding a big file and a small one,
 * packed into archive, and target holding an old cache. */
static int setup(void **state)
{
    char p[4096];
    tu_dirs_setup(state);
    struct tu_dirs *f = *state;
    tu_mkdir(f->src);
    tu_mkdir(f->target);
    snprintf(p, sizeof(p), "%s/keep", f->target);
    tu_write(p, "old contents\n");

    /* Incompressible bytes (xorshift), so the archive is as big as the data. */
    unsigned char *buf = bk_xmalloc(BIG);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < BIG; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    snprintf(p, sizeof(p), "%s/big", f->src);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, BIG), (ssize_t)BIG);
    close(fd);
    free(buf);
    snprintf(p, sizeof(p), "%s/small", f->src);
    tu_write(p, "after the big one\n");
    assert_int_equal(tu_pack_file(f->src, f->archive), 0);
    return 0;
}

/* Feeds a file into a pipe; keeps the write end open until told when
 * `hold` is set. */
struct feeder {
    const char *file;
    int wfd, hold, release[2];
    pthread_t t;
};

static void *feed(void *arg)
{
    struct feeder *fe = arg;
    char buf[65536];
    int fd = open(fe->file, O_RDONLY);
    ssize_t n;
    while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
        if (write(fe->wfd, buf, (size_t)n) != n)
            break;
    if (fd >= 0)
        close(fd);
    if (fe->hold && read(fe->release[0], buf, 1) < 0) {
        /* released either way */
    }
    close(fe->wfd);
    return NULL;
}

static int feeder_start(struct feeder *fe, const char *file, int hold)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(pipe(fe->release), 0);
    fe->file = file;
    fe->wfd = p[1];
    fe->hold = hold;
    assert_int_equal(pthread_create(&fe->t, NULL, feed, fe), 0);
    return p[0];
}

static void feeder_stop(struct feeder *fe, int rfd)
{
    close(rfd); /* a feeder blocked in write() gets EPIPE */
    assert_int_equal(write(fe->release[1], "", 1), 1);
    pthread_join(fe->t, NULL);
    close(fe->release[0]);
    close(fe->release[1]);
}

static void assert_untouched(struct tu_dirs *f)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/keep", f->target);
    assert_true(tu_exists(p));
    snprintf(p, sizeof(p), "%s/big", f->target);
    assert_false(tu_exists(p));
}

static int unpack_path(const char *file, const char *dir)
{
    int fd = open(file, O_RDONLY);
    assert_true(fd >= 0);
    int rc = bk_archive_unpack(fd, dir, NULL, NULL, NULL);
    close(fd);
    return rc;
}

static void test_big_file_through_a_pipe(void **state)
{
    struct tu_dirs *f = *state;
    struct feeder fe;
    struct bk_archive_stats st;
    struct bk_strbuf a = BK_STRBUF_INIT, b = BK_STRBUF_INIT;
    struct stat sb;
    int rfd = feeder_start(&fe, f->archive, 0);
    assert_int_equal(bk_archive_unpack(rfd, f->target, NULL, &st, NULL), BK_OK);
    feeder_stop(&fe, rfd);
    tu_fingerprint(f->src, NULL, 1, &a);
    tu_fingerprint(f->target, NULL, 1, &b);
    assert_string_equal(a.buf, b.buf);
    assert_int_equal(stat(f->archive, &sb), 0);
    assert_int_equal(st.archive_bytes, (uint64_t)sb.st_size);
    assert_int_equal(st.bytes, BIG + 18);
    bk_strbuf_release(&a);
    bk_strbuf_release(&b);
}

static void test_truncated_in_the_big_file(void **state)
{
    struct tu_dirs *f = *state;
    struct stat sb;
    assert_int_equal(stat(f->archive, &sb), 0);
    assert_int_equal(truncate(f->archive, sb.st_size / 2), 0);
    assert_int_equal(unpack_path(f->archive, f->target), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "truncated stream (the zstd frame is incomplete)"));
    assert_untouched(f);
}

static void test_bad_checksum_after_the_big_file(void **state)
{
    struct tu_dirs *f = *state;
    struct stat sb;
    unsigned char c;
    assert_int_equal(stat(f->archive, &sb), 0);
    int fd = open(f->archive, O_RDWR);
    assert_int_equal(pread(fd, &c, 1, sb.st_size - 1), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, sb.st_size - 1), 1);
    close(fd);
    assert_int_equal(unpack_path(f->archive, f->target), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "corrupt zstd stream: "));
    assert_non_null(strstr(bk_error_msg(), "checksum"));
    assert_untouched(f);
}

static void test_rejected_member_with_the_pipe_open(void **state)
{
    struct tu_dirs *f = *state;
    struct feeder fe;
    struct tu_member m[] = {{"/etc/evil", 'f', "x\n", NULL}};
    tu_craft(f->archive, m, 1, 0);
    int rfd = feeder_start(&fe, f->archive, 1);
    alarm(30); /* a thread waiting for input that never comes would hang */
    assert_int_equal(bk_archive_unpack(rfd, f->target, NULL, NULL, NULL), BK_ECORRUPT);
    alarm(0);
    assert_non_null(strstr(bk_error_msg(), "unsafe path"));
    feeder_stop(&fe, rfd);
    assert_untouched(f);
}

/* The number of zstd frames in `path` that are not skippable frames. */
static int data_frames(const char *path)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = malloc(64u << 20);
    size_t len = fread(buf, 1, 64u << 20, fp), off = 0;
    int n = 0;

    fclose(fp);
    while (off < len) {
        size_t fs = ZSTD_findFrameCompressedSize(buf + off, len - off);
        assert_false(ZSTD_isError(fs));
        uint32_t magic =
            buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 | (uint32_t)buf[off + 3] << 24;
        if ((magic & 0xFFFFFFF0u) != 0x184D2A50u)
            n++;
        off += fs;
    }
    free(buf);
    return n;
}

/* src/NAME: 20 MiB, compressible but not trivially (several 8 MiB frames). */
static void write_big(struct tu_dirs *f, const char *name)
{
    char p[4096], *big = malloc(20u << 20);
    int fd;

    assert_non_null(big);
    for (size_t i = 0; i < (20u << 20); i++)
        big[i] = (char)("abcdefgh"[(i * 7 + i / 4096) % 8] ^ (i % 251 == 0));
    snprintf(p, sizeof(p), "%s/%s", f->src, name);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(write(fd, big, 20u << 20), 20u << 20);
    close(fd);
    free(big);
}

static void test_own_workers_write_several_frames(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_pack_opts o = {.threads = 2};
    struct bk_archive_stats ps, us;
    int fd;

    write_big(f, "big2");

    bk_archive__zstd_own_frames = 1;
    fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(bk_archive_pack(f->src, fd, &o, &ps), 0);
    close(fd);
    bk_archive__zstd_own_frames = 0;
    assert_true(data_frames(f->archive) >= 4); /* the manifest's, then 8 MiB pieces */

    fd = open(f->archive, O_RDONLY);
    assert_int_equal(bk_archive_unpack(fd, f->out, NULL, &us, NULL), 0);
    close(fd);
    assert_string_equal(ps.digest, us.digest);
    char *cmd = bk_xasprintf("mkdir -p '%s/z' && zstd -d -q < '%s' | tar -xf - -C '%s/z' && "
                             "cmp -s '%s/big2' '%s/z/big2'",
                             f->base, f->archive, f->base, f->src, f->base);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

/* A reproducible pack when no frame worker can start: the pieces are
 * compressed on the compression thread, into the very same bytes. */
static void test_reproducible_without_workers(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_pack_opts o = {.threads = 2, .reproducible = 1};
    struct bk_strbuf with = BK_STRBUF_INIT, without = BK_STRBUF_INIT;
    int fd;

    write_big(f, "big3");
    for (int none = 0; none < 2; none++) {
        bk_archive__zstd_no_workers = none;
        fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_int_equal(bk_archive_pack(f->src, fd, &o, NULL), 0);
        close(fd);
        assert_int_equal(bk_strbuf_read_file(none ? &without : &with, f->archive), 0);
    }
    bk_archive__zstd_no_workers = 0;
    assert_true(data_frames(f->archive) >= 4); /* several frames, not one stream */
    assert_int_equal(with.len, without.len);
    assert_memory_equal(with.buf, without.buf, with.len);
    bk_strbuf_release(&with);
    bk_strbuf_release(&without);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_big_file_through_a_pipe, setup, tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_reproducible_without_workers, setup, tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_in_the_big_file, setup, tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_bad_checksum_after_the_big_file, setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_own_workers_write_several_frames, setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_rejected_member_with_the_pipe_open, setup,
                                        tu_dirs_teardown),
    };
    return cmocka_run_group_tests_name("core/archive thread", tests, NULL, NULL);
}
