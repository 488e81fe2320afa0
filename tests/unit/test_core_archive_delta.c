/*
 * test_core_archive_delta.c - delta packs, layered unpacks, the base record.
 *
 * A tree is packed full, unpacked with a record (as a restore of stored
 * layers would), changed in every way a delta must carry (a file changed,
 * added, deleted; a directory replaced by a file and a file by a directory;
 * a hardlinked file rewritten; a hardlink moved to another file; a symlink
 * retargeted), and packed again against the record. The delta must hold
 * exactly the changed members and the whiteouts, and the stack must unpack
 * to the changed tree (its digest, and every entry's attributes and bytes
 * by the fingerprint). Then the stack's refusals: parents that do not
 * chain, a delta alone, a damaged delta, hostile members and whiteouts,
 * each leaving the target as it was.
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
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

/* The archive files a test may write, under base. */
enum { A0, A1, A2, BAD, CRAFTED_BASE, CRAFTED_DELTA, NFILES };
static const char *const k_files[NFILES] = {"a0.tzst",  "a1.tzst",   "a2.tzst",
                                            "bad.tzst", "base.tzst", "delta.tzst"};

struct fx {
    char *base;
    char *file[NFILES];
};

static int setup(void **state)
{
    struct fx *f = bk_xcalloc(1, sizeof(*f));
    f->base = tu_mkdtemp();
    for (int i = 0; i < NFILES; i++)
        f->file[i] = bk_xasprintf("%s/%s", f->base, k_files[i]);
    bk_log_verbosity = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tu_rm_rf(f->base);
    for (int i = 0; i < NFILES; i++)
        free(f->file[i]);
    free(f->base);
    free(f);
    return 0;
}

/* base/rel, in one of 16 rotating buffers (several per expression). */
static const char *P(struct fx *f, const char *rel)
{
    static char bufs[16][4096];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, sizeof(bufs[0]), "%s/%s", f->base, rel);
    return b;
}

static int pack_to(const char *dir, const char *file, const struct bk_pack_opts *o,
                   struct bk_archive_stats *st)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    int rc = bk_archive_pack(dir, fd, o, st);
    close(fd);
    return rc;
}

static int pack_delta(const char *dir, const char *file, struct bk_archive_stats *st)
{
    struct bk_pack_opts o = {0};
    char *rec = bk_xasprintf("%s/%s", dir, BK_ARCHIVE_BASE_RECORD);
    o.parent_record = rec;
    o.delta_max_ratio = 100; /* these trees are tiny: a delta is as big as the base */
    int rc = pack_to(dir, file, &o, st);
    free(rec);
    return rc;
}

/* The stored layer an archive file would be. */
static void layer_of(const char *file, const char *tree, struct bk_archive_layer *l)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    unsigned char md[32];
    assert_int_equal(bk_strbuf_read_file(&sb, file), 0);
    EVP_Digest(sb.buf, sb.len, md, NULL, EVP_sha256(), NULL);
    strcpy(l->digest, "sha256:");
    for (int i = 0; i < 32; i++)
        sprintf(l->digest + 7 + 2 * i, "%02x", md[i]);
    l->size = sb.len;
    snprintf(l->tree, sizeof(l->tree), "%s", tree);
    bk_strbuf_release(&sb);
}

static int unpack_stack(const char *const *files, size_t n, const char *dir,
                        const struct bk_archive_layer *rec, int replace,
                        struct bk_archive_stats *st)
{
    struct bk_unpack_opts o = {0};
    int fds[BK_ARCHIVE_MAX_LAYERS] = {0};
    o.replace_contents = replace;
    for (size_t i = 0; i < n; i++)
        assert_true((fds[i] = open(files[i], O_RDONLY | O_CLOEXEC)) >= 0);
    int rc = bk_archive_unpack_layers(fds, n, dir, &o, rec, rec ? n : 0, st, NULL);
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
    return rc;
}

static void write_at(struct fx *f, const char *rel, const char *text)
{
    tu_write(P(f, rel), text);
}

static void read_text(const char *path, struct bk_strbuf *sb)
{
    bk_strbuf_reset(sb);
    assert_int_equal(bk_strbuf_read_file(sb, path), 0);
}

/* Trees a and b are the same, bkcache's own names aside, by fingerprint
 * and by content digest. */
static void assert_same(const char *a, const char *b)
{
    struct bk_strbuf fa = BK_STRBUF_INIT, fb = BK_STRBUF_INIT;
    struct bk_archive_stats sa, sb;
    tu_fingerprint(a, BK_ARCHIVE_OWN_PREFIX, 1, &fa);
    tu_fingerprint(b, BK_ARCHIVE_OWN_PREFIX, 1, &fb);
    assert_true(fa.len > 0);
    assert_string_equal(fa.buf, fb.buf);
    assert_int_equal(bk_archive_digest_dir(a, &sa), 0);
    assert_int_equal(bk_archive_digest_dir(b, &sb), 0);
    assert_string_equal(sa.digest, sb.digest);
    bk_strbuf_release(&fa);
    bk_strbuf_release(&fb);
}

