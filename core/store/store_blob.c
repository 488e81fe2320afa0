/*
 * store_blob.c - content-addressed blobs over any provider; see store.h.
 *
 * Two ways to keep a blob, chosen by the provider's table, never by its name:
 *   - the blob slots (blob_stat, blob_get, blob_put, blob_list, blob_remove)
 *     when the provider has them: local, S3 and Azure Blob keep blobs at
 *     blobs/sha256/<hex> beside their entries;
 *   - else one ordinary entry per blob, key BK_BLOB_KEY_PREFIX<hex>, through
 *     lookup/download/upload/list/remove: the GitHub cache keeps one
 *     immutable entry per digest, as BuildKit's type=gha does.
 * Either way every download is hashed before it gets its name (unless the
 * caller hashes it as it reads it: bk_store_blob_fetch), and every
 * operation runs through the store's retries and statistics.
 */
#include "core/store/store_int.h"

#include "core/util/fileio.h"
#include "core/util/log.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOB_IDENTITY "bkcache-blob v1" /* the identity blob entries are scoped to */

static int native(const struct bk_store *s)
{
    return s->ops->blob_put != NULL;
}

int bk_store_blob_parallel(const struct bk_store *s)
{
    return native(s) || (s->ops->caps & BK_CAP_THREADSAFE);
}

static char *blob_key(const char *digest)
{
    return bk_xasprintf("%s%s", BK_BLOB_KEY_PREFIX, digest + strlen("sha256:"));
}

static int check_digest(const char *digest)
{
    if (!bk_digest_valid(digest))
        return bk_error_set(BK_EINVAL, "'%s' is not a sha256 digest", digest);
    return BK_OK;
}

/* ---- stat (and the entry a fallback blob lives in) ---- */

struct stat_ctx {
    const char *digest;
    uint64_t size;
    struct bk_provider_entry e; /* fallback: the blob's entry */
};

static int entry_lookup(struct bk_store *s, struct stat_ctx *c)
{
    char *key = blob_key(c->digest);
    struct bk_lookup q = {.key = key, .identity = BLOB_IDENTITY};
    int rc;

    bk_provider_entry_release(&c->e);
    rc = s->ops->lookup(s->provider, &q, &c->e);
    if (rc == BK_OK && strcmp(c->e.key, key) != 0) /* a prefix match is not this blob */
        rc = bk_error_set(BK_ENOTFOUND, "no blob %s", c->digest);
    if (rc == BK_OK)
        c->size = c->e.size;
    free(key);
    return rc;
}

static int stat_once(struct bk_store *s, void *ctx)
{
    struct stat_ctx *c = ctx;
    if (native(s))
        return s->ops->blob_stat(s->provider, c->digest, &c->size);
    return entry_lookup(s, c);
}

int bk_store_blob_stat(struct bk_store *s, const char *digest, uint64_t *size_out)
{
    struct stat_ctx c = {.digest = digest};
    int rc = check_digest(digest);

    if (rc == BK_OK)
        rc = bk_store__run_op(s, BK_STORE_BLOB_STAT, digest, stat_once, &c);
    if (rc == BK_OK && size_out)
        *size_out = c.size;
    bk_provider_entry_release(&c.e);
    return rc;
}

/* ---- get ---- */

struct get_ctx {
    struct stat_ctx st;
    int fd;
};

static int get_once(struct bk_store *s, void *ctx)
{
    struct get_ctx *c = ctx;
    int rc;

    if (ftruncate(c->fd, 0) != 0 || lseek(c->fd, 0, SEEK_SET) != 0)
        return bk_error_set(BK_ERR, "cannot reset the download file: %s", strerror(errno));
    if (native(s))
        return s->ops->blob_get(s->provider, c->st.digest, c->fd);
    if (!c->st.e.key && (rc = entry_lookup(s, &c->st)) < 0)
        return rc;
    return s->ops->download(s->provider, &c->st.e, c->fd);
}

/* The downloaded file must have the expected size and, with `hash`, hash
 * to the digest. */
