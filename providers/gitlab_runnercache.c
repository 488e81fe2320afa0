/*
 * gitlab_runnercache.c - the gitlab provider's runner-cache store: archives
 * in a directory inside $CI_PROJECT_DIR that the job's `cache:` keyword
 * carries from job to job (GitLab has no cache API; the runner zips the
 * directory itself after the script). See providers/gitlab_common.h.
 *
 * The directory is a local store (providers/local.c, reached through the
 * registry, never included): its layout, atomic writes, locking, lookup
 * rule and last-use records are the local store's. What this file adds is
 * the size budget a runner cache needs, since every job uploads it whole:
 * after each save, entries are removed least recently used first (a
 * restore counts as a use) until the archives fit max-size and there are
 * at most keep of them, by the rule `bkcache prune` uses
 * (bk_prune_select). The entry just saved is the most recently used,
 * so it always stays; an archive larger than max-size on its own is refused
 * up front (BK_ESKIPPED), and keep=0 counts as 1. The blobs of layer caches
 * are outside the budget (see collect_cb).
 */
#include "providers/gitlab_common.h"

#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int gitlab_runner_open(const struct bk_provider_config *cfg, const struct gitlab_config *c,
                       struct bk_provider **out)
{
    const struct bk_provider_ops *local = bk_provider_find("local");
    struct bk_provider_config lc = {c->dir, NULL, cfg->getenv, cfg->read_only, cfg->list_sizes};

    if (!local || !local->create)
        return bk_error_set(BK_ERR, "gitlab runner store: the local store is not in this build");
    return local->create(&lc, out);
}

struct collect {
    struct bk_provider_entry *v;
    size_t n, alloc;
};

/* Blobs of layer caches (reserved keys) are not entries of the budget: an
 * index whose blob was evicted would be useless, and `bkcache prune`
 * removes the blobs no index references. */
static int collect_cb(const struct bk_provider_entry *e, void *payload)
{
    struct collect *col = payload;
    if (strncmp(e->key, BK_BLOB_KEY_PREFIX, strlen(BK_BLOB_KEY_PREFIX)) == 0)
        return 0;
    if (col->n == col->alloc) {
        col->alloc = col->alloc ? 2 * col->alloc : 16;
        col->v = bk_xrealloc(col->v, col->alloc * sizeof(*col->v));
    }
    bk_provider_entry_copy(&col->v[col->n++], e);
    return 0;
}

/* Remove least recently used entries down to the budget. Warnings only. */
static void evict(const struct gitlab_config *c, struct bk_provider *store)
{
    struct bk_prune_limits lim = {c->max_size, 0, c->keep == 0 ? 1 : c->keep};
    struct collect col = {0};
    unsigned char *drop;

    if (store->ops->list(store, collect_cb, &col) != BK_OK) {
        bk_warn("gitlab: size budget: %s", bk_error_msg());
        goto out;
    }
    drop = bk_xcalloc(col.n + 1, 1);
    bk_prune_select(col.v, col.n, (int64_t)time(NULL), &lim, drop);
    for (size_t i = 0; i < col.n; i++) {
        if (!drop[i])
            continue;
        if (store->ops->remove(store, &col.v[i]) == BK_OK)
            bk_info("gitlab: evicted %s (%llu bytes, least recently used)", col.v[i].key,
                    (unsigned long long)col.v[i].size);
        else
            bk_warn("gitlab: size budget: %s", bk_error_msg());
    }
    free(drop);
out:
    for (size_t i = 0; i < col.n; i++)
        bk_provider_entry_release(&col.v[i]);
    free(col.v);
    bk_error_clear();
}

int gitlab_runner_upload(const struct gitlab_config *c, struct bk_provider *store,
                         const struct bk_upload *u, int fd)
{
    int rc;

    if (c->max_size && u->size > c->max_size)
        return bk_error_set(BK_ESKIPPED,
                            "%s: archive of %llu bytes is larger than max-size (%llu bytes) on "
                            "its own; not saved",
                            u->key, (unsigned long long)u->size, (unsigned long long)c->max_size);
    rc = store->ops->upload(store, u, fd);
    if (rc == BK_OK && (c->max_size || c->keep >= 0))
        evict(c, store);
    return rc;
}
