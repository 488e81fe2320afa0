/*
 * layers.h - the layer cache (BuildKit's instruction cache) through a store.
 *
 * core/layers/ moves the cache BuildKit exports with `--cache-to
 * type=local,dest=DIR,mode=max` and imports with `--cache-from
 * type=local,src=DIR`: an OCI image layout (index.json, oci-layout,
 * blobs/sha256/<hex>). It sits between core/xfer/ (which prints its report)
 * and core/store/ (which keeps its blobs); it knows nothing of builders.
 *
 * In the store a layer cache is:
 *   - an index entry under an ordinary key (keys.h: bk_keys_layers), a zstd
 *     frame of JSON {"schema": "bkcache-layers v1", "index": "<index.json
 *     verbatim>", "blobs": [{"digest", "size"}, ...]}: the OCI index and
 *     every blob it reaches (manifests, cache config, layers);
 *   - each of those blobs, content-addressed (bk_store_blob_*), shared by
 *     every key and every target of the store, so an unchanged layer is
 *     stored once and uploaded once.
 *
 * restore, per source (this target, then each --layers-from target): look
 *   up the index (exact key, then each restore key), fetch every blob it
 *   names that the source directory lacks, in parallel, each verified
 *   against its digest before it gets its name, then write index.json last.
 *   An index naming a blob the store lost is a miss for that index: the
 *   next restore key is tried, the build never breaks. The destination
 *   directory (the build's --cache-to) is emptied, so it will hold only
 *   what the new cache references.
 * save: read the destination directory, check every blob it references is
 *   there with its size, upload (in parallel) each blob the store lacks,
 *   hashing it first, and upload the index LAST, only when every blob is
 *   stored, so no restore ever sees an index whose blobs are missing.
 * prune: blobs that no remaining index references (a layer cache's, or a
 *   mount cache's layered entry: core/store/store_index.h), older than a
 *   grace period (a save in progress uploads its blobs before its index).
 *
 * Layout of the working directory (--layers-dir, see core/cli/):
 *   DIR/from/<target>/   one OCI layout per source, the --cache-from src
 *   DIR/to/              the --cache-to dest
 */
#ifndef BK_LAYERS_H
#define BK_LAYERS_H

#include "core/store/store.h"
#include "core/util/strbuf.h"
#include "core/util/strvec.h"

#include <stdint.h>

#define BK_LAYERS_SCHEMA "bkcache-layers v1"

/* ---- the index (layers_index.c, layers_oci.c) ---- */

struct bk_layer_blob {
    char digest[72]; /* "sha256:<hex>" */
    uint64_t size;
};

struct bk_layer_index {
    char *oci_index; /* index.json, verbatim */
    struct bk_layer_blob *blobs;
    size_t n, alloc;
};

void bk_layer_index_release(struct bk_layer_index *ix);

/* Read the OCI layout at `dir`: index.json and every blob it reaches
 * (descriptors under "manifests", "layers", "config", "blobs"; a blob whose
 * media type is an index or a manifest is read for more). Each reached
 * blob must exist with its descriptor's size. BK_ENOTFOUND when there is no
 * index.json; BK_ECORRUPT naming the file for anything malformed. */
int bk_layer_index_read_dir(const char *dir, struct bk_layer_index *out);

/* The stored form: a zstd frame of the JSON document above. */
int bk_layer_index_encode(const struct bk_layer_index *ix, struct bk_strbuf *out);
/* BK_ECORRUPT naming `what` when the data is not such a document. */
int bk_layer_index_decode(const void *data, size_t len, const char *what,
                          struct bk_layer_index *out);

/* ---- restore and save (layers_restore.c, layers_save.c) ---- */

/* One cache to import: this target's, or a --layers-from target's. */
struct bk_layers_source {
    char *target;             /* the target it belongs to */
    char *key;                /* tried exactly first (NULL for --layers-from) */
    struct bk_strvec restore; /* then each as a prefix */
    char *dir;                /* DIR/from/<target> */
    /* results */
    char *matched_key;
    const char *hit; /* "exact", "partial", "miss" */
    unsigned blobs_fetched, blobs_present;
    uint64_t bytes_fetched;
    char *reason; /* why it missed or failed, or NULL */
    int failed;   /* a store operation failed (not a plain miss) */
};

struct bk_layers {
    char *dir;      /* the working directory */
    char *key;      /* this target's key */
    char *save_key; /* what save stores: the key, or "<key>-<run part>" (keys.h) */
    char *dest;     /* DIR/to */
    struct bk_layers_source *sources;
    size_t nsources;
    int jobs;          /* blobs moved at once (1 when the store is not thread-safe) */
    int lookup_only;   /* restore only looks the sources up: nothing fetched, no argument */
    char *unsupported; /* the builder cannot export a layer cache: why (set by the caller);
                          restore and save then move nothing and pass no build argument */
    int saved;         /* 1 after bk_layers_save() ran */
    /* save results */
    const char *action; /* saved, unchanged, exists, skipped, error */
    char *save_reason;
    int save_failed;
    unsigned blobs_uploaded, blobs_skipped;
    uint64_t bytes_uploaded;
    /* the arguments the build needs: --cache-from ... --cache-to ... */
    struct bk_strvec build_args;
};

/* Set up `l` for this target's key (saved as save_key) under working
 * directory `dir`; add other targets with bk_layers_add_from(). An entry
 * "<key>" or "<key>-<run>" is an exact hit (bk_key_same_cache()). */