static void make_tree(struct fx *f, const char *root)
{
    char r[64];
    tu_mkdir(P(f, root));
#define AT(x) (snprintf(r, sizeof(r), "%s/%s", root, x), r)
    tu_mkdir(P(f, AT("d")));
    write_at(f, AT("d/keep"), "keep\n");
    write_at(f, AT("d/chg"), "old\n");
    write_at(f, AT("gone"), "bye\n");
    tu_mkdir(P(f, AT("dir2file")));
    write_at(f, AT("dir2file/inner"), "inner\n");
    write_at(f, AT("file2dir"), "a file\n");
    tu_mkdir(P(f, AT("a")));
    write_at(f, AT("a/f1"), "linked\n");
    tu_mkdir(P(f, AT("x")));
    char *t = bk_xstrdup(P(f, AT("a/f1")));
    assert_int_equal(link(t, P(f, AT("x/h1"))), 0);
    free(t);
    write_at(f, AT("h2"), "h2\n");
    t = bk_xstrdup(P(f, AT("h2")));
    assert_int_equal(link(t, P(f, AT("h2link"))), 0);
    free(t);
    assert_int_equal(symlink("d/keep", P(f, AT("rel"))), 0);
#undef AT
}

/* Every kind of change a delta must carry, made in `root`. */
static void change_tree(struct fx *f, const char *root)
{
    char r[64];
#define AT(x) (snprintf(r, sizeof(r), "%s/%s", root, x), r)
    write_at(f, AT("d/chg"), "new content\n");
    write_at(f, AT("d/new"), "added\n");
    assert_int_equal(unlink(P(f, AT("gone"))), 0);
    tu_rm_rf(P(f, AT("dir2file")));
    write_at(f, AT("dir2file"), "now a file\n");
    assert_int_equal(unlink(P(f, AT("file2dir"))), 0);
    tu_mkdir(P(f, AT("file2dir")));
    write_at(f, AT("file2dir/in"), "in a new dir\n");
    write_at(f, AT("a/f1"), "rewritten through one of its links\n"); /* x/h1 follows */
    assert_int_equal(unlink(P(f, AT("rel"))), 0);
    assert_int_equal(symlink("d/chg", P(f, AT("rel"))), 0);
    assert_int_equal(unlink(P(f, AT("h2link"))), 0);
    write_at(f, AT("h3"), "h3\n");
    char *t = bk_xstrdup(P(f, AT("h3")));
    assert_int_equal(link(t, P(f, AT("h2link"))), 0); /* now a link of h3, not h2 */
    free(t);
#undef AT
}

/* src packed full (a0), unpacked with its record into work, which is then
 * changed: the state most tests start from. */
static void start(struct fx *f, struct bk_archive_stats *s0, struct bk_archive_layer *l0)
{
    const char *a0[] = {f->file[A0]};
    make_tree(f, "src");
    assert_int_equal(pack_to(P(f, "src"), a0[0], NULL, s0), 0);
    assert_int_equal(s0->delta, 0);
    layer_of(a0[0], s0->digest, l0);
    assert_int_equal(unpack_stack(a0, 1, P(f, "work"), l0, 0, NULL), 0);
    assert_true(tu_exists(P(f, "work/" BK_ARCHIVE_BASE_RECORD)));
    assert_false(tu_exists(P(f, "work/.bkcache-base.tmp")));
    assert_same(P(f, "src"), P(f, "work"));
}

/* start(), then a delta of work (a1) and the stack a0+a1 unpacked with its
 * record into work2 (`replace`: in place), ready for a third layer. */
static void two_layers(struct fx *f, int replace, struct bk_archive_stats s[2],
                       struct bk_archive_layer l[2])
{
    const char *stack[] = {f->file[A0], f->file[A1]};
    start(f, &s[0], &l[0]);
    change_tree(f, "work");
    assert_int_equal(pack_delta(P(f, "work"), f->file[A1], &s[1]), 0);
    layer_of(f->file[A1], s[1].digest, &l[1]);
    assert_int_equal(unpack_stack(stack, 2, P(f, "work2"), l, replace, NULL), 0);
}

