/*
 * save.c - save the caches into the store; see restore.h.
 *
 * Order per item: skip early when an immutable store already holds the
 * exact key (no packing needed), else pack in one extract batch, skip when
 * the state file says restore put this very key in place with the same
 * digest, else upload. A store that refuses by policy (BK_EEXISTS,
 * BK_ESKIPPED: another job saved first, quota) is a skip, not a failure.
 */
#include "core/xfer/restore.h"

#include "core/util/log.h"
#include "core/xfer/state.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* 1 when the store is immutable and already holds it->key. */
static int already_stored(struct bk_xfer *x, struct bk_xfer_item *it)
{
    struct bk_lookup q = {.key = it->key, .identity = it->identity->descriptor};
    struct bk_provider_entry e;
    int rc;

    if (!x->store || !(bk_store_caps(x->store) & BK_CAP_IMMUTABLE_KEYS))
        return 0;
    rc = bk_store_lookup(x->store, &q, &e);
    if (rc < 0) {
        if (rc != BK_ENOTFOUND)
            bk_debug("%s: lookup before save failed: %s", it->identity->name, bk_error_msg());
        return 0;
    }
    bk_provider_entry_release(&e);
    it->action = "exists";
    it->reason = bk_xasprintf("the store already holds %s and its keys are immutable", it->key);
    return 1;
}

/* 1 when the state file shows this key restored with this digest. */
static int unchanged(const struct bk_state *st, struct bk_xfer_item *it)
{
    const struct bk_state_entry *e = bk_state_find(st, it->identity->name);

    if (!e || !e->matched_key || !e->digest || strcmp(e->matched_key, it->key) != 0 ||
        strcmp(e->digest, it->digest) != 0)
        return 0;
    it->action = "unchanged";
    it->reason = bk_xstrdup("restored with the same digest, not uploaded again");
    return 1;
}

static void upload_one(struct bk_xfer *x, struct bk_xfer_item *it, const char *path)
{
    struct bk_upload u = {.key = it->key, .identity = it->identity->descriptor};
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
    }
}

static void record_hit(const struct bk_state *st, struct bk_xfer_item *it)
{
    const struct bk_state_entry *e = bk_state_find(st, it->identity->name);

    if (!e || !e->hit || !e->key || strcmp(e->key, it->key) != 0)
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
        record_hit(&st, it);
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
        if (unchanged(&st, it))
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
