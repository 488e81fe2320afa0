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
 *
 * Delta saves (docs/delta-saves.md): an extract item with `layer` set is
 * packed as a layer blob (reproducibly: the same tree gives the same bytes
 * in every key and branch), and with `delta` too the pack may write only
 * what changed since the stored layers the cache was restored from (its
 * base record), within BK_DELTA_MAX_LAYERS and BK_DELTA_MAX_RATIO; stats
 * say whether it did (stats.delta, stats.parent_layers). An inject item
 * with `nlayers` > 0 is a stack of layer files, bottom first, unpacked in
 * one verified pass that also records the stored layers in the cache.
 */
#ifndef BK_MOUNTIO_H
#define BK_MOUNTIO_H

#include "core/archive/archive.h"
#include "core/plan/buildplan.h"

#include <stddef.h>

/* When a save may write a delta: fewer than this many layers below it ... */
#define BK_DELTA_MAX_LAYERS 8
/* ... and the layers above the bottom one at most this share of its bytes. */
#define BK_DELTA_MAX_RATIO 0.25

struct bk_mountio_item {
    const struct bk_identity *identity; /* which cache */
    const struct bk_mount_use *use;     /* its first use: the user's mount options */
    const char *key;                    /* the cache key (recorded in the manifest) */
    const char *archive_path;           /* inject: the archive to put in;
                                           extract: where to write the archive */
    /* extract: */
    int layer; /* pack a layer blob: reproducible, no key or identity in the manifest */
    int delta; /* with layer: a delta over the cache's base record when it is usable */
    /* inject, a layered entry (nlayers 0: archive_path is one plain archive): */
    const char *const *layer_paths;        /* the layers' files, bottom first */
    const struct bk_archive_layer *layers; /* the stored layers they are (the base record) */
    size_t nlayers;
    const char *expect_digest; /* the entry's content digest (hex) */
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

/*
 * A mountio made of several (core/builder/mountio_group.c): the caches of
 * several builds that need different transfer builds (another builder, or
 * a from= stage of another Dockerfile). Each item goes to ios[which[k]]
 * where ids[k] is its identity (ios[0] when it is not listed); each
 * member gets one batch with its items. A member whose whole batch fails
 * sets that code on its own items only and warns with its message. The
 * group owns the members.
 */
int bk_mountio_group_create(struct bk_mountio **ios, size_t nio,
                            const struct bk_identity *const *ids, const size_t *which, size_t nids,
                            struct bk_mountio **out);

int bk_mountio_dir_create(const char *dir, const struct bk_mountio_opts *opts,
                          struct bk_mountio **out);

#endif
