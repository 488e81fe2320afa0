/*
 * save.c - save the caches into the store; see restore.h.
 *
 * Order per item: skip early when an immutable store already holds the
 * save key (this run saved it already; no packing needed), else pack in
 * one extract batch, skip when the state file says restore put a run of
 * this key in place, from this same store, with the same digest, else upload under the save key
 * ("<key>-<run part>", so a changed cache is stored again even where keys
 * are immutable), then trim: where the store can list and delete, runs of
 * the key beyond the keep_runs newest are removed (bk_prune_select_runs).
 * A store that refuses by policy (BK_EEXISTS, BK_ESKIPPED: another job
 * saved first, quota) is a skip, not a failure; a failed trim is a warning.
 */
#include "core/xfer/restore.h"

#include "core/util/log.h"
#include "core/xfer/state.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* 1 when the store is immutable and already holds it->save_key. */
static int already_stored(struct bk_xfer *x, struct bk_xfer_item *it)
{
    struct bk_lookup q = {.key = it->save_key, .identity = it->identity->descriptor};
    struct bk_provider_entry e;
    int rc, held;

    if (!x->store || !(bk_store_caps(x->store) & BK_CAP_IMMUTABLE_KEYS))
        return 0;
    rc = bk_store_lookup(x->store, &q, &e);
    if (rc < 0) {
        if (rc != BK_ENOTFOUND)
            bk_debug("%s: lookup before save failed: %s", it->identity->name, bk_error_msg());
        return 0;
    }
    held = strcmp(e.key, it->save_key) == 0; /* some stores also match it as a prefix */
    bk_provider_entry_release(&e);
    if (!held)
        return 0;
    it->action = "exists";
    it->reason =
        bk_xasprintf("the store already holds %s and its keys are immutable", it->save_key);
    return 1;
}

/* 1 when the state file shows a run of this key restored with this digest
 * from this store. */
static int unchanged(const struct bk_xfer *x, const struct bk_state *st, struct bk_xfer_item *it)
{
    const struct bk_state_entry *e = bk_state_find(st, it->identity->name);

    if (!bk_state_same_store(e, x->store_id) || !e->key || !e->matched_key || !e->digest ||
        strcmp(e->key, it->key) != 0 || !bk_key_same_cache(it->key, e->matched_key) ||
        strcmp(e->digest, it->digest) != 0)
        return 0;
    it->action = "unchanged";
    it->reason =
        bk_xasprintf("restored from %s with the same digest, not uploaded again", e->matched_key);
    return 1;
}

