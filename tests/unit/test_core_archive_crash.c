/*
 * test_core_archive_crash.c - unpack killed for real, and what the next run
 * finds (core/archive/archive_swap.c).
 *
 * A child process unpacks with a checkpoint that kills it (SIGKILL, no
 * cleanup of any kind) at "unpack" (half the members written) or "swap"
 * (the target has started to change). The parent then checks what a later
 * run relies on: in a mount point (replace_contents) the marker of an
 * unfinished restore is there until a restore completes, the contents seen
 * without bkcache's own names are the old ones (killed during unpack) or
 * are recognised as a possible mix (killed during the swap), a new unpack
 * replaces them completely and leaves no leftover, bk_archive_empty_contents
 * empties them; in directory mode the target is untouched and the next
 * unpack removes the sibling the killed one left. Also: bkcache's own names
 * never enter an archive or a digest, and a temporary directory still held
 * by a living process is never taken for a leftover.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/archive/archive.h"
#include "core/util/error.h"
#include "core/util/fileio.h"
#include "tests/unit/support/archive_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *pathf(struct tu_dirs *f, const char *dir, const char *rel)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir ? dir : f->base, rel);
    return buf[k];
}

/* src: the new version (40 files in two directories); target: the old one. */
static void make_versions(struct tu_dirs *f)
{
    char rel[64];
    tu_mkdir(f->src);
    tu_mkdir(pathf(f, f->src, "d1"));
    tu_mkdir(pathf(f, f->src, "d2"));
    for (int i = 0; i < 40; i++) {
        snprintf(rel, sizeof(rel), "d%d/new%02d", 1 + i % 2, i);
        tu_write(pathf(f, f->src, rel), "new\n");
    }
    tu_mkdir(f->target);
    tu_mkdir(pathf(f, f->target, "d1"));
    for (int i = 0; i < 3; i++) {
        snprintf(rel, sizeof(rel), "d1/old%d", i);
        tu_write(pathf(f, f->target, rel), "old\n");
    }
    tu_write(pathf(f, f->target, "top"), "old\n");
    assert_int_equal(tu_pack_file(f->src, f->archive), 0);
}

