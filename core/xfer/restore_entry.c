/*
 * restore_entry.c - what restore fetches for one cache: the entry a lookup
 * finds and, when that entry is an index (core/store/store_index.h), the
 * layer blobs it names; see restore.h.
 *
 * The candidates are the save key (exact) and the restore keys (prefixes),
 * in order. The entry found is downloaded; bk_index_read_file() tells an
 * index from a plain archive (an entry written before delta saves, or with
 * --delta off), which goes to inject as before. Once every cache of the
 * batch has its entry, the layers of all the indexes are fetched into the
 * batch's directory at once, in parallel where the store allows it, their
 * sizes checked; a blob two caches of the batch share is fetched once. The
 * SHA-256 of each layer is checked by the unpack as it reads it (in the
 * builder's helper or on the host: bk_archive_unpack_layers with the
 * index's layers as its record), not in a pass of its own, before anything
 * is swapped in; when the unpack refuses a stack, restore.c calls
 * bk_xfer__entry_refused and injects again. When a layer is missing, cut
 * or refused (or the index is damaged), that entry is a miss and the lookup
 * goes on: a
 * store that can list picks again among its entries without the broken
 * ones (so an older run of the same key can serve), any other store is
 * asked again with the candidates after the one that matched. Nothing is
 * ever injected from a partial stack.
 */
#include "core/xfer/restore.h"

#include "core/util/fileio.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Entries tried per cache before it is a miss. */
#define MAX_TRIES 8

/* The batch's record of layer `l`, added (not yet fetched) when new. */
static struct bk_xfer__blob *blob_slot(struct bk_xfer__batch *b, const struct bk_archive_layer *l)
{
    struct bk_xfer__blob *bl;

    for (size_t k = 0; k < b->nblobs; k++)
        if (strcmp(b->blobs[k].digest, l->digest) == 0)
            return &b->blobs[k];
    if (b->nblobs == b->blobs_cap) {
        b->blobs_cap = b->blobs_cap ? 2 * b->blobs_cap : 16;
        b->blobs = bk_xrealloc(b->blobs, b->blobs_cap * sizeof(*b->blobs));
    }
    bl = &b->blobs[b->nblobs++];
    memset(bl, 0, sizeof(*bl));
    snprintf(bl->digest, sizeof(bl->digest), "%s", l->digest);
    bl->size = l->size;
    bl->path = bk_xasprintf("%s/%s.layer", b->work, l->digest + strlen("sha256:"));
    return bl;
}

struct blob_fetch {
    struct bk_store *s;
    struct bk_xfer__blob **todo;
};

static void fetch_blob(size_t i, void *ctx)
{
    struct blob_fetch *f = ctx;
    struct bk_xfer__blob *bl = f->todo[i];

    bl->rc = bl->hashed ? bk_store_blob_get(f->s, bl->digest, bl->size, bl->path)
                        : bk_store_blob_fetch(f->s, bl->digest, bl->size, bl->path);
    if (bl->rc < 0)
        bl->msg = bk_xstrdup(bk_error_msg());
}

/* Fetch every blob of the batch not tried yet, in parallel where the
 * store allows it. */
static void fetch_new_blobs(struct bk_xfer *x, struct bk_xfer__batch *b)
{
    struct blob_fetch f = {.s = x->store};
    size_t n = 0;

    f.todo = bk_xcalloc(b->nblobs + 1, sizeof(*f.todo));
    for (size_t k = 0; k < b->nblobs; k++)
        if (!b->blobs[k].fetched) {
            b->blobs[k].fetched = 1;
            f.todo[n++] = &b->blobs[k];
        }
    if (n)
        bk_layers__parallel(n, bk_store_blob_parallel(x->store) ? 8 : 1, fetch_blob, &f);
    free(f.todo);
}

/* After fetch_new_blobs: point e->paths at the layers' files. BK_OK, or
 * the first layer's failure (BK_ENOTFOUND: not stored; BK_ECORRUPT: it
 * did not verify) with its message. */
static int layers_ready(struct bk_xfer__batch *b, struct bk_xfer__entry *e)
{
    for (size_t k = 0; k < e->ix.nlayers; k++) {
        const struct bk_xfer__blob *bl = blob_slot(b, &e->ix.layers[k]);
        if (bl->rc < 0)
            return bk_error_set(bl->rc, "layer %zu of %zu (%.19s): %s", k + 1, e->ix.nlayers,
                                bl->digest, bl->msg ? bl->msg : bk_status_name(bl->rc));
        e->paths[k] = bl->path;
    }
    return BK_OK;
}

