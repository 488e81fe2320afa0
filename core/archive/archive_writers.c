/*
 * archive_writers.c - a pool of threads that create unpack's small files.
 *
 * Creating a small file costs a handful of system calls (open, write,
 * fchown, futimens, close), and on a cache of many small files unpack spends
 * most of its time inside them, in the kernel. The pool takes that work off
 * the thread that parses and hashes the stream, so that the kernel's share
 * runs on every CPU instead of one.
 *
 * Files are handed out a directory at a time: every file of one directory
 * goes to the same thread, as creating a file takes its directory's lock and
 * threads that share a directory would only wait for each other.
 *
 * A job is complete when it is submitted: the path, the data (the pool owns
 * it), mode, owner and times. The pool holds at most WRITERS_MAX_BYTES of
 * data at once; submit waits while it is full. Files are created with
 * O_EXCL | O_NOFOLLOW inside directories the caller has already created
 * and checked, so a job never follows a symlink.
 *
 * The first error is kept: later jobs are dropped unwritten, and submit,
 * wait and finish return it. wait() returns once every submitted file is
 * on disk (unpack calls it before it links to one of them); finish() also
 * stops and joins the threads, and must come before anything that depends
 * on the directories no longer changing (setting their times).
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITERS_MAX_BYTES (32u << 20)
#define WRITERS_MAX_THREADS 8

struct writer_job {
    struct writer_job *next;
    char *path;
    void *data;
    size_t size;
    mode_t mode;
    uid_t uid;
    gid_t gid;
    struct timespec times[2]; /* atime, mtime */
};

struct writer {
    pthread_t thread;
    pthread_cond_t more; /* a job was queued, or the pool stops */
    struct writer_job *head, *tail;
    struct bk_writers *pool;
};

struct bk_writers {
    pthread_mutex_t mu;
    pthread_cond_t room; /* a job finished: less data held, maybe all done */
    struct writer *w;
    unsigned n, started;
    unsigned cur;      /* the thread of the directory being handed out */
    char *cur_dir;     /* that directory */
    size_t held_bytes; /* data of queued and running jobs */
    size_t held_jobs;
    int chown;    /* set owners (unpack's ARCHIVE_EXTRACT_OWNER) */
    mode_t umask; /* the process umask when the pool started */
    int stopping;
    int err; /* first error (BK_*), 0 while none */
    char msg[1024];
};

static void job_free(struct writer_job *j)
{
    free(j->path);
    free(j->data);
    free(j);
}

/* Write one file. Returns BK_OK or an error set on this thread. */
static int write_job(const struct bk_writers *p, const struct writer_job *j)
{
    int fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, j->mode & 0777);
    if (fd < 0)
        return bk_error_set(BK_ERR, "%s: cannot create: %s", j->path, strerror(errno));
    if (j->size > 0 && bk_write_all(fd, j->data, j->size, -1) < 0) {
        int e = errno;
        close(fd);
        return bk_error_set(BK_ERR, "%s: %s", j->path, strerror(e));
    }
    if (p->chown && fchown(fd, j->uid, j->gid) != 0)
        bk_warn("%s: cannot set owner %lu:%lu: %s", j->path, (unsigned long)j->uid,
                (unsigned long)j->gid, strerror(errno));
    /* The umask may have stripped bits from open's mode (libarchive on the
     * unpack thread sets it to 0 and back around each entry it writes, so
     * either value may have applied); fchmod makes the mode exact. */
    if ((j->mode & 0777 & p->umask) != 0 && fchmod(fd, j->mode & 0777) != 0) {
        int e = errno;
        close(fd);
        return bk_error_set(BK_ERR, "%s: cannot set mode: %s", j->path, strerror(e));
    }
    if (futimens(fd, j->times) != 0) {
        int e = errno;
        close(fd);
        return bk_error_set(BK_ERR, "%s: cannot set times: %s", j->path, strerror(e));
    }
    if (close(fd) != 0)
        return bk_error_set(BK_ERR, "%s: %s", j->path, strerror(errno));
    return BK_OK;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct bk_writers *p = w->pool;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!w->head && !p->stopping)
            pthread_cond_wait(&w->more, &p->mu);
        struct writer_job *j = w->head;
        if (!j)
            break;
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        int failed = p->err != 0;
        pthread_mutex_unlock(&p->mu);

        int rc = failed ? BK_OK : write_job(p, j);

        pthread_mutex_lock(&p->mu);
        if (rc && !p->err) {
            p->err = rc;
            snprintf(p->msg, sizeof(p->msg), "%s", bk_error_msg());
        }
        p->held_bytes -= j->size;
        p->held_jobs--;
        pthread_cond_broadcast(&p->room);
        pthread_mutex_unlock(&p->mu);
        job_free(j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static unsigned thread_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2)
        n = 2;
    if (n > WRITERS_MAX_THREADS)
        n = WRITERS_MAX_THREADS;
    return (unsigned)n;
}