static int verify_blob(int fd, const char *digest, uint64_t size, int hash, uint64_t *got_out)
{
    char hex[65];
    uint64_t got = 0;
    struct stat st;
    int rc = BK_OK;

    if (hash)
        rc = bk_sha256_fd(fd, digest, hex, &got);
    else if (fstat(fd, &st) == 0)
        got = (uint64_t)st.st_size;
    else
        rc = bk_error_set(BK_ERR, "blob %s: %s", digest, strerror(errno));
    if (rc < 0)
        return rc;
    if (size && got != size)
        return bk_error_set(BK_ECORRUPT, "blob %s: got %llu bytes, expected %llu", digest,
                            (unsigned long long)got, (unsigned long long)size);
    if (hash && strcmp(hex, digest + strlen("sha256:")) != 0)
        return bk_error_set(BK_ECORRUPT, "blob %s: the content hashes to sha256:%s", digest, hex);
    *got_out = got;
    return BK_OK;
}

static int open_local_once(struct bk_store *s, void *ctx)
{
    struct get_ctx *c = ctx;
    return s->ops->blob_open_local(s->provider, c->st.digest, &c->fd);
}

/* The store's own file of the blob, verified, given the name `path`
 * (bk_store__place_fd: a hard link when it can). BK_ENOTFOUND and
 * BK_ECORRUPT are final; other errors let the caller try blob_get. */
static int get_in_place(struct bk_store *s, const char *digest, uint64_t size, int hash,
                        const char *path, uint64_t *got)
{
    struct get_ctx c = {.st = {.digest = digest}, .fd = -1};
    int rc = bk_store__run_op(s, BK_STORE_BLOB_GET, digest, open_local_once, &c);

    if (rc == BK_OK)
        rc = verify_blob(c.fd, digest, size, hash, got);
    if (rc == BK_OK)
        rc = bk_store__place_fd(c.fd, path);
    if (c.fd >= 0)
        close(c.fd);
    return rc;
}

