/*
 * archive_zstd.c - zstd compression and decompression as libarchive I/O.
 *
 * libarchive writes and reads the tar; these callbacks sit between it and a
 * file descriptor and drive libzstd directly (multithreaded compression,
 * frame checksum on, no long mode, so the output is a plain zstd stream that
 * `zstd -d` reads). Memory is a few fixed buffers plus zstd's window and
 * job buffers. Compression runs on its own thread (see struct
 * bk_zstd_writer). Decompression starts on the caller's thread (reading
 * only the manifest must not read ahead much) and moves to its own thread
 * when bk_archive__zstd_reader_start() is called (see struct bk_zstd_reader).
 *
 * Without threads in libzstd (Debian's static libzstd.a has none, and the
 * static bkcache-helper links it), compression would run on one CPU: the
 * pack inside a builder took twice as long as `tar | zstd -T0`. Then the
 * writer runs its own workers instead (struct frames): the stream is cut
 * into FRAME_IN-byte pieces, each compressed as an independent zstd frame
 * (checksum on) by one of the workers, written in order. Concatenated
 * frames are a valid zstd stream (`zstd -d` and every reader here accept
 * them); with 8 MiB pieces the output is about 0.5% larger than one frame.
 *
 * Reading is strict: a stream that ends mid-frame is "truncated", a checksum
 * mismatch or any other zstd error is "corrupt", and the reader keeps the
 * message so that the caller can report it instead of libarchive's generic
 * one. Several concatenated frames are accepted, as `zstd -d` does.
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/sha256.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define OUT_CAP (1u << 20)
#define SLOT_CAP (1u << 20)
#define SLOTS 4
#define WRITE_BEHIND (8u << 20)
#define FRAME_IN (8u << 20) /* own frames: input bytes per frame */
#define MAX_OWN_WORKERS 4

int bk_archive__zstd_own_frames;
int bk_archive__zstd_no_workers;

/* Own frames: a ring of jobs, filled and written in ring order by the
 * compression thread, compressed by the workers in the same order. */
enum { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct frame_job {
    unsigned char *in, *out;
    size_t in_len, out_len, out_cap;
    int state;
    char err[96];
};

struct frames {
    int level, nworkers, njobs;
    pthread_t workers[MAX_OWN_WORKERS];
    int started;          /* workers running; 0: the jobs are compressed inline */
    ZSTD_CCtx *inline_cx; /* ...with this context, made when first needed */
    struct frame_job jobs[MAX_OWN_WORKERS + 2];
    unsigned fill, take; /* job being filled; next job a worker takes */
    int any, stop;       /* a frame was queued; workers must exit */
    pthread_mutex_t mu;
    pthread_cond_t changed;
};

/* The writer hands libarchive's output to a compression thread through a
 * ring of SLOTS buffers, so walking, reading and hashing files (the caller's
 * thread) overlap with compression and writing, as `tar | zstd` overlaps two
 * processes; zstd's own workers then never wait for input. */
struct bk_zstd_writer {
    ZSTD_CCtx *cctx;
    int fd;
    unsigned char *out;
    uint64_t bytes;
    pthread_t thread;
    int started, joined;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    unsigned char *slot[SLOTS];
    size_t len[SLOTS];
    unsigned head, count; /* slots [head, head + count) are queued */
    int closing, abort, failed;
    int write_behind; /* start writeback every WRITE_BEHIND bytes */
    uint64_t kicked;  /* w->bytes when writeback was last started */
    char err[256];
    struct frames *own; /* non-NULL: our own workers, one frame per piece */
};

/* The reader, once started, decompresses on its own thread into a ring of
 * SLOTS buffers that the libarchive read callback hands out one at a time,
 * so decompression overlaps with tar parsing, hashing and writing, as
 * `zstd -d | tar -x` overlaps two processes. The slot handed out last stays
 * queued (libarchive reads it until its next callback) and is released on
 * the next call. The thread's error, if any, is reported after the data
 * decompressed before it, with the same message as without the thread. */
struct bk_zstd_reader {
    struct archive *a;
    ZSTD_DCtx *dctx;
    int fd;
    unsigned char *in, *out;
    size_t in_cap;
    ZSTD_inBuffer ib;
    size_t last_ret;
    int eof, seen_input;
    uint64_t bytes_in;
    EVP_MD_CTX *md; /* SHA-256 of every byte read, when asked for */
    char err[256];
    /* threaded mode */
    pthread_t thread;
    int started, joined, wake[2];
    pthread_mutex_t mu;
    pthread_cond_t changed;
    unsigned char *slot[SLOTS];
    size_t len[SLOTS];
    unsigned head, count; /* slots [head, head + count) are filled */
    int held;             /* the consumer holds slot `head` */
    int done, abort;      /* done: the thread stopped (end or r->err) */
};

/* ------------------------------------------------------------------ write */

static int write_out(struct bk_zstd_writer *w, const unsigned char *buf, size_t len)
{
    if (len && bk_write_all(w->fd, buf, len, -1)) {
        snprintf(w->err, sizeof(w->err), "write failed: %s", strerror(errno));
        return -1;
    }
    w->bytes += len;
    if (w->write_behind && w->bytes - w->kicked >= WRITE_BEHIND) {
        /* Start writing back what is written so far, without waiting:
         * the caller's fsync then finds little left to do. Fails
         * harmlessly (ESPIPE) on pipes. */
        sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        w->kicked = w->bytes;
    }
    return 0;
}

static int compress_some(struct bk_zstd_writer *w, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    for (;;) {
        ZSTD_outBuffer ob = {w->out, OUT_CAP, 0};
        size_t r = ZSTD_compressStream2(w->cctx, &ob, in, mode);
        if (ZSTD_isError(r)) {
            snprintf(w->err, sizeof(w->err), "zstd: %s", ZSTD_getErrorName(r));
            return -1;
        }
        if (write_out(w, w->out, ob.pos))
            return -1;
        if (mode == ZSTD_e_end ? r == 0 : in->pos == in->size)
            return 0;
    }
}

/* ---- own frames ---- */

/* A context that compresses one job into one frame, as every job is. */
static ZSTD_CCtx *frame_cctx(int level)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();

