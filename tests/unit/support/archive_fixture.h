/*
 * archive_fixture.h - test helpers for the archive tests.
 *
 * Temporary directories, small file writers, a "fingerprint" of a tree (a
 * text listing of every entry's lstat attributes, link target, user.* xattrs
 * and content hash, sorted) for before/after comparisons, and a crafter that
 * writes arbitrary, possibly hostile, bkcache-looking archives with
 * libarchive (pax + zstd) so unpack can be tested against them.
 */
#ifndef BK_TEST_ARCHIVE_FIXTURE_H
#define BK_TEST_ARCHIVE_FIXTURE_H

#include "core/util/strbuf.h"

#include <stddef.h>

/* The paths most archive tests need, under one new temporary directory:
 * base/src, base/out, base/target and base/a.tzst. Only base is created.
 * tu_dirs_setup and tu_dirs_teardown are cmocka fixtures (*state is the
 * struct tu_dirs); setup also quiets logging, teardown removes base. */
struct tu_dirs {
    char *base, *src, *out, *target, *archive;
};
int tu_dirs_setup(void **state);
int tu_dirs_teardown(void **state);

/* A new directory under $TMPDIR (or /var/tmp); caller frees the string. */
char *tu_mkdtemp(void);
void tu_write(const char *path, const char *content);
void tu_mkdir(const char *path);
int tu_exists(const char *path);
/* Remove a tree (not following symlinks). */
void tu_rm_rf(const char *path);

/* Fingerprint of the tree at dir (root excluded; names starting with
 * `skip_prefix` at the top level are ignored when it is not NULL). */
void tu_fingerprint(const char *dir, const char *skip_prefix, int with_xattrs,
                    struct bk_strbuf *out);
/* The names directly in dir, sorted, one per line (hidden ones too). */
void tu_listing(const char *dir, struct bk_strbuf *out);

/* One member of a crafted archive. type: 'f' file, 'd' dir, 'l' symlink,
 * 'h' hardlink, 'p' FIFO, 'w' whiteout (a delta's removal of the path). */
struct tu_member {
    const char *path;
    int type;
    const char *data;   /* 'f' */
    const char *target; /* 'l', 'h' */
};

/* TU_BOMB: the manifest announces only the first member (a bomb's lie). */
enum { TU_NO_MANIFEST = 1, TU_LYING_DIGEST = 2, TU_LYING_COUNTS = 4, TU_BOMB = 8 };

/* Write an archive at `file` holding a manifest (unless TU_NO_MANIFEST) whose
 * digest matches the members exactly as unpack computes it (unless
 * TU_LYING_DIGEST), then the members in the order given. */
void tu_craft(const char *file, const struct tu_member *m, size_t n, int flags);
/* A delta layer at `file`: its manifest names `parent` (hex) and carries the
 * digest and counts of `tree` (the whole new tree, as unpack computes it);
 * the members written are `m`, in the order given. */
void tu_craft_delta(const char *file, const char *parent, const struct tu_member *tree,
                    size_t ntree, const struct tu_member *m, size_t n);
/* The members of the archive at `file` after the manifest, one per line:
 * the path, then " W" for a whiteout. Returns how many. */
size_t tu_members(const char *file, struct bk_strbuf *out);

/* Pack dir into file / unpack file into dir; return the bk status. */
int tu_pack_file(const char *dir, const char *file);
int tu_unpack_file(const char *file, const char *dir, int allow_special, int replace_contents);

#endif
