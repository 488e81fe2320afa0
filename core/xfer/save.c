/*
 * save.c - save the caches into the store; see restore.h.
 *
 * Order per item: skip early when an immutable store already holds the
 * exact key (no packing needed), else pack in one extract batch, skip when
 * the state file says restore put this very key in place with the same
 * digest, else upload. A store that refuses by policy (BK_EEXISTS,
 * BK_ESKIPPED: another job saved first, quota) is a skip, not a failure.
 *
 * Upload while the archive arrives: when the store can send a file that is
 * still being written (BK_CAP_GROWING), each item of the batch gets a
 * growfile, which the mountio tells as it writes the archive (a builder's
 * export streams it); a thread uploads each archive from its first block,
 * one archive at a time, in the order they begin. Nothing is committed
 * before the extract has returned and the item's archive was found whole
 * and matching its report: the verdict (BK_OK, or why not) is given here,
 * after the batch, with the same checks as before. An archive the mountio
 * never began is uploaded after the batch as usual. So a save costs about
 * pack + max(export, upload) instead of pack + export + upload.
 * BKCACHE_STREAM_UPLOAD=0 turns it off (for measurements).
 */
#include "core/xfer/restore.h"

#include "core/util/growfile.h"
#include "core/util/log.h"
#include "core/xfer/state.h"
#include "core/util/strbuf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* What an upload returned: saved, skipped by the store's policy, or failed. */
static void upload_done(struct bk_xfer_item *it, int rc)
{
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

static void upload_one(struct bk_xfer *x, struct bk_xfer_item *it, const char *path)
{
    struct bk_upload u = {.key = it->key, .identity = it->identity->descriptor};
    struct stat sb;

    if (stat(path, &sb) == 0)
        it->bytes = (uint64_t)sb.st_size;
    if (!x->store) {
        bk_error_set(BK_ERR, "%s", x->store_error ? x->store_error : "no store");
        bk_xfer__fail(it, "store unavailable");
        return;
    }
    upload_done(it, bk_store_upload(x->store, &u, path));
}

/* ---- uploads while the extract runs ---- */

#define NOT_STREAMED 1 /* streamer.rc[j]: the archive never began during the batch */

struct streamer {
    struct bk_xfer *x;
    struct bk_xfer__batch *b;
    struct bk_growfile **gf; /* gf[j]: batch item j's archive */
    int *rc;                 /* rc[j]: its upload's status, or NOT_STREAMED */
    char **msg;              /* msg[j]: the message of a failed upload */
    double *done_at;         /* when its upload returned */
    pthread_t thread;
    int running;
};

static void *stream_uploads(void *arg)
{
    struct streamer *s = arg;
    size_t left = s->b->n;
    unsigned char *handled = bk_xcalloc(s->b->n + 1, 1);

    while (left) {
        int progressed = 0;
        for (size_t j = 0; j < s->b->n; j++) {
            const struct bk_mountio_item *mi = &s->b->items[j];
            uint64_t size = 0;
            int st;

            if (handled[j] || (st = bk_growfile_poll_begun(s->gf[j], &size)) == 0)
                continue;
            handled[j] = 1;
            left--;
            progressed = 1;
            if (st < 0)
                continue; /* NOT_STREAMED */
            struct bk_upload u = {.key = mi->key,
                                  .identity = mi->identity->descriptor,
                                  .size = size,
                                  .growing = s->gf[j]};
            s->rc[j] = bk_store_upload(s->x->store, &u, mi->archive_path);
            s->msg[j] = bk_xstrdup(bk_error_msg());
            s->done_at[j] = bk_xfer__now();
        }
        if (!progressed)
            usleep(10 * 1000);
    }
    free(handled);
    return NULL;
}

static void streamer_start(struct streamer *s, struct bk_xfer *x, struct bk_xfer__batch *b)
{
    const char *env = getenv("BKCACHE_STREAM_UPLOAD");

    memset(s, 0, sizeof(*s));
    if (!x->store || !(bk_store_caps(x->store) & BK_CAP_GROWING) || (env && !strcmp(env, "0")))
        return;
    s->x = x;
    s->b = b;
    s->gf = bk_xcalloc(b->n + 1, sizeof(*s->gf));
    s->rc = bk_xcalloc(b->n + 1, sizeof(*s->rc));
    s->msg = bk_xcalloc(b->n + 1, sizeof(*s->msg));
    s->done_at = bk_xcalloc(b->n + 1, sizeof(*s->done_at));
    for (size_t j = 0; j < b->n; j++) {
        s->gf[j] = bk_growfile_new();
        s->rc[j] = NOT_STREAMED;
        b->items[j].growing = s->gf[j];
    }
    s->running = pthread_create(&s->thread, NULL, stream_uploads, s) == 0;
    if (!s->running)
        for (size_t j = 0; j < b->n; j++)
            b->items[j].growing = NULL;
}

/* Give item j's verdict: BK_OK lets its streamed upload commit. */
static void streamer_verdict(struct streamer *s, size_t j, int rc)
{
    if (s->running)
        bk_growfile_end(s->gf[j], rc);
}

static void streamer_join(struct streamer *s)
{
    if (!s->running)
        return;
    for (size_t j = 0; j < s->b->n; j++)
        bk_growfile_end(s->gf[j], BK_ENOTFOUND); /* any not given yet: nothing came */
    pthread_join(s->thread, NULL);
}

static void streamer_release(struct streamer *s)
{
    for (size_t j = 0; s->b && j < s->b->n; j++) {
        bk_growfile_free(s->gf[j]);
        free(s->msg[j]);
        s->b->items[j].growing = NULL;
    }
    free(s->gf);
    free(s->rc);
    free(s->msg);
    free(s->done_at);
    memset(s, 0, sizeof(*s));
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
    struct streamer up = {0};
    unsigned char *need = NULL; /* need[j]: batch item j is to be uploaded */
    double t0, t1;
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
    need = bk_xcalloc(b.n + 1, 1);
    streamer_start(&up, x, &b);
    t0 = bk_xfer__now();
    brc = x->io->ops->extract(x->io, b.items, b.n);
    t1 = bk_xfer__now();
    for (size_t j = 0; j < b.n; j++) {
        struct bk_xfer_item *it = &x->items[b.owner[j]];
        const struct bk_mountio_item *mi = &b.items[j];
        it->seconds += (t1 - t0) / (double)b.n;
        if (brc < 0) {
            streamer_verdict(&up, j, brc);
            bk_xfer__fail(it, "extract");
            continue;
        }
        if (mi->status)
            streamer_verdict(&up, j, mi->status);
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
        if (unchanged(&st, it)) {
            streamer_verdict(&up, j, BK_ESKIPPED); /* its upload must not commit */
            continue;
        }
        need[j] = 1;
        streamer_verdict(&up, j, BK_OK);
    }
    streamer_join(&up);
    for (size_t j = 0; j < b.n; j++) {
        struct bk_xfer_item *it = &x->items[b.owner[j]];
        if (!need[j])
            continue;
        if (up.running && up.rc[j] != NOT_STREAMED) {
            if (up.rc[j])
                bk_error_set(up.rc[j], "%s", up.msg[j]);
            upload_done(it, up.rc[j]);
            if (up.done_at[j] > t1)
                it->seconds += up.done_at[j] - t1;
            continue;
        }
        t0 = bk_xfer__now();
        upload_one(x, it, b.paths.v[b.owner[j]]);
        it->seconds += bk_xfer__now() - t0;
    }
done:
    streamer_release(&up);
    free(need);
    bk_state_release(&st);
    bk_xfer__batch_release(&b);
    return rc;
}