static void test_delta_holds_only_changes_and_unpacks_to_the_new_tree(void **state)
{
    struct fx *f = *state;
    struct bk_archive_stats s0, s1, su, sw;
    struct bk_archive_layer l[2];
    struct bk_strbuf sb = BK_STRBUF_INIT;
    const char *stack[] = {f->file[A0], f->file[A1]};

    start(f, &s0, &l[0]);
    change_tree(f, "work");
    assert_int_equal(pack_delta(P(f, "work"), stack[1], &s1), 0);
    assert_int_equal(s1.delta, 1);
    assert_string_equal(s1.parent, s0.digest);
    assert_int_equal(s1.nparent_layers, 1);
    assert_string_equal(s1.parent_layers[0].digest, l[0].digest);
    assert_int_equal(s1.parent_layers[0].size, l[0].size);
    assert_int_equal(bk_archive_digest_dir(P(f, "work"), &sw), 0);
    assert_string_equal(s1.digest, sw.digest); /* the manifest: the whole new tree */
    assert_int_equal(s1.entries, sw.entries);
    assert_int_equal(s1.files, sw.files);

    /* x/h1 is written: its line carries the rewritten inode's mtime */
    assert_int_equal(tu_members(stack[1], &sb), 13);
    assert_string_equal(sb.buf, "a/f1\nd/\nd/chg\nd/new\ndir2file\ndir2file/inner W\n"
                                "file2dir/\nfile2dir/in\ngone W\nh2link\nh3\nrel\nx/h1\n");

    struct bk_archive_manifest m;
    int fd = open(stack[1], O_RDONLY);
    assert_int_equal(bk_archive_read_manifest(fd, &m), 0);
    close(fd);
    assert_non_null(m.parent);
    assert_string_equal(m.parent, s0.digest);
    bk_archive_manifest_release(&m);

    layer_of(stack[1], s1.digest, &l[1]);
    assert_int_equal(unpack_stack(stack, 2, P(f, "out"), l, 0, &su), 0);
    assert_string_equal(su.digest, s1.digest);
    assert_same(P(f, "work"), P(f, "out"));
    struct stat st1, st2;
    assert_int_equal(stat(P(f, "out/a/f1"), &st1), 0);
    assert_int_equal(stat(P(f, "out/x/h1"), &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    read_text(P(f, "out/x/h1"), &sb);
    assert_string_equal(sb.buf, "rewritten through one of its links\n");
    bk_strbuf_release(&sb);
}

static void test_three_layers_and_their_refusals(void **state)
{
    struct fx *f = *state;
    struct bk_archive_stats s[2], s2, su;
    struct bk_archive_layer l[3];
    struct bk_strbuf before = BK_STRBUF_INIT, after = BK_STRBUF_INIT, sb = BK_STRBUF_INIT;
    const char *stack[] = {f->file[A0], f->file[A1], f->file[A2]};

    two_layers(f, 1, s, l);
    /* a second delta, on the restored stack */
    write_at(f, "work2/d/keep", "changed in the third layer\n");
    assert_int_equal(unlink(P(f, "work2/d/new")), 0);
    assert_int_equal(pack_delta(P(f, "work2"), stack[2], &s2), 0);
    assert_int_equal(s2.delta, 1);
    assert_int_equal(s2.nparent_layers, 2);
    assert_string_equal(s2.parent, s[1].digest);
    assert_int_equal(tu_members(stack[2], &sb), 3);
    assert_string_equal(sb.buf, "d/\nd/keep\nd/new W\n");
    layer_of(stack[2], s2.digest, &l[2]);
    assert_int_equal(unpack_stack(stack, 3, P(f, "out"), NULL, 0, &su), 0);
    assert_string_equal(su.digest, s2.digest);
    assert_same(P(f, "work2"), P(f, "out"));
    assert_false(tu_exists(P(f, "out/" BK_ARCHIVE_BASE_RECORD))); /* no record asked */

    /* parents that do not chain, and a delta alone: refused, out untouched */
    tu_fingerprint(P(f, "out"), NULL, 1, &before);
    const char *skip[] = {stack[0], stack[2]};
    assert_int_equal(unpack_stack(skip, 2, P(f, "out"), NULL, 0, NULL), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "layer 1"));
    print_message("  %s\n", bk_error_msg());
    const char *swapped[] = {stack[1], stack[0]};
    assert_int_equal(unpack_stack(swapped, 2, P(f, "out"), NULL, 0, NULL), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "layer 0"));
    assert_int_equal(unpack_stack(stack + 1, 1, P(f, "out"), NULL, 0, NULL), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "delta"));
    int fd = open(stack[1], O_RDONLY);
    assert_int_equal(bk_archive_unpack(fd, P(f, "out"), NULL, NULL, NULL), BK_ECORRUPT);
    close(fd);
    /* a record whose trees are not the archives' */
    struct bk_archive_layer wrong[3];
    memcpy(wrong, l, sizeof(wrong));
    memcpy(wrong[1].tree, s[0].digest, sizeof(wrong[1].tree));
    assert_int_equal(unpack_stack(stack, 3, P(f, "out"), wrong, 0, NULL), BK_ECORRUPT);
    memcpy(wrong, l, sizeof(wrong));
    memmove(wrong[2].digest, wrong[2].digest + 7, BK_DIGEST_HEX + 1); /* no "sha256:" */
    assert_int_equal(unpack_stack(stack, 3, P(f, "out"), wrong, 0, NULL), BK_EINVAL);
    tu_fingerprint(P(f, "out"), NULL, 1, &after);
    assert_string_equal(before.buf, after.buf);
    bk_strbuf_reset(&sb);
    tu_listing(f->base, &sb);
    assert_null(strstr(sb.buf, ".bkcache-")); /* no temporary left */
    bk_strbuf_release(&before);
    bk_strbuf_release(&after);
    bk_strbuf_release(&sb);
}

