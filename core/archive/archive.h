/*
 * archive.h - cache archives: a directory tree as a tar (pax) + zstd stream.
 *
 * core/archive/ is the archive format and nothing else: pack, unpack, digest,
 * manifest, the zstd streams and the safe swap into place. The static
 * bkcache-helper links only this folder and core/util/.
 *
 * Format: a pax tar, compressed as a sequence of zstd frames (frame
 * checksums on, no long mode; docs/archive-format.md says which), so any
 * archive is readable with a plain `zstd -d | tar -x`.
 * The first member is `.bkcache/manifest.json`; entries follow in sorted
 * order, so the same tree gives the same bytes (the manifest's creation time
 * aside). Regular files, directories (empty ones too), symlinks, hardlinks,
 * mode, uid/gid, mtime to the nanosecond and xattrs are kept.
 *
 * The content digest is SHA-256 over a canonical manifest of every entry
 * (path, type, mode, uid, gid, size, mtime, content hash, link target). It
 * is computed while packing, stored in the manifest, computed again while
 * unpacking and compared; bk_archive_digest_dir() computes it for a tree on
 * disk, so "is this cache unchanged?" needs no archive at all.
 *
 * Unpacking is safe against hostile archives: absolute paths, `..`, writes
 * through symlinks or hardlinks leading outside the target, members named
 * `.bkcache/...` after the manifest, and special files (skipped with a
 * warning unless allow_special) are refused. It unpacks into a new sibling
 * directory and swaps it in with rename(2), so a corrupt or truncated stream
 * leaves the target exactly as it was.
 *
 * Memory use does not depend on the size of the tree's files; streams are
 * read and written through file descriptors.
 */
#ifndef BK_ARCHIVE_H
#define BK_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#define BK_DIGEST_HEX 64
#define BK_ARCHIVE_MANIFEST_PATH ".bkcache/manifest.json"

/*
 * Layers (delta saves, docs/delta-saves.md). A cache may be stored as a
 * stack of archives, bottom first: the bottom one a full archive, each one
 * above it a *delta* holding only the members that differ from the tree
 * below (new or changed, by their digest line) plus a *whiteout* member for
 * each path the tree below has and the new tree lacks. A delta's manifest
 * names the tree below (`parent`) and gives the digest and counts of the
 * whole new tree, so unpacking the stack verifies the final tree exactly
 * as unpacking one full archive does.
 *
 * After a layered unpack, the tree's root holds the *base record*
 * BK_ARCHIVE_BASE_RECORD (one of bkcache's own names: never packed): which
 * stored layers the tree came from and the digest line of every member. A
 * later pack with parent_record pointing at it writes a delta against it.
 */
#define BK_ARCHIVE_MAX_LAYERS 16
#define BK_ARCHIVE_BASE_RECORD ".bkcache-base"
#define BK_ARCHIVE_BLOB_DIGEST_LEN (7 + BK_DIGEST_HEX) /* "sha256:" + hex */

/* One stored layer: an archive kept as a content-addressed blob. */
struct bk_archive_layer {
    char digest[BK_ARCHIVE_BLOB_DIGEST_LEN + 1]; /* "sha256:<hex>" of the archive's bytes */
    uint64_t size;                               /* the archive's bytes */
    char tree[BK_DIGEST_HEX + 1];                /* content digest of the tree up to this layer */
};

struct bk_archive_stats {
    char digest[BK_DIGEST_HEX + 1];         /* "sha256:" is not included */
    uint64_t files;                         /* regular files */
    uint64_t entries;                       /* all entries, the root excluded */
    uint64_t bytes;                         /* sum of regular file sizes */
    uint64_t archive_bytes;                 /* compressed stream size */
    char archive_sha256[BK_DIGEST_HEX + 1]; /* SHA-256 (hex) of the archive's bytes when
                                               whoever moved them hashed them on the way;
                                               "" when unknown */
    double seconds;
    /* pack: set when a delta was written (parent_record was usable) */
    int delta;
    char parent[BK_DIGEST_HEX + 1];                                   /* the tree below */
    struct bk_archive_layer parent_layers[BK_ARCHIVE_MAX_LAYERS - 1]; /* its layers, bottom first */
    size_t nparent_layers;
};

struct bk_archive_manifest {
    char *key;      /* the cache key the archive was saved under, or NULL */
    char *identity; /* the identity descriptor, or NULL */
    char digest[BK_DIGEST_HEX + 1];
    uint64_t files, entries, bytes;
    char *created; /* RFC 3339 UTC */
    char *bkcache_version;
    char *compression; /* "zstd" */
    int level;
    char *parent; /* a delta: content digest (hex) of the tree below; NULL: a full archive */
};

/* Tests only: called at named points of a pack or unpack, so that a test
 * can stop the process exactly there (bk_archive_pause_from_env below).
 * Points: "pack" (the first member is written), "unpack" (half the members
 * are written), "swap" (the target has started to change). fn NULL: none. */
struct bk_archive_checkpoint {
    void (*fn)(const char *point, void *arg);
    void *arg;
};

