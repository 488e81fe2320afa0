/*
 * restore.c - restore from the store into the caches, and the items save
 * shares; see restore.h. The batch helpers both use are in xfer_batch.c.
 */
#include "core/xfer/restore.h"

#include "core/util/fileio.h"
#include "core/util/log.h"
#include "core/xfer/state.h"
#include "core/util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- items ---- */

static void list_names(const struct bk_keyset *ks, struct bk_strbuf *sb)
{
    for (size_t i = 0; i < ks->n; i++)
        bk_strbuf_addf(sb, "%s%s", i ? ", " : "", ks->keys[i].identity->name);
}

int bk_xfer_items_from_plan(const struct bk_buildplan *plan, const struct bk_keyset *ks,
                            const struct bk_strvec *only, struct bk_xfer_item **out, size_t *n_out)
{
    struct bk_xfer_item *v = bk_xcalloc(ks->n + 1, sizeof(*v));
    size_t n = 0;

    *out = NULL;
    *n_out = 0;
    for (size_t i = 0; only && i < only->n; i++) {
        size_t k = 0;
        while (k < ks->n && strcmp(ks->keys[k].identity->name, only->v[i]) != 0)
            k++;
        if (k == ks->n) {
            struct bk_strbuf sb = BK_STRBUF_INIT;
            list_names(ks, &sb);
            bk_error_set(BK_EINVAL, "--mount: no cache named '%s' (known: %s)", only->v[i],
                         ks->n ? sb.buf : "none");
            bk_strbuf_release(&sb);
            free(v);
            return BK_EINVAL;
        }
    }
    for (size_t i = 0; i < ks->n; i++) {
        const struct bk_cache_key *ck = &ks->keys[i];
        struct bk_xfer_item *it;
        if (only && only->n && bk_strvec_find(only, ck->identity->name) < 0)
            continue;
        it = &v[n++];
        it->identity = ck->identity;
        it->use = plan && ck->identity->first_use < plan->nuses
                      ? &plan->uses[ck->identity->first_use]
                      : NULL;
        it->key = ck->key;
        it->save_key = ck->save_key ? ck->save_key : ck->key;
        it->restore_keys = (const char *const *)ck->restore_keys.v;
        it->nrestore = ck->restore_keys.n;
    }
    *out = v;
    *n_out = n;
    return BK_OK;
}

void bk_xfer_items_free(struct bk_xfer_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].matched_key);
        free(items[i].reason);
    }
    free(items);
}

/* ---- shared helpers ---- */

/* ---- restore ---- */

const char *bk_hit_name(enum bk_hit h)
{
    switch (h) {
    case BK_HIT_EXACT: return "exact";
    case BK_HIT_PARTIAL: return "partial";
    case BK_HIT_MISS: return "miss";
    default: return "";
    }
}

static void write_state(const struct bk_xfer *x)
{
    struct bk_state st = BK_STATE_INIT;

    if (!x->state_path || x->lookup_only)
        return;
    if (bk_state_load(x->state_path, &st) < 0)
        bk_warn("warning: %s (starting a new state file)", bk_error_msg());
    for (size_t i = 0; i < x->n; i++) {
        const struct bk_xfer_item *it = &x->items[i];
        int restored = strcmp(it->action, "restored") == 0;
        bk_state_set(&st, it->identity->name, it->key, it->matched_key, bk_hit_name(it->hit),
                     restored && it->digest[0] ? it->digest : NULL);
        bk_state_set_store(&st, it->identity->name, x->store_id);
    }
    if (bk_state_save(x->state_path, &st) < 0)
        bk_warn("warning: %s", bk_error_msg());
    bk_state_release(&st);
}

/* One inject of every item whose entry is READY and not done yet. An item
 * whose entry the mountio refused (BK_ECORRUPT: a layer's SHA-256, a
 * frame's checksum, the content digest, a cut archive) goes back to the
 * lookup (bk_xfer__entry_refused) and stays pending: then 1 (inject
 * again), else 0. */
static int inject_ready(struct bk_xfer *x, struct bk_xfer__batch *b, char *pending, int last)
{
    double t0 = bk_xfer__now();
    int brc, again = 0;

    b->n = 0;
    for (size_t i = 0; i < x->n; i++)
        if (pending[i] && b->entries[i].state == BK_ENTRY_READY)
            bk_xfer__batch_add(b, x, i);
    if (!b->n)
        return 0;
    brc = x->io->ops->inject(x->io, b->items, b->n);
    for (size_t j = 0; j < b->n; j++) {
        size_t i = b->owner[j];
        struct bk_xfer_item *it = &x->items[i];
        const struct bk_mountio_item *mi = &b->items[j];
        it->seconds += (bk_xfer__now() - t0) / (double)b->n;
        pending[i] = 0;
        if (brc < 0) {
            bk_xfer__fail(it, "restore");
            continue;
        }
        switch (mi->status) {
        case BK_OK:
            it->action = "restored";
            it->files = mi->stats.files;
            memcpy(it->digest, mi->stats.digest, sizeof(it->digest));
            break;
        case BK_ESKIPPED:
            it->action = "skipped";
            it->reason = bk_xstrdup("the cache already holds data (--force replaces it)");
            break;
        case BK_ECORRUPT:
            if (!last) {
                bk_error_set(BK_ECORRUPT, "its unpack refused the %s",
                             mi->nlayers ? "layers" : "archive");
                bk_xfer__entry_refused(x, b, i);
                pending[i] = 1;
                again = 1;
                break;
            }
            /* fall through */
        default:
            bk_error_set(mi->status, "%s", bk_status_name(mi->status));
            bk_xfer__fail(it, "unpack");
            break;
        }
    }
    return again;
}

/* Injects per restore: the first, then one per entry refused in turn. */
#define MAX_INJECTS 4

int bk_restore_run(struct bk_xfer *x)
{
    struct bk_xfer__batch b;
    size_t nlayered = 0;
    double t0, t_layers;
    char *pending = bk_xcalloc(x->n + 1, 1);
    int again = 1, rc = bk_xfer__batch_init(x, !x->lookup_only, &b);

    if (rc < 0)
        goto done;
    for (size_t i = 0; i < x->n; i++) {
        struct bk_xfer_item *it = &x->items[i];
        t0 = bk_xfer__now();
        bk_xfer__find_entry(x, &b, i);
        it->seconds = bk_xfer__now() - t0;
        nlayered += b.entries[i].state == BK_ENTRY_LAYERS;
        pending[i] = 1;
    }
    for (int round = 0; again && round < MAX_INJECTS; round++) {
        t0 = bk_xfer__now();
        bk_xfer__fetch_layers(x, &b); /* every index's layers at once */
        t_layers = (bk_xfer__now() - t0) / (double)(nlayered ? nlayered : 1);
        for (size_t i = 0; i < x->n; i++)
            if (pending[i] && b.entries[i].ix.nlayers)
                x->items[i].seconds += t_layers;
        again = inject_ready(x, &b, pending, round + 1 == MAX_INJECTS);
    }
    write_state(x);
done:
    bk_xfer__batch_release(&b);
    free(pending);
    return rc;
}