static void test_damaged_delta_leaves_the_target(void **state)
{
    struct fx *f = *state;
    struct bk_archive_stats s0, s1;
    struct bk_archive_layer l[2];
    struct bk_strbuf a1 = BK_STRBUF_INIT, before = BK_STRBUF_INIT, after = BK_STRBUF_INIT;
    const char *stack[] = {f->file[A0], f->file[BAD]};

    start(f, &s0, &l[0]);
    change_tree(f, "work");
    assert_int_equal(pack_delta(P(f, "work"), f->file[A1], &s1), 0);
    layer_of(f->file[A1], s1.digest, &l[1]);
    read_text(f->file[A1], &a1);
    for (int mode = 0; mode < 2; mode++) {
        for (int replace = 0; replace < 2; replace++) {
            FILE *o = fopen(stack[1], "wb");
            size_t len = mode == 0 ? a1.len - 20 : a1.len; /* truncated */
            if (mode == 1)
                a1.buf[a1.len - 30] ^= 0x55; /* a flipped byte in the last frame */
            assert_int_equal(fwrite(a1.buf, 1, len, o), len);
            fclose(o);
            if (mode == 1)
                a1.buf[a1.len - 30] ^= 0x55;
            bk_strbuf_reset(&before);
            bk_strbuf_reset(&after);
            tu_fingerprint(P(f, "work"), NULL, 1, &before);
            assert_int_equal(unpack_stack(stack, 2, P(f, "work"), l, replace, NULL), BK_ECORRUPT);
            print_message("  %s: %s\n", mode ? "corrupt" : "truncated", bk_error_msg());
            assert_non_null(strstr(bk_error_msg(), "layer 1"));
            tu_fingerprint(P(f, "work"), NULL, 1, &after);
            assert_string_equal(before.buf, after.buf); /* the old record too */
        }
    }
    bk_strbuf_release(&a1);
    bk_strbuf_release(&before);
    bk_strbuf_release(&after);
}

/* With a record, each layer's bytes must be the stored layer's, size and
 * SHA-256: a record naming other bytes or another size, or one byte changed
 * where decoding cannot see it (the bottom layer's padding frame), is
 * refused and the target is untouched. */
static void test_record_checks_layer_bytes(void **state)
{
    struct fx *f = *state;
    struct bk_archive_stats s[2];
    struct bk_archive_layer l[2], wrong[2];
    struct bk_strbuf sb = BK_STRBUF_INIT, before = BK_STRBUF_INIT, after = BK_STRBUF_INIT;
    char *bad = bk_xstrdup(P(f, "a0-padding-changed"));
    const char *stack[] = {f->file[A0], f->file[A1]}, *damaged[] = {bad, f->file[A1]};
    size_t head;
    FILE *out;

    two_layers(f, 0, s, l);
    tu_fingerprint(P(f, "work2"), NULL, 1, &before);
    memcpy(wrong, l, sizeof(wrong));
    memcpy(wrong[1].digest, l[0].digest, sizeof(wrong[1].digest));
    assert_int_equal(unpack_stack(stack, 2, P(f, "work2"), wrong, 0, NULL), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "layer 1"));
    print_message("  %s\n", bk_error_msg());
    memcpy(wrong, l, sizeof(wrong));
    wrong[0].size++;
    assert_int_equal(unpack_stack(stack, 2, P(f, "work2"), wrong, 0, NULL), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "layer 0"));

    assert_int_equal(bk_strbuf_read_file(&sb, stack[0]), 0);
    head = ZSTD_findFrameCompressedSize(sb.buf, sb.len);
    assert_false(ZSTD_isError(head));
    assert_true(head + 9 < sb.len);
    sb.buf[head + 8] ^= 0x01; /* the first byte inside the skippable frame */
    out = fopen(bad, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(sb.buf, 1, sb.len, out), sb.len);
    fclose(out);
    assert_int_equal(unpack_stack(damaged, 2, P(f, "plain"), NULL, 0, NULL), 0); /* it decodes */
    assert_int_equal(unpack_stack(damaged, 2, P(f, "work2"), l, 0, NULL), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "hash to"));
    tu_fingerprint(P(f, "work2"), NULL, 1, &after);
    assert_string_equal(before.buf, after.buf);
    assert_int_equal(unpack_stack(stack, 2, P(f, "work2"), l, 0, NULL), 0); /* the real ones */
    bk_strbuf_release(&sb);
    bk_strbuf_release(&before);
    bk_strbuf_release(&after);
    free(bad);
}

