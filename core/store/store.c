/*
 * store.c - provider selection, retries, statistics and verified downloads;
 * see store.h.
 *
 * Every operation goes through bk_store__run_op(): it times the whole operation,
 * retries the provider slot while it answers BK_ETRANSIENT or BK_ETIMEOUT,
 * sleeps with exponential backoff and jitter between attempts, and scrubs
 * the final message of registered secrets.
 */
#include "core/store/store_int.h"

#include "core/util/fileio.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const k_op_names[BK_STORE_NOPS] = {
    "lookup", "download", "upload", "list", "remove", "blob-stat", "blob-get", "blob-put",
};

/* ---- helpers ---- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int env_int(const struct bk_store_opts *o, const char *name, int fallback)
{
    const char *v = o->getenv ? o->getenv(name) : getenv(name);
    char *end;
    long n;

    if (!v || !*v)
        return fallback;
    n = strtol(v, &end, 10);
    if (*end || n < 0 || n > 1000000) {
        bk_warn("warning: ignoring %s='%s' (expected a number)", name, v);
        return fallback;
    }
    return (int)n;
}

void bk_store__redact_error(void)
{
    char clean[1024];
    bk_log_redact(bk_error_msg(), clean, sizeof(clean));
    if (strcmp(clean, bk_error_msg()) != 0)
        bk_error_set(0, "%s", clean);
}

/* Sleep before retry number attempt+1; at least `retry_after` ms (-1: none). */
static long backoff(struct bk_store *s, int attempt, long retry_after)
{
    long delay = s->delay_ms;
    struct timespec ts;

    for (int i = 0; i < attempt && delay > 0 && delay < s->max_delay_ms; i++)
        delay *= 2;
    if (delay > s->max_delay_ms)
        delay = s->max_delay_ms;
    /* Equal jitter: half the delay fixed, the other half random. */
    if (delay > 0) {
        pthread_mutex_lock(&s->lock);
        delay = delay / 2 + (long)(rand_r(&s->seed) % (unsigned)(delay / 2 + 1));
        pthread_mutex_unlock(&s->lock);
    }
    if (retry_after > BK_STORE_MAX_RETRY_AFTER_MS)
        retry_after = BK_STORE_MAX_RETRY_AFTER_MS;
    if (retry_after > delay)
        delay = retry_after;
    if (delay <= 0)
        return 0;
    ts.tv_sec = delay / 1000;
    ts.tv_nsec = (delay % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return delay;
}

/* Runs from several threads at once for blobs: the statistics are under s->lock. */
int bk_store__run_op(struct bk_store *s, enum bk_store_op op, const char *what,
                     bk_store__attempt_fn fn, void *ctx)
{
    struct bk_store_opstat *st = &s->stats[op];
    double t0 = now_seconds();
    unsigned retries = 0;
    uint64_t waited = 0;
    int rc;

    for (int attempt = 0;; attempt++) {
        long retry_after;
        bk_error_clear();
        bk_error_set_retry_after(-1);
        rc = fn(s, ctx);
        retry_after = bk_error_retry_after_ms();
        if (!bk_status_retryable(rc) || attempt >= s->retries)
            break;
        bk_store__redact_error();
        bk_progress("%s %s: %s (%s); retry %d of %d", s->ops->name, k_op_names[op], what,
                    bk_error_msg(), attempt + 1, s->retries);
        retries++;
        waited += (uint64_t)backoff(s, attempt, retry_after);
    }
    pthread_mutex_lock(&s->lock);
    st->calls++;
    st->retries += retries;
    st->waited_ms += waited;
    st->seconds += now_seconds() - t0;
    if (rc < 0 && rc != BK_ENOTFOUND)
        st->failures++;
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        if (!bk_error_msg()[0])
            bk_error_set(rc, "%s %s %s: %s", s->ops->name, k_op_names[op], what,
                         bk_status_name(rc));
        bk_store__redact_error();
    }
    return rc;
}

void bk_store__count(struct bk_store *s, enum bk_store_op op, uint64_t bytes, int failed)
{
    pthread_mutex_lock(&s->lock);
    s->stats[op].bytes += bytes;
    if (failed)
        s->stats[op].failures++;
    pthread_mutex_unlock(&s->lock);
}

/* ---- open and close ---- */

static void known_providers(struct bk_strbuf *sb)
{
    for (size_t i = 0; bk_providers[i]; i++)
        bk_strbuf_addf(sb, "%s%s", i ? ", " : "", bk_providers[i]->name);
}

