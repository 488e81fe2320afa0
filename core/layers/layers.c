/*
 * layers.c - the layer-cache working set: its directories, its sources, the
 * build arguments they imply, and the thread pool blobs move on; see
 * layers.h.
 */
#include "core/layers/layers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct bk_layers_source *new_source(struct bk_layers *l, const char *target)
{
    struct bk_layers_source *src;

    l->sources = bk_xrealloc(l->sources, (l->nsources + 1) * sizeof(*l->sources));
    src = &l->sources[l->nsources++];
    memset(src, 0, sizeof(*src));
    src->target = bk_xstrdup(target);
    src->restore = (struct bk_strvec)BK_STRVEC_INIT;
    src->dir = bk_xasprintf("%s/from/%s", l->dir, target);
    src->hit = "miss";
    return src;
}

void bk_layers_init(struct bk_layers *l, const char *dir, const char *target, const char *key,
                    const char *save_key, const struct bk_strvec *restore_keys)
{
    struct bk_layers_source *src;

    memset(l, 0, sizeof(*l));
    l->dir = bk_xstrdup(dir);
    l->key = bk_xstrdup(key);
    l->save_key = bk_xstrdup(save_key ? save_key : key);
    l->dest = bk_xasprintf("%s/to", dir);
    l->jobs = 8;
    l->build_args = (struct bk_strvec)BK_STRVEC_INIT;
    src = new_source(l, target);
    src->key = bk_xstrdup(key);
    for (size_t i = 0; restore_keys && i < restore_keys->n; i++)
        bk_strvec_push(&src->restore, restore_keys->v[i]);
}

void bk_layers_add_from(struct bk_layers *l, const char *target, const char *restore_prefix)
{
    for (size_t i = 0; i < l->nsources; i++)
        if (strcmp(l->sources[i].target, target) == 0)
            return; /* this target is imported already */
    bk_strvec_push(&new_source(l, target)->restore, restore_prefix);
}

void bk_layers_release(struct bk_layers *l)
{
    for (size_t i = 0; i < l->nsources; i++) {
        struct bk_layers_source *src = &l->sources[i];
        free(src->target);
        free(src->key);
        bk_strvec_clear(&src->restore);
        free(src->dir);
        free(src->matched_key);
        free(src->reason);
    }
    free(l->sources);
    free(l->dir);
    free(l->key);
    free(l->save_key);
    free(l->dest);
    free(l->save_reason);
    free(l->unsupported);
    bk_strvec_clear(&l->build_args);
    memset(l, 0, sizeof(*l));
}

void bk_layers_build_args(struct bk_layers *l)
{
    bk_strvec_clear(&l->build_args);
    for (size_t i = 0; i < l->nsources; i++) {
        char *index = bk_xasprintf("%s/index.json", l->sources[i].dir);
        struct stat st;
        if (stat(index, &st) == 0) { /* a source that missed is not passed: nothing to read */
            bk_strvec_push(&l->build_args, "--cache-from");
            bk_strvec_pushf(&l->build_args, "type=local,src=%s", l->sources[i].dir);
        }
        free(index);
    }
    bk_strvec_push(&l->build_args, "--cache-to");
    bk_strvec_pushf(&l->build_args, "type=local,dest=%s,mode=max", l->dest);
}

/* ---- the pool ---- */

struct pool {
    atomic_size_t next;
    size_t n;
    void (*fn)(size_t i, void *ctx);
    void *ctx;
};

static void *worker(void *arg)
{
    struct pool *p = arg;
    for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->n;)
        p->fn(i, p->ctx);
    return NULL;
}

void bk_layers__parallel(size_t n, int jobs, void (*fn)(size_t i, void *ctx), void *ctx)
{
    struct pool p = {.n = n, .fn = fn, .ctx = ctx};
    pthread_t tid[32];
    int started = 0;

    atomic_init(&p.next, 0);
    if (jobs > 32)
        jobs = 32;
    for (int t = 1; t < jobs && (size_t)t < n; t++)
        if (pthread_create(&tid[started], NULL, worker, &p) == 0)
            started++;
    worker(&p); /* this thread works too, so a failed pthread_create only slows it down */
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
}