static void test_base_record_written_only_when_asked(void **state)
{
    struct fx *f = *state;
    struct bk_archive_stats s0;
    struct bk_archive_layer l0;
    const char *a0[] = {f->file[A0]};

    start(f, &s0, &l0);
    /* renamed target: a plain unpack's tree has no record */
    assert_int_equal(unpack_stack(a0, 1, P(f, "work"), NULL, 0, NULL), 0);
    assert_false(tu_exists(P(f, "work/" BK_ARCHIVE_BASE_RECORD)));
    /* contents replaced in place (a mount point): the same, both ways */
    assert_int_equal(unpack_stack(a0, 1, P(f, "work"), &l0, 1, NULL), 0);
    assert_true(tu_exists(P(f, "work/" BK_ARCHIVE_BASE_RECORD)));
    assert_int_equal(unpack_stack(a0, 1, P(f, "work"), NULL, 1, NULL), 0);
    assert_false(tu_exists(P(f, "work/" BK_ARCHIVE_BASE_RECORD)));
    assert_same(P(f, "src"), P(f, "work"));
    /* without a record, a pack asked for a delta packs full */
    struct bk_archive_stats s;
    assert_int_equal(pack_delta(P(f, "work"), P(f, "full.tzst"), &s), 0);
    assert_int_equal(s.delta, 0);
    assert_string_equal(s.digest, s0.digest);
}

static void test_limits_and_bad_records_force_a_full_pack(void **state)
{
    struct fx *f = *state;
    struct bk_archive_stats st[2], s;
    struct bk_archive_layer l[2];
    struct bk_pack_opts o = {0};
    struct bk_strbuf sb = BK_STRBUF_INIT;
    char *rec = bk_xstrdup(P(f, "work2/" BK_ARCHIVE_BASE_RECORD));

    two_layers(f, 0, st, l);
    write_at(f, "work2/d/keep", "one more change\n");
    o.parent_record = rec;
    o.delta_max_ratio = 100;
    assert_int_equal(pack_to(P(f, "work2"), P(f, "x.tzst"), &o, &s), 0);
    assert_int_equal(s.delta, 1);
    o.delta_max_layers = 2; /* a third layer would be too many */
    assert_int_equal(pack_to(P(f, "work2"), P(f, "x.tzst"), &o, &s), 0);
    assert_int_equal(s.delta, 0);
    assert_int_equal(tu_members(P(f, "x.tzst"), &sb), s.entries);
    o.delta_max_layers = 0;
    o.delta_max_ratio = (double)l[1].size / (double)l[0].size / 2; /* the stack is heavier */
    assert_int_equal(pack_to(P(f, "work2"), P(f, "x.tzst"), &o, &s), 0);
    assert_int_equal(s.delta, 0);
    struct bk_archive_manifest m;
    int fd = open(P(f, "x.tzst"), O_RDONLY);
    assert_int_equal(bk_archive_read_manifest(fd, &m), 0);
    close(fd);
    assert_null(m.parent);
    bk_archive_manifest_release(&m);
    o.delta_max_ratio = 100;
    /* a damaged record, or one whose lines do not hash to its tree */
    struct bk_strbuf r = BK_STRBUF_INIT;
    read_text(rec, &r);
    FILE *w = fopen(rec, "wb");
    r.buf[r.len / 2] ^= 1;
    fwrite(r.buf, 1, r.len, w);
    fclose(w);
    assert_int_equal(pack_to(P(f, "work2"), P(f, "x.tzst"), &o, &s), 0);
    assert_int_equal(s.delta, 0);
    char *cmd = bk_xasprintf("zstd -q -d < '%s' | sed 's/^f 0644/f 0600/' | zstd -q > '%s.t' && "
                             "mv '%s.t' '%s'",
                             P(f, "work/" BK_ARCHIVE_BASE_RECORD), rec, rec, rec);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_int_equal(pack_to(P(f, "work2"), P(f, "x.tzst"), &o, &s), 0);
    assert_int_equal(s.delta, 0);
    free(rec);
    bk_strbuf_release(&r);
    bk_strbuf_release(&sb);
}