int bk_store_open_ops(const struct bk_provider_ops *ops, const struct bk_store_opts *o,
                      struct bk_store **out)
{
    struct bk_provider_config cfg = {
        .store = o->store,
        .attrs = o->attrs,
        .getenv = o->getenv,
        .read_only = o->read_only,
        .list_sizes = o->list_sizes,
    };
    struct bk_store *s;
    int rc;

    *out = NULL;
    if (!ops->create)
        return bk_error_set(BK_ERR, "provider %s: not available in this build", ops->name);
    s = bk_xcalloc(1, sizeof(*s));
    s->ops = ops;
    s->retries =
        o->retries >= 0 ? o->retries : env_int(o, "BKCACHE_RETRIES", BK_STORE_DEFAULT_RETRIES);
    s->delay_ms = o->delay_ms >= 0
                      ? o->delay_ms
                      : env_int(o, "BKCACHE_RETRY_DELAY_MS", BK_STORE_DEFAULT_DELAY_MS);
    s->max_delay_ms = o->max_delay_ms > 0 ? o->max_delay_ms : BK_STORE_DEFAULT_MAX_DELAY_MS;
    s->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    pthread_mutex_init(&s->lock, NULL);
    rc = ops->create(&cfg, &s->provider);
    if (rc < 0) {
        bk_store__redact_error();
        pthread_mutex_destroy(&s->lock);
        free(s);
        return bk_error_wrap(rc, "provider %s", ops->name);
    }
    *out = s;
    return BK_OK;
}

int bk_store_open(const struct bk_store_opts *o, struct bk_store **out)
{
    struct bk_provider_config cfg = {
        .store = o->store,
        .attrs = o->attrs,
        .getenv = o->getenv,
        .read_only = o->read_only,
        .list_sizes = o->list_sizes,
    };
    const struct bk_provider_ops *ops;

    *out = NULL;
    if (o->provider && strcmp(o->provider, "auto") != 0) {
        ops = bk_provider_find(o->provider);
        if (!ops) {
            struct bk_strbuf sb = BK_STRBUF_INIT;
            known_providers(&sb);
            bk_error_set(BK_EINVAL, "--provider: unknown provider '%s' (known: auto, %s)",
                         o->provider, sb.buf);
            bk_strbuf_release(&sb);
            return BK_EINVAL;
        }
    } else {
        ops = bk_provider_for_store(o->store);
        if (!ops)
            ops = bk_provider_detect(&cfg);
    }
    return bk_store_open_ops(ops, o, out);
}

void bk_store_close(struct bk_store *s)
{
    if (!s)
        return;
    for (int op = 0; op < BK_STORE_NOPS; op++) {
        const struct bk_store_opstat *st = &s->stats[op];
        if (st->calls)
            bk_debug("store %s %s: %u calls, %u failed, %u retries, %llu bytes, %.3fs",
                     s->ops->name, k_op_names[op], st->calls, st->failures, st->retries,
                     (unsigned long long)st->bytes, st->seconds);
    }
    if (s->provider && s->ops->destroy)
        s->ops->destroy(s->provider);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *bk_store_name(const struct bk_store *s)
{
    return s->ops->name;
}

unsigned bk_store_caps(const struct bk_store *s)
{
    unsigned extra = s->ops->extra_caps && s->provider ? s->ops->extra_caps(s->provider) : 0;
    return s->ops->caps | extra;
}

/* ---- lookup ---- */

struct lookup_ctx {
    const struct bk_lookup *q;
    struct bk_provider_entry *out;
};

static int lookup_once(struct bk_store *s, void *ctx)
{
    struct lookup_ctx *c = ctx;
    bk_provider_entry_release(c->out);
    return s->ops->lookup(s->provider, c->q, c->out);
}

int bk_store_lookup(struct bk_store *s, const struct bk_lookup *q, struct bk_provider_entry *out)
{
    struct lookup_ctx c = {q, out};
    int rc;

    memset(out, 0, sizeof(*out));
    if (!s->ops->lookup)
        return bk_error_set(BK_ERR, "provider %s cannot look up keys", s->ops->name);
    rc = bk_store__run_op(s, BK_STORE_LOOKUP, q->key, lookup_once, &c);
    if (rc < 0)
        bk_provider_entry_release(out);
    return rc;
}

/* Keys bkcache keeps for itself (blobs kept as entries, layer-cache
 * indexes); store.h. Here, not in store_blob.c, because listing and
 * lookup need them and store_blob.c builds on this file. */
int bk_store_is_reserved_key(const char *key)
{
    const char *dash = strchr(key, '-');
    return dash && dash[1] == '.';
}

size_t bk_store_drop_blob_entries(struct bk_provider_entry *v, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(v[i].key, BK_BLOB_KEY_PREFIX, strlen(BK_BLOB_KEY_PREFIX)) == 0)
            bk_provider_entry_release(&v[i]);
        else
            v[kept++] = v[i];
    }
    return kept;
}

