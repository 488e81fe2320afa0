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
