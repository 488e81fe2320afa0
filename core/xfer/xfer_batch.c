/*
 * xfer_batch.c - what restore.c, restore_entry.c and save.c share: one
 * mountio batch with its temporary directory, an item's failure, the
 * clock; see restore.h ("shared by restore.c and save.c").
 *
 * Kept apart from restore.c so that the files of core/xfer/ call each
 * other one way: restore.c and save.c use restore_entry.c and this file,
 * and these two use neither.
 */
#include "core/xfer/restore.h"

#include "core/util/fileio.h"
#include "core/util/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double bk_xfer__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bk_xfer__fail(struct bk_xfer_item *it, const char *what)
{
    it->failed = 1;
    it->action = "error";
    free(it->reason);
    it->reason = bk_xasprintf("%s: %s", what, bk_error_msg());
    bk_warn("warning: %s: %s", it->identity->name, it->reason);
}

/* The batch's archives live in $TMPDIR/bkcache-work-XXXXXX, held while in
 * use: the ones killed runs left behind are removed first. */
#define WORK_PREFIX "bkcache-work-"

static int mkworkdir(const struct bk_xfer *x, char **out, int *lock)
{
    const char *t = x->tmpdir ? x->tmpdir : getenv("TMPDIR");
    char *dir;
    int rc;

    t = t && *t ? t : "/tmp";
    bk_remove_abandoned(t, WORK_PREFIX);
    dir = bk_xasprintf("%s/" WORK_PREFIX "XXXXXX", t);
    rc = bk_mkdtemp_held(dir, lock);
    if (rc < 0) {
        free(dir);
        return rc;
    }
    *out = dir;
    return BK_OK;
}

static void rmworkdir(char *dir)
{
    if (!dir)
        return;
    bk_remove_tree(dir);
    free(dir);
}

int bk_xfer__batch_init(const struct bk_xfer *x, int with_workdir, struct bk_xfer__batch *b)
{
    memset(b, 0, sizeof(*b));
    b->work_lock = -1;
    b->paths = (struct bk_strvec)BK_STRVEC_INIT;
    b->items = bk_xcalloc(x->n + 1, sizeof(*b->items));
    b->owner = bk_xcalloc(x->n + 1, sizeof(*b->owner));
    b->entries = bk_xcalloc(x->n + 1, sizeof(*b->entries));
    for (size_t i = 0; i < x->n; i++)
        b->entries[i].tried = (struct bk_strvec)BK_STRVEC_INIT;
    if (with_workdir && x->n) {
        int rc = mkworkdir(x, &b->work, &b->work_lock);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < x->n; i++)
        bk_strvec_pushf(&b->paths, "%s/%s.tar.zst", b->work ? b->work : ".",
                        x->items[i].identity->name);
    return BK_OK;
}

void bk_xfer__batch_add(struct bk_xfer__batch *b, const struct bk_xfer *x, size_t i)
{
    const struct bk_xfer_item *it = &x->items[i];
    const struct bk_xfer__entry *e = &b->entries[i];
    b->items[b->n] = (struct bk_mountio_item){
        .identity = it->identity,
        .use = it->use,
        .key = it->key,
        .archive_path = b->paths.v[i],
        .layer_paths = e->ix.nlayers ? e->paths : NULL,
        .layers = e->ix.nlayers ? e->ix.layers : NULL,
        .nlayers = e->ix.nlayers,
        .expect_digest = e->ix.nlayers ? e->ix.digest : NULL,
    };
    b->owner[b->n++] = i;
}

void bk_xfer__batch_release(struct bk_xfer__batch *b)
{
    rmworkdir(b->work);
    if (b->work_lock >= 0)
        close(b->work_lock);
    for (size_t i = 0; b->entries && i < b->paths.n; i++) {
        bk_index_release(&b->entries[i].ix);
        bk_strvec_clear(&b->entries[i].tried);
    }
    bk_strvec_clear(&b->paths);
    free(b->items);
    free(b->owner);
    free(b->entries);
    for (size_t k = 0; k < b->nblobs; k++) {
        free(b->blobs[k].path);
        free(b->blobs[k].msg);
    }
    free(b->blobs);
    memset(b, 0, sizeof(*b));
}