static void test_reproducible_packs_are_byte_identical(void **state)
{
    struct fx *f = *state;
    struct bk_pack_opts o1 = {0}, o2 = {0};
    struct bk_strbuf a = BK_STRBUF_INIT, b = BK_STRBUF_INIT;
    struct bk_archive_stats s0, s1, s2;
    struct bk_archive_layer l0;

    start(f, &s0, &l0);
    change_tree(f, "work");
    unsetenv("SOURCE_DATE_EPOCH");
    o1.reproducible = o2.reproducible = 1;
    o1.key = "key-one";
    o1.identity = "id=one";
    o1.threads = 1;
    o2.key = "key-two";
    o2.threads = 3;
    for (int delta = 0; delta < 2; delta++) {
        char *rec = bk_xasprintf("%s/" BK_ARCHIVE_BASE_RECORD, P(f, "work"));
        o1.parent_record = o2.parent_record = delta ? rec : NULL;
        assert_int_equal(pack_to(P(f, "work"), P(f, "r1.tzst"), &o1, &s1), 0);
        sleep(1); /* a different second: created must not show it */
        assert_int_equal(pack_to(P(f, "work"), P(f, "r2.tzst"), &o2, &s2), 0);
        assert_int_equal(s1.delta, delta);
        assert_int_equal(s2.delta, delta);
        read_text(P(f, "r1.tzst"), &a);
        read_text(P(f, "r2.tzst"), &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.buf, b.buf, a.len);
        free(rec);
    }
    struct bk_archive_manifest m;
    int fd = open(P(f, "r1.tzst"), O_RDONLY);
    assert_int_equal(bk_archive_read_manifest(fd, &m), 0);
    close(fd);
    assert_null(m.key);
    assert_null(m.identity);
    assert_string_equal(m.created, "1970-01-01T00:00:00Z");
    bk_archive_manifest_release(&m);
    bk_strbuf_release(&a);
    bk_strbuf_release(&b);
}

/* A crafted base {d, d/f} and deltas on it, each with the manifest of the
 * tree {d, d/g} so that only the check under test can refuse them. */
static void test_hostile_deltas_are_refused(void **state)
{
    struct fx *f = *state;
    const struct tu_member base[] = {{"d", 'd', NULL, NULL}, {"d/f", 'f', "x\n", NULL}};
    const struct tu_member tree[] = {{"d", 'd', NULL, NULL}, {"d/g", 'f', "y\n", NULL}};
    const char *stack[] = {f->file[CRAFTED_BASE], f->file[CRAFTED_DELTA]};
    struct bk_archive_manifest m;
    struct bk_strbuf before = BK_STRBUF_INIT, after = BK_STRBUF_INIT, sb = BK_STRBUF_INIT;
    struct {
        const char *why;
        struct tu_member m[2];
    } bad[] = {
        {"whiteout with ..", {{"d/../../x", 'w', NULL, NULL}, {"d/g", 'f', "y\n", NULL}}},
        {"absolute whiteout", {{"/etc/passwd", 'w', NULL, NULL}, {"d/g", 'f', "y\n", NULL}}},
        {"member with ..", {{"../evil", 'f', "y\n", NULL}, {"d/f", 'w', NULL, NULL}}},
        {"absolute member", {{"/tmp/evil", 'f', "y\n", NULL}, {"d/f", 'w', NULL, NULL}}},
        {"own-name member", {{BK_ARCHIVE_BASE_RECORD, 'f', "y\n", NULL}, {"d/f", 'w', NULL, NULL}}},
        {"own-name whiteout",
         {{BK_ARCHIVE_UNFINISHED, 'w', NULL, NULL}, {"d/g", 'f', "y\n", NULL}}},
        {"manifest path member",
         {{".bkcache/manifest.json", 'f', "{}", NULL}, {"d/f", 'w', NULL, NULL}}},
        {"whiteout of nothing", {{"d/e", 'w', NULL, NULL}, {"d/g", 'f', "y\n", NULL}}},
        {"out of order", {{"d/g", 'f', "y\n", NULL}, {"d/f", 'w', NULL, NULL}}},
    };

    tu_craft(stack[0], base, 2, 0);
    int fd = open(stack[0], O_RDONLY);
    assert_int_equal(bk_archive_read_manifest(fd, &m), 0);
    close(fd);
    tu_mkdir(P(f, "target"));
    write_at(f, "target/old", "old contents\n");

    /* control: the well-formed delta is accepted */
    const struct tu_member good[] = {{"d/f", 'w', NULL, NULL}, {"d/g", 'f', "y\n", NULL}};
    tu_craft_delta(stack[1], m.digest, tree, 2, good, 2);
    assert_int_equal(unpack_stack(stack, 2, P(f, "out"), NULL, 0, NULL), 0);
    tu_listing(P(f, "out/d"), &sb);
    assert_string_equal(sb.buf, "g\n");

    tu_fingerprint(P(f, "target"), NULL, 1, &before);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        tu_craft_delta(stack[1], m.digest, tree, 2, bad[i].m, 2);
        for (int replace = 0; replace < 2; replace++) {
            int rc = unpack_stack(stack, 2, P(f, "target"), NULL, replace, NULL);
            if (rc != BK_ECORRUPT)
                fail_msg("%s: unpack said %d", bad[i].why, rc);
            print_message("  %s: %s\n", bad[i].why, bk_error_msg());
            bk_strbuf_reset(&after);
            tu_fingerprint(P(f, "target"), NULL, 1, &after);
            assert_string_equal(before.buf, after.buf);
        }
    }
    /* a whiteout that carries data: refused as such, the target as it was */
    const struct tu_member fat[] = {{"d/f", 'w', "data\n", NULL}, {"d/g", 'f', "y\n", NULL}};
    tu_craft_delta(stack[1], m.digest, tree, 2, fat, 2);
    assert_int_equal(unpack_stack(stack, 2, P(f, "target"), NULL, 1, NULL), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "not an empty file"));
    bk_strbuf_reset(&after);
    tu_fingerprint(P(f, "target"), NULL, 1, &after);
    assert_string_equal(before.buf, after.buf);
    /* a whiteout in a full archive (the bottom layer) */
    const struct tu_member wfull[] = {{"d", 'd', NULL, NULL}, {"d/f", 'w', NULL, NULL}};
    tu_craft_delta(stack[1], NULL, wfull, 1, wfull, 2);
    assert_int_equal(unpack_stack(stack + 1, 1, P(f, "target"), NULL, 0, NULL), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), "whiteout"));
    bk_strbuf_reset(&sb);
    tu_listing(f->base, &sb);
    assert_string_equal(sb.buf, "base.tzst\ndelta.tzst\nout\ntarget\n");
    bk_archive_manifest_release(&m);
    bk_strbuf_release(&before);
    bk_strbuf_release(&after);
    bk_strbuf_release(&sb);
}

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The command-line form of a stored layer: sha256:HEX:SIZE:TREE. */
static char *layer_arg(const struct bk_archive_layer *l)
{
    return bk_xasprintf("%s:%llu:%s", l->digest, (unsigned long long)l->size, l->tree);
}

