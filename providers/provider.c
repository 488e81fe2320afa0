/*
 * provider.c - the provider registry and the helpers every store shares.
 */
#include "providers/provider.h"

#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

extern const struct bk_provider_ops bk_provider_azure;
extern const struct bk_provider_ops bk_provider_github;
extern const struct bk_provider_ops bk_provider_gitlab;
extern const struct bk_provider_ops bk_provider_s3;
extern const struct bk_provider_ops bk_provider_azblob;
extern const struct bk_provider_ops bk_provider_local;

/* Auto-detection order: CI providers first, the local store last. */
const struct bk_provider_ops *const bk_providers[] = {
    &bk_provider_azure,
    &bk_provider_github,
    &bk_provider_gitlab,
    &bk_provider_s3,
    &bk_provider_azblob,
    &bk_provider_local,
    NULL,
};

const struct bk_provider_ops *bk_provider_find(const char *name)
{
    for (size_t i = 0; bk_providers[i]; i++)
        if (strcmp(bk_providers[i]->name, name) == 0)
            return bk_providers[i];
    return NULL;
}

const struct bk_provider_ops *bk_provider_for_store(const char *store)
{
    const char *sep = store ? strstr(store, "://") : NULL;
    if (!sep)
        return NULL;
    for (size_t i = 0; bk_providers[i]; i++) {
        const char *s = bk_providers[i]->scheme;
        if (s && strlen(s) == (size_t)(sep - store) &&
            strncmp(s, store, (size_t)(sep - store)) == 0)
            return bk_providers[i];
    }
    return NULL;
}

const struct bk_provider_ops *bk_provider_detect(const struct bk_provider_config *cfg)
{
    for (size_t i = 0; bk_providers[i]; i++)
        if (bk_providers[i]->detect && bk_providers[i]->detect(cfg))
            return bk_providers[i];
    return bk_provider_find("local");
}

const char *bk_provider_attr(const struct bk_provider_config *cfg, const char *name)
{
    size_t n = strlen(name);
    if (!cfg->attrs)
        return NULL;
    for (size_t i = cfg->attrs->n; i-- > 0;) {
        const char *a = cfg->attrs->v[i];
        if (strncmp(a, name, n) == 0 && a[n] == '=')
            return a + n + 1;
    }
    return NULL;
}

const char *bk_provider_env(const struct bk_provider_config *cfg, const char *name)
{
    const char *v = cfg && cfg->getenv ? cfg->getenv(name) : getenv(name);
    return v && *v ? v : NULL;
}

static int newer(const struct bk_provider_entry *a, const struct bk_provider_entry *b)
{
    if (a->created != b->created)
        return a->created > b->created;
    return a->last_used > b->last_used;
}

long bk_provider_pick(const struct bk_provider_entry *entries, size_t n, const struct bk_lookup *q)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(entries[i].key, q->key) == 0)
            return (long)i;
    for (size_t r = 0; r < q->nrestore; r++) {
        const char *prefix = q->restore_keys[r];
        size_t plen = strlen(prefix);
        long best = -1;
        for (size_t i = 0; i < n; i++) {
            if (strncmp(entries[i].key, prefix, plen) != 0)
                continue;
            if (best < 0 || newer(&entries[i], &entries[best]))
                best = (long)i;
        }
        if (best >= 0)
            return best;
    }
    return -1;
}

static char *dup_or_null(const char *s)
{
    return s ? bk_xstrdup(s) : NULL;
}

void bk_provider_entry_copy(struct bk_provider_entry *dst, const struct bk_provider_entry *src)
{
    dst->key = dup_or_null(src->key);
    dst->size = src->size;
    dst->created = src->created;
    dst->last_used = src->last_used;
    dst->scope = dup_or_null(src->scope);
    dst->handle = dup_or_null(src->handle);
}

void bk_provider_entry_release(struct bk_provider_entry *e)
{
    free(e->key);
    free(e->scope);
    free(e->handle);
    memset(e, 0, sizeof(*e));
}