    if (!cctx)
        abort();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    return cctx;
}

/* Compress job j into its frame (out_len, or err). */
static void compress_job(ZSTD_CCtx *cctx, struct frame_job *j)
{
    size_t r = ZSTD_compress2(cctx, j->out, j->out_cap, j->in, j->in_len);

    j->out_len = ZSTD_isError(r) ? 0 : r;
    if (ZSTD_isError(r))
        snprintf(j->err, sizeof(j->err), "zstd: %s", ZSTD_getErrorName(r));
}

static void *frame_worker(void *arg)
{
    struct frames *f = arg;
    ZSTD_CCtx *cctx = frame_cctx(f->level);

    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (f->jobs[f->take].state != JOB_QUEUED && !f->stop)
            pthread_cond_wait(&f->changed, &f->mu);
        if (f->stop)
            break;
        struct frame_job *j = &f->jobs[f->take];
        f->take = (f->take + 1) % (unsigned)f->njobs;
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&f->mu);
        compress_job(cctx, j);
        pthread_mutex_lock(&f->mu);
        j->state = JOB_DONE;
        pthread_cond_broadcast(&f->changed);
    }
    pthread_mutex_unlock(&f->mu);
    ZSTD_freeCCtx(cctx);
    return NULL;
}

static struct frames *frames_new(int level, int workers)
{
    struct frames *f = bk_xcalloc(1, sizeof(*f));

    f->level = level;
    f->nworkers = workers > MAX_OWN_WORKERS ? MAX_OWN_WORKERS : workers;
    f->njobs = f->nworkers + 2;
    for (int i = 0; i < f->njobs; i++) {
        f->jobs[i].in = bk_xmalloc(FRAME_IN);
        f->jobs[i].out_cap = ZSTD_compressBound(FRAME_IN);
        f->jobs[i].out = bk_xmalloc(f->jobs[i].out_cap);
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->changed, NULL);
    for (int i = 0; i < f->nworkers && !bk_archive__zstd_no_workers; i++) {
        if (pthread_create(&f->workers[i], NULL, frame_worker, f) != 0)
            break;
        f->started++;
    }
    return f;
}

