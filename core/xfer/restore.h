/*
 * restore.h - save and restore as library functions, independent of where
 * the caches live.
 *
 * core/xfer/ is the orchestration of save and restore (restore.c, save.c;
 * restore_entry.c finds each cache's entry and fetches its layers;
 * xfer_batch.c holds what they share), their per-item report
 * (restore_report.c, with the layer cache's results from core/layers/) and
 * the state file that carries what restore found to the save of the same
 * job (state.h). It sits on core/store/, core/builder/ (through mountio)
 * and core/plan/.
 *
 * The CLI (core/cli/cmd_restore.c, core/cli/cmd_save.c, through core/cli/restore_cli.c)
 * builds a struct bk_xfer: the identities to move (bk_xfer_items_from_plan),
 * an open store (core/store/store.h), a mountio (core/builder/mountio.h: a directory or a
 * builder; this code never asks which) and the state file path. Then:
 *
 *   restore, per item: lookup(save key, restore keys: the key itself
 *     first, so the newest run of it wins) -> download into a
 *     temporary directory -> one inject batch ->
 *     record hit kind, matched key and digest in the state file. With
 *     lookup_only it stops after the lookup and writes no state.
 *     An entry that is an index (core/store/store_index.h) is a stack of
 *     layer blobs: each is fetched (its size checked, once per batch
 *     however many caches share it) and the stack goes to inject, whose
 *     unpack checks every layer's SHA-256 as it reads it; a layer missing,
 *     cut or refused makes the entry a miss, and the lookup goes on with
 *     the candidates after the one that matched, then inject again (never
 *     a partial cache). An entry that is not an index is a plain archive;
 *     one the inject refuses (a damaged frame or digest, a cut file) is a
 *     miss in the same way, and the lookup goes on.
 *   save, per item: when the store's keys are immutable and it already
 *     holds the save key (this run saved it), skip; else one extract batch
 *     (pack) -> skip when the state file says a run of this key was restored
 *     with the same digest -> upload under the save key -> where the store
 *     can list and delete, remove runs of the key beyond the keep_runs
 *     newest. With x->delta the upload is: the pack's delta, if its parent
 *     layers are all still stored (else a full pack again), as a blob, then
 *     LAST the index naming the parent layers and the new one, so an
 *     interrupted save leaves the previous complete entry what restores
 *     find.
 *
 * Nothing here fails the build: every outcome (miss, failed lookup, failed
 * upload, ...) is recorded per item, logged as a warning when it is a
 * failure, and bk_xfer_exit_status() turns the outcomes and the user's
 * --fail-on-* flags into the exit status.
 *
 * Ownership: items are owned by the caller (bk_xfer_items_free()); their
 * inputs are borrowed from the plan and keyset, which must outlive them.
 */
#ifndef BK_RESTORE_H
#define BK_RESTORE_H

#include "core/archive/archive.h"
#include "core/layers/layers.h"
#include "core/plan/buildplan.h"
#include "core/plan/keys.h"
#include "core/builder/mountio.h"
#include "core/store/store.h"
#include "core/store/store_index.h"

#include <stdint.h>
#include <stdio.h>

enum bk_hit { BK_HIT_NONE, BK_HIT_MISS, BK_HIT_PARTIAL, BK_HIT_EXACT };

struct bk_xfer_item {
    /* inputs (borrowed) */
    const struct bk_identity *identity;
    const struct bk_mount_use *use; /* first use, or NULL */
    const char *key;                /* the Dockerfile-derived key */
    const char *save_key; /* what save writes ("<key>-<run part>", keys.h); lookups try it first */
    const char *const *restore_keys;
    size_t nrestore;
    /* results */
    enum bk_hit hit;    /* restore: what the lookup found (exact: key, saved by any run;
                           keys.h); save: what restore found, or NONE */
    char *matched_key;  /* the key that matched, or NULL */
    const char *action; /* restore: restored, found, miss, skipped, error;
                           save: saved, unchanged, exists, empty, skipped, error */
    char *reason;       /* one line saying why (skips, errors), or NULL */
    int failed;         /* a store or mountio operation failed (--fail-on-error) */
    uint64_t bytes;     /* bytes moved (or found, with --lookup-only): restore, the archive
                           or the layers; save, what this save uploaded */
    uint64_t files;     /* regular files in the cache */
    unsigned layers;    /* the layers of the entry restored, found or saved (0: one plain
                           archive) */
    double seconds;
    char digest[BK_DIGEST_HEX + 1]; /* content digest, "" when unknown */
};

struct bk_xfer {
    struct bk_store *store; /* NULL when it could not be opened: store_error says why */
    const char *store_error;
    struct bk_mountio *io;
    const char *state_path; /* NULL: no state file */
    const char *store_id;   /* the store's identity in the state file, or NULL */
    const char *tmpdir;     /* NULL: $TMPDIR, else /tmp */
    int lookup_only;        /* restore: stop after the lookup */
    long keep_runs;         /* save: runs of a key kept after an upload (store permitting);
                               <= 0: none removed */
    int delta;              /* save: --delta auto (the CLI's default): each cache a layer
                               blob (a delta over the restored layers when it can be) and,
                               last, an index under the key; 0 (--delta off, the struct's
                               default): one plain archive under the key */
    struct bk_xfer_item *items;
    size_t n;
    struct bk_layers *layers; /* the layer cache (--layers), or NULL; printed with the items */
};

/* One item per identity of `ks` (plan order), keeping only the names in
 * `only` when it is non-empty. BK_EINVAL naming the unknown name and
 * listing the known ones. `plan` may be NULL (no use information). */
