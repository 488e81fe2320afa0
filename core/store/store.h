/*
 * store.h - a provider instance wrapped with everything generic: the store.
 *
 * core/store/ is the one generic store over the providers/ vtable: every
 * caller above reaches a cache service only through this file.
 *
 * Core never calls a provider's slots directly; it opens a struct bk_store
 * and goes through the functions below, which add what every provider would
 * otherwise repeat:
 *   - selection: --provider auto|NAME, or the scheme of --store ("s3://");
 *   - retries: BK_ETRANSIENT and BK_ETIMEOUT are retried with exponential
 *     backoff and jitter (delay_ms * 2^attempt, capped at max_delay_ms; half
 *     of it fixed, the other half random), `retries` times after the first
 *     try, and never sooner than a server asked for with
 *     bk_error_set_retry_after() (capped at BK_STORE_MAX_RETRY_AFTER_MS);
 *   - timing and statistics per operation (calls, failures, retries, bytes,
 *     seconds), printed at debug verbosity by bk_store_close();
 *   - secret masking: every provider message that reaches bk_error_msg() is
 *     scrubbed with bk_log_redact() before it travels up;
 *   - downloads go into a temporary file next to the caller's path and are
 *     verified (size as announced, a zstd frame) before they are renamed
 *     into place, so a caller never sees a partial archive; an archive the
 *     store already holds as a local file is linked there, not copied.
 *
 * Ownership: bk_store_open() returns a store the caller frees with
 * bk_store_close(); entries filled by bk_store_lookup() are released with
 * bk_provider_entry_release().
 */
#ifndef BK_STORE_H
#define BK_STORE_H

#include "core/util/strvec.h"
#include "providers/provider.h"

#include <pthread.h>
#include <stdint.h>

#define BK_STORE_DEFAULT_RETRIES 3
#define BK_STORE_DEFAULT_DELAY_MS 500
#define BK_STORE_DEFAULT_MAX_DELAY_MS 8000
#define BK_STORE_MAX_RETRY_AFTER_MS 60000

enum bk_store_op {
    BK_STORE_LOOKUP,
    BK_STORE_DOWNLOAD,
    BK_STORE_UPLOAD,
    BK_STORE_LIST,
    BK_STORE_REMOVE,
    BK_STORE_BLOB_STAT,
    BK_STORE_BLOB_GET,
    BK_STORE_BLOB_PUT,
    BK_STORE_NOPS,
};

struct bk_store_opstat {
    unsigned calls;     /* operations started */
    unsigned failures;  /* operations that failed after every retry (a miss is not one) */
    unsigned retries;   /* extra attempts made */
    uint64_t bytes;     /* bytes moved by successful downloads and uploads */
    double seconds;     /* wall time, retries and backoff included */
    uint64_t waited_ms; /* time slept between attempts */
};

struct bk_store_opts {
    const char *provider;                    /* "auto" or NULL: detect; else a provider name */
    const char *store;                       /* --store, or NULL */
    const struct bk_strvec *attrs;           /* --store-opt words, or NULL */
    const char *(*getenv)(const char *name); /* NULL: getenv */
    int read_only;                           /* plan, lookup-only */
    int list_sizes;   /* ls, prune: sizes from list() even at a request per entry */
    int retries;      /* < 0: $BKCACHE_RETRIES, else BK_STORE_DEFAULT_RETRIES */
    int delay_ms;     /* < 0: $BKCACHE_RETRY_DELAY_MS, else BK_STORE_DEFAULT_DELAY_MS; 0: none */
    int max_delay_ms; /* <= 0: BK_STORE_DEFAULT_MAX_DELAY_MS */
};

struct bk_store {
    const struct bk_provider_ops *ops;
    struct bk_provider *provider;
    int retries, delay_ms, max_delay_ms;
    unsigned seed;
    pthread_mutex_t lock; /* guards seed and stats: blobs move on several threads */
    struct bk_store_opstat stats[BK_STORE_NOPS];
};

/* Pick the provider named by o->provider (or by the scheme of o->store, or
 * by detection) and create it. BK_EINVAL for an unknown provider name (the
 * message lists the known ones); a provider's own create() error otherwise. */
int bk_store_open(const struct bk_store_opts *o, struct bk_store **out);

/* The same with an explicit ops table (tests use fake providers). */
int bk_store_open_ops(const struct bk_provider_ops *ops, const struct bk_store_opts *o,
                      struct bk_store **out);

/* Print the statistics (debug verbosity) and destroy the provider. NULL is fine. */
void bk_store_close(struct bk_store *s);

const char *bk_store_name(const struct bk_store *s);
unsigned bk_store_caps(const struct bk_store *s);