static int blob_get(struct bk_store *s, const char *digest, uint64_t size, int hash,
                    const char *path)
{
    struct get_ctx c = {.st = {.digest = digest}, .fd = -1};
    char *tmp;
    uint64_t got = 0;
    int rc = check_digest(digest);

    if (rc < 0)
        return rc;
    if (!hash && !size)
        return bk_error_set(BK_EINVAL, "blob %s: fetching it unhashed needs its size", digest);
    if (native(s) && s->ops->blob_open_local) {
        rc = get_in_place(s, digest, size, hash, path, &got);
        if (rc == BK_OK || rc == BK_ECORRUPT)
            bk_store__count(s, BK_STORE_BLOB_GET, rc == BK_OK ? got : 0, rc == BK_ECORRUPT);
        if (rc == BK_OK || rc == BK_ENOTFOUND || rc == BK_ECORRUPT)
            return rc;
        bk_debug("blob %s: cannot read it in place (%s); copying", digest, bk_error_msg());
    }
    tmp = bk_xasprintf("%s.part-XXXXXX", path);
    c.fd = mkstemp(tmp);
    if (c.fd < 0) {
        rc = bk_error_set(BK_ERR, "%s: cannot create a temporary file: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    rc = bk_store__run_op(s, BK_STORE_BLOB_GET, digest, get_once, &c);
    if (rc == BK_OK)
        rc = verify_blob(c.fd, digest, size, hash, &got);
    close(c.fd);
    if (rc == BK_OK && rename(tmp, path) != 0)
        rc = bk_error_set(BK_ERR, "%s: rename: %s", path, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    if (rc == BK_OK || rc == BK_ECORRUPT)
        bk_store__count(s, BK_STORE_BLOB_GET, rc == BK_OK ? got : 0, rc == BK_ECORRUPT);
    bk_provider_entry_release(&c.st.e);
    free(tmp);
    return rc;
}

int bk_store_blob_get(struct bk_store *s, const char *digest, uint64_t size, const char *path)
{
    return blob_get(s, digest, size, 1, path);
}

int bk_store_blob_fetch(struct bk_store *s, const char *digest, uint64_t size, const char *path)
{
    return blob_get(s, digest, size, 0, path);
}

/* ---- put ---- */

struct put_ctx {
    const char *digest;
    int fd;
    uint64_t size;
};

static int put_once(struct bk_store *s, void *ctx)
{
    struct put_ctx *c = ctx;
    char *key;
    int rc;

    if (native(s))
        return s->ops->blob_put(s->provider, c->digest, c->fd, c->size);
    key = blob_key(c->digest);
    {
        struct bk_upload u = {.key = key, .identity = BLOB_IDENTITY, .size = c->size};
        rc = s->ops->upload(s->provider, &u, c->fd);
    }
    free(key);
    return rc == BK_EEXISTS ? BK_OK : rc; /* immutable: the same bytes are there */
}

int bk_store_blob_put(struct bk_store *s, const char *digest, const char *path)
{
    struct put_ctx c = {.digest = digest, .fd = -1};
    struct stat st;
    int rc = check_digest(digest);

    if (rc < 0)
        return rc;
    if (!native(s) && !s->ops->upload)
        return bk_error_set(BK_ERR, "provider %s cannot upload", s->ops->name);
    c.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c.fd < 0 || fstat(c.fd, &st) != 0) {
        rc = bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
        if (c.fd >= 0)
            close(c.fd);
        return rc;
    }
    c.size = (uint64_t)st.st_size;
    rc = bk_store__run_op(s, BK_STORE_BLOB_PUT, digest, put_once, &c);
    if (rc == BK_OK)
        bk_store__count(s, BK_STORE_BLOB_PUT, c.size, 0);
    close(c.fd);
    return rc;
}

/* ---- list and remove ---- */

struct blob_vec {
    struct bk_store_blob *v;
    size_t n, alloc;
};

static void vec_add(struct blob_vec *b, const char *digest, uint64_t size, int64_t created)
{
    if (b->n == b->alloc) {
        b->alloc = b->alloc ? b->alloc * 2 : 64;
        b->v = bk_xrealloc(b->v, b->alloc * sizeof(*b->v));
    }
    b->v[b->n].digest = bk_xstrdup(digest);
    b->v[b->n].size = size;
    b->v[b->n].created = created;
    b->n++;
}

static int collect_blob(const struct bk_provider_blob *b, void *payload)
{
    vec_add(payload, b->digest, b->size, b->created);
    return 0;
}

static int collect_blob_entry(const struct bk_provider_entry *e, void *payload)
{
    size_t plen = strlen(BK_BLOB_KEY_PREFIX);
    if (strncmp(e->key, BK_BLOB_KEY_PREFIX, plen) == 0) {
        char *digest = bk_xasprintf("sha256:%s", e->key + plen);
        if (bk_digest_valid(digest))
            vec_add(payload, digest, e->size, e->created);
        free(digest);
    }
    return 0;
}

static int list_once(struct bk_store *s, void *ctx)
{
    struct blob_vec *b = ctx;
    bk_store_blobs_free(b->v, b->n);
    memset(b, 0, sizeof(*b));
    if (native(s))
        return s->ops->blob_list(s->provider, collect_blob, b);
    return s->ops->list(s->provider, collect_blob_entry, b);
}

int bk_store_blob_list(struct bk_store *s, struct bk_store_blob **out, size_t *n_out)
{
    struct blob_vec b = {0};
    int rc;

    *out = NULL;
    *n_out = 0;
    if (!native(s) && !s->ops->list)
        return bk_error_set(BK_ERR, "provider %s cannot list its blobs", s->ops->name);
    rc = bk_store__run_op(s, BK_STORE_LIST, "blobs", list_once, &b);
    if (rc < 0) {
        bk_store_blobs_free(b.v, b.n);
        return rc;
    }
    *out = b.v;
    *n_out = b.n;
    return BK_OK;
}

void bk_store_blobs_free(struct bk_store_blob *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].digest);
    free(v);
}

static int remove_once(struct bk_store *s, void *ctx)
{
    struct stat_ctx *c = ctx;
    int rc;

    if (native(s))
        return s->ops->blob_remove(s->provider, c->digest);
    if ((rc = entry_lookup(s, c)) < 0)
        return rc;
    return s->ops->remove(s->provider, &c->e);
}

int bk_store_blob_remove(struct bk_store *s, const char *digest)
{
    struct stat_ctx c = {.digest = digest};
    int rc = check_digest(digest);

    if (rc == BK_OK && !native(s) && !s->ops->remove)
        rc = bk_error_set(BK_ERR, "provider %s cannot delete entries", s->ops->name);
    if (rc == BK_OK)
        rc = bk_store__run_op(s, BK_STORE_REMOVE, digest, remove_once, &c);
    bk_provider_entry_release(&c.e);
    return rc;
}
