/*
 * layers_save.c - store the layer cache the build exported with --cache-to;
 * see layers.h.
 *
 * Order is what keeps the store consistent: every blob first (those the
 * store lacks, in parallel, each hashed before upload so a damaged file is
 * never stored under a digest it does not have), the index last and only
 * when every blob is stored. A save that fails half way leaves blobs that
 * no index names; prune removes them later.
 */
#include "core/layers/layers.h"

#include "core/plan/keys.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/log.h"
#include "core/util/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct upload {
    struct bk_store *s;
    const char *dir;
    const struct bk_layer_index *ix;
    int *rc;
    char **msg;
    atomic_uint uploaded, skipped;
    atomic_ullong bytes;
};

static int check_local(const char *path, const struct bk_layer_blob *b)
{
    char hex[65];
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0)
        return bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    rc = bk_sha256_fd(fd, path, hex, NULL);
    close(fd);
    if (rc == BK_OK && strcmp(hex, b->digest + 7) != 0)
        rc = bk_error_set(BK_ECORRUPT, "%s hashes to sha256:%s, not to its name", path, hex);
    return rc;
}

static void upload_one(size_t i, void *ctx)
{
    struct upload *u = ctx;
    const struct bk_layer_blob *b = &u->ix->blobs[i];
    char *path = bk_xasprintf("%s/blobs/sha256/%s", u->dir, b->digest + 7);
    uint64_t size = 0;
    int rc = bk_store_blob_stat(u->s, b->digest, &size);

    if (rc == BK_OK && (size == b->size || size == 0)) {
        atomic_fetch_add(&u->skipped, 1);
    } else if (rc == BK_OK || rc == BK_ENOTFOUND) {
        rc = check_local(path, b);
        if (rc == BK_OK)
            rc = bk_store_blob_put(u->s, b->digest, path);
        if (rc == BK_OK) {
            atomic_fetch_add(&u->uploaded, 1);
            atomic_fetch_add(&u->bytes, b->size);
        }
    }
    u->rc[i] = rc;
    if (rc < 0)
        u->msg[i] = bk_xstrdup(bk_error_msg());
    free(path);
}

/* Upload the blobs of `ix`; the first failure's status and message. */
static int upload_blobs(struct bk_layers *l, struct bk_store *s, const struct bk_layer_index *ix)
{
    struct upload u = {.s = s, .dir = l->dest, .ix = ix};
    int rc = BK_OK;

    u.rc = bk_xcalloc(ix->n, sizeof(*u.rc));
    u.msg = bk_xcalloc(ix->n, sizeof(*u.msg));
    atomic_init(&u.uploaded, 0);
    atomic_init(&u.skipped, 0);
    atomic_init(&u.bytes, 0);
    bk_layers__parallel(ix->n, l->jobs, upload_one, &u);
    for (size_t i = 0; i < ix->n; i++) {
        if (u.rc[i] < 0 && rc == BK_OK)
            rc = bk_error_set(u.rc[i], "%s", u.msg[i]);
        free(u.msg[i]);
    }
    free(u.msg);
    free(u.rc);
    l->blobs_uploaded = atomic_load(&u.uploaded);
    l->blobs_skipped = atomic_load(&u.skipped);
    l->bytes_uploaded = atomic_load(&u.bytes);
    return rc;
}

enum stored { STORED_NONE, STORED_SAME, STORED_OTHER };

/* What the store's newest run of l->key holds: this very index (SAME: the
 * save would add nothing), another one under this run's own save_key
 * (OTHER), or nothing of this run (NONE: upload under save_key). */
