/*
 * provider.h - the cache store interface. Everything needed to write a store.
 *
 * A provider stores opaque archives under string keys. Core (core/store/store.c)
 * decides what to save and restore, retries transient failures, times and
 * counts operations and scrubs secrets from messages; a provider only moves
 * bytes and answers lookups, and stays small.
 *
 * Writing one (providers/<name>.c):
 *   - keep a private state struct whose first member is `struct bk_provider
 *     base` (libgit2 style), and make every function static, named
 *     <name>_<slot>;
 *   - parse configuration in one pure function, `<name>_parse_config()`,
 *     from cfg->store, cfg->attrs and cfg->getenv, so unit tests can call it
 *     without a network; take secrets from environment variables and
 *     register them with bk_log_add_secret() before any request;
 *   - export one table: `const struct bk_provider_ops bk_provider_<name>`,
 *     one slot per line, and add it to the registry in providers/provider.c.
 *
 * Return values: BK_OK, or a negative bk_status (core/util/error.h) with
 * bk_error_set() describing it: BK_ENOTFOUND (miss), BK_ETRANSIENT /
 * BK_ETIMEOUT (core retries with backoff), BK_EDENIED (auth, permission),
 * BK_ESKIPPED or BK_EEXISTS (policy: another job saved the key first,
 * quota), BK_ECORRUPT (checksum mismatch), BK_ERR (anything else: fatal).
 * A provider never prints secrets and never exits.
 */
#ifndef BK_PROVIDER_H
#define BK_PROVIDER_H

#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strvec.h"

#include <stddef.h>
#include <stdint.h>

enum bk_provider_caps {
    BK_CAP_IMMUTABLE_KEYS = 1u << 0, /* a saved key can never be overwritten */
    BK_CAP_DELETE = 1u << 1,         /* remove() works */
    BK_CAP_BRANCH_SCOPED = 1u << 2,  /* lookups see only this branch and its bases */
    BK_CAP_LIST = 1u << 3,           /* list() works */
    BK_CAP_THREADSAFE = 1u << 4,     /* the entry slots may run on several threads at once */
};

/* One stored archive. Filled by lookup() and list(); released by core with
 * bk_provider_entry_release(). */
struct bk_provider_entry {
    char *key;         /* the full key it is stored under */
    uint64_t size;     /* archive bytes; 0 when unknown */
    int64_t created;   /* Unix seconds; 0 when unknown */
    int64_t last_used; /* Unix seconds; 0 when unknown */
    char *scope;       /* branch or ref it belongs to, or NULL */
    char *handle;      /* provider-private locator (URL, artifact id, path), or NULL */
};

struct bk_provider_config {
    const char *store;             /* --store: a path or URL; NULL for the provider's default */
    const struct bk_strvec *attrs; /* --store-opt key=value words, provider-specific */
    const char *(*getenv)(const char *name); /* the environment; tests substitute */
    int read_only;                           /* plan, lookup-only: no writes will be asked */
    /* ls and prune: list() should report every entry's size even where that
     * costs a request per entry (GitLab's package registry); 0 (restore,
     * save) leaves such sizes unknown rather than slow the listing down. */
    int list_sizes;
};

struct bk_lookup {
    const char *key;                 /* tried exactly first */
    const char *const *restore_keys; /* then each as a prefix, in order; newest match wins */
    size_t nrestore;
    const char *identity; /* identity descriptor (for scoped versions) */
};

struct bk_upload {
    const char *key;
    const char *identity; /* identity descriptor, as in bk_lookup */
    uint64_t size;        /* bytes in the archive file */
};

struct bk_provider;

typedef int (*bk_entry_cb)(const struct bk_provider_entry *e, void *payload);

/* The reserved key of a blob kept as an ordinary entry (see the blob slots
 * below): this prefix and the digest's 64 hex digits. A store may place such
 * entries wherever it likes (s3 and azblob: PREFIX + "blobs/sha256/<hex>"). */
#define BK_BLOB_KEY_PREFIX "bkcache-.blob-sha256-"

