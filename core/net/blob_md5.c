/*
 * blob_md5.c - per-block MD5 digests on a worker thread; see blob_md5.h.
 *
 * The thread owns the buffer and the EVP context; the table of finished
 * digests and the `ready` count are shared under one mutex. The thread
 * writes digest i before it raises `ready` past i, so a reader that sees
 * ready > i may copy digest i.
 */
#include "core/net/blob_md5.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20)

struct bk_blob_md5s {
    int fd;
    uint64_t size, block, nblocks;
    char (*b64)[25];
    pthread_t thread;
    pthread_mutex_t lock;
    uint64_t ready; /* digests 0 .. ready-1 are final */
    int read_errno; /* set when a read failed: the thread has stopped */
    int stop;       /* asked to stop */
};

static int hash_block(struct bk_blob_md5s *m, EVP_MD_CTX *ctx, unsigned char *buf, uint64_t i)
{
    uint64_t off = i * m->block, end = off + m->block < m->size ? off + m->block : m->size;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    while (off < end) {
        size_t want = end - off < READ_CHUNK ? (size_t)(end - off) : READ_CHUNK;
        ssize_t n = pread(m->fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO; /* a short file is an error too */
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        off += (uint64_t)n;
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_EncodeBlock((unsigned char *)m->b64[i], md, (int)mdlen);
    return 0;
}

static void *hash_all(void *arg)
{
    struct bk_blob_md5s *m = arg;
    unsigned char *buf = bk_xmalloc(READ_CHUNK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    for (uint64_t i = 0; i < m->nblocks; i++) {
        pthread_mutex_lock(&m->lock);
        int stop = m->stop;
        pthread_mutex_unlock(&m->lock);
        if (stop)
            break;
        int err = ctx ? hash_block(m, ctx, buf, i) : ENOMEM;
        pthread_mutex_lock(&m->lock);
        if (err)
            m->read_errno = err;
        else
            m->ready = i + 1;
        pthread_mutex_unlock(&m->lock);
        if (err)
            break;
    }
    EVP_MD_CTX_free(ctx);
    free(buf);
    return NULL;
}

struct bk_blob_md5s *bk_blob_md5s_start(int fd, uint64_t size, uint64_t block)
{
    struct bk_blob_md5s *m = bk_xcalloc(1, sizeof(*m));
    int err;

    m->fd = fd;
    m->size = size;
    m->block = block ? block : 1;
    m->nblocks = size ? (size + m->block - 1) / m->block : 1;
    m->b64 = bk_xcalloc(m->nblocks, sizeof(*m->b64));
    pthread_mutex_init(&m->lock, NULL);
    err = pthread_create(&m->thread, NULL, hash_all, m);
    if (err) {
        pthread_mutex_destroy(&m->lock);
        free(m->b64);
        free(m);
        bk_error_set(BK_ERR, "cannot start the block digest thread: %s", strerror(err));
        return NULL;
    }
    return m;
}

int bk_blob_md5s_get(struct bk_blob_md5s *m, uint64_t index, char out[25])
{
    int rc = 0;

    pthread_mutex_lock(&m->lock);
    if (index < m->ready) {
        memcpy(out, m->b64[index], 25);
        rc = 1;
    } else if (m->read_errno) {
        rc = bk_error_set(BK_ERR, "cannot read block %llu of the upload: %s",
                          (unsigned long long)index, strerror(m->read_errno));
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

void bk_blob_md5s_stop(struct bk_blob_md5s *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    pthread_mutex_destroy(&m->lock);
    free(m->b64);
    free(m);
}