int bk_xfer_items_from_plan(const struct bk_buildplan *plan, const struct bk_keyset *ks,
                            const struct bk_strvec *only, struct bk_xfer_item **out, size_t *n_out);
void bk_xfer_items_free(struct bk_xfer_item *items, size_t n);

/* Run restore or save over x->items. BK_OK unless the temporary directory
 * cannot be made; outcomes are in the items. */
int bk_restore_run(struct bk_xfer *x);
int bk_save_run(struct bk_xfer *x);

const char *bk_hit_name(enum bk_hit h); /* "exact", "partial", "miss", "" */

/* The bytes a restore of the entry `e` moves: its layers' when it is an
 * index (read through a temporary directory in `tmpdir`, NULL: $TMPDIR or
 * /tmp; *layers, when not NULL, gets their number), else its own size
 * (*layers 0). An entry larger than an index can be is not downloaded.
 * For --lookup-only and plan. */
uint64_t bk_xfer_entry_bytes(struct bk_store *s, const struct bk_provider_entry *e,
                             const char *tmpdir, unsigned *layers);

/* Print the per-identity summary on stdout: one line each, or with `json`
 * {"command": ..., "provider": ..., "identities": [{name, key, matched_key,
 * hit, action, reason, bytes, files, entry_layers, seconds, digest}]}, plus "layers" when
 * x->layers is set (restore_report.c says what it holds). */
void bk_xfer_print(const struct bk_xfer *x, const char *command, int json);
/* The same on `f` (`bkcache build` keeps stdout for the build's output). */
void bk_xfer_fprint(FILE *f, const struct bk_xfer *x, const char *command, int json);

/* 1 when --fail-on-error and an item failed, or --fail-on-cache-miss and
 * an item did not hit exactly (restore only); else 0. */
int bk_xfer_exit_status(const struct bk_xfer *x, int fail_on_cache_miss, int fail_on_error);

/* ---- shared by restore.c, restore_entry.c and save.c (internal;
 * xfer_batch.c) ---- */

/* The entry restore found for one item: an index (ix.nlayers > 0) and
 * its layers' files, or a plain archive (ix.nlayers 0). */
enum bk_xfer__entry_state { BK_ENTRY_NONE, BK_ENTRY_READY, BK_ENTRY_LAYERS };
struct bk_xfer__entry {
    enum bk_xfer__entry_state state; /* LAYERS: an index whose layers are to be fetched */
    struct bk_index ix;
    const char *paths[BK_ARCHIVE_MAX_LAYERS]; /* the layers' files (owned by the batch) */
    struct bk_strvec tried;                   /* entries found broken, by key */
    size_t from; /* 1 + the restore key that matched last (0: the save key) */
};

/* A layer blob fetched into the batch's directory, once however many
 * items use it. */
struct bk_xfer__blob {
    char digest[BK_ARCHIVE_BLOB_DIGEST_LEN + 1];
    uint64_t size;
    char *path;
    int fetched; /* tried: rc says how it went */
    int rc;      /* BK_OK: fetched (its size checked; the unpack checks its hash) */
    int hashed;  /* fetch it with its SHA-256 checked here (an unpack refused it) */
    char *msg;   /* why not */
};

/* One mountio batch: an archive path per x->items[i] (in a temporary
 * directory removed by release), and the items handed to the mountio. */
struct bk_xfer__batch {
    char *work;                    /* the temporary directory, or NULL */
    int work_lock;                 /* holds it (bk_mkdtemp_held), or -1 */
    struct bk_strvec paths;        /* paths.v[i]: the archive of x->items[i] */
    struct bk_mountio_item *items; /* what the mountio gets */
    size_t *owner;                 /* items[j] is for x->items[owner[j]] */
    size_t n;
    struct bk_xfer__entry *entries; /* restore: entries[i] for x->items[i] */
    struct bk_xfer__blob *blobs;    /* restore: the layer blobs fetched so far */
    size_t nblobs, blobs_cap;
};

int bk_xfer__batch_init(const struct bk_xfer *x, int with_workdir, struct bk_xfer__batch *b);
void bk_xfer__batch_add(struct bk_xfer__batch *b, const struct bk_xfer *x, size_t i);
void bk_xfer__batch_release(struct bk_xfer__batch *b);
void bk_xfer__fail(struct bk_xfer_item *it, const char *what);
double bk_xfer__now(void);

/* Restore (restore_entry.c): look up x->items[i] and, unless lookup_only,
 * download its entry into b->paths.v[i]; b->entries[i].state says what
 * came of it: READY (a plain archive), LAYERS (an index), NONE (a miss,
 * found, a failure: the item says). */
void bk_xfer__find_entry(struct bk_xfer *x, struct bk_xfer__batch *b, size_t i);
/* Then fetch the layers of every LAYERS entry into b->work, at once (in
 * parallel where the store allows it, each blob once); an entry whose
 * layers are missing or corrupt is a miss and its item's lookup goes on
 * with the next candidate. Every entry ends READY or NONE. */
void bk_xfer__fetch_layers(struct bk_xfer *x, struct bk_xfer__batch *b);
/* The mountio refused x->items[i]'s entry (BK_ECORRUPT: a layer's bytes,
 * or the tree they made, were not the index's; a plain archive's frames or
 * digest were wrong, or it was cut): the entry is broken and the lookup
 * goes on, as when a layer fails to fetch; the layers of a layered entry,
 * when another entry names them, are fetched again with their SHA-256
 * checked on the host, so a damaged blob fails there instead of in another
 * transfer. Then bk_xfer__fetch_layers again. */
void bk_xfer__entry_refused(struct bk_xfer *x, struct bk_xfer__batch *b, size_t i);

#endif