static int same_scope(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* After a save: remove runs of it->key beyond the x->keep_runs newest, in
 * the new entry's scope (branch) only; nothing when the list does not show
 * the new entry yet. */
static void trim_runs(struct bk_xfer *x, const struct bk_xfer_item *it)
{
    const unsigned need = BK_CAP_LIST | BK_CAP_DELETE;
    struct bk_provider_entry *v = NULL, *runs;
    const struct bk_provider_entry *mine = NULL;
    unsigned char *remove;
    size_t n = 0, m = 0;

    if (x->keep_runs <= 0 || (bk_store_caps(x->store) & need) != need)
        return;
    if (bk_store_list(x->store, &v, &n) < 0) {
        bk_warn("warning: %s: cannot list the store to remove older runs: %s", it->identity->name,
                bk_error_msg());
        return;
    }
    for (size_t i = 0; i < n && !mine; i++)
        if (strcmp(v[i].key, it->save_key) == 0)
            mine = &v[i];
    runs = bk_xcalloc(n + 1, sizeof(*runs)); /* shallow copies: the runs of this key here */
    for (size_t i = 0; mine && i < n; i++)
        if (bk_key_same_cache(it->key, v[i].key) && same_scope(v[i].scope, mine->scope))
            runs[m++] = v[i];
    remove = bk_xcalloc(m + 1, 1);
    bk_prune_select_runs(runs, m, x->keep_runs, remove);
    for (size_t i = 0; i < m; i++) {
        if (!remove[i] || strcmp(runs[i].key, it->save_key) == 0)
            continue;
        if (bk_store_remove(x->store, &runs[i]) < 0)
            bk_warn("warning: %s: cannot remove older run %s: %s", it->identity->name, runs[i].key,
                    bk_error_msg());
        else
            bk_info("%s: removed older run %s (keeping the newest %ld)", it->identity->name,
                    runs[i].key, x->keep_runs);
    }
    free(remove);
    free(runs);
    bk_store_entries_free(v, n);
}

static void upload_one(struct bk_xfer *x, struct bk_xfer_item *it, const char *path)
{
    struct bk_upload u = {.key = it->save_key, .identity = it->identity->descriptor};
    struct stat sb;
    int rc;

    if (stat(path, &sb) == 0)
        it->bytes = (uint64_t)sb.st_size;
    if (!x->store) {
        bk_error_set(BK_ERR, "%s", x->store_error ? x->store_error : "no store");
        bk_xfer__fail(it, "store unavailable");
        return;
    }
    rc = bk_store_upload(x->store, &u, path);
    if (rc == BK_EEXISTS || rc == BK_ESKIPPED) {
        it->action = "skipped";
        it->reason = bk_xasprintf("the store refused it: %s", bk_error_msg());
        bk_info("%s: not saved: %s", it->identity->name, it->reason);
    } else if (rc < 0) {
        bk_xfer__fail(it, "upload");
    } else {
        it->action = "saved";
        trim_runs(x, it);
    }
}

/* The hit restore had, when it restored from this store. */
static void record_hit(const struct bk_xfer *x, const struct bk_state *st, struct bk_xfer_item *it)
{
    const struct bk_state_entry *e = bk_state_find(st, it->identity->name);

    if (!bk_state_same_store(e, x->store_id) || !e->hit || !e->key || strcmp(e->key, it->key) != 0)
        return;
    it->hit = strcmp(e->hit, "exact") == 0     ? BK_HIT_EXACT
              : strcmp(e->hit, "partial") == 0 ? BK_HIT_PARTIAL
                                               : BK_HIT_MISS;
    if (e->matched_key)
        it->matched_key = bk_xstrdup(e->matched_key);
}

int bk_save_run(struct bk_xfer *x)
{
    struct bk_state st = BK_STATE_INIT;
    struct bk_xfer__batch b;
    double t0;
    int rc, brc;

    if (x->state_path && bk_state_load(x->state_path, &st) < 0)
        bk_warn("warning: %s (saving everything)", bk_error_msg());
    rc = bk_xfer__batch_init(x, 1, &b);
    if (rc < 0)
        goto done;
    for (size_t i = 0; i < x->n; i++) {
        struct bk_xfer_item *it = &x->items[i];
        record_hit(x, &st, it);
        t0 = bk_xfer__now();
        if (!already_stored(x, it))
            bk_xfer__batch_add(&b, x, i);
        it->seconds = bk_xfer__now() - t0;
    }
    if (!b.n)
        goto done;
    t0 = bk_xfer__now();
    brc = x->io->ops->extract(x->io, b.items, b.n);
    for (size_t j = 0; j < b.n; j++) {
        struct bk_xfer_item *it = &x->items[b.owner[j]];
        const struct bk_mountio_item *mi = &b.items[j];
        it->seconds += (bk_xfer__now() - t0) / (double)b.n;
        if (brc < 0) {
            bk_xfer__fail(it, "extract");
            continue;
        }
        if (mi->status == BK_ENOTFOUND) {
            it->action = "empty";
            it->reason = bk_xstrdup("the cache is empty: nothing to save");
            continue;
        }
        if (mi->status < 0) {
            bk_error_set(mi->status, "%s", bk_status_name(mi->status));
            bk_xfer__fail(it, "pack");
            continue;
        }
        it->files = mi->stats.files;
        it->bytes = mi->stats.archive_bytes;
        memcpy(it->digest, mi->stats.digest, sizeof(it->digest));
        if (unchanged(x, &st, it))
            continue;
        t0 = bk_xfer__now();
        upload_one(x, it, b.paths.v[b.owner[j]]);
        it->seconds += bk_xfer__now() - t0;
    }
done:
    bk_state_release(&st);
    bk_xfer__batch_release(&b);
    return rc;
}
