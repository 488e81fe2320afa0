/*
 * prune.c - choose the entries to remove under size, age and count limits;
 * see the rule in provider.h. Used by `bkcache prune` and by stores that
 * evict by themselves. Pure: no store access, so tests pin the order.
 */
#include "providers/provider.h"

#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

struct ranked {
    const struct bk_provider_entry *e;
    size_t index;
};

static int64_t last_use(const struct bk_provider_entry *e)
{
    return e->last_used ? e->last_used : e->created;
}

/* Least recently used first; ties: older creation first, then key order. */
static int lru_first(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    int64_t ux = last_use(x->e), uy = last_use(y->e);
    if (ux != uy)
        return ux < uy ? -1 : 1;
    if (x->e->created != y->e->created)
        return x->e->created < y->e->created ? -1 : 1;
    return strcmp(x->e->key, y->e->key);
}

size_t bk_prune_select(const struct bk_provider_entry *v, size_t n, int64_t now,
                       const struct bk_prune_limits *lim, unsigned char *remove)
{
    struct ranked *r = bk_xcalloc(n + 1, sizeof(*r));
    size_t removed = 0, alive = n;
    uint64_t total = 0;

    memset(remove, 0, n);
    for (size_t i = 0; i < n; i++)
        r[i] = (struct ranked){&v[i], i};
    qsort(r, n, sizeof(*r), lru_first);

    for (size_t i = 0; i < n; i++) {
        if (lim->max_age > 0 && now - last_use(r[i].e) > lim->max_age) {
            remove[r[i].index] = 1;
            removed++;
            alive--;
        }
    }
    for (size_t i = 0; i < n && lim->keep >= 0 && alive > (size_t)lim->keep; i++) {
        if (!remove[r[i].index]) {
            remove[r[i].index] = 1;
            removed++;
            alive--;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!remove[r[i].index])
            total += r[i].e->size;
    for (size_t i = 0; i < n && lim->max_size > 0 && total > lim->max_size; i++) {
        if (!remove[r[i].index]) {
            remove[r[i].index] = 1;
            removed++;
            total -= r[i].e->size;
        }
    }
    free(r);
    return removed;
}

/* ---- per key ---- */

/* Length of the key's Dockerfile-derived part, or 0 (see provider.h). */
static size_t base_len(const char *key)
{
    const char *seg = strchr(key, '-');

    while (seg) {
        const char *s = seg + 1, *end = strchr(s, '-');
        size_t len = end ? (size_t)(end - s) : strlen(s), hex = 0;
        while (hex < len && ((s[hex] >= '0' && s[hex] <= '9') || (s[hex] >= 'a' && s[hex] <= 'f')))
            hex++;
        if (len == 32 && hex == 32)
            return (size_t)(s - key) + 32;
        seg = end;
    }
    return 0;
}

/* Newest first: created, then last_used, then key (descending). */
static int newest_first(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->e->created != y->e->created)
        return x->e->created > y->e->created ? -1 : 1;
    if (x->e->last_used != y->e->last_used)
        return x->e->last_used > y->e->last_used ? -1 : 1;
    return -strcmp(x->e->key, y->e->key);
}

/* Same group: the same Dockerfile-derived part. */
static int same_base(const struct bk_provider_entry *a, size_t alen,
                     const struct bk_provider_entry *b)
{
    return base_len(b->key) == alen && strncmp(a->key, b->key, alen) == 0;
}

size_t bk_prune_select_runs(const struct bk_provider_entry *v, size_t n, long keep,
                            unsigned char *remove)
{
    struct ranked *r;
    unsigned char *done;
    size_t marked = 0;

    if (keep <= 0 || n == 0)
        return 0;
    r = bk_xcalloc(n, sizeof(*r));
    done = bk_xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = base_len(v[i].key), m = 0;
        if (done[i] || !len)
            continue;
        for (size_t j = i; j < n; j++) {
            if (!done[j] && same_base(&v[i], len, &v[j])) {
                done[j] = 1;
                r[m++] = (struct ranked){&v[j], j};
            }
        }
        qsort(r, m, sizeof(*r), newest_first);
        for (size_t k = (size_t)keep; k < m; k++) {
            if (!remove[r[k].index]) {
                remove[r[k].index] = 1;
                marked++;
            }
        }
    }
    free(r);
    free(done);
    return marked;
}