int bk_store_lookup_untried(struct bk_store *s, const struct bk_lookup *q,
                            const struct bk_strvec *tried, struct bk_provider_entry *out)
{
    struct bk_provider_entry *v = NULL;
    size_t n = 0, kept = 0;
    long pick;
    int rc = bk_store_lookup(s, q, out);

    if (rc < 0 || bk_strvec_find(tried, out->key) < 0)
        return rc;
    bk_provider_entry_release(out);
    if (!(bk_store_caps(s) & BK_CAP_LIST))
        return bk_error_set(BK_ENOTFOUND, "no other entry under %s", q->key);
    if ((rc = bk_store_list(s, &v, &n)) < 0)
        return rc;
    n = bk_store_drop_blob_entries(v, n);
    for (size_t i = 0; i < n; i++) {
        if (bk_strvec_find(tried, v[i].key) >= 0)
            bk_provider_entry_release(&v[i]);
        else
            v[kept++] = v[i];
    }
    pick = bk_provider_pick(v, kept, q);
    if (pick >= 0)
        bk_provider_entry_copy(out, &v[pick]);
    bk_store_entries_free(v, kept);
    return pick >= 0 ? BK_OK : bk_error_set(BK_ENOTFOUND, "no other entry under %s", q->key);
}

/* ---- download ---- */

struct download_ctx {
    const struct bk_provider_entry *e;
    int fd;
};

static int download_once(struct bk_store *s, void *ctx)
{
    struct download_ctx *c = ctx;
    if (ftruncate(c->fd, 0) != 0 || lseek(c->fd, 0, SEEK_SET) != 0)
        return bk_error_set(BK_ERR, "cannot reset the download file: %s", strerror(errno));
    return s->ops->download(s->provider, c->e, c->fd);
}

/* A downloaded archive must have the announced size and start with a zstd frame. */
static int verify_download(const struct bk_provider_entry *e, int fd, uint64_t *size_out)
{
    static const unsigned char magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    unsigned char head[4];
    struct stat st;

    if (fstat(fd, &st) != 0)
        return bk_error_set(BK_ERR, "%s: cannot stat the download: %s", e->key, strerror(errno));
    if (e->size && (uint64_t)st.st_size != e->size)
        return bk_error_set(BK_ECORRUPT, "%s: downloaded %lld bytes, the store announced %llu",
                            e->key, (long long)st.st_size, (unsigned long long)e->size);
    if (pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
        memcmp(head, magic, sizeof(magic)) != 0)
        return bk_error_set(BK_ECORRUPT, "%s: the download is not a zstd stream", e->key);
    *size_out = (uint64_t)st.st_size;
    return BK_OK;
}