/* bkcache pack --delta / unpack ARCHIVE... --record, and the helper's
 * pack --delta L:R / unpack ARCHIVE... --record (its old forms too). */
static void test_cli_and_helper_forms(void **state)
{
    struct fx *f = *state;
    const char *bk = getenv("BKCACHE");
    struct bk_archive_stats s0, sw;
    struct bk_archive_layer l0;
    struct bk_strbuf out = BK_STRBUF_INIT;
    if (!bk || !*bk)
        skip();
    start(f, &s0, &l0);
    char *rec = layer_arg(&l0);
    change_tree(f, "work");
    assert_int_equal(bk_archive_digest_dir(P(f, "work"), &sw), 0);

    char *cmd = bk_xasprintf("'%s' pack -q --delta --json '%s' '%s' > '%s'", bk, P(f, "work"),
                             f->file[A1], P(f, "pack.json"));
    assert_int_equal(run(cmd), 0);
    free(cmd);
    read_text(P(f, "pack.json"), &out);
    assert_non_null(strstr(out.buf, "\"delta\":true"));
    assert_non_null(strstr(out.buf, l0.digest));
    struct bk_archive_layer l1;
    layer_of(f->file[A1], sw.digest, &l1);
    char *rec1 = layer_arg(&l1);
    cmd = bk_xasprintf("'%s' unpack -q '%s' '%s' '%s' --record '%s,%s'", bk, f->file[A0],
                       f->file[A1], P(f, "cli"), rec, rec1);
    assert_int_equal(run(cmd), 0);
    free(cmd);
    assert_same(P(f, "work"), P(f, "cli"));
    assert_true(tu_exists(P(f, "cli/" BK_ARCHIVE_BASE_RECORD)));
    /* a pipe (two passes) writes the same delta as a file (one pass) */
    cmd = bk_xasprintf("'%s' pack -q --delta --reproducible '%s' - | cat > '%s' && '%s' pack -q "
                       "--delta --reproducible '%s' '%s' && cmp -s '%s' '%s'",
                       bk, P(f, "work"), P(f, "pipe.tzst"), bk, P(f, "work"), P(f, "file.tzst"),
                       P(f, "pipe.tzst"), P(f, "file.tzst"));
    assert_int_equal(run(cmd), 0);
    free(cmd);
    bk_strbuf_reset(&out);
    assert_int_equal(tu_members(P(f, "pipe.tzst"), &out), 13);
    cmd = bk_xasprintf("'%s' unpack -q '%s' '%s' 2>/dev/null", bk, f->file[A1], P(f, "cli"));
    assert_int_equal(run(cmd), 1); /* a delta alone */
    free(cmd);
    cmd = bk_xasprintf("'%s' unpack -q '%s' '%s' --record '%s' 2>/dev/null", bk, f->file[A0],
                       P(f, "cli"), "sha256:12:3:4");
    assert_int_equal(run(cmd), 2);
    free(cmd);

    char *helper = bk_xasprintf("%.*s/bkcache-helper", (int)(strrchr(bk, '/') - bk), bk);
    if (!tu_exists(helper)) {
        print_message("  (no %s: the helper's forms not checked)\n", helper);
    } else {
        /* old forms, then the stack with a record, then a delta pack */
        cmd = bk_xasprintf("'%s' unpack '%s' '%s' --report '%s' && '%s' pack '%s' '%s' "
                           "--report '%s'",
                           helper, f->file[A0], P(f, "h"), P(f, "r1"), helper, P(f, "h"),
                           P(f, "h.tzst"), P(f, "r2"));
        assert_int_equal(run(cmd), 0);
        free(cmd);
        read_text(P(f, "r2"), &out);
        assert_null(strstr(out.buf, "delta"));
        assert_false(tu_exists(P(f, "h/" BK_ARCHIVE_BASE_RECORD)));
        cmd = bk_xasprintf("'%s' unpack '%s' '%s' '%s' --record '%s,%s' --report '%s'", helper,
                           f->file[A0], f->file[A1], P(f, "h"), rec, rec1, P(f, "r3"));
        assert_int_equal(run(cmd), 0);
        free(cmd);
        read_text(P(f, "r3"), &out);
        assert_non_null(strstr(out.buf, sw.digest));
        assert_same(P(f, "work"), P(f, "h"));
        write_at(f, "h/d/keep", "changed in the builder\n");
        cmd = bk_xasprintf("'%s' pack '%s' '%s' --report '%s' --delta 8:100 --reproducible", helper,
                           P(f, "h"), P(f, "h.tzst"), P(f, "r4"));
        assert_int_equal(run(cmd), 0);
        free(cmd);
        read_text(P(f, "r4"), &out);
        char *want = bk_xasprintf("\"delta\":true,\"parent\":\"%s\",\"layers\":[{\"digest\":"
                                  "\"%s\",\"size\":%llu,\"tree\":\"%s\"},",
                                  sw.digest, l0.digest, (unsigned long long)l0.size, l0.tree);
        assert_non_null(strstr(out.buf, want));
        free(want);
        /* a --level that is not a whole level: an error report, no archive */
        cmd = bk_xasprintf("'%s' pack '%s' '%s' --report '%s' --level 3x", helper, P(f, "h"),
                           P(f, "lvl.tzst"), P(f, "r5"));
        assert_int_equal(run(cmd), 0);
        free(cmd);
        read_text(P(f, "r5"), &out);
        assert_non_null(strstr(out.buf, "\"status\":\"error\""));
        assert_non_null(strstr(out.buf, "--level: expected a number from 1 to 19"));
        assert_false(tu_exists(P(f, "lvl.tzst")));
        bk_strbuf_reset(&out);
        assert_int_equal(tu_members(P(f, "h.tzst"), &out), 1); /* d's mtime is unchanged */
        assert_string_equal(out.buf, "d/keep\n");
        /* the static helper (libzstd without threads) and this process give
         * a reproducible pack the same bytes: one blob wherever it is saved */
        struct bk_pack_opts o = {0};
        struct bk_strbuf mine = BK_STRBUF_INIT;
        o.reproducible = 1;
        o.parent_record = P(f, "h/" BK_ARCHIVE_BASE_RECORD);
        o.delta_max_ratio = 100;
        assert_int_equal(pack_to(P(f, "h"), P(f, "mine.tzst"), &o, NULL), 0);
        read_text(P(f, "h.tzst"), &out);
        read_text(P(f, "mine.tzst"), &mine);
        assert_int_equal(out.len, mine.len);
        assert_memory_equal(out.buf, mine.buf, out.len);
        bk_strbuf_release(&mine);
    }
    free(helper);
    free(rec);
    free(rec1);
    bk_strbuf_release(&out);
}