/* One stored content-addressed blob, as blob_list() reports it. */
struct bk_provider_blob {
    const char *digest; /* "sha256:<64 lowercase hex>" */
    uint64_t size;      /* bytes; 0 when unknown */
    int64_t created;    /* Unix seconds; 0 when unknown */
};

typedef int (*bk_blob_cb)(const struct bk_provider_blob *b, void *payload);

struct bk_provider_ops {
    const char *name;   /* "local", "github", ... : --provider NAME */
    const char *scheme; /* URL scheme of --store it owns ("s3"), or NULL */
    unsigned caps;      /* enum bk_provider_caps */

    /* 1 when this provider's CI environment is detected (--provider auto). NULL: never. */
    int (*detect)(const struct bk_provider_config *cfg);
    /* Parse the configuration and allocate; no network yet unless needed to fail early. */
    int (*create)(const struct bk_provider_config *cfg, struct bk_provider **out);
    /* The exact key, else the newest entry whose key starts with a restore key
     * (restore keys tried in order). BK_ENOTFOUND on a miss. */
    int (*lookup)(struct bk_provider *p, const struct bk_lookup *q, struct bk_provider_entry *out);
    /* Write the archive of `e` (from lookup or list) into `fd`, a regular file
     * open for writing; pwrite() at any offset is allowed. */
    int (*download)(struct bk_provider *p, const struct bk_provider_entry *e, int fd);
    /* Optional (NULL: core always uses download()). When the store keeps the
     * archive of `e` as a file on this machine, open it read-only into *fd_out
     * so core can read it in place instead of downloading a copy; record the
     * use as download() does. Core never writes through it. On any error
     * other than BK_ENOTFOUND core falls back to download(). */
    int (*open_local)(struct bk_provider *p, const struct bk_provider_entry *e, int *fd_out);
    /* Store the archive in `fd` (a regular file; pread() at any offset is
     * allowed) under u->key. BK_EEXISTS when the key exists and cannot be replaced.
     * The file is the caller's until the call returns and is never written
     * again afterwards, so a store on the same file system may hard-link it
     * instead of copying it. */
    int (*upload)(struct bk_provider *p, const struct bk_upload *u, int fd);
    /* Call cb for each stored entry; stop early when cb returns non-zero. NULL: cannot list. */
    int (*list)(struct bk_provider *p, bk_entry_cb cb, void *payload);
    /* Delete one entry. NULL when the store cannot delete. */
    int (*remove)(struct bk_provider *p, const struct bk_provider_entry *e);
    /* Optional: capabilities this instance adds to `caps` because of its
     * configuration (GitHub lists and deletes only with an API token). */
    unsigned (*extra_caps)(const struct bk_provider *p);
    void (*destroy)(struct bk_provider *p);

    /*
     * Content-addressed blobs (the layer cache's layers; later, archive
     * chunks), shared by every key of the store. All five slots, or none:
     * with blob_put NULL, core/store/store_blob.c keeps each blob as an
     * ordinary entry under the reserved key BK_BLOB_KEY_PREFIX<hex> through
     * the slots above: the GitHub cache stores blobs that way (one immutable
     * entry per digest), and s3/azblob too, naming those entries' objects
     * blobs/sha256/<hex> (s3_layout.c). The local store implements the
     * slots, to keep blobs as plain files at blobs/sha256/<hex>.
     *
     * `digest` is always "sha256:<64 lowercase hex>" (core checks it first).
     * The content is opaque: core verifies the digest of every blob it reads,
     * a provider need not. These slots may be called from several threads at
     * once (core moves blobs in parallel), each call with its own fd.
     */
    /* Size of a stored blob into *size_out; BK_ENOTFOUND when absent. */
    int (*blob_stat)(struct bk_provider *p, const char *digest, uint64_t *size_out);
    /* Write the blob into `fd` (a regular file open for writing). BK_ENOTFOUND when absent. */
    int (*blob_get)(struct bk_provider *p, const char *digest, int fd);
    /* Store `size` bytes read from `fd` (pread at any offset) as the blob.
     * Atomic: a reader never sees a partial blob. Storing a blob that exists is fine. */
    int (*blob_put)(struct bk_provider *p, const char *digest, int fd, uint64_t size);
    /* Call cb for each stored blob; stop early when cb returns non-zero. */
    int (*blob_list)(struct bk_provider *p, bk_blob_cb cb, void *payload);
    /* Delete one blob; BK_ENOTFOUND when absent. */
    int (*blob_remove)(struct bk_provider *p, const char *digest);
    /* Optional, with the five above (NULL: core always uses blob_get). When
     * the store keeps the blob as a file on this machine, open it read-only
     * into *fd_out, so core verifies and links it instead of copying it (as
     * open_local does for entries). BK_ENOTFOUND when absent; on any other
     * error core falls back to blob_get. Core never writes through it. */
    int (*blob_open_local)(struct bk_provider *p, const char *digest, int *fd_out);
};