/* Which candidate `key` came from: 0 the save key, r + 1 restore key r. */
static size_t matched_candidate(const struct bk_xfer_item *it, const char *key)
{
    if (strcmp(key, it->save_key) == 0)
        return 0;
    for (size_t r = 0; r < it->nrestore; r++)
        if (strncmp(key, it->restore_keys[r], strlen(it->restore_keys[r])) == 0)
            return r + 1;
    return it->nrestore + 1;
}

/* The next entry to try, none of `tried`: every candidate first (a store
 * that can list picks again without the broken entries, so an older run of
 * the same key can serve); then, for any store, the candidates after the
 * one that matched last (`from`: 1 + its restore key's index). */
static int next_entry(struct bk_xfer *x, const struct bk_xfer_item *it,
                      const struct bk_strvec *tried, size_t from, struct bk_provider_entry *out)
{
    struct bk_lookup q = {
        .key = it->save_key,
        .restore_keys = it->restore_keys,
        .nrestore = it->nrestore,
        .identity = it->identity->descriptor,
    };
    int rc = bk_store_lookup_untried(x->store, &q, tried, out);

    for (size_t f = from ? from : 1; rc == BK_ENOTFOUND && tried->n && f <= it->nrestore; f++) {
        q.key = it->restore_keys[f - 1];
        q.restore_keys = it->restore_keys + (f - 1);
        q.nrestore = it->nrestore - (f - 1);
        rc = bk_store_lookup_untried(x->store, &q, tried, out);
    }
    return rc;
}

uint64_t bk_xfer_entry_bytes(struct bk_store *s, const struct bk_provider_entry *e,
                             const char *tmpdir, unsigned *layers)
{
    const char *t = tmpdir && *tmpdir ? tmpdir : getenv("TMPDIR");
    char *dir, *path = NULL;
    struct bk_index ix;
    uint64_t bytes = e->size;
    int lock = -1;

    if (layers)
        *layers = 0;
    if (e->size == 0 || e->size > BK_INDEX_MAX_BYTES)
        return e->size;
    dir = bk_xasprintf("%s/bkcache-work-XXXXXX", t && *t ? t : "/tmp");
    if (bk_mkdtemp_held(dir, &lock) == BK_OK) {
        path = bk_xasprintf("%s/entry", dir);
        if (bk_index_download(s, e, path, &ix) == BK_OK) {
            bytes = bk_index_bytes(&ix);
            if (layers)
                *layers = (unsigned)ix.nlayers;
            bk_index_release(&ix);
        }
    }
    bk_error_clear(); /* not an index, or unreadable: the entry's own size */
    if (lock >= 0) {
        bk_remove_tree(dir);
        close(lock);
    }
    free(path);
    free(dir);
    return bytes;
}

/* Download the entry `e`: BK_OK with ent->state READY (a plain archive)
 * or LAYERS (an index: its layers are wanted in the batch); else *broken
 * says whether this entry is at fault (a bad index: try another) or the
 * store failed (a download that fails stays the failure it always was). */
static int take_entry(struct bk_xfer *x, struct bk_xfer__batch *b, size_t i,
                      const struct bk_provider_entry *e, int *broken)
{
    struct bk_xfer_item *it = &x->items[i];
    struct bk_xfer__entry *ent = &b->entries[i];
    const char *path = b->paths.v[i];
    int rc;

    bk_index_release(&ent->ix);
    memset(&ent->ix, 0, sizeof(ent->ix));
    memset(ent->paths, 0, sizeof(ent->paths));
    ent->state = BK_ENTRY_READY;
    *broken = 0;
    if (x->lookup_only) {
        it->bytes = bk_xfer_entry_bytes(x->store, e, x->tmpdir, &it->layers);
        return BK_OK;
    }
    rc = bk_store_download(x->store, e, path, &it->bytes);
    if (rc < 0)
        return rc;
    *broken = 1;
    rc = bk_index_read_file(path, &ent->ix);
    if (rc == BK_ENOTFOUND) { /* a plain archive */
        bk_error_clear();
        memset(&ent->ix, 0, sizeof(ent->ix));
        return BK_OK;
    }
    if (rc < 0)
        return bk_error_wrap(BK_ECORRUPT, "index");
    unlink(path); /* the layers are what inject reads */
    it->bytes = bk_index_bytes(&ent->ix);
    it->layers = (unsigned)ent->ix.nlayers;
    for (size_t k = 0; k < ent->ix.nlayers; k++)
        blob_slot(b, &ent->ix.layers[k]);
    ent->state = BK_ENTRY_LAYERS;
    return BK_OK;
}

/* The item's entry was found broken (the message says why): say so and
 * let the lookup go on. */
