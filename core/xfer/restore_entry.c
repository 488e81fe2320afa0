/*
 * restore_entry.c - what restore fetches for one cache: the entry a lookup
 * finds and, when that entry is an index (core/store/store_index.h), the
 * layer blobs it names; see restore.h.
 *
 * The candidates are the save key (exact) and the restore keys (prefixes),
 * in order. The entry found is downloaded; bk_index_read_file() tells an
 * index from a plain archive (an entry written before delta saves, or with
 * --delta off), which goes to inject as before. An index's layers are
 * fetched into the batch's directory, in parallel where the store allows
 * it, each verified by the store (SHA-256 and size); a blob two caches of
 * the batch share is fetched once. When a layer is missing or corrupt (or
 * the index is damaged), that entry is a miss and the lookup goes on: a
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

/* The batch's record of `digest`, added (not yet fetched) when new. */
static struct bk_xfer__blob *blob_slot(struct bk_xfer__batch *b, const char *digest, int *is_new)
{
    struct bk_xfer__blob *bl;

    *is_new = 0;
    for (size_t k = 0; k < b->nblobs; k++)
        if (strcmp(b->blobs[k].digest, digest) == 0)
            return &b->blobs[k];
    if (b->nblobs == b->blobs_cap) {
        b->blobs_cap = b->blobs_cap ? 2 * b->blobs_cap : 16;
        b->blobs = bk_xrealloc(b->blobs, b->blobs_cap * sizeof(*b->blobs));
    }
    bl = &b->blobs[b->nblobs++];
    memset(bl, 0, sizeof(*bl));
    snprintf(bl->digest, sizeof(bl->digest), "%s", digest);
    bl->path = bk_xasprintf("%s/%s.layer", b->work, digest + strlen("sha256:"));
    *is_new = 1;
    return bl;
}

struct blob_fetch {
    struct bk_store *s;
    struct bk_xfer__batch *b;
    size_t *which; /* b->blobs index per job */
    uint64_t *size;
};

static void fetch_blob(size_t i, void *ctx)
{
    struct blob_fetch *f = ctx;
    struct bk_xfer__blob *bl = &f->b->blobs[f->which[i]];

    bl->rc = bk_store_blob_get(f->s, bl->digest, f->size[i], bl->path);
    if (bl->rc < 0)
        bl->msg = bk_xstrdup(bk_error_msg());
}

/* Fetch the layers of `e->ix` that the batch lacks and point e->paths at
 * them. BK_OK, or the first layer's failure (BK_ENOTFOUND: not stored;
 * BK_ECORRUPT: it did not verify) with its message. */