void bk_layers_init(struct bk_layers *l, const char *dir, const char *target, const char *key,
                    const char *save_key, const struct bk_strvec *restore_keys);
void bk_layers_add_from(struct bk_layers *l, const char *target, const char *restore_prefix);
void bk_layers_release(struct bk_layers *l);

/* Import every source into its directory and empty the destination; fills
 * the sources' results and build_args. Always BK_OK: a store problem or a
 * directory that cannot be made is a per-source failure (a warning), never
 * the build's. `s` may be NULL (the store is unavailable: every source
 * fails with that reason). */
int bk_layers_restore(struct bk_layers *l, struct bk_store *s, const char *store_error);

/* Upload the destination directory's blobs and then its index under l->key;
 * results in l->action and the counters. Always BK_OK, as restore. */
int bk_layers_save(struct bk_layers *l, struct bk_store *s, const char *store_error);

/* The build arguments for the current directories (restore fills them). */
void bk_layers_build_args(struct bk_layers *l);

/* ---- plan (layers_plan.c) ---- */

struct bk_layers_plan_source {
    const char *target; /* borrowed from the source */
    char *matched_key;  /* what restore would take first, or NULL */
    const char *hit;    /* "exact", "partial", "miss" */
    unsigned blobs;     /* in that index */
    uint64_t bytes;
    unsigned fetch; /* of those, not in the source directory yet */
    uint64_t fetch_bytes;
    char *note; /* a lookup that failed, or NULL */
};

struct bk_layers_plan {
    struct bk_layers_plan_source *src;
    size_t n;
    int exported;      /* the destination holds an export save would upload */
    unsigned up_total; /* its blobs */
    unsigned up_blobs; /* of those, the store lacks */
    uint64_t up_bytes;
    char *save_note; /* why save has nothing yet, or NULL */
};

/* What restore would fetch and save would upload; reads only. `s` may be
 * NULL (every source unknown). */
int bk_layers_plan(const struct bk_layers *l, struct bk_store *s, struct bk_layers_plan *out);
void bk_layers_plan_release(struct bk_layers_plan *p);

/* ---- prune (layers_prune.c) ---- */

/* Remove blobs that no index in the store references (layer caches' and
 * mount caches', bk_entry_refs_read) and that are older than `grace`
 * seconds before `now`; an index that cannot be read stops it (nothing is
 * removed); the counts go to *removed and *bytes; with `dry_run` nothing
 * is deleted. The indexes are read through `reader` when not NULL: a
 * read-only store on the same place, so that reading them is not a use
 * (a store that records last use would otherwise make every index look
 * fresh to the next prune's --max-age). */
int bk_layers_prune_blobs(struct bk_store *s, struct bk_store *reader, int64_t now, int64_t grace,
                          int dry_run, size_t *removed, uint64_t *bytes);

/* ---- what the store's entries reference (layers_refs.c) ----
 *
 * Two kinds of entry reference blobs: a layer cache's index (a reserved key
 * with the "-.layers-" name part; its blobs) and a mount cache's layered
 * entry (an ordinary key whose content is a bkcache index,
 * core/store/store_index.h; its layers). An ordinary entry larger than
 * BK_INDEX_MAX_BYTES is a plain archive and is not read; a smaller one, or
 * one of unknown size (0), is downloaded and read to tell. */

enum bk_entry_kind {
    BK_ENTRY_ARCHIVE,     /* a plain archive (or a reserved entry that names no blob) */
    BK_ENTRY_LAYERED,     /* a mount cache's index */
    BK_ENTRY_LAYER_CACHE, /* a layer cache's index */
};

struct bk_entry_refs {
    enum bk_entry_kind kind;
    struct bk_layer_blob *blobs; /* each digest once */
    size_t n;
    char *error; /* the index could not be read: why, naming the key (kind and blobs unknown) */
    /* bk_entry_refs_share(): bytes of the blobs only this entry references,
     * and of those other entries reference too; a plain archive: its size, 0 */
    uint64_t own, shared;
};

/* Read what each of v[0..n) references into a new array *out of n
 * (always set; free it with bk_entry_refs_free). Blob entries
 * (BK_BLOB_KEY_PREFIX) count as plain: drop them first. Every entry is
 * tried; the status is the first failure (its entry's `error` says why),
 * so a caller that must know every reference (prune) stops on it. An entry
 * removed since the list references nothing. */
int bk_entry_refs_read(struct bk_store *s, const struct bk_provider_entry *v, size_t n,
                       struct bk_entry_refs **out);

/* Fill own and shared of every entry from the references of all n. */
void bk_entry_refs_share(const struct bk_provider_entry *v, struct bk_entry_refs *r, size_t n);

/* Free the array and what its entries hold; NULL is fine. */
void bk_entry_refs_free(struct bk_entry_refs *r, size_t n);

/* ---- internal ---- */

/* Download the index entry `e` into `path` (removed afterwards) and decode
 * it (layers_restore.c). */
int bk_layers__read_entry(struct bk_store *s, const struct bk_provider_entry *e, const char *path,
                          struct bk_layer_index *ix);

/* Run fn(i) for i < n on up to `jobs` threads (layers.c). */
void bk_layers__parallel(size_t n, int jobs, void (*fn)(size_t i, void *ctx), void *ctx);

#endif