/* provider lookup with retries; BK_ENOTFOUND on a miss. */
int bk_store_lookup(struct bk_store *s, const struct bk_lookup *q, struct bk_provider_entry *out);

/* The newest entry `q` matches whose key is not in `tried` (entries found
 * broken): the lookup, and when that answers with a tried key, a store that
 * can list picks again among its entries without the tried ones (blob
 * entries left out). BK_ENOTFOUND when none is left. */
int bk_store_lookup_untried(struct bk_store *s, const struct bk_lookup *q,
                            const struct bk_strvec *tried, struct bk_provider_entry *out);

/* Download `e` into `path`: written to a temporary file in the same
 * directory, verified, then renamed. On failure nothing is left at `path`.
 * `bytes_out` (may be NULL) receives the archive size. When the provider
 * keeps the archive as a local file (open_local), `path` becomes a hard link
 * to it if it can (no copy), so `path` is for reading only: never write it. */
int bk_store_download(struct bk_store *s, const struct bk_provider_entry *e, const char *path,
                      uint64_t *bytes_out);

/* Upload the archive file at `path` under u->key (u->size is filled in).
 * A store on the same file system may hard-link the file instead of copying
 * it: after the call, remove `path` or leave it, but never write it again. */
int bk_store_upload(struct bk_store *s, const struct bk_upload *u, const char *path);

/* Every entry, collected into an array the caller frees with
 * bk_store_entries_free(). BK_ERR when the provider cannot list. */
int bk_store_list(struct bk_store *s, struct bk_provider_entry **out, size_t *n_out);
void bk_store_entries_free(struct bk_provider_entry *v, size_t n);

/* Delete one entry; BK_ERR when the provider cannot delete. */
int bk_store_remove(struct bk_store *s, const struct bk_provider_entry *e);

/* ---- content-addressed blobs (store_blob.c) ----
 *
 * A blob is named by its digest, "sha256:<64 lowercase hex>", and shared by
 * every key of the store. Providers with the blob slots keep blobs their own
 * way (blobs/sha256/<hex>); any other provider keeps each blob as an entry
 * under the reserved key BK_BLOB_KEY_PREFIX<hex>, which `ls` and prune's age
 * and size policy leave alone (bk_store_is_reserved_key). Every function
 * here may run on several threads at once when bk_store_blob_parallel()
 * says so; a bad digest is BK_EINVAL. */

/* One blob as bk_store_blob_list() returns it (digest owned by the array). */
struct bk_store_blob {
    char *digest;
    uint64_t size;
    int64_t created;
};

/* 1 when a key belongs to bkcache itself, not to one cache mount: a blob
 * kept as an entry, or a layer-cache index (the name part starts with '.',
 * which no mount name can). */
int bk_store_is_reserved_key(const char *key);

/* Remove the blobs kept as entries from v (releasing them), keeping the
 * order of the rest; returns how many are left. `ls` and prune's policy
 * work on what is left. */
size_t bk_store_drop_blob_entries(struct bk_provider_entry *v, size_t n);

/* 1 when blobs may move on several threads at once. */
int bk_store_blob_parallel(const struct bk_store *s);

/* The stored blob's size; BK_ENOTFOUND when the store lacks it. */
int bk_store_blob_stat(struct bk_store *s, const char *digest, uint64_t *size_out);

/* Download the blob into `path` through a temporary file next to it, verify
 * its SHA-256 (and its size when `size` > 0) and rename it into place. A
 * wrong or truncated blob is BK_ECORRUPT and nothing is left at `path`. */
int bk_store_blob_get(struct bk_store *s, const char *digest, uint64_t size, const char *path);

/* bk_store_blob_get, but only the size (required, > 0) is checked here:
 * for a reader that hashes the bytes as it reads them and refuses them when
 * they are not the digest's (restore's unpack, bk_archive_unpack_layers
 * with the index's layers as its record), so that a blob of hundreds of MB
 * is not read a second time before its use. A wrong size is BK_ECORRUPT. */
int bk_store_blob_fetch(struct bk_store *s, const char *digest, uint64_t size, const char *path);

/* Store the file at `path` as the blob `digest` (the caller has verified
 * the content). Storing a blob the store holds already is not an error. */
int bk_store_blob_put(struct bk_store *s, const char *digest, const char *path);

/* Every stored blob; free with bk_store_blobs_free(). */
int bk_store_blob_list(struct bk_store *s, struct bk_store_blob **out, size_t *n_out);
void bk_store_blobs_free(struct bk_store_blob *v, size_t n);

/* Delete one blob; BK_ENOTFOUND when absent. */
int bk_store_blob_remove(struct bk_store *s, const char *digest);

#endif