/* Wait for job i to be compressed, write its frame, free it. */
static int frames_write(struct bk_zstd_writer *w, unsigned i)
{
    struct frames *f = w->own;
    struct frame_job *j = &f->jobs[i];
    int rc = 0;

    pthread_mutex_lock(&f->mu);
    while (j->state == JOB_QUEUED || j->state == JOB_RUNNING)
        pthread_cond_wait(&f->changed, &f->mu);
    pthread_mutex_unlock(&f->mu);
    if (j->state == JOB_DONE && j->err[0]) {
        snprintf(w->err, sizeof(w->err), "%s", j->err);
        rc = -1;
    } else if (j->state == JOB_DONE) {
        rc = write_out(w, j->out, j->out_len);
    }
    j->state = JOB_FREE;
    j->in_len = 0;
    return rc;
}

/* Hand job j to the workers; with none (none could start), compress it
 * here: the frames, and so the bytes, are the same either way. */
static void frames_queue(struct frames *f, struct frame_job *j)
{
    if (!f->started) {
        if (!f->inline_cx)
            f->inline_cx = frame_cctx(f->level);
        compress_job(f->inline_cx, j);
    }
    pthread_mutex_lock(&f->mu);
    j->state = f->started ? JOB_QUEUED : JOB_DONE;
    f->any = 1;
    f->fill = (f->fill + 1) % (unsigned)f->njobs;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
}

/* Append input to the job being filled, queueing each full one; the job
 * to fill next is first written out if it still holds an earlier frame. */
static int frames_feed(struct bk_zstd_writer *w, const unsigned char *p, size_t len)
{
    struct frames *f = w->own;

    while (len > 0) {
        struct frame_job *j = &f->jobs[f->fill];
        if (j->state != JOB_FREE && frames_write(w, f->fill))
            return -1;
        size_t n = FRAME_IN - j->in_len < len ? FRAME_IN - j->in_len : len;
        memcpy(j->in + j->in_len, p, n);
        j->in_len += n;
        p += n;
        len -= n;
        if (j->in_len == FRAME_IN)
            frames_queue(f, j);
    }
    return 0;
}

/* Queue the last piece (an empty frame when there was no input at all),
 * then write every frame still pending, in order. */
static int frames_end(struct bk_zstd_writer *w)
{
    struct frames *f = w->own;
    struct frame_job *j = &f->jobs[f->fill];
    int rc = 0;

    if (j->state == JOB_FREE && (j->in_len > 0 || !f->any))
        frames_queue(f, j);
    for (int k = 0; k < f->njobs; k++) {
        unsigned i = (f->fill + (unsigned)k) % (unsigned)f->njobs;
        if (f->jobs[i].state != JOB_FREE && frames_write(w, i) && !rc)
            rc = -1;
    }
    return rc;
}

static void frames_free(struct frames *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < f->started; i++)
        pthread_join(f->workers[i], NULL);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->changed);
    for (int i = 0; i < f->njobs; i++) {
        free(f->jobs[i].in);
        free(f->jobs[i].out);
    }
    ZSTD_freeCCtx(f->inline_cx);
    free(f);
}

static void *compress_thread(void *arg)
{
    struct bk_zstd_writer *w = arg;
    int failed = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->count == 0 && !w->closing)
            pthread_cond_wait(&w->changed, &w->mu);
        if (w->count == 0 || w->abort)
            break;
        unsigned i = w->head;
        pthread_mutex_unlock(&w->mu);
        ZSTD_inBuffer in = {w->slot[i], w->len[i], 0};
        if (!failed && w->own)
            failed = frames_feed(w, w->slot[i], w->len[i]);
        else if (!failed)
            failed = compress_some(w, &in, ZSTD_e_continue);
        pthread_mutex_lock(&w->mu);
        w->head = (w->head + 1) % SLOTS;
        w->count--;
        w->failed = failed;
        pthread_cond_broadcast(&w->changed);
    }
    pthread_mutex_unlock(&w->mu);
    if (!failed && !w->abort && w->own) {
        failed = frames_end(w);
    } else if (!failed && !w->abort) {
        ZSTD_inBuffer in = {NULL, 0, 0};
        failed = compress_some(w, &in, ZSTD_e_end);
    }
    pthread_mutex_lock(&w->mu);
    w->failed = failed;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static la_ssize_t writer_write(struct archive *a, void *cd, const void *buf, size_t len)
{
    struct bk_zstd_writer *w = cd;
    const unsigned char *p = buf;
    size_t left = len;
    pthread_mutex_lock(&w->mu);
    while (left > 0 && !w->failed) {
        while (w->count == SLOTS - 1 && !w->failed) /* keep one slot for filling */
            pthread_cond_wait(&w->changed, &w->mu);
        unsigned fill = (w->head + w->count) % SLOTS;
        size_t n = SLOT_CAP - w->len[fill] < left ? SLOT_CAP - w->len[fill] : left;
        memcpy(w->slot[fill] + w->len[fill], p, n);
        w->len[fill] += n;
        p += n;
        left -= n;
        if (w->len[fill] == SLOT_CAP) {
            w->count++;
            w->len[(fill + 1) % SLOTS] = 0;
            pthread_cond_broadcast(&w->changed);
        }
    }
    int failed = w->failed;
    pthread_mutex_unlock(&w->mu);
    if (failed) {
        archive_set_error(a, EIO, "%s", w->err);
        return -1;
    }
    return (la_ssize_t)len;
}