struct bk_pack_opts {
    struct bk_archive_checkpoint checkpoint; /* tests only */
    int level;                               /* zstd level 1..19; 0 means 3 */
    int threads;                             /* zstd workers; 0 means the number of CPUs */
    const char *key;                         /* recorded in the manifest; may be NULL */
    const char *identity;                    /* recorded in the manifest; may be NULL */
    int write_behind;                        /* the caller will fsync the output (a store keeps it):
                                                start its writeback every few MiB while packing, so
                                                the disk works alongside compression, not after it */
    /* Delta saves. parent_record: the base record of the tree (normally
     * DIR/.bkcache-base); when it is readable, matches itself and the stack
     * it names is short enough, pack writes a delta against it (stats.delta)
     * and otherwise a full archive. NULL: always a full archive. */
    const char *parent_record;
    int delta_max_layers;   /* a delta only while the stack has fewer layers; 0 means 8 */
    double delta_max_ratio; /* ...and its layers above the bottom hold at most this share
                               of the bottom's bytes; 0 means 0.25 */
    int reproducible;       /* key and identity null, created 1970-01-01T00:00:00Z, and the
                               same zstd frames whatever the CPUs and libzstd's threads: the
                               same tree gives the same bytes anywhere (layer blobs) */
};

struct bk_unpack_opts {
    struct bk_archive_checkpoint checkpoint; /* tests only */
    int allow_special;                       /* create device nodes and FIFOs instead of skipping */
    const char *expect_digest;               /* when set, the manifest's digest must equal it */
    int replace_contents;                    /* the target cannot be renamed (a mount point):
                                                unpack into a hidden directory inside it, verify,
                                                then replace the other contents with it */
    int keep_owner;                          /* restore uid/gid (default when running as root) */
};

/* Tests only: when the environment variable `var` names a point, make the
 * pack or unpack pause there (archive_pause.c); unset, `cp` is left as is. */
void bk_archive_pause_from_env(struct bk_archive_checkpoint *cp, const char *var);

/* Pack the tree at `dir` into `out_fd`. Fills `st` (may be NULL).
 * When out_fd is a regular file (not O_APPEND), pack reads the tree once and
 * writes the manifest at the start last (pwrite), leaving the offset at the
 * end; on a pipe or socket it reads the tree twice (hash, then stream). The
 * bytes are the same either way. On failure the fd holds garbage: write to a
 * temporary file and rename it. Format: docs/archive-format.md. */
int bk_archive_pack(const char *dir, int out_fd, const struct bk_pack_opts *opts,
                    struct bk_archive_stats *st);

/* Unpack the stream on `in_fd` into `dir` (created if missing, replaced if
 * present; its parent must exist). Verifies the manifest and the digest.
 * A delta alone is refused (BK_ECORRUPT: it needs the layers below); the
 * new tree has no base record (bk_archive_unpack_layers with n == 1 and no
 * record).
 * `manifest_out` may be NULL; when set, the caller frees it with
 * bk_archive_manifest_release(). st->archive_bytes is the compressed size
 * read. Errors: BK_ECORRUPT for a bad, damaged or hostile archive (the
 * target is untouched), BK_ERR for local failures (permissions, space). */
int bk_archive_unpack(int in_fd, const char *dir, const struct bk_unpack_opts *opts,
                      struct bk_archive_stats *st, struct bk_archive_manifest *manifest_out);

/* Unpack a stack of layers, bottom first (fds[0] a full archive, each
 * fds[i] a delta whose parent is fds[i-1]'s tree), in one pass that merges
 * the members of every layer (the highest layer holding a path wins; a
 * whiteout removes it). Verified against the top manifest as
 * bk_archive_unpack verifies one archive (and opts->expect_digest against
 * it); a stack whose parents do not chain is BK_ECORRUPT. `record`
 * (nrecord == n): the stored layers these fds are: each fd's bytes must
 * have that layer's size and SHA-256 (else BK_ECORRUPT, nothing changed),
 * and the new tree gets them as its base record; NULL: no base record.
 * manifest_out gets the top manifest. */
int bk_archive_unpack_layers(const int *fds, size_t n, const char *dir,
                             const struct bk_unpack_opts *opts,
                             const struct bk_archive_layer *record, size_t nrecord,
                             struct bk_archive_stats *st, struct bk_archive_manifest *manifest_out);

/* Read only the manifest (the first member) of the stream on `in_fd`. */
int bk_archive_read_manifest(int in_fd, struct bk_archive_manifest *out);

/* The content digest of the tree at `dir`, as packing would compute it. */
int bk_archive_digest_dir(const char *dir, struct bk_archive_stats *st);

void bk_archive_manifest_release(struct bk_archive_manifest *m);

/*
 * bkcache's own names in a cache (a mount point restored in replace_contents
 * mode). Root entries whose names start with BK_ARCHIVE_OWN_PREFIX are its
 * bookkeeping: pack and the digest skip them, unpack refuses them.
 * BK_ARCHIVE_UNFINISHED is the marker a replace_contents unpack writes before
 * it changes anything and removes once the new contents are complete: while
 * it exists, the contents may be a mix of old and new.
 */
#define BK_ARCHIVE_OWN_PREFIX ".bkcache-"
#define BK_ARCHIVE_UNFINISHED ".bkcache-restoring"

int bk_archive_is_own_name(const char *name);
/* 1 when `dir` holds the marker of an unfinished restore, 0 when not. */
int bk_archive_unfinished(const char *dir);
/* Remove everything in `dir` (not `dir` itself), the marker last: the
 * repair of an unfinished restore. */
int bk_archive_empty_contents(const char *dir);
/* Remove what killed runs left while unpacking into `dir`: its abandoned
 * ".bkcache-unpack-*" and ".bkcache-old-*" children (inside) or
 * ".NAME.bkcache-*" siblings. Directories a live process holds are kept.
 * Returns how many were removed. */
int bk_archive_clean_leftovers(const char *dir, int inside);

#endif
