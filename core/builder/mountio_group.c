/*
 * mountio_group.c - several mountios behind one; see mountio.h.
 *
 * save and restore hand one batch to their mountio; with the caches of a
 * compose project or a bake file, the batch may need more than one
 * transfer build (two builders, or a from= stage of each of two
 * Dockerfiles). The group splits the batch by member, runs one batch per
 * member and copies the results back, so core/xfer/ never knows.
 */
#include "core/builder/mountio.h"

#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

struct group_io {
    struct bk_mountio base;
    struct bk_mountio **ios;
    size_t nio;
    const struct bk_identity **ids;
    size_t *which;
    size_t nids;
};

static size_t member_of(const struct group_io *g, const struct bk_identity *id)
{
    for (size_t k = 0; k < g->nids; k++)
        if (g->ids[k] == id)
            return g->which[k];
    return 0;
}

static int run(struct bk_mountio *base, struct bk_mountio_item *items, size_t n, int extract)
{
    struct group_io *g = (struct group_io *)base;
    struct bk_mountio_item *sub = bk_xcalloc(n + 1, sizeof(*sub));
    size_t *back = bk_xcalloc(n + 1, sizeof(*back));
    size_t failed = 0, ran = 0;

    for (size_t m = 0; m < g->nio; m++) {
        struct bk_mountio *io = g->ios[m];
        size_t k = 0;
        int rc;

        for (size_t i = 0; i < n; i++)
            if (member_of(g, items[i].identity) == m) {
                sub[k] = items[i];
                back[k++] = i;
            }
        if (!k)
            continue;
        ran++;
        rc = extract ? io->ops->extract(io, sub, k) : io->ops->inject(io, sub, k);
        if (rc < 0) {
            failed++;
            bk_warn("warning: %s", bk_error_msg());
            for (size_t j = 0; j < k; j++)
                sub[j].status = rc;
        }
        for (size_t j = 0; j < k; j++)
            items[back[j]] = sub[j];
    }
    free(sub);
    free(back);
    /* every member failed as a whole: the batch failed (the message is the last one's) */
    return ran && failed == ran ? BK_ERR : BK_OK;
}

static int group_extract(struct bk_mountio *base, struct bk_mountio_item *items, size_t n)
{
    return run(base, items, n, 1);
}

static int group_inject(struct bk_mountio *base, struct bk_mountio_item *items, size_t n)
{
    return run(base, items, n, 0);
}

static void group_destroy(struct bk_mountio *base)
{
    struct group_io *g = (struct group_io *)base;
    for (size_t m = 0; m < g->nio; m++)
        if (g->ios[m])
            g->ios[m]->ops->destroy(g->ios[m]);
    free(g->ios);
    free(g->ids);
    free(g->which);
    free(g);
}

static const struct bk_mountio_ops group_ops = {
    "group",       /* name */
    group_extract, /* extract */
    group_inject,  /* inject */
    group_destroy, /* destroy */
};

int bk_mountio_group_create(struct bk_mountio **ios, size_t nio,
                            const struct bk_identity *const *ids, const size_t *which, size_t nids,
                            struct bk_mountio **out)
{
    struct group_io *g = bk_xcalloc(1, sizeof(*g));

    g->base.ops = &group_ops;
    g->ios = bk_xcalloc(nio + 1, sizeof(*g->ios));
    memcpy(g->ios, ios, nio * sizeof(*ios));
    g->nio = nio;
    g->ids = bk_xcalloc(nids + 1, sizeof(*g->ids));
    memcpy(g->ids, ids, nids * sizeof(*ids));
    g->which = bk_xcalloc(nids + 1, sizeof(*g->which));
    memcpy(g->which, which, nids * sizeof(*which));
    g->nids = nids;
    *out = &g->base;
    return BK_OK;
}