/* Queue the partly filled slot, let the thread finish the frame, join it. */
static int writer_finish(struct bk_zstd_writer *w, int abort_it)
{
    if (!w->started || w->joined)
        return w->failed ? -1 : 0;
    pthread_mutex_lock(&w->mu);
    if (!abort_it && !w->failed) {
        while (w->count == SLOTS - 1 && !w->failed)
            pthread_cond_wait(&w->changed, &w->mu);
        unsigned fill = (w->head + w->count) % SLOTS;
        if (w->len[fill] > 0)
            w->count++;
    }
    w->abort = abort_it;
    w->closing = 1;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->joined = 1;
    return w->failed ? -1 : 0;
}

static int writer_close(struct archive *a, void *cd)
{
    struct bk_zstd_writer *w = cd;
    if (writer_finish(w, 0)) {
        archive_set_error(a, EIO, "%s", w->err);
        return ARCHIVE_FATAL;
    }
    return ARCHIVE_OK;
}

int bk_archive__zstd_writer_open(struct archive *a, int fd, int level, int threads,
                                 int write_behind, int own_frames, struct bk_zstd_writer **out)
{
    struct bk_zstd_writer *w = bk_xcalloc(1, sizeof(*w));
    w->fd = fd;
    w->write_behind = write_behind;
    w->cctx = ZSTD_createCCtx();
    w->out = bk_xmalloc(OUT_CAP);
    if (!w->cctx)
        abort();
    for (int i = 0; i < SLOTS; i++)
        w->slot[i] = bk_xmalloc(SLOT_CAP);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    /* Fails when libzstd was built without threads: then our own workers. */
    if (own_frames || bk_archive__zstd_own_frames ||
        (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, threads)) && threads > 1))
        w->own = frames_new(level, threads > 1 ? threads : 2);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->changed, NULL);
    *out = w;
    if (pthread_create(&w->thread, NULL, compress_thread, w) != 0)
        return bk_error_set(BK_ERR, "cannot start the compression thread");
    w->started = 1;
    if (archive_write_open(a, w, NULL, writer_write, writer_close) != ARCHIVE_OK)
        return bk_error_set(BK_ERR, "cannot start the archive: %s", archive_error_string(a));
    return BK_OK;
}

const char *bk_archive__zstd_writer_error(struct bk_zstd_writer *w)
{
    if (writer_finish(w, 0) == 0)
        return NULL;
    return w->err[0] ? w->err : "compression failed";
}

uint64_t bk_archive__zstd_writer_bytes(const struct bk_zstd_writer *w)
{
    return w->bytes;
}

void bk_archive__zstd_writer_free(struct bk_zstd_writer *w)
{
    if (!w)
        return;
    writer_finish(w, 1);
    frames_free(w->own);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->changed);
    for (int i = 0; i < SLOTS; i++)
        free(w->slot[i]);
    ZSTD_freeCCtx(w->cctx);
    free(w->out);
    free(w);
}

/* ------------------------------------------------------------------- read */

static la_ssize_t reader_fail(struct bk_zstd_reader *r, const char *msg)
{
    snprintf(r->err, sizeof(r->err), "%s", msg);
    if (!r->started)
        archive_set_error(r->a, EIO, "%s", msg);
    return -1;
}

