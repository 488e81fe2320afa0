/*
 * test_core_archive_walk.c - the streaming tree walk (core/archive/archive_walk.c).
 *
 * The walk must hand out entries in canonical order ('/' sorts before every
 * other byte, so "a/z" comes before "a-c"), resolve hardlinks to the first
 * name in that order, and produce the same archive whether pack streams the
 * walk (one pass, regular file) or hashes the whole tree first (two passes,
 * pipe), with or without writeback started while packing.
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

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *pathf(struct tu_dirs *f, const char *rel)
{
    static char bufs[4][4096];
    static int next;
    char *buf = bufs[next++ % 4];
    snprintf(buf, sizeof(bufs[0]), "%s/%s", f->src, rel);
    return buf;
}

/* Names whose order differs between a plain strcmp of full paths and the
 * canonical order, plus hardlinks whose first name sits deep in a directory. */
static void make_tricky_tree(struct tu_dirs *f)
{
    tu_mkdir(f->src);
    tu_mkdir(pathf(f, "a"));
    tu_mkdir(pathf(f, "a/x"));
    tu_mkdir(pathf(f, "a.d"));
    tu_write(pathf(f, "a/x/y"), "deep\n");
    tu_write(pathf(f, "a/z"), "first name\n");
    tu_write(pathf(f, "a-c"), "dash\n");
    tu_write(pathf(f, "a.d/e"), "dot\n");
    tu_write(pathf(f, "b"), "b\n");
    assert_int_equal(link(pathf(f, "a/z"), pathf(f, "a-link")), 0);
    assert_int_equal(link(pathf(f, "a/z"), pathf(f, "a.d/link")), 0);
    assert_int_equal(symlink("a/z", pathf(f, "c")), 0);
}

static void test_walk_is_canonical_and_resolves_hardlinks(void **state)
{
    struct tu_dirs *f = *state;
    static const struct {
        const char *path;
        int type;
        const char *target;
    } want[] = {
        {"a", BK_AT_DIR, NULL},    {"a/x", BK_AT_DIR, NULL},    {"a/x/y", BK_AT_FILE, NULL},
        {"a/z", BK_AT_FILE, NULL}, {"a-c", BK_AT_FILE, NULL},   {"a-link", BK_AT_HARDLINK, "a/z"},
        {"a.d", BK_AT_DIR, NULL},  {"a.d/e", BK_AT_FILE, NULL}, {"a.d/link", BK_AT_HARDLINK, "a/z"},
        {"b", BK_AT_FILE, NULL},   {"c", BK_AT_SYMLINK, "a/z"},
    };
    struct bk_archive_walk w;
    struct bk_archive_node *nd;
    const char *prev = NULL;
    char *prev_copy = NULL;
    size_t i = 0;
    int rc;

    make_tricky_tree(f);
    assert_int_equal(bk_archive__walk_open(f->src, &w), BK_OK);
    while ((rc = bk_archive__walk_next(&w, &nd)) > 0) {
        assert_true(i < sizeof(want) / sizeof(*want));
        assert_string_equal(nd->path, want[i].path);
        assert_int_equal(nd->rec.type, want[i].type);
        if (want[i].target)
            assert_string_equal(nd->rec.target, want[i].target);
        else
            assert_null(nd->rec.target);
        if (nd->rec.type == BK_AT_HARDLINK)
            assert_int_equal(nd->rec.size, 0);
        if (prev)
            assert_true(bk_archive__path_cmp(prev, nd->path) < 0);
        free(prev_copy);
        prev = prev_copy = bk_xstrdup(nd->path);
        i++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(i, sizeof(want) / sizeof(*want));
    /* At the end it stays at the end. */
    assert_int_equal(bk_archive__walk_next(&w, &nd), 0);
    bk_archive__walk_close(&w);
    free(prev_copy);
}

static void test_walk_errors(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_archive_walk w;

    assert_int_equal(bk_archive__walk_open(f->src, &w), BK_ENOTFOUND);
    tu_write(f->src, "not a directory\n");
    assert_int_equal(bk_archive__walk_open(f->src, &w), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "not a directory"));
}

/* A subdirectory that vanishes after its parent was read fails the walk
 * when the walk reaches it, naming it. */