static int fetch_layers(struct bk_xfer *x, struct bk_xfer__batch *b, struct bk_xfer__entry *e)
{
    struct blob_fetch f = {.s = x->store, .b = b};
    size_t n = 0;
    int is_new;

    f.which = bk_xcalloc(e->ix.nlayers + 1, sizeof(*f.which));
    f.size = bk_xcalloc(e->ix.nlayers + 1, sizeof(*f.size));
    for (size_t k = 0; k < e->ix.nlayers; k++) {
        struct bk_xfer__blob *bl = blob_slot(b, e->ix.layers[k].digest, &is_new);
        if (is_new) {
            f.which[n] = (size_t)(bl - b->blobs);
            f.size[n++] = e->ix.layers[k].size;
        }
    }
    bk_layers__parallel(n, bk_store_blob_parallel(x->store) ? 8 : 1, fetch_blob, &f);
    free(f.which);
    free(f.size);
    for (size_t k = 0; k < e->ix.nlayers; k++) {
        const struct bk_xfer__blob *bl = blob_slot(b, e->ix.layers[k].digest, &is_new);
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
                             const char *tmpdir)
{
    const char *t = tmpdir && *tmpdir ? tmpdir : getenv("TMPDIR");
    char *dir, *path = NULL;
    struct bk_index ix;
    uint64_t bytes = e->size;
    int lock = -1;

    if (e->size == 0 || e->size > BK_INDEX_MAX_BYTES)
        return e->size;
    dir = bk_xasprintf("%s/bkcache-work-XXXXXX", t && *t ? t : "/tmp");
    if (bk_mkdtemp_held(dir, &lock) == BK_OK) {
        path = bk_xasprintf("%s/entry", dir);
        if (bk_store_download(s, e, path, NULL) == BK_OK &&
            bk_index_read_file(path, &ix) == BK_OK) {
            bytes = bk_index_bytes(&ix);
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

/* Download the entry `e` and, for an index, its layers. BK_OK when it can
 * be injected; else *broken says whether this entry is at fault (a bad
 * index, a layer missing or corrupt: try another) or the store failed (a
 * download that fails stays the failure it always was). */
static int take_entry(struct bk_xfer *x, struct bk_xfer__batch *b, size_t i,
                      const struct bk_provider_entry *e, int *broken)
{
    struct bk_xfer_item *it = &x->items[i];
    struct bk_xfer__entry *ent = &b->entries[i];
    const char *path = b->paths.v[i];
    int rc;

    bk_index_release(&ent->ix);
    memset(ent, 0, sizeof(*ent));
    *broken = 0;
    if (x->lookup_only) {
        it->bytes = bk_xfer_entry_bytes(x->store, e, x->tmpdir);
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
    rc = fetch_layers(x, b, ent);
    *broken = rc == BK_ENOTFOUND || rc == BK_ECORRUPT;
    return rc;
}

int bk_xfer__fetch_entry(struct bk_xfer *x, struct bk_xfer__batch *b, size_t i)
{
    struct bk_xfer_item *it = &x->items[i];
    struct bk_strvec tried = BK_STRVEC_INIT;
    struct bk_provider_entry e;
    size_t from = 0;
    int rc, broken, ready = 0;

    it->hit = BK_HIT_MISS;
    if (!x->store) {
        bk_error_set(BK_ERR, "%s", x->store_error ? x->store_error : "no store");
        bk_xfer__fail(it, "store unavailable");
        return 0;
    }
    for (;;) {
        rc = tried.n < MAX_TRIES ? next_entry(x, it, &tried, from, &e)
                                 : bk_error_set(BK_ENOTFOUND, "tried %zu entries", tried.n);
        if (rc == BK_ENOTFOUND) {
            it->hit = BK_HIT_MISS;
            it->action = "miss";
            if (tried.n) {
                it->reason = bk_xasprintf("no complete entry: %s had missing or corrupt layers",
                                          tried.v[tried.n - 1]);
                bk_warn("warning: %s: cache miss: %s", it->identity->name, it->reason);
            } else {
                bk_warn("warning: %s: cache miss: no entry for %s or its restore keys",
                        it->identity->name, it->key);
            }
            break;
        }
        if (rc < 0) {
            bk_xfer__fail(it, "lookup");
            break;
        }
        free(it->matched_key);
        it->matched_key = bk_xstrdup(e.key);
        it->hit = bk_key_same_cache(it->key, e.key) ? BK_HIT_EXACT : BK_HIT_PARTIAL;
        it->bytes = e.size;
        from = matched_candidate(it, e.key) + 1;
        bk_strvec_push(&tried, e.key);
        rc = take_entry(x, b, i, &e, &broken);
        bk_provider_entry_release(&e);
        if (rc == BK_OK && x->lookup_only) {
            it->action = "found";
            break;
        }
        if (rc == BK_OK) {
            ready = 1;
            break;
        }
        if (!broken) {
            bk_xfer__fail(it, "download");
            break;
        }
        bk_warn("warning: %s: %s is not usable (%s); looking for another entry", it->identity->name,
                it->matched_key, bk_error_msg());
        free(it->matched_key);
        it->matched_key = NULL;
        it->bytes = 0;
    }
    bk_strvec_clear(&tried);
    return ready;
}