/* Wait until fd is readable or the reader is aborted; 0 to go on. */
static int wait_readable(struct bk_zstd_reader *r)
{
    if (!r->started)
        return 0;
    struct pollfd p[2] = {{r->fd, POLLIN, 0}, {r->wake[0], POLLIN, 0}};
    while (poll(p, 2, -1) < 0)
        if (errno != EINTR)
            return 0; /* let read() report it */
    return p[1].revents ? -1 : 0;
}

/* Decompress into out[0, cap): the number of bytes (> 0), 0 at a clean end
 * of stream, -1 with r->err set, -2 when aborted. */
static la_ssize_t decompress_some(struct bk_zstd_reader *r, unsigned char *out, size_t cap)
{
    if (r->err[0])
        return -1;
    for (;;) {
        if (r->ib.pos == r->ib.size && !r->eof) {
            if (wait_readable(r))
                return -2;
            ssize_t n = read(r->fd, r->in, r->in_cap);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                char msg[200];
                snprintf(msg, sizeof(msg), "read failed: %s", strerror(errno));
                return reader_fail(r, msg);
            }
            if (n == 0)
                r->eof = 1;
            else
                r->seen_input = 1;
            if (n > 0 && r->md)
                EVP_DigestUpdate(r->md, r->in, (size_t)n);
            r->bytes_in += (uint64_t)n;
            r->ib = (ZSTD_inBuffer){r->in, (size_t)n, 0};
        }
        ZSTD_outBuffer ob = {out, cap, 0};
        size_t in_before = r->ib.pos;
        size_t ret = ZSTD_decompressStream(r->dctx, &ob, &r->ib);
        if (ZSTD_isError(ret)) {
            char msg[200];
            snprintf(msg, sizeof(msg), "corrupt zstd stream: %s", ZSTD_getErrorName(ret));
            return reader_fail(r, msg);
        }
        /* A call that moved nothing reports a new frame's header size: only
         * calls that made progress tell whether a frame is complete (0). */
        if (ob.pos || r->ib.pos != in_before)
            r->last_ret = ret;
        if (ob.pos)
            return (la_ssize_t)ob.pos;
        if (r->ib.pos == r->ib.size && r->eof) {
            if (!r->seen_input)
                return reader_fail(r, "empty stream");
            if (r->last_ret != 0)
                return reader_fail(r, "truncated stream (the zstd frame is incomplete)");
            return 0;
        }
    }
}

/* Fill slots until the end of the stream, an error or an abort. A slot is
 * published when full, or partly filled before the end or an error. */
static void *decompress_thread(void *arg)
{
    struct bk_zstd_reader *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->count == SLOTS && !r->abort)
            pthread_cond_wait(&r->changed, &r->mu);
        int stop = r->abort;
        unsigned fill = (r->head + r->count) % SLOTS;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        size_t len = 0;
        la_ssize_t n = 1;
        while (len < SLOT_CAP && (n = decompress_some(r, r->slot[fill] + len, SLOT_CAP - len)) > 0)
            len += (size_t)n;
        pthread_mutex_lock(&r->mu);
        if (len > 0) {
            r->len[fill] = len;
            r->count++;
        }
        if (n <= 0)
            r->done = 1;
        pthread_cond_broadcast(&r->changed);
        pthread_mutex_unlock(&r->mu);
        if (n <= 0)
            return NULL;
    }
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void reader_join(struct bk_zstd_reader *r)
{
    if (!r->started || r->joined)
        return;
    pthread_mutex_lock(&r->mu);
    r->abort = 1;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mu);
    if (write(r->wake[1], "", 1) < 0) {
        /* the pipe is new and empty: cannot fail */
    }
    pthread_join(r->thread, NULL);
    r->joined = 1;
}

/* Next chunk from the ring: release the slot handed out last, wait for the
 * next one; at the end, join the thread and report its result. */
static la_ssize_t reader_next_threaded(struct bk_zstd_reader *r, const void **buf)
{
    pthread_mutex_lock(&r->mu);
    if (r->held) {
        r->head = (r->head + 1) % SLOTS;
        r->count--;
        r->held = 0;
        pthread_cond_broadcast(&r->changed);
    }
    while (r->count == 0 && !r->done)
        pthread_cond_wait(&r->changed, &r->mu);
    if (r->count > 0) {
        r->held = 1;
        *buf = r->slot[r->head];
        la_ssize_t n = (la_ssize_t)r->len[r->head];
        pthread_mutex_unlock(&r->mu);
        return n;
    }
    pthread_mutex_unlock(&r->mu);
    reader_join(r);
    if (r->err[0]) {
        archive_set_error(r->a, EIO, "%s", r->err);
        return -1;
    }
    return 0;
}