static void drop_entry(struct bk_xfer_item *it, struct bk_xfer__entry *ent)
{
    bk_warn("warning: %s: %s is not usable (%s); looking for another entry", it->identity->name,
            it->matched_key, bk_error_msg());
    free(it->matched_key);
    it->matched_key = NULL;
    it->bytes = 0;
    it->layers = 0;
    bk_index_release(&ent->ix);
    memset(&ent->ix, 0, sizeof(ent->ix));
    ent->state = BK_ENTRY_NONE;
}

/* Look for the next entry of item i (candidates after ent->tried) until
 * one is taken (READY or LAYERS), or none is left (NONE: the item says
 * why). */
static void resolve(struct bk_xfer *x, struct bk_xfer__batch *b, size_t i)
{
    struct bk_xfer_item *it = &x->items[i];
    struct bk_xfer__entry *ent = &b->entries[i];
    struct bk_provider_entry e;
    int rc, broken;

    ent->state = BK_ENTRY_NONE;
    for (;;) {
        rc = ent->tried.n < MAX_TRIES
                 ? next_entry(x, it, &ent->tried, ent->from, &e)
                 : bk_error_set(BK_ENOTFOUND, "tried %zu entries", ent->tried.n);
        if (rc == BK_ENOTFOUND) {
            it->hit = BK_HIT_MISS;
            it->action = "miss";
            if (ent->tried.n) {
                it->reason = bk_xasprintf("no complete entry: %s was refused, or had missing or "
                                          "corrupt layers",
                                          ent->tried.v[ent->tried.n - 1]);
                bk_warn("warning: %s: cache miss: %s", it->identity->name, it->reason);
            } else {
                bk_warn("warning: %s: cache miss: no entry for %s or its restore keys",
                        it->identity->name, it->key);
            }
            return;
        }
        if (rc < 0) {
            bk_xfer__fail(it, "lookup");
            return;
        }
        free(it->matched_key);
        it->matched_key = bk_xstrdup(e.key);
        it->hit = bk_key_same_cache(it->key, e.key) ? BK_HIT_EXACT : BK_HIT_PARTIAL;
        it->bytes = e.size;
        ent->from = matched_candidate(it, e.key) + 1;
        bk_strvec_push(&ent->tried, e.key);
        rc = take_entry(x, b, i, &e, &broken);
        bk_provider_entry_release(&e);
        if (rc == BK_OK && x->lookup_only) {
            it->action = "found";
            ent->state = BK_ENTRY_NONE;
            return;
        }
        if (rc == BK_OK)
            return;
        ent->state = BK_ENTRY_NONE;
        if (!broken) {
            bk_xfer__fail(it, "download");
            return;
        }
        drop_entry(it, ent);
    }
}

void bk_xfer__find_entry(struct bk_xfer *x, struct bk_xfer__batch *b, size_t i)
{
    struct bk_xfer_item *it = &x->items[i];

    it->hit = BK_HIT_MISS;
    b->entries[i].state = BK_ENTRY_NONE;
    if (!x->store) {
        bk_error_set(BK_ERR, "%s", x->store_error ? x->store_error : "no store");
        bk_xfer__fail(it, "store unavailable");
        return;
    }
    resolve(x, b, i);
}

void bk_xfer__entry_refused(struct bk_xfer *x, struct bk_xfer__batch *b, size_t i)
{
    struct bk_xfer__entry *ent = &b->entries[i];

    for (size_t k = 0; k < ent->ix.nlayers; k++) {
        struct bk_xfer__blob *bl = blob_slot(b, &ent->ix.layers[k]);
        unlink(bl->path);
        free(bl->msg);
        bl->msg = NULL;
        bl->rc = BK_OK;
        bl->fetched = 0;
        bl->hashed = 1;
    }
    drop_entry(&x->items[i], ent);
    resolve(x, b, i);
}

void bk_xfer__fetch_layers(struct bk_xfer *x, struct bk_xfer__batch *b)
{
    int more = 1;

    while (more) { /* a fallback may take another index: its layers go in the next round */
        more = 0;
        fetch_new_blobs(x, b);
        for (size_t i = 0; i < x->n; i++) {
            struct bk_xfer__entry *ent = &b->entries[i];
            if (ent->state != BK_ENTRY_LAYERS)
                continue;
            if (layers_ready(b, ent) == BK_OK) {
                ent->state = BK_ENTRY_READY;
                continue;
            }
            drop_entry(&x->items[i], ent);
            resolve(x, b, i);
            more |= ent->state == BK_ENTRY_LAYERS;
        }
    }
}