/* The public part of every provider instance; embed it as the first member. */
struct bk_provider {
    const struct bk_provider_ops *ops;
};

/* ---- registry and helpers (providers/provider.c) ---- */

/* NULL-terminated list of every built-in provider, in auto-detection order. */
extern const struct bk_provider_ops *const bk_providers[];

/* By name ("local") or by the scheme of `store` ("s3://b/p"); NULL when unknown. */
const struct bk_provider_ops *bk_provider_find(const char *name);
const struct bk_provider_ops *bk_provider_for_store(const char *store);
/* The first provider whose detect() says yes; the local store otherwise. */
const struct bk_provider_ops *bk_provider_detect(const struct bk_provider_config *cfg);

/* Value of attribute `name` in cfg->attrs ("name=value"), or NULL. */
const char *bk_provider_attr(const struct bk_provider_config *cfg, const char *name);
/* cfg->getenv(name), or getenv(name) when cfg->getenv is NULL; "" counts as unset (NULL). */
const char *bk_provider_env(const struct bk_provider_config *cfg, const char *name);

/*
 * The lookup rule shared by stores that can list: among `entries`, the one
 * whose key equals q->key; else, for each restore key in order, the newest
 * (largest created, then last_used) whose key starts with it. Returns the
 * index or -1.
 */
long bk_provider_pick(const struct bk_provider_entry *entries, size_t n, const struct bk_lookup *q);

void bk_provider_entry_copy(struct bk_provider_entry *dst, const struct bk_provider_entry *src);
void bk_provider_entry_release(struct bk_provider_entry *e);

/* ---- prune policy (providers/prune.c): shared by `bkcache prune` and stores
 * that evict by themselves (the GitLab runner cache) ---- */

/*
 * Which entries `prune` removes. Entries are ranked by last use (last_used,
 * or created when the store does not record uses), least recent first, and
 * an entry is removed when it breaks any limit:
 *   1. max_age (> 0): unused for longer than max_age seconds before `now`;
 *   2. keep (>= 0): beyond the `keep` most recently used of the survivors;
 *   3. max_size (> 0): while the survivors' sizes add up to more than
 *      max_size, the least recently used survivor goes.
 * So the entries that stay satisfy all three limits, and whatever is
 * removed is always less recently used than whatever stays (age aside).
 */
struct bk_prune_limits {
    uint64_t max_size; /* bytes; 0: no limit */
    int64_t max_age;   /* seconds; 0: no limit */
    long keep;         /* < 0: no limit */
};

/* Sets remove[i] to 1 for each entry to remove; returns how many. */
size_t bk_prune_select(const struct bk_provider_entry *v, size_t n, int64_t now,
                       const struct bk_prune_limits *lim, unsigned char *remove);

/*
 * The per-key limit (`prune --keep-per-key`, and save after each upload):
 * entries whose keys share the Dockerfile-derived part (everything through
 * the key's first '-'-separated segment of 32 lowercase hex digits) are
 * runs of one key (docs/keys.md); of each such group the `keep` newest
 * (created, then last_used, then key) stay and the rest are marked in
 * remove[] (which is added to, not cleared). Entries without such a part
 * are not bkcache keys and stay. keep <= 0: nothing is marked. Returns how
 * many were newly marked.
 */
size_t bk_prune_select_runs(const struct bk_provider_entry *v, size_t n, long keep,
                            unsigned char *remove);

#endif