/* Next chunk of decompressed bytes; 0 at a clean end of stream. */
static la_ssize_t reader_next(struct bk_zstd_reader *r, const void **buf)
{
    if (r->started)
        return reader_next_threaded(r, buf);
    la_ssize_t n = decompress_some(r, r->out, OUT_CAP);
    if (n > 0)
        *buf = r->out;
    return n;
}

static la_ssize_t reader_read(struct archive *a, void *cd, const void **buf)
{
    (void)a;
    return reader_next(cd, buf);
}

int bk_archive__zstd_reader_open(struct archive *a, int fd, int hash, struct bk_zstd_reader **out)
{
    struct bk_zstd_reader *r = bk_xcalloc(1, sizeof(*r));
    r->a = a;
    r->fd = fd;
    if (hash && (!(r->md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1))
        abort();
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx)
        abort();
    r->in_cap = ZSTD_DStreamInSize();
    r->in = bk_xmalloc(r->in_cap);
    r->out = bk_xmalloc(OUT_CAP);
    *out = r;
    if (archive_read_open(a, r, NULL, reader_read, NULL) != ARCHIVE_OK)
        return bk_error_set(BK_ECORRUPT, "%s", r->err[0] ? r->err : archive_error_string(a));
    return BK_OK;
}

int bk_archive__zstd_reader_start(struct bk_zstd_reader *r)
{
    if (r->started)
        return BK_OK;
    for (int i = 0; i < SLOTS; i++)
        r->slot[i] = bk_xmalloc(SLOT_CAP);
    if (pipe2(r->wake, O_CLOEXEC) != 0)
        return bk_error_set(BK_ERR, "cannot start the decompression thread: %s", strerror(errno));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->changed, NULL);
    r->started = 1;
    if (pthread_create(&r->thread, NULL, decompress_thread, r) != 0) {
        r->joined = 1;
        return bk_error_set(BK_ERR, "cannot start the decompression thread");
    }
    return BK_OK;
}

int bk_archive__zstd_reader_drain(struct bk_zstd_reader *r)
{
    for (;;) {
        const void *buf;
        la_ssize_t n = reader_next(r, &buf);
        if (n < 0)
            return bk_error_set(BK_ECORRUPT, "%s", r->err);
        if (n == 0)
            return BK_OK;
        for (la_ssize_t i = 0; i < n; i++)
            if (((const unsigned char *)buf)[i] != 0)
                return bk_error_set(BK_ECORRUPT, "unexpected data after the end of the tar");
    }
}

uint64_t bk_archive__zstd_reader_bytes(const struct bk_zstd_reader *r)
{
    return r->bytes_in;
}

int bk_archive__zstd_reader_sha256(struct bk_zstd_reader *r, char hex[BK_DIGEST_HEX + 1])
{
    unsigned char h[32];

    if (!r->md || !r->eof)
        return bk_error_set(BK_ERR, "the stream was not hashed to its end");
    EVP_DigestFinal_ex(r->md, h, NULL);
    EVP_MD_CTX_free(r->md);
    r->md = NULL;
    bk_hex32(h, hex);
    return BK_OK;
}

const char *bk_archive__zstd_reader_error(const struct bk_zstd_reader *r)
{
    /* While the thread runs, r->err is its own; it is read after the join. */
    if (!r || (r->started && !r->joined))
        return NULL;
    return r->err[0] ? r->err : NULL;
}

void bk_archive__zstd_reader_free(struct bk_zstd_reader *r)
{
    if (!r)
        return;
    if (r->started) {
        reader_join(r);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->changed);
        close(r->wake[0]);
        close(r->wake[1]);
    }
    for (int i = 0; i < SLOTS; i++)
        free(r->slot[i]);
    ZSTD_freeDCtx(r->dctx);
    EVP_MD_CTX_free(r->md);
    free(r->in);
    free(r->out);
    free(r);
}