static enum stored stored_index(struct bk_layers *l, struct bk_store *s,
                                const struct bk_layer_index *ix)
{
    const char *runs[1] = {l->key};
    struct bk_lookup q = {.key = l->save_key,
                          .restore_keys = runs,
                          .nrestore = strcmp(l->save_key, l->key) != 0,
                          .identity = BK_LAYERS_SCHEMA};
    struct bk_provider_entry e;
    struct bk_layer_index old;
    char *path = bk_xasprintf("%s/.bkcache-index", l->dir);
    enum stored st = STORED_NONE;

    if (bk_store_lookup(s, &q, &e) != BK_OK) {
        bk_error_clear();
        free(path);
        return STORED_NONE;
    }
    if (bk_key_same_cache(l->key, e.key)) {
        if (strcmp(e.key, l->save_key) == 0)
            st = STORED_OTHER;
        if (bk_layers__read_entry(s, &e, path, &old) == BK_OK) {
            if (strcmp(old.oci_index, ix->oci_index) == 0)
                st = STORED_SAME;
            bk_layer_index_release(&old);
        }
    }
    bk_error_clear();
    free(path);
    bk_provider_entry_release(&e);
    return st;
}

static int upload_index(struct bk_layers *l, struct bk_store *s, const struct bk_layer_index *ix)
{
    struct bk_strbuf data = BK_STRBUF_INIT;
    char *path = bk_xasprintf("%s/.bkcache-index-up", l->dir);
    struct bk_upload up = {.key = l->save_key, .identity = BK_LAYERS_SCHEMA};
    int rc = bk_layer_index_encode(ix, &data);

    if (rc == BK_OK)
        rc = bk_file_write_atomic(path, data.buf, data.len);
    if (rc == BK_OK)
        rc = bk_store_upload(s, &up, path);
    unlink(path);
    free(path);
    bk_strbuf_release(&data);
    return rc;
}

static void set_outcome(struct bk_layers *l, const char *action, int failed)
{
    l->action = action;
    l->save_failed = failed;
    free(l->save_reason);
    l->save_reason = failed || strcmp(action, "skipped") == 0 ? bk_xstrdup(bk_error_msg()) : NULL;
}

int bk_layers_save(struct bk_layers *l, struct bk_store *s, const char *store_error)
{
    struct bk_layer_index ix;
    enum stored stored;
    int rc;

    l->saved = 1;
    if (l->unsupported) {
        bk_error_set(BK_ESKIPPED, "%s", l->unsupported);
        set_outcome(l, "skipped", 0);
        return BK_OK;
    }
    if (!s) {
        bk_error_set(BK_ERR, "%s", store_error ? store_error : "the store is unavailable");
        set_outcome(l, "error", 1);
        return BK_OK;
    }
    if (!bk_store_blob_parallel(s))
        l->jobs = 1;
    rc = bk_layer_index_read_dir(l->dest, &ix);
    if (rc == BK_ENOTFOUND) {
        bk_error_set(rc, "%s has no index.json: did the build get the --cache-to argument?",
                     l->dest);
        set_outcome(l, "skipped", 0);
        return BK_OK;
    }
    if (rc < 0) {
        set_outcome(l, "error", 1);
        return BK_OK;
    }
    stored = stored_index(l, s, &ix);
    if (stored == STORED_SAME) {
        l->blobs_skipped = (unsigned)ix.n;
        set_outcome(l, "unchanged", 0);
    } else if (stored == STORED_OTHER && (bk_store_caps(s) & BK_CAP_IMMUTABLE_KEYS)) {
        bk_error_clear(); /* the key cannot be replaced: uploading blobs would be wasted */
        set_outcome(l, "exists", 0);
    } else if ((rc = upload_blobs(l, s, &ix)) < 0) {
        bk_error_wrap(rc, "layer cache not saved, its index was not uploaded");
        set_outcome(l, "error", 1);
    } else if ((rc = upload_index(l, s, &ix)) == BK_EEXISTS) {
        set_outcome(l, "exists", 0);
    } else {
        set_outcome(l, rc < 0 ? "error" : "saved", rc < 0);
    }
    bk_layer_index_release(&ix);
    return BK_OK;
}
