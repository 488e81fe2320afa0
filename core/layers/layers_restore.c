/*
 * layers_restore.c - import layer caches from the store into OCI layouts
 * the build reads with --cache-from; see layers.h.
 *
 * Per source, candidates in order: the exact key, then each restore key as
 * a prefix (the store's newest match). A candidate is taken only when every
 * blob its index names arrives and hashes to its digest; otherwise the
 * source falls back to the next candidate. index.json is written last, so
 * a directory without one was not (fully) restored, and is not passed to
 * the build.
 */
#include "core/layers/layers.h"

#include "core/plan/keys.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/log.h"
#include "core/util/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OCI_LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"

struct fetch {
    struct bk_store *s;
    const char *dir; /* the source directory */
    const struct bk_layer_index *ix;
    int *rc;    /* per blob */
    char **msg; /* per blob, on failure */
    atomic_uint fetched, present;
    atomic_ullong bytes;
};

/* 1 when `path` holds the blob already (a runner that kept its directory). */
static int blob_present(const char *path, const struct bk_layer_blob *b)
{
    struct stat st;
    char hex[65];
    int fd, ok = 0;

    if (stat(path, &st) != 0 || (uint64_t)st.st_size != b->size)
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ok = bk_sha256_fd(fd, path, hex, NULL) == BK_OK && strcmp(hex, b->digest + 7) == 0;
    close(fd);
    bk_error_clear();
    return ok;
}

static void fetch_one(size_t i, void *ctx)
{
    struct fetch *f = ctx;
    const struct bk_layer_blob *b = &f->ix->blobs[i];
    char *path = bk_xasprintf("%s/blobs/sha256/%s", f->dir, b->digest + 7);

    if (blob_present(path, b)) {
        atomic_fetch_add(&f->present, 1);
        f->rc[i] = BK_OK;
    } else {
        unlink(path); /* a wrong file never stays under a digest's name */
        f->rc[i] = bk_store_blob_get(f->s, b->digest, b->size, path);
        if (f->rc[i] == BK_OK) {
            atomic_fetch_add(&f->fetched, 1);
            atomic_fetch_add(&f->bytes, b->size);
        } else {
            f->msg[i] = bk_xstrdup(bk_error_msg());
        }
    }
    free(path);
}

/* Remove the blobs of src->dir that `ix` does not name (left by an earlier
 * restore on a runner that keeps its disk), so the directory stays the size
 * of one cache. */
