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
 *
 * With x->delta (--delta auto) each cache is packed as a layer blob, a
 * delta over the layers it was restored from when the pack can (its base
 * record, within the mountio's limits). A delta whose parent layers are
 * not all in the store any more (pruned, evicted) is packed again in full.
 * Then the archive's SHA-256 names the blob, the blob is stored unless the
 * store holds it already (another key or branch stored the same tree), and
 * LAST the index (store_index.h) goes under the save key: killed before
 * that, a save leaves no entry, and restores keep finding the previous one.
 */
#include "core/xfer/restore.h"

#include "core/store/store_index.h"
#include "core/util/format.h"
#include "core/util/log.h"
#include "core/util/sha256.h"
#include "core/xfer/state.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* Upload the entry file at `path` under the save key; the outcome goes to
 * it->action. */
static void upload_entry(struct bk_xfer *x, struct bk_xfer_item *it, const char *path)
{
    struct bk_upload u = {.key = it->save_key, .identity = it->identity->descriptor};
    int rc = bk_store_upload(x->store, &u, path);

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

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* The archive at `path` as a layer: its SHA-256 and size, and the tree.
 * When the mountio hashed the archive as it wrote it (the builder's
 * export), that hash is used; else the file is read once more. */
static int describe_layer(const char *path, const struct bk_archive_stats *st,
                          struct bk_archive_layer *out)
{
    char hex[BK_DIGEST_HEX + 1];
    struct stat sb;
    int fd, rc;

    snprintf(out->tree, sizeof(out->tree), "%s", st->digest);
    if (st->archive_sha256[0]) {
        if (stat(path, &sb) != 0)
            return bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
        out->size = (uint64_t)sb.st_size;
        snprintf(out->digest, sizeof(out->digest), "sha256:%s", st->archive_sha256);
        return BK_OK;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    rc = bk_sha256_fd(fd, path, hex, &out->size);
    close(fd);
    snprintf(out->digest, sizeof(out->digest), "sha256:%s", hex);
    return rc;
}

/* Store the blob unless the store holds it already; *uploaded gets the
 * bytes sent. */
static int put_blob(struct bk_xfer *x, const struct bk_archive_layer *l, const char *path,
                    uint64_t *uploaded)
{
    uint64_t have = 0;
    int rc = bk_store_blob_stat(x->store, l->digest, &have);

    *uploaded = 0;
    if (rc == BK_OK && have == l->size)
        return BK_OK; /* the same tree, stored by another key, branch or run */
    if (rc < 0 && rc != BK_ENOTFOUND)
        return rc;
    rc = bk_store_blob_put(x->store, l->digest, path);
    if (rc == BK_OK)
        *uploaded = l->size;
    return rc;
}

/* The index of the new entry: the parent layers (a delta) and the new one. */
static void fill_index(const struct bk_xfer_item *it, const struct bk_archive_stats *st,
                       const struct bk_archive_layer *top, struct bk_index *ix)
{
    char created[32];

    memset(ix, 0, sizeof(*ix));
    bk_format_time((int64_t)time(NULL), created, sizeof(created));
    ix->key = bk_xstrdup(it->key);
    ix->identity = bk_xstrdup(it->identity->descriptor);
    ix->created = bk_xstrdup(created);
    memcpy(ix->digest, st->digest, sizeof(ix->digest));
    ix->files = st->files;
    ix->entries = st->entries;
    ix->bytes = st->bytes;
    if (st->delta)
        for (size_t k = 0; k < st->nparent_layers; k++)
            ix->layers[ix->nlayers++] = st->parent_layers[k];
    ix->layers[ix->nlayers++] = *top;
}

/* Tests only: BKCACHE_TEST_SAVE_PAUSE=index stops the save here, the blob
 * stored and the index not, so a test can kill it exactly there (the same
 * pause as the pack's and unpack's, core/archive/archive_pause.c). */
static void pause_before_index(void)
{
    struct bk_archive_checkpoint cp = {0};

    bk_archive_pause_from_env(&cp, "BKCACHE_TEST_SAVE_PAUSE");
    if (cp.fn)
        cp.fn("index", cp.arg);
}

/* --delta auto: the archive at `path` as a blob, then the index under the
 * save key. it->bytes: the blob (when the store lacked it) and the index. */
static void upload_layered(struct bk_xfer *x, struct bk_xfer_item *it,
                           const struct bk_archive_stats *st, const char *path)
{
    struct bk_archive_layer top;
    struct bk_index ix;
    char *ipath = bk_xasprintf("%s.index", path);
    uint64_t sent = 0;
    int rc;

    if (st->delta && st->nparent_layers + 1 > BK_ARCHIVE_MAX_LAYERS) {
        bk_error_set(BK_ECORRUPT, "the pack reported %zu parent layers", st->nparent_layers);
        bk_xfer__fail(it, "pack");
        free(ipath);
        return;
    }
    rc = describe_layer(path, st, &top);
    if (rc == BK_OK && (rc = put_blob(x, &top, path, &sent)) < 0)
        bk_error_wrap(rc, "store the layer %.19s", top.digest);
    it->bytes = sent;
    if (rc < 0) {
        bk_xfer__fail(it, "upload");
        free(ipath);
        return;
    }
    pause_before_index(); /* tests only */
    fill_index(it, st, &top, &ix);
    rc = bk_index_write_file(&ix, ipath);
    bk_index_release(&ix);
    if (rc < 0) {
        bk_xfer__fail(it, "index");
    } else {
        it->bytes += file_size(ipath);
        upload_entry(x, it, ipath);
        if (strcmp(it->action, "saved") == 0)
            it->layers = (unsigned)(st->delta ? st->nparent_layers + 1 : 1);
    }
    unlink(ipath);
    free(ipath);
}

static void upload_one(struct bk_xfer *x, struct bk_xfer_item *it,
                       const struct bk_archive_stats *st, const char *path)
{
    if (!x->store) {
        bk_error_set(BK_ERR, "%s", x->store_error ? x->store_error : "no store");
        bk_xfer__fail(it, "store unavailable");
        return;
    }
    if (x->delta) {
        upload_layered(x, it, st, path);
        return;
    }
    it->bytes = file_size(path);
    upload_entry(x, it, path);
}

/* 1 when every parent layer of the delta `st` is still in the store. */
static int parents_stored(struct bk_xfer *x, const struct bk_xfer_item *it,
                          const struct bk_archive_stats *st)
{
    for (size_t k = 0; k < st->nparent_layers; k++) {
        int rc = bk_store_blob_stat(x->store, st->parent_layers[k].digest, NULL);
        if (rc < 0) {
            bk_info("%s: layer %.19s of the restored cache is %s; packing it in full",
                    it->identity->name, st->parent_layers[k].digest,
                    rc == BK_ENOTFOUND ? "no longer stored" : "unreachable");
            bk_error_clear();
            return 0;
        }
    }
    return 1;
}

/* Pack again, in full, the items of the batch whose delta lost a parent
 * layer (repack[j] set); their results replace the delta's. Returns how
 * many were packed. */
static size_t repack_full(struct bk_xfer *x, struct bk_xfer__batch *b, const unsigned char *repack)
{
    struct bk_mountio_item *sub = bk_xcalloc(b->n + 1, sizeof(*sub));
    size_t *back = bk_xcalloc(b->n + 1, sizeof(*back));
    size_t k = 0;
    int rc;

    for (size_t j = 0; j < b->n; j++)
        if (repack[j]) {
            sub[k] = b->items[j];
            sub[k].delta = 0;
            back[k++] = j;
        }
    rc = k ? x->io->ops->extract(x->io, sub, k) : BK_OK;
    for (size_t i = 0; i < k; i++) {
        if (rc < 0)
            sub[i].status = rc;
        else if (sub[i].status == BK_OK && sub[i].stats.delta)
            sub[i].status = bk_error_set(BK_ERR, "a pack with the delta off wrote a delta");
        b->items[back[i]] = sub[i];
    }
    free(sub);
    free(back);
    return k;
}

/* Record an extract that gave no archive on the item (an empty cache, or
 * a failed pack, whose message the mountio has already printed); 1 when
 * it did, 0 when there is an archive to save. */
static int extract_failed(struct bk_xfer_item *it, const struct bk_mountio_item *mi)
{
    if (mi->status == BK_ENOTFOUND) {
        it->action = "empty";
        free(it->reason);
        it->reason = bk_xstrdup("the cache is empty: nothing to save");
        return 1;
    }
    if (mi->status < 0) {
        bk_error_set(mi->status, "%s", bk_status_name(mi->status));
        bk_xfer__fail(it, "pack");
        return 1;
    }
    return 0;
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
    unsigned char *ready = NULL, *repack = NULL;
    size_t nrepack;
    double t0, t_repack;
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
    for (size_t j = 0; j < b.n; j++)
        b.items[j].layer = b.items[j].delta = x->delta;
    t0 = bk_xfer__now();
    brc = x->io->ops->extract(x->io, b.items, b.n);
    ready = bk_xcalloc(b.n + 1, 1);
    repack = bk_xcalloc(b.n + 1, 1);
    for (size_t j = 0; j < b.n; j++) {
        struct bk_xfer_item *it = &x->items[b.owner[j]];
        const struct bk_mountio_item *mi = &b.items[j];
        it->seconds += (bk_xfer__now() - t0) / (double)b.n;
        if (brc < 0) {
            bk_xfer__fail(it, "extract");
            continue;
        }
        if (extract_failed(it, mi))
            continue;
        it->files = mi->stats.files;
        it->bytes = mi->stats.archive_bytes;
        memcpy(it->digest, mi->stats.digest, sizeof(it->digest));
        if (unchanged(x, &st, it))
            continue;
        ready[j] = 1;
        if (x->delta && x->store && mi->stats.delta)
            repack[j] = !parents_stored(x, it, &mi->stats);
    }
    t0 = bk_xfer__now();
    nrepack = repack_full(x, &b, repack);
    t_repack = (bk_xfer__now() - t0) / (double)(nrepack ? nrepack : 1);
    for (size_t j = 0; j < b.n; j++) {
        struct bk_xfer_item *it = &x->items[b.owner[j]];
        if (!ready[j])
            continue;
        if (repack[j]) {
            it->seconds += t_repack;
            if (extract_failed(it, &b.items[j]))
                continue;
        }
        t0 = bk_xfer__now();
        upload_one(x, it, &b.items[j].stats, b.paths.v[b.owner[j]]);
        it->seconds += bk_xfer__now() - t0;
    }
done:
    free(ready);
    free(repack);
    bk_state_release(&st);
    bk_xfer__batch_release(&b);
    return rc;
}
