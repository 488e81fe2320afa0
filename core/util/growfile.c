/*
 * growfile.c - a file being written while it is read; see growfile.h.
 *
 * One mutex and one condition variable; every change of state broadcasts.
 */
#include "core/util/growfile.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <pthread.h>
#include <stdlib.h>

struct bk_growfile {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int begun, ended, verdict;
    uint64_t size, written;
};

struct bk_growfile *bk_growfile_new(void)
{
    struct bk_growfile *g = bk_xcalloc(1, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->changed, NULL);
    return g;
}

void bk_growfile_free(struct bk_growfile *g)
{
    if (!g)
        return;
    pthread_cond_destroy(&g->changed);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void bk_growfile_begin(struct bk_growfile *g, uint64_t size)
{
    pthread_mutex_lock(&g->lock);
    if (!g->ended) {
        g->begun = 1;
        g->size = size;
    }
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

void bk_growfile_wrote(struct bk_growfile *g, uint64_t written)
{
    pthread_mutex_lock(&g->lock);
    if (written > g->written)
        g->written = written;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

void bk_growfile_end(struct bk_growfile *g, int rc)
{
    pthread_mutex_lock(&g->lock);
    if (!g->ended) {
        g->ended = 1;
        g->verdict = rc;
    }
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

/* The verdict as a status with its message; the lock is held. */
static int verdict(const struct bk_growfile *g)
{
    if (g->verdict == BK_OK)
        return BK_OK;
    return bk_error_set(g->verdict, "the archive was not completed: %s",
                        bk_status_name(g->verdict));
}

int bk_growfile_poll_begun(struct bk_growfile *g, uint64_t *size)
{
    int rc;

    pthread_mutex_lock(&g->lock);
    rc = g->begun ? 1 : !g->ended ? 0 : g->verdict == BK_OK ? BK_ENOTFOUND : g->verdict;
    *size = g->size;
    pthread_mutex_unlock(&g->lock);
    return rc;
}

int bk_growfile_wait(struct bk_growfile *g, uint64_t end)
{
    int rc = BK_OK;

    pthread_mutex_lock(&g->lock);
    while (g->written < end && !g->ended)
        pthread_cond_wait(&g->changed, &g->lock);
    if (g->written < end || (g->ended && g->verdict != BK_OK))
        rc = g->ended && g->verdict != BK_OK
                 ? verdict(g)
                 : bk_error_set(BK_ECORRUPT, "the archive ended before byte %llu",
                                (unsigned long long)end);
    pthread_mutex_unlock(&g->lock);
    return rc;
}

int bk_growfile_wait_end(struct bk_growfile *g)
{
    int rc;

    pthread_mutex_lock(&g->lock);
    while (!g->ended)
        pthread_cond_wait(&g->changed, &g->lock);
    rc = verdict(g);
    pthread_mutex_unlock(&g->lock);
    return rc;
}

int bk_growfile_poll_end(struct bk_growfile *g)
{
    int rc;

    pthread_mutex_lock(&g->lock);
    rc = !g->ended ? 0 : g->verdict == BK_OK ? 1 : verdict(g);
    pthread_mutex_unlock(&g->lock);
    return rc;
}