static void drop_unnamed(const char *dir, const struct bk_layer_index *ix)
{
    char *blobs = bk_xasprintf("%s/blobs/sha256", dir);
    DIR *d = opendir(blobs);
    struct dirent *de;

    while (d && (de = readdir(d)) != NULL) {
        char digest[80];
        int named = 0;
        if (de->d_name[0] == '.')
            continue;
        snprintf(digest, sizeof(digest), "sha256:%s", de->d_name);
        for (size_t i = 0; i < ix->n && !named; i++)
            named = strcmp(ix->blobs[i].digest, digest) == 0;
        if (!named)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    if (d)
        closedir(d);
    free(blobs);
}

/* Fetch every blob of `ix` into src->dir, then write index.json. */
static int fetch_index(struct bk_layers *l, struct bk_store *s, struct bk_layers_source *src,
                       const struct bk_layer_index *ix, const char *key)
{
    struct fetch f = {.s = s, .dir = src->dir, .ix = ix};
    char *blobs = bk_xasprintf("%s/blobs/sha256", src->dir);
    char *path;
    int rc = bk_mkdir_p(blobs);

    free(blobs);
    if (rc < 0)
        return rc;
    f.rc = bk_xcalloc(ix->n ? ix->n : 1, sizeof(*f.rc));
    f.msg = bk_xcalloc(ix->n ? ix->n : 1, sizeof(*f.msg));
    atomic_init(&f.fetched, 0);
    atomic_init(&f.present, 0);
    atomic_init(&f.bytes, 0);
    bk_layers__parallel(ix->n, l->jobs, fetch_one, &f);
    for (size_t i = 0; i < ix->n && rc == BK_OK; i++)
        if (f.rc[i] < 0)
            rc = bk_error_set(f.rc[i] == BK_ENOTFOUND || f.rc[i] == BK_ECORRUPT ? BK_ENOTFOUND
                                                                                : f.rc[i],
                              "%s: %s", key, f.msg[i]);
    for (size_t i = 0; i < ix->n; i++)
        free(f.msg[i]);
    free(f.msg);
    free(f.rc);
    src->blobs_fetched += atomic_load(&f.fetched);
    src->blobs_present += atomic_load(&f.present);
    src->bytes_fetched += atomic_load(&f.bytes);
    if (rc < 0)
        return rc;
    path = bk_xasprintf("%s/oci-layout", src->dir);
    rc = bk_file_write_atomic(path, OCI_LAYOUT, strlen(OCI_LAYOUT));
    free(path);
    if (rc == BK_OK) {
        drop_unnamed(src->dir, ix);
        path = bk_xasprintf("%s/index.json", src->dir);
        rc = bk_file_write_atomic(path, ix->oci_index, strlen(ix->oci_index));
        free(path);
    }
    return rc;
}

int bk_layers__read_entry(struct bk_store *s, const struct bk_provider_entry *e, const char *path,
                          struct bk_layer_index *ix)
{
    struct bk_strbuf data = BK_STRBUF_INIT;
    int rc = bk_store_download(s, e, path, NULL);

    if (rc == BK_OK)
        rc = bk_strbuf_read_file(&data, path);
    if (rc == BK_OK)
        rc = bk_layer_index_decode(data.buf, data.len, e->key, ix);
    unlink(path);
    bk_strbuf_release(&data);
    return rc;
}

/* Download and decode the index entry `e`, through the source directory. */
static int read_index(struct bk_store *s, const struct bk_layers_source *src,
                      const struct bk_provider_entry *e, struct bk_layer_index *ix)
{
    char *path = bk_xasprintf("%s/.bkcache-index", src->dir);
    int rc = bk_layers__read_entry(s, e, path, ix);

    free(path);
    return rc;
}

/* Take entry `e`: its index and every blob. BK_ENOTFOUND when the index is
 * damaged or names a blob the store lacks or holds damaged. */
static int take_entry(struct bk_layers *l, struct bk_store *s, struct bk_layers_source *src,
                      const struct bk_provider_entry *e)
{
    struct bk_layer_index ix;
    int rc = read_index(s, src, e, &ix);

    if (rc == BK_ECORRUPT)
        rc = BK_ENOTFOUND; /* a damaged index is a miss for that index */
    if (rc == BK_OK) {
        rc = fetch_index(l, s, src, &ix, e->key);
        bk_layer_index_release(&ix);
    }
    if (rc == BK_OK) {
        src->matched_key = bk_xstrdup(e->key);
        src->hit = src->key && bk_key_same_cache(src->key, e->key) ? "exact" : "partial";
    } else {
        bk_warn("warning: layer cache %s: %s", src->target, bk_error_msg());
    }
    return rc;
}

static void restore_source(struct bk_layers *l, struct bk_store *s, struct bk_layers_source *src)
{
    struct bk_strvec tried = BK_STRVEC_INIT;
    char *index = bk_xasprintf("%s/index.json", src->dir);
    int rc = BK_ENOTFOUND;

    unlink(index); /* a directory is usable only once this restore completed it */
    free(index);
    /* candidates: the exact key, then each restore key, newest match first,
     * then the next newest while the ones found are incomplete */
    for (size_t c = src->key ? 0 : 1; c <= src->restore.n && rc == BK_ENOTFOUND; c++) {
        const char *k = c == 0 ? src->key : src->restore.v[c - 1];
        const char *one[1] = {k};
        struct bk_lookup q = {.key = k,
                              .restore_keys = c ? one : NULL,
                              .nrestore = c ? 1 : 0,
                              .identity = BK_LAYERS_SCHEMA}; /* as save uploads it */
        struct bk_provider_entry e;
        while (rc == BK_ENOTFOUND) {
            int found = bk_store_lookup_untried(s, &q, &tried, &e);
            if (found < 0) {
                if (found != BK_ENOTFOUND)
                    rc = found; /* the lookup failed: stop */
                break;
            }
            bk_strvec_push(&tried, e.key);
            rc = take_entry(l, s, src, &e);
            bk_provider_entry_release(&e);
        }
    }
    if (rc < 0 && rc != BK_ENOTFOUND) {
        src->failed = 1;
        src->reason = bk_xstrdup(bk_error_msg());
    } else if (rc == BK_ENOTFOUND && tried.n) {
        src->reason = bk_xasprintf("no complete layer cache (%zu incomplete)", tried.n);
    }
    bk_strvec_clear(&tried);
}

/* --lookup-only: what restore would take first, nothing fetched. */
static void look_up_source(struct bk_store *s, struct bk_layers_source *src)
{
    struct bk_lookup q = {.key = src->key ? src->key : src->restore.v[0],
                          .restore_keys = (const char *const *)src->restore.v,
                          .nrestore = src->restore.n,
                          .identity = BK_LAYERS_SCHEMA};
    struct bk_provider_entry e;
    int rc = bk_store_lookup(s, &q, &e);

    if (rc == BK_OK) {
        src->matched_key = bk_xstrdup(e.key);
        src->hit = src->key && bk_key_same_cache(src->key, e.key) ? "exact" : "partial";
        bk_provider_entry_release(&e);
    } else if (rc != BK_ENOTFOUND) {
        src->failed = 1;
        src->reason = bk_xstrdup(bk_error_msg());
    }
}

/* Every source fails with the current message; no build argument. */
static void fail_all(struct bk_layers *l, const char *why)
{
    for (size_t i = 0; i < l->nsources; i++) {
        free(l->sources[i].reason);
        l->sources[i].reason = bk_xstrdup(why);
        l->sources[i].failed = 1;
    }
    bk_strvec_clear(&l->build_args);
}

int bk_layers_restore(struct bk_layers *l, struct bk_store *s, const char *store_error)
{
    if (l->lookup_only && s) {
        for (size_t i = 0; i < l->nsources; i++)
            look_up_source(s, &l->sources[i]);
        return BK_OK;
    }
    if (l->unsupported) { /* no argument: --cache-to would fail the user's build */
        for (size_t i = 0; i < l->nsources; i++)
            l->sources[i].reason = bk_xstrdup(l->unsupported);
        bk_strvec_clear(&l->build_args);
        return BK_OK;
    }
    bk_remove_tree(l->dest); /* a fresh --cache-to dest: it will hold only the new cache */
    if (bk_mkdir_p(l->dest) < 0) {
        bk_warn("warning: layer cache: %s", bk_error_msg());
        fail_all(l, bk_error_msg());
        return BK_OK;
    }
    if (s && !bk_store_blob_parallel(s))
        l->jobs = 1;
    for (size_t i = 0; i < l->nsources; i++) {
        struct bk_layers_source *src = &l->sources[i];
        if (bk_mkdir_p(src->dir) < 0) {
            src->failed = 1;
            src->reason = bk_xstrdup(bk_error_msg());
            bk_warn("warning: layer cache %s: %s", src->target, src->reason);
        } else if (!s) {
            src->failed = 1;
            src->reason = bk_xstrdup(store_error ? store_error : "the store is unavailable");
        } else {
            restore_source(l, s, src);
        }
    }
    bk_layers_build_args(l);
    return BK_OK;
}
