/*
 * archive_zstd.c - zstd compression and decompression as libarchive I/O.
 *
 * libarchive writes and reads the tar; these callbacks sit between it and a
 * file descriptor and drive libzstd directly (multithreaded compression,
 * frame checksum on, no long mode, so the output is a plain zstd stream that
 * `zstd -d` reads). Memory is a few fixed buffers plus zstd's window.
 *
 * Reading is strict: a stream that ends mid-frame is "truncated", a checksum
 * mismatch or any other zstd error is "corrupt", and the reader keeps the
 * message so that the caller can report it instead of libarchive's generic
 * one. Several concatenated frames are accepted, as `zstd -d` does.
 */
#include "core/archive_internal.h"

#include "core/error.h"

#include <archive.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define OUT_CAP (1u << 20)

struct bk_zstd_writer {
    ZSTD_CCtx *cctx;
    int fd;
    unsigned char *out;
    uint64_t bytes;
};

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
    char err[256];
};

/* ------------------------------------------------------------------ write */

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int compress_some(struct archive *a, struct bk_zstd_writer *w, ZSTD_inBuffer *in,
                         ZSTD_EndDirective mode)
{
    for (;;) {
        ZSTD_outBuffer ob = {w->out, OUT_CAP, 0};
        size_t r = ZSTD_compressStream2(w->cctx, &ob, in, mode);
        if (ZSTD_isError(r)) {
            archive_set_error(a, EIO, "zstd: %s", ZSTD_getErrorName(r));
            return -1;
        }
        if (ob.pos && write_all(w->fd, w->out, ob.pos)) {
            archive_set_error(a, errno, "write failed: %s", strerror(errno));
            return -1;
        }
        w->bytes += ob.pos;
        if (mode == ZSTD_e_end ? r == 0 : in->pos == in->size)
            return 0;
    }
}

static la_ssize_t writer_write(struct archive *a, void *cd, const void *buf, size_t len)
{
    ZSTD_inBuffer in = {buf, len, 0};
    if (compress_some(a, cd, &in, ZSTD_e_continue))
        return -1;
    return (la_ssize_t)len;
}

static int writer_close(struct archive *a, void *cd)
{
    ZSTD_inBuffer in = {NULL, 0, 0};
    return compress_some(a, cd, &in, ZSTD_e_end) ? ARCHIVE_FATAL : ARCHIVE_OK;
}

int bk_archive__zstd_writer_open(struct archive *a, int fd, int level, int threads,
                                 struct bk_zstd_writer **out)
{
    struct bk_zstd_writer *w = bk_xcalloc(1, sizeof(*w));
    w->fd = fd;
    w->cctx = ZSTD_createCCtx();
    w->out = bk_xmalloc(OUT_CAP);
    if (!w->cctx)
        abort();
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    /* Fails harmlessly when libzstd was built without threads. */
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, threads);
    *out = w;
    if (archive_write_open(a, w, NULL, writer_write, writer_close) != ARCHIVE_OK)
        return bk_error_set(BK_ERR, "cannot start the archive: %s", archive_error_string(a));
    return BK_OK;
}

uint64_t bk_archive__zstd_writer_bytes(const struct bk_zstd_writer *w)
{
    return w->bytes;
}

void bk_archive__zstd_writer_free(struct bk_zstd_writer *w)
{
    if (!w)
        return;
    ZSTD_freeCCtx(w->cctx);
    free(w->out);
    free(w);
}

/* ------------------------------------------------------------------- read */

static la_ssize_t reader_fail(struct bk_zstd_reader *r, const char *msg)
{
    snprintf(r->err, sizeof(r->err), "%s", msg);
    archive_set_error(r->a, EIO, "%s", msg);
    return -1;
}

/* Next chunk of decompressed bytes; 0 at a clean end of stream. */
static la_ssize_t reader_next(struct bk_zstd_reader *r, const void **buf)
{
    if (r->err[0])
        return -1;
    for (;;) {
        if (r->ib.pos == r->ib.size && !r->eof) {
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
            r->bytes_in += (uint64_t)n;
            r->ib = (ZSTD_inBuffer){r->in, (size_t)n, 0};
        }
        ZSTD_outBuffer ob = {r->out, OUT_CAP, 0};
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
        if (ob.pos) {
            *buf = r->out;
            return (la_ssize_t)ob.pos;
        }
        if (r->ib.pos == r->ib.size && r->eof) {
            if (!r->seen_input)
                return reader_fail(r, "empty stream");
            if (r->last_ret != 0)
                return reader_fail(r, "truncated stream (the zstd frame is incomplete)");
            return 0;
        }
    }
}

static la_ssize_t reader_read(struct archive *a, void *cd, const void **buf)
{
    (void)a;
    return reader_next(cd, buf);
}

int bk_archive__zstd_reader_open(struct archive *a, int fd, struct bk_zstd_reader **out)
{
    struct bk_zstd_reader *r = bk_xcalloc(1, sizeof(*r));
    r->a = a;
    r->fd = fd;
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

const char *bk_archive__zstd_reader_error(const struct bk_zstd_reader *r)
{
    return r && r->err[0] ? r->err : NULL;
}

void bk_archive__zstd_reader_free(struct bk_zstd_reader *r)
{
    if (!r)
        return;
    ZSTD_freeDCtx(r->dctx);
    free(r->in);
    free(r->out);
    free(r);
}