/* download() into a temporary file next to `path`, verified, then renamed. */
static int download_copy(struct bk_store *s, const struct bk_provider_entry *e, const char *path,
                         uint64_t *size)
{
    char *tmp = bk_xasprintf("%s.part-XXXXXX", path);
    struct download_ctx c = {e, -1};
    int rc;

    c.fd = mkstemp(tmp);
    if (c.fd < 0) {
        rc = bk_error_set(BK_ERR, "%s: cannot create a temporary file: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    rc = bk_store__run_op(s, BK_STORE_DOWNLOAD, e->key, download_once, &c);
    if (rc == BK_OK)
        rc = verify_download(e, c.fd, size);
    close(c.fd); /* no fsync: a download is a temporary file, consumed right away */
    if (rc == BK_OK && rename(tmp, path) != 0)
        rc = bk_error_set(BK_ERR, "%s: rename: %s", path, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int open_local_once(struct bk_store *s, void *ctx)
{
    struct download_ctx *c = ctx;
    return s->ops->open_local(s->provider, c->e, &c->fd);
}

int bk_store__place_fd(int fd, const char *path)
{
    char *prefix = bk_xasprintf("%s.part-", path);
    char *tmp = NULL;
    /* no fsync: a download is a temporary file, consumed right away */
    int rc = bk_file_stage_fd(fd, prefix, 0, &tmp);

    if (rc == BK_OK && rename(tmp, path) != 0) {
        rc = bk_error_set(BK_ERR, "%s: rename: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    free(prefix);
    return rc;
}

/* The store's own file, verified, given the name `path` (bk_store__place_fd). */
static int download_in_place(struct bk_store *s, const struct bk_provider_entry *e,
                             const char *path, uint64_t *size)
{
    struct download_ctx c = {e, -1};
    int rc = bk_store__run_op(s, BK_STORE_DOWNLOAD, e->key, open_local_once, &c);

    if (rc == BK_OK)
        rc = verify_download(e, c.fd, size);
    if (rc == BK_OK)
        rc = bk_store__place_fd(c.fd, path);
    if (c.fd >= 0)
        close(c.fd);
    return rc;
}

int bk_store_download(struct bk_store *s, const struct bk_provider_entry *e, const char *path,
                      uint64_t *bytes_out)
{
    uint64_t size = 0;
    int rc;

    if (!s->ops->download && !s->ops->open_local)
        return bk_error_set(BK_ERR, "provider %s cannot download", s->ops->name);
    if (s->ops->open_local) {
        rc = download_in_place(s, e, path, &size);
        if (rc < 0 && rc != BK_ENOTFOUND && rc != BK_ECORRUPT && s->ops->download) {
            bk_debug("%s: cannot read it in place (%s); downloading", e->key, bk_error_msg());
            rc = download_copy(s, e, path, &size);
        }
    } else {
        rc = download_copy(s, e, path, &size);
    }
    if (rc == BK_ECORRUPT) {
        bk_store__count(s, BK_STORE_DOWNLOAD, 0, 1);
    } else if (rc == BK_OK) {
        bk_store__count(s, BK_STORE_DOWNLOAD, size, 0);
        if (bytes_out)
            *bytes_out = size;
    }
    return rc;
}

/* ---- upload ---- */

struct upload_ctx {
    const struct bk_upload *u;
    int fd;
};

static int upload_once(struct bk_store *s, void *ctx)
{
    struct upload_ctx *c = ctx;
    return s->ops->upload(s->provider, c->u, c->fd);
}

int bk_store_upload(struct bk_store *s, const struct bk_upload *u, const char *path)
{
    struct bk_upload copy = *u;
    struct upload_ctx c = {&copy, -1};
    struct stat st;
    int rc;

    if (!s->ops->upload)
        return bk_error_set(BK_ERR, "provider %s cannot upload", s->ops->name);
    c.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c.fd < 0)
        return bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    if (fstat(c.fd, &st) != 0) {
        close(c.fd);
        return bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    }
    copy.size = (uint64_t)st.st_size;
    rc = bk_store__run_op(s, BK_STORE_UPLOAD, u->key, upload_once, &c);
    if (rc == BK_OK)
        bk_store__count(s, BK_STORE_UPLOAD, copy.size, 0);
    close(c.fd);
    return rc;
}

/* ---- list and remove ---- */

struct list_ctx {
    struct bk_provider_entry *v;
    size_t n, alloc;
};

static int collect_entry(const struct bk_provider_entry *e, void *payload)
{
    struct list_ctx *c = payload;
    if (c->n == c->alloc) {
        c->alloc = c->alloc ? c->alloc * 2 : 16;
        c->v = bk_xrealloc(c->v, c->alloc * sizeof(*c->v));
    }
    bk_provider_entry_copy(&c->v[c->n++], e);
    return 0;
}

static int list_once(struct bk_store *s, void *ctx)
{
    struct list_ctx *c = ctx;
    bk_store_entries_free(c->v, c->n);
    memset(c, 0, sizeof(*c));
    return s->ops->list(s->provider, collect_entry, c);
}

int bk_store_list(struct bk_store *s, struct bk_provider_entry **out, size_t *n_out)
{
    struct list_ctx c = {NULL, 0, 0};
    int rc;

    *out = NULL;
    *n_out = 0;
    if (!s->ops->list)
        return bk_error_set(BK_ERR, "provider %s cannot list its entries", s->ops->name);
    rc = bk_store__run_op(s, BK_STORE_LIST, "entries", list_once, &c);
    if (rc < 0) {
        bk_store_entries_free(c.v, c.n);
        return rc;
    }
    *out = c.v;
    *n_out = c.n;
    return BK_OK;
}

void bk_store_entries_free(struct bk_provider_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bk_provider_entry_release(&v[i]);
    free(v);
}

struct remove_ctx {
    const struct bk_provider_entry *e;
};

static int remove_once(struct bk_store *s, void *ctx)
{
    struct remove_ctx *c = ctx;
    return s->ops->remove(s->provider, c->e);
}

int bk_store_remove(struct bk_store *s, const struct bk_provider_entry *e)
{
    struct remove_ctx c = {e};
    if (!s->ops->remove)
        return bk_error_set(BK_ERR, "provider %s cannot delete entries", s->ops->name);
    return bk_store__run_op(s, BK_STORE_REMOVE, e->key, remove_once, &c);
}
