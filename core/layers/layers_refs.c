/*
 * layers_refs.c - which blobs each store entry references, and which of
 * them it alone holds; see layers.h. prune removes the blobs no entry
 * references, ls shows each entry's own and shared bytes.
 *
 * Telling an entry's kind needs its content for ordinary keys: a layered
 * entry and a plain archive live under the same kind of key. Only entries
 * that can be an index are downloaded (at most BK_INDEX_MAX_BYTES, or of
 * unknown size), into a temporary directory in $TMPDIR (else /tmp), on
 * several threads when the provider allows it.
 */
#include "core/layers/layers.h"

#include "core/store/store_index.h"
#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REFS_JOBS 8

static void add_ref(struct bk_entry_refs *r, const char *digest, uint64_t size)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->blobs[i].digest, digest) == 0)
            return;
    r->blobs = bk_xrealloc(r->blobs, (r->n + 1) * sizeof(*r->blobs));
    snprintf(r->blobs[r->n].digest, sizeof(r->blobs[r->n].digest), "%s", digest);
    r->blobs[r->n].size = size;
    r->n++;
}

static int is_layer_cache_index(const char *key)
{
    return bk_store_is_reserved_key(key) && strstr(key, "-.layers-") != NULL;
}

/* 1 when the ordinary entry `e` may hold a bkcache index. */
static int may_be_index(const struct bk_provider_entry *e)
{
    return !bk_store_is_reserved_key(e->key) && e->size <= BK_INDEX_MAX_BYTES;
}

/* Download `e` into `path` and read it as a mount cache's index. */
static int read_mount_index(struct bk_store *s, const struct bk_provider_entry *e, const char *path,
                            struct bk_entry_refs *r)
{
    struct bk_index ix;
    int rc = bk_index_download(s, e, path, &ix);

    if (rc == BK_ENOTFOUND)
        return BK_OK; /* removed since the list, or a plain archive: it references nothing */
    if (rc < 0)
        return rc;
    r->kind = BK_ENTRY_LAYERED;
    for (size_t i = 0; i < ix.nlayers; i++)
        add_ref(r, ix.layers[i].digest, ix.layers[i].size);
    bk_index_release(&ix);
    return BK_OK;
}

static int read_layer_cache_index(struct bk_store *s, const struct bk_provider_entry *e,
                                  const char *path, struct bk_entry_refs *r)
{
    struct bk_layer_index ix;
    int rc = bk_layers__read_entry(s, e, path, &ix);

    if (rc < 0)
        return rc;
    r->kind = BK_ENTRY_LAYER_CACHE;
    for (size_t i = 0; i < ix.n; i++)
        add_ref(r, ix.blobs[i].digest, ix.blobs[i].size);
    bk_layer_index_release(&ix);
    return BK_OK;
}

struct refs_job {
    struct bk_store *s;
    const struct bk_provider_entry *v;
    struct bk_entry_refs *out;
    const char *dir;
};

static void read_one(size_t i, void *ctx)
{
    struct refs_job *j = ctx;
    const struct bk_provider_entry *e = &j->v[i];
    struct bk_entry_refs *r = &j->out[i];
    char *path;
    int rc = BK_OK;

    if (!is_layer_cache_index(e->key) && !may_be_index(e))
        return;
    path = bk_xasprintf("%s/%zu", j->dir, i);
    if (is_layer_cache_index(e->key))
        rc = read_layer_cache_index(j->s, e, path, r);
    else
        rc = read_mount_index(j->s, e, path, r);
    if (rc < 0) {
        /* name the entry, not the temporary file it was read from */
        const char *msg = bk_error_msg();
        size_t len = strlen(path);
        if (strncmp(msg, path, len) == 0)
            r->error = bk_xasprintf("%s%s", e->key, msg + len);
        else if (strstr(msg, e->key))
            r->error = bk_xstrdup(msg);
        else
            r->error = bk_xasprintf("%s: %s", e->key, msg);
        r->n = 0;
        bk_debug("refs: %s", r->error);
    }
    free(path);
}

#define REFS_PREFIX "bkcache-refs-"

int bk_entry_refs_read(struct bk_store *s, const struct bk_provider_entry *v, size_t n,
                       struct bk_entry_refs **out_p)
{
    const char *tmp = getenv("TMPDIR");
    char *tmpl;
    struct bk_entry_refs *out = bk_xcalloc(n + 1, sizeof(*out));
    struct refs_job j = {s, v, out, NULL};
    int jobs = (bk_store_caps(s) & BK_CAP_THREADSAFE) ? REFS_JOBS : 1;
    int rc = BK_OK, lock = -1;

    /* held while in use; what a killed ls or prune left is swept first */
    tmp = tmp && *tmp ? tmp : "/tmp";
    bk_remove_abandoned(tmp, REFS_PREFIX);
    tmpl = bk_xasprintf("%s/" REFS_PREFIX "XXXXXX", tmp);
    *out_p = out;
    if (bk_mkdtemp_held(tmpl, &lock) < 0) {
        for (size_t i = 0; i < n; i++)
            out[i].error = bk_xasprintf("%s: cannot create a temporary directory", tmpl);
    } else {
        j.dir = tmpl;
        bk_layers__parallel(n, jobs, read_one, &j);
        bk_remove_tree(tmpl);
        close(lock);
    }
    for (size_t i = 0; i < n && rc == BK_OK; i++)
        if (out[i].error)
            rc = bk_error_set(BK_ERR, "%s", out[i].error);
    free(tmpl);
    return rc;
}

/* One (digest, entry) pair; sorted by digest to count the entries per blob. */
struct ref_pair {
    const char *digest;
    uint64_t size;
    size_t entry;
};

static int by_digest(const void *a, const void *b)
{
    return strcmp(((const struct ref_pair *)a)->digest, ((const struct ref_pair *)b)->digest);
}

void bk_entry_refs_share(const struct bk_provider_entry *v, struct bk_entry_refs *r, size_t n)
{
    struct ref_pair *p;
    size_t np = 0;

    for (size_t i = 0; i < n; i++)
        np += r[i].n;
    p = bk_xcalloc(np + 1, sizeof(*p));
    np = 0;
    for (size_t i = 0; i < n; i++) {
        r[i].own = r[i].kind == BK_ENTRY_ARCHIVE && !r[i].error ? v[i].size : 0;
        r[i].shared = 0;
        for (size_t b = 0; b < r[i].n; b++)
            p[np++] = (struct ref_pair){r[i].blobs[b].digest, r[i].blobs[b].size, i};
    }
    qsort(p, np, sizeof(*p), by_digest);
    for (size_t a = 0, z; a < np; a = z) {
        for (z = a + 1; z < np && strcmp(p[z].digest, p[a].digest) == 0;)
            z++;
        for (size_t k = a; k < z; k++) {
            if (z - a == 1)
                r[p[k].entry].own += p[k].size;
            else
                r[p[k].entry].shared += p[k].size;
        }
    }
    free(p);
}

void bk_entry_refs_free(struct bk_entry_refs *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].blobs);
        free(r[i].error);
    }
    free(r);
}