struct bk_writers *bk_archive__writers_start(int set_owner)
{
    struct bk_writers *p = bk_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->room, NULL);
    p->n = thread_count();
    p->w = bk_xcalloc(p->n, sizeof(*p->w));
    p->chown = set_owner;
    p->umask = umask(0);
    umask(p->umask);
    for (unsigned i = 0; i < p->n; i++) {
        p->w[i].pool = p;
        pthread_cond_init(&p->w[i].more, NULL);
    }
    for (unsigned i = 0; i < p->n; i++) {
        if (pthread_create(&p->w[i].thread, NULL, writer_main, &p->w[i]) != 0)
            break;
        p->started++;
    }
    if (p->started == 0) {
        bk_archive__writers_finish(p);
        return NULL;
    }
    return p;
}

static int pool_error(struct bk_writers *p)
{
    return bk_error_set(p->err, "%s", p->msg);
}

int bk_archive__writers_submit(struct bk_writers *p, char *path, void *data, size_t size,
                               mode_t mode, uid_t uid, gid_t gid, const struct timespec times[2])
{
    struct writer_job *j = bk_xcalloc(1, sizeof(*j));
    j->path = path;
    j->data = data;
    j->size = size;
    j->mode = mode;
    j->uid = uid;
    j->gid = gid;
    j->times[0] = times[0];
    j->times[1] = times[1];

    /* The file's directory decides its thread. */
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    if (!p->cur_dir || strlen(p->cur_dir) != dlen || strncmp(p->cur_dir, path, dlen) != 0) {
        free(p->cur_dir);
        p->cur_dir = bk_xstrndup(path, dlen);
        p->cur = (p->cur + 1) % p->started;
    }
    struct writer *w = &p->w[p->cur];

    pthread_mutex_lock(&p->mu);
    while (!p->err && p->held_jobs > 0 && p->held_bytes + size > WRITERS_MAX_BYTES)
        pthread_cond_wait(&p->room, &p->mu);
    if (p->err) {
        pthread_mutex_unlock(&p->mu);
        job_free(j);
        return pool_error(p);
    }
    p->held_bytes += size;
    p->held_jobs++;
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->more);
    pthread_mutex_unlock(&p->mu);
    return BK_OK;
}

int bk_archive__writers_wait(struct bk_writers *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->held_jobs > 0)
        pthread_cond_wait(&p->room, &p->mu);
    int err = p->err;
    pthread_mutex_unlock(&p->mu);
    return err ? pool_error(p) : BK_OK;
}

int bk_archive__writers_finish(struct bk_writers *p)
{
    if (!p)
        return BK_OK;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    for (unsigned i = 0; i < p->started; i++)
        pthread_cond_signal(&p->w[i].more);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->w[i].thread, NULL);
    int err = p->err;
    if (err)
        pool_error(p);
    for (unsigned i = 0; i < p->n; i++)
        pthread_cond_destroy(&p->w[i].more);
    pthread_cond_destroy(&p->room);
    pthread_mutex_destroy(&p->mu);
    free(p->cur_dir);
    free(p->w);
    free(p);
    return err ? err : BK_OK;
}