static void test_walk_reports_a_vanished_entry(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_archive_walk w;
    struct bk_archive_node *nd;
    int rc;

    make_tricky_tree(f);
    assert_int_equal(bk_archive__walk_open(f->src, &w), BK_OK);
    assert_int_equal(bk_archive__walk_next(&w, &nd), 1);
    assert_string_equal(nd->path, "a");
    assert_int_equal(unlink(pathf(f, "b")), 0);
    while ((rc = bk_archive__walk_next(&w, &nd)) > 0)
        ;
    assert_true(rc < 0);
    assert_non_null(strstr(bk_error_msg(), "/b"));
    bk_archive__walk_close(&w);
}

/* Pack into a pipe (two passes) through a child that copies it to a file. */
static void pack_through_pipe(const char *dir, const char *file)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[1]);
        int out = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char buf[65536];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof(buf))) > 0)
            if (write(out, buf, (size_t)n) != n)
                _exit(1);
        _exit(n < 0);
    }
    close(p[0]);
    assert_int_equal(bk_archive_pack(dir, p[1], NULL, NULL), BK_OK);
    close(p[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_one_pass_and_two_passes_give_the_same_bytes(void **state)
{
    struct tu_dirs *f = *state;
    char *one = bk_xasprintf("%s/one.tzst", f->base);
    char *two = bk_xasprintf("%s/two.tzst", f->base);
    char *cmd = bk_xasprintf("cmp -s '%s' '%s'", one, two);
    char *out = bk_xasprintf("%s/out", f->base);
    struct bk_archive_stats s1, s2;

    make_tricky_tree(f);
    /* enough directories that the walk has to go deep and come back */
    for (int i = 0; i < 40; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "d%02d", i);
        tu_mkdir(pathf(f, rel));
        snprintf(rel, sizeof(rel), "d%02d/f", i);
        tu_write(pathf(f, rel), rel);
    }
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    assert_int_equal(tu_pack_file(f->src, one), BK_OK);
    pack_through_pipe(f->src, two);
    unsetenv("SOURCE_DATE_EPOCH");
    assert_int_equal(system(cmd), 0);

    /* and the digest is the tree's */
    assert_int_equal(bk_archive_digest_dir(f->src, &s1), BK_OK);
    assert_int_equal(tu_unpack_file(one, out, 0, 0), BK_OK);
    assert_int_equal(bk_archive_digest_dir(out, &s2), BK_OK);
    assert_string_equal(s1.digest, s2.digest);
    assert_int_equal(s1.entries, 11 + 80);
    free(one);
    free(two);
    free(cmd);
    free(out);
}

/* Starting writeback while packing (what save asks for) changes no byte;
 * the file is large enough for the writer to start it several times. */
static void test_write_behind_gives_the_same_bytes(void **state)
{
    struct tu_dirs *f = *state;
    enum { SIZE = 24 << 20 };
    char *big = bk_xasprintf("%s/big", f->src);
    char *one = bk_xasprintf("%s/plain.tzst", f->base);
    char *two = bk_xasprintf("%s/behind.tzst", f->base);
    char *cmd = bk_xasprintf("cmp -s '%s' '%s'", one, two);
    struct bk_pack_opts po = {.write_behind = 1};
    unsigned char *buf = bk_xmalloc(SIZE);
    uint32_t x = 12345;
    int fd;

    tu_mkdir(f->src);
    for (size_t i = 0; i < SIZE; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 24);
    }
    fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(write(fd, buf, SIZE), SIZE);
    close(fd);
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    assert_int_equal(tu_pack_file(f->src, one), BK_OK);
    fd = open(two, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(bk_archive_pack(f->src, fd, &po, NULL), BK_OK);
    close(fd);
    unsetenv("SOURCE_DATE_EPOCH");
    assert_int_equal(system(cmd), 0);
    free(buf);
    free(big);
    free(one);
    free(two);
    free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_walk_is_canonical_and_resolves_hardlinks,
                                        tu_dirs_setup, tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_walk_errors, tu_dirs_setup, tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_walk_reports_a_vanished_entry, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_one_pass_and_two_passes_give_the_same_bytes,
                                        tu_dirs_setup, tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_write_behind_gives_the_same_bytes, tu_dirs_setup,
                                        tu_dirs_teardown),
    };
    return cmocka_run_group_tests_name("core/archive_walk", tests, NULL, NULL);
}