static void copy_tree(const char *from, const char *to)
{
    char *cmd = bk_xasprintf("cp -a '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void kill_self(const char *point, void *arg)
{
    if (strcmp(point, arg) == 0)
        raise(SIGKILL);
}

/* Unpack f->archive into `dir` in a child killed at `point`. */
static void unpack_killed_at(struct tu_dirs *f, const char *dir, int inside, const char *point)
{
    pid_t pid = fork();
    int st;
    assert_true(pid >= 0);
    if (pid == 0) {
        struct bk_unpack_opts o = {0};
        int fd = open(f->archive, O_RDONLY | O_CLOEXEC);
        o.replace_contents = inside;
        o.checkpoint.fn = kill_self;
        o.checkpoint.arg = (void *)point;
        bk_archive_unpack(fd, dir, &o, NULL, NULL);
        _exit(0); /* the checkpoint was never reached */
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* The names in dir that are bkcache's own, one per line, with the
 * per-run suffixes cut ("unpack-", "old-"). */
static void own_names(const char *dir, struct bk_strbuf *out)
{
    struct bk_strbuf l = BK_STRBUF_INIT;
    tu_listing(dir, &l);
    bk_strbuf_reset(out);
    for (char *line = strtok(l.buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (!bk_archive_is_own_name(line))
            continue;
        char *cut = strstr(line, "unpack-") ? strstr(line, "unpack-") + 7
                    : strstr(line, "old-")  ? strstr(line, "old-") + 4
                                            : NULL;
        if (cut)
            *cut = '\0';
        bk_strbuf_addf(out, "%s\n", line);
    }
    bk_strbuf_release(&l);
}

static void assert_same(const char *a, const char *b)
{
    struct bk_strbuf fa = BK_STRBUF_INIT, fb = BK_STRBUF_INIT;
    tu_fingerprint(a, BK_ARCHIVE_OWN_PREFIX, 0, &fa);
    tu_fingerprint(b, BK_ARCHIVE_OWN_PREFIX, 0, &fb);
    assert_string_equal(fa.buf, fb.buf);
    bk_strbuf_release(&fa);
    bk_strbuf_release(&fb);
}

static void test_killed_during_unpack_in_a_mount(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_strbuf own = BK_STRBUF_INIT;
    struct bk_archive_stats old, now;

    make_versions(f);
    assert_int_equal(bk_archive_digest_dir(f->target, &old), 0);
    copy_tree(f->target, f->out);
    unpack_killed_at(f, f->target, 1, "unpack");

    own_names(f->target, &own);
    assert_string_equal(own.buf, ".bkcache-restoring\n.bkcache-unpack-\n");
    assert_int_equal(bk_archive_unfinished(f->target), 1);
    assert_same(f->out, f->target); /* the user's files are still the old ones */
    assert_int_equal(bk_archive_digest_dir(f->target, &now), 0);
    assert_string_equal(now.digest, old.digest); /* bookkeeping is not content */

    assert_int_equal(tu_unpack_file(f->archive, f->target, 0, 1), 0);
    assert_same(f->src, f->target);
    own_names(f->target, &own);
    assert_string_equal(own.buf, "");
    assert_int_equal(bk_archive_unfinished(f->target), 0);
    bk_strbuf_release(&own);
}

static void test_killed_during_swap_in_a_mount(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_strbuf own = BK_STRBUF_INIT, l = BK_STRBUF_INIT;

    make_versions(f);
    unpack_killed_at(f, f->target, 1, "swap");
    own_names(f->target, &own);
    assert_string_equal(own.buf, ".bkcache-old-\n.bkcache-restoring\n.bkcache-unpack-\n");
    assert_int_equal(bk_archive_unfinished(f->target), 1);

    /* a mix is never packed as is: the own names are left out, and the
     * helper refuses a marked cache (tests/e2e) */
    assert_int_equal(tu_pack_file(f->target, pathf(f, NULL, "mix.tzst")), 0);
    assert_int_equal(tu_unpack_file(pathf(f, NULL, "mix.tzst"), f->out, 0, 0), 0);
    own_names(f->out, &own);
    assert_string_equal(own.buf, "");

    /* the repair bkcache runs when it survives: an empty cache, no trace */
    assert_int_equal(bk_archive_empty_contents(f->target), 0);
    tu_listing(f->target, &l);
    assert_string_equal(l.buf, "");
    assert_int_equal(bk_archive_unfinished(f->target), 0);

    /* killed again, then a plain restore: the new version, nothing else */
    unpack_killed_at(f, f->target, 1, "swap");
    assert_int_equal(tu_unpack_file(f->archive, f->target, 0, 1), 0);
    assert_same(f->src, f->target);
    own_names(f->target, &own);
    assert_string_equal(own.buf, "");
    bk_strbuf_release(&own);
    bk_strbuf_release(&l);
}

static void test_killed_in_directory_mode(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_strbuf l = BK_STRBUF_INIT;
    const char *points[] = {"unpack", "swap"};

    make_versions(f);
    copy_tree(f->target, f->out);
    for (size_t i = 0; i < 2; i++) {
        unpack_killed_at(f, f->target, 0, points[i]);
        assert_same(f->out, f->target); /* the swap is one rename: nothing changed yet */
        bk_strbuf_reset(&l);
        tu_listing(f->base, &l);
        assert_non_null(strstr(l.buf, ".target.bkcache-")); /* the killed run's sibling */
    }
    assert_int_equal(tu_unpack_file(f->archive, f->target, 0, 0), 0);
    assert_same(f->src, f->target);
    bk_strbuf_reset(&l);
    tu_listing(f->base, &l);
    assert_string_equal(l.buf, "a.tzst\nout\nsrc\ntarget\n"); /* both siblings removed */
    bk_strbuf_release(&l);
}

static void test_held_temporary_directories_are_kept(void **state)
{
    struct tu_dirs *f = *state;
    char *held = bk_xasprintf("%s/bkcache-dl-XXXXXX", f->base);
    char *dead = bk_xasprintf("%s/bkcache-dl-dead", f->base);
    int lock;

    assert_int_equal(bk_mkdtemp_held(held, &lock), 0);
    tu_mkdir(dead);
    tu_write(pathf(f, dead, "partial"), "x");
    tu_write(pathf(f, NULL, "bkcache-dl-file"), "not a directory: never removed");
    assert_int_equal(bk_remove_abandoned(f->base, "bkcache-dl-"), 1);
    assert_true(tu_exists(held));
    assert_false(tu_exists(dead));
    assert_true(tu_exists(pathf(f, NULL, "bkcache-dl-file")));
    close(lock); /* as if its process had died */
    assert_int_equal(bk_remove_abandoned(f->base, "bkcache-dl-"), 1);
    assert_false(tu_exists(held));
    free(held);
    free(dead);
}

static void test_own_names_never_enter_an_archive(void **state)
{
    struct tu_dirs *f = *state;
    struct bk_archive_stats with, without;

    tu_mkdir(f->src);
    tu_write(pathf(f, f->src, "data"), "x\n");
    tu_mkdir(pathf(f, f->src, "sub"));
    tu_write(pathf(f, f->src, "sub/.bkcache-deeper"), "a user's file: kept\n");
    assert_int_equal(bk_archive_digest_dir(f->src, &without), 0);
    tu_write(pathf(f, f->src, BK_ARCHIVE_UNFINISHED), "marker\n");
    tu_mkdir(pathf(f, f->src, ".bkcache-unpack-abc"));
    tu_write(pathf(f, f->src, ".bkcache-unpack-abc/half"), "half\n");
    assert_int_equal(bk_archive_digest_dir(f->src, &with), 0);
    assert_string_equal(with.digest, without.digest);
    assert_int_equal(with.entries, 3);

    assert_int_equal(tu_pack_file(f->src, f->archive), 0);
    assert_int_equal(tu_unpack_file(f->archive, f->out, 0, 0), 0);
    assert_false(tu_exists(pathf(f, f->out, BK_ARCHIVE_UNFINISHED)));
    assert_false(tu_exists(pathf(f, f->out, ".bkcache-unpack-abc")));
    assert_true(tu_exists(pathf(f, f->out, "sub/.bkcache-deeper")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_killed_during_unpack_in_a_mount, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_killed_during_swap_in_a_mount, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_killed_in_directory_mode, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_held_temporary_directories_are_kept, tu_dirs_setup,
                                        tu_dirs_teardown),
        cmocka_unit_test_setup_teardown(test_own_names_never_enter_an_archive, tu_dirs_setup,
                                        tu_dirs_teardown),
    };
    return cmocka_run_group_tests_name("core/archive crash", tests, NULL, NULL);
}
