/*
 * mountio.h - where cache contents live while they are saved or restored.
 *
 * save and restore work on batches of identities; a mountio moves archives
 * in and out of the place the caches live:
 *   - dir      `--dir DIR`: each identity is the directory DIR/<name>
 *              (core/builder/mountio_dir.c);
 *   - builder  a BuildKit builder's cache mounts, reached with one generated
 *              build per batch (core/builder/mountio_builder.c).
 * Core's save/restore code calls only these slots, never a backend by name.
 */
#ifndef BK_MOUNTIO_H
#define BK_MOUNTIO_H

#include "core/archive/archive.h"
#include "core/plan/buildplan.h"

#include <stddef.h>

struct bk_mountio_item {
    const struct bk_identity *identity; /* which cache */
    const struct bk_mount_use *use;     /* its first use: the user's mount options */
    const char *key;                    /* the cache key (recorded in the manifest) */
    const char *archive_path;           /* inject: the archive to put in;
                                           extract: where to write the archive */
    /* results, set by the slot: */
    int status;                    /* BK_OK; BK_ENOTFOUND: extract found an empty/missing cache;
                                      BK_ESKIPPED: inject skipped, the cache already held data */
    struct bk_archive_stats stats; /* digest and counts of what was moved */
};

struct bk_mountio;

struct bk_mountio_ops {
    const char *name; /* "dir", "builder" */
    /* Pack each item's cache into item->archive_path. Returns BK_OK when the
     * batch ran (per-item outcomes in item->status), or an error for the whole. */
    int (*extract)(struct bk_mountio *io, struct bk_mountio_item *items, size_t n);
    /* Unpack each item's verified archive into its cache. */
    int (*inject)(struct bk_mountio *io, struct bk_mountio_item *items, size_t n);
    void (*destroy)(struct bk_mountio *io);
};

struct bk_mountio {
    const struct bk_mountio_ops *ops;
};

struct bk_mountio_opts {
    int compression_level; /* 0: default (3) */
    int force;             /* inject even when the cache already holds data */
    int allow_special;     /* keep device nodes and FIFOs */
};

int bk_mountio_dir_create(const char *dir, const struct bk_mountio_opts *opts,
                          struct bk_mountio **out);

#endif