/* The manifest's optional parent: a sha256 digest or null, nothing else. */
static void test_manifest_parent_is_parsed_strictly(void **state)
{
    (void)state;
    const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const char *vals[] = {"\"sha256:%s\"",
                          "null",
                          "\"%s\"",
                          "\"sha256:0123\"",
                          "5",
                          "true",
                          "\"sha256:%s\",\"parent\":null"};
    const int ok[] = {1, 1, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof(vals) / sizeof(*vals); i++) {
        struct bk_archive_manifest m;
        char v[256], json[512];
        snprintf(v, sizeof(v), vals[i], hex);
        snprintf(json, sizeof(json),
                 "{\"format\":1,\"digest\":\"sha256:%s\",\"files\":1,\"entries\":1,\"bytes\":1,"
                 "\"compression\":\"zstd\",\"parent\":%s}",
                 hex, v);
        int rc = bk_archive__manifest_parse(json, strlen(json), &m);
        if (ok[i] ? rc != BK_OK : rc != BK_ECORRUPT)
            fail_msg("parent %s: parse said %d", v, rc);
        if (rc == BK_OK && i == 0)
            assert_string_equal(m.parent, hex);
        if (rc == BK_OK && i == 1)
            assert_null(m.parent);
        if (rc == BK_OK)
            bk_archive_manifest_release(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delta_holds_only_changes_and_unpacks_to_the_new_tree,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_layers_and_their_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_delta_leaves_the_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_checks_layer_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_record_written_only_when_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_bad_records_force_a_full_pack, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reproducible_packs_are_byte_identical, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hostile_deltas_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_and_helper_forms, setup, teardown),
        cmocka_unit_test(test_manifest_parent_is_parsed_strictly),
    };
    return cmocka_run_group_tests_name("core/archive delta", tests, NULL, NULL);
}
