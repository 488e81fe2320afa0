/*
 * store_index.h - a layered cache entry: the small index stored under a
 * cache key, naming the archive blobs the cache is made of.
 *
 * With delta saves (docs/delta-saves.md) a save no longer stores the whole
 * archive under its key. It stores each archive as a content-addressed blob
 * (store.h, bk_store_blob_*) and, last, an index under the key: the cache's
 * key, identity, content digest and counts, and its layers bottom first
 * (struct bk_archive_layer: blob digest, size, tree digest). The index is
 * one zstd frame holding one JSON object, so `zstd -d` shows it and the
 * store's download check (a zstd frame) accepts it:
 *
 *   {"bkcache_index":1,"key":"...","identity":"...","created":"RFC 3339",
 *    "digest":"sha256:<hex>","files":N,"entries":N,"bytes":N,
 *    "layers":[{"digest":"sha256:<hex>","size":N,"tree":"sha256:<hex>"},...]}
 *
 * An entry written before delta saves is a plain archive: reading it as an
 * index says BK_ENOTFOUND ("not an index"), and the caller treats it as an
 * archive, as before.
 */
#ifndef BK_STORE_INDEX_H
#define BK_STORE_INDEX_H

#include "core/archive/archive.h"

#include <stddef.h>
#include <stdint.h>

/* An index is never larger than this; a bigger entry is an archive. */
#define BK_INDEX_MAX_BYTES (64u * 1024u)

struct bk_index {
    char *key;                      /* may be NULL */
    char *identity;                 /* may be NULL */
    char *created;                  /* RFC 3339 UTC; may be NULL */
    char digest[BK_DIGEST_HEX + 1]; /* the whole tree's content digest (hex) */
    uint64_t files, entries, bytes;
    struct bk_archive_layer layers[BK_ARCHIVE_MAX_LAYERS];
    size_t nlayers; /* 1..BK_ARCHIVE_MAX_LAYERS */
};

/* Write `ix` to `path` (created or truncated) as one zstd frame. */
int bk_index_write_file(const struct bk_index *ix, const char *path);

/* Read the entry file at `path`: BK_OK and *out filled when it is an
 * index; BK_ENOTFOUND when it is not one (a plain archive, or anything
 * that is not a zstd frame of a JSON object with "bkcache_index");
 * BK_ECORRUPT, naming the field, when it claims to be an index and is
 * not a valid one (unknown format number, bad digest, no layers, too
 * many). */
int bk_index_read_file(const char *path, struct bk_index *out);

struct bk_store;
struct bk_provider_entry;

/* Download the entry `e` into `path` and read it as an index; the file is
 * removed again. BK_OK and *out filled; BK_ENOTFOUND when the entry is gone
 * or is not an index (a plain archive); else the download's error, or the
 * index's (bk_index_read_file). */
int bk_index_download(struct bk_store *s, const struct bk_provider_entry *e, const char *path,
                      struct bk_index *out);

/* The sum of the layers' sizes: the bytes a restore downloads. */
uint64_t bk_index_bytes(const struct bk_index *ix);

void bk_index_release(struct bk_index *ix);

#endif
