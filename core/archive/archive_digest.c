/*
 * archive_digest.c - the canonical entry list, its SHA-256, and the tree scan.
 *
 * The content digest of a tree is SHA-256 over one line per entry, in
 * canonical order (see archive_internal.h), the root excluded:
 *
 *   TYPE MODE UID GID SIZE SEC.NSEC RDEV CONTENT PLEN:PATH TLEN:TARGET\n
 *
 * TYPE is one letter (f d l h c b p), MODE four octal digits (07777 bits),
 * SIZE the byte count of a regular file (0 otherwise), NSEC nine digits,
 * RDEV the device number of c/b entries (0 otherwise), CONTENT the hex
 * SHA-256 of a regular file's bytes or "-", PATH and TARGET length-prefixed
 * raw bytes (TARGET empty unless l or h). xattrs are not part of the digest.
 * Pack, unpack and bk_archive_digest_dir all feed bk_archive__digest_add, so
 * the three agree by construction; docs/archive-format.md documents it.
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"
#include "core/util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HASH_BUF (1u << 20)

/* ------------------------------------------------------------------ digest */

void bk_archive__digest_init(struct bk_archive_digest *d)
{
    memset(d, 0, sizeof(*d));
    d->md = EVP_MD_CTX_new();
    if (!d->md || !EVP_DigestInit_ex(d->md, EVP_sha256(), NULL))
        abort();
}

static void hex32(const unsigned char *in, char *out)
{
    static const char k_hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = k_hex[in[i] >> 4];
        out[2 * i + 1] = k_hex[in[i] & 15];
    }
    out[64] = '\0';
}

/* The line's fixed fields, up to and including "PLEN:". */
static int line_head(const struct bk_archive_rec *r, char *head, size_t cap)
{
    char content[BK_DIGEST_HEX + 1];
    if (r->content)
        hex32(r->content, content);
    else
        strcpy(content, "-");
    return snprintf(head, cap,
                    "%c %04o %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 ".%09ld %" PRIu64
                    " %s %zu:",
                    r->type, r->mode & 07777u, r->uid, r->gid, r->size, r->mtime_sec, r->mtime_nsec,
                    r->rdev, content, strlen(r->path));
}

void bk_archive__digest_line(const struct bk_archive_rec *r, struct bk_strbuf *out)
{
    char head[256];
    const char *target = r->target ? r->target : "";
    bk_strbuf_add(out, head, (size_t)line_head(r, head, sizeof(head)));
    bk_strbuf_adds(out, r->path);
    bk_strbuf_addf(out, " %zu:", strlen(target));
    bk_strbuf_adds(out, target);
    bk_strbuf_addch(out, '\n');
}

void bk_archive__digest_add(struct bk_archive_digest *d, const struct bk_archive_rec *r)
{
    if (d->lines) {
        size_t at = d->lines->len;
        bk_archive__digest_line(r, d->lines);
        EVP_DigestUpdate(d->md, d->lines->buf + at, d->lines->len - at);
    } else {
        char head[256];
        const char *target = r->target ? r->target : "";
        size_t tlen = strlen(target);
        EVP_DigestUpdate(d->md, head, (size_t)line_head(r, head, sizeof(head)));
        EVP_DigestUpdate(d->md, r->path, strlen(r->path));
        int n = snprintf(head, sizeof(head), " %zu:", tlen);
        EVP_DigestUpdate(d->md, head, (size_t)n);
        EVP_DigestUpdate(d->md, target, tlen);
        EVP_DigestUpdate(d->md, "\n", 1);
    }
    d->entries++;
    if (r->type == BK_AT_FILE) {
        d->files++;
        d->bytes += r->size;
    }
}

void bk_archive__digest_final(struct bk_archive_digest *d, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(d->md, md, &len);
    hex32(md, hex);
    bk_archive__digest_release(d);
}

void bk_archive__digest_release(struct bk_archive_digest *d)
{
    EVP_MD_CTX_free(d->md);
    d->md = NULL;
}

int bk_archive__path_cmp_n(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0;
    while (i < alen && i < blen && a[i] == b[i])
        i++;
    int ca = i < alen ? (unsigned char)a[i] : 0, cb = i < blen ? (unsigned char)b[i] : 0;
    if (ca == '/')
        ca = 1;
    if (cb == '/')
        cb = 1;
    return ca - cb;
}

int bk_archive__path_cmp(const char *a, const char *b)
{
    return bk_archive__path_cmp_n(a, strlen(a), b, strlen(b));
}

void bk_archive__hash_zeros(struct evp_md_ctx_st *md, uint64_t n)
{
    static const unsigned char k_zero[1u << 16];
    while (n > 0) {
        size_t k = n < sizeof(k_zero) ? (size_t)n : sizeof(k_zero);
        EVP_DigestUpdate(md, k_zero, k);
        n -= k;
    }
}

/* Hash [from, to) of fd with read(2). Returns bytes read (short at EOF). */
static int64_t hash_range(EVP_MD_CTX *md, int fd, unsigned char *buf, uint64_t from, uint64_t to)
{
    uint64_t pos = from;
    if (lseek(fd, (off_t)from, SEEK_SET) < 0)
        return -1;
    while (pos < to) {
        size_t want = to - pos < HASH_BUF ? (size_t)(to - pos) : HASH_BUF;
        ssize_t r = read(fd, buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)r);
        pos += (uint64_t)r;
    }
    return (int64_t)(pos - from);
}

int bk_archive__hash_file(const char *path, uint64_t size, unsigned char out[32])
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bk_error_set(BK_ERR, "%s: cannot open: %s", path, strerror(errno));
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = bk_xmalloc(HASH_BUF);
    uint64_t pos = 0;
    int rc = BK_OK;
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
        abort();
    /* A sparse file's holes are hashed as zeros without reading them. */
    int sparse = fstat(fd, &st) == 0 && (uint64_t)st.st_blocks * 512 < size;
    while (rc == BK_OK && pos < size) {
        uint64_t data = pos, end = size;
        if (sparse) {
            off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
            data = d < 0 ? size : (uint64_t)d;
            if (data > size)
                data = size;
            bk_archive__hash_zeros(md, data - pos);
            pos = data;
            if (pos >= size)
                break;
            off_t h = lseek(fd, (off_t)data, SEEK_HOLE);
            end = h < 0 || (uint64_t)h > size ? size : (uint64_t)h;
        }
        int64_t got = hash_range(md, fd, buf, data, end);
        if (got < 0)
            rc = bk_error_set(BK_ERR, "%s: read failed: %s", path, strerror(errno));
        else if ((uint64_t)got < end - data)
            rc = bk_error_set(BK_ERR,
                              "%s: file changed while reading (shorter than %" PRIu64 " bytes)",
                              path, size);
        pos = end;
    }
    char extra;
    if (rc == BK_OK && pread(fd, &extra, 1, (off_t)size) > 0)
        rc = bk_error_set(BK_ERR, "%s: file changed while reading (longer than %" PRIu64 " bytes)",
                          path, size);
    if (rc == BK_OK)
        EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
    free(buf);
    close(fd);
    return rc;
}

int bk_archive__tree_scan(const char *dir, struct bk_archive_tree *t)
{
    struct bk_strbuf full = BK_STRBUF_INIT;
    struct bk_archive_digest d;
    int rc = bk_archive__tree_walk(dir, t);

    if (rc)
        return rc;
    bk_archive__digest_init(&d);
    for (size_t i = 0; rc == BK_OK && i < t->n; i++) {
        struct bk_archive_node *nd = &t->v[i];
        if (nd->rec.type == BK_AT_FILE) {
            bk_strbuf_reset(&full);
            bk_strbuf_addf(&full, "%s/%s", dir, nd->path);
            rc = bk_archive__hash_file(full.buf, nd->rec.size, nd->hash);
            nd->rec.content = nd->hash;
        }
        bk_archive__digest_add(&d, &nd->rec);
    }
    t->files = d.files;
    t->entries = d.entries;
    t->bytes = d.bytes;
    bk_archive__digest_final(&d, t->digest);
    bk_strbuf_release(&full);
    if (rc)
        bk_archive__tree_release(t);
    return rc;
}

double bk_archive__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bk_archive__stats_fill(struct bk_archive_stats *st, const struct bk_archive_manifest *m,
                            uint64_t archive_bytes, double t0)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
    memcpy(st->digest, m->digest, sizeof(st->digest));
    st->files = m->files;
    st->entries = m->entries;
    st->bytes = m->bytes;
    st->archive_bytes = archive_bytes;
    st->seconds = bk_archive__now() - t0;
}

int bk_archive_digest_dir(const char *dir, struct bk_archive_stats *st)
{
    struct bk_archive_tree t;
    struct bk_archive_manifest m;
    double t0 = bk_archive__now();
    int rc = bk_archive__tree_scan(dir, &t);
    if (rc)
        return rc;
    memset(&m, 0, sizeof(m));
    memcpy(m.digest, t.digest, sizeof(m.digest));
    m.files = t.files;
    m.entries = t.entries;
    m.bytes = t.bytes;
    bk_archive__stats_fill(st, &m, 0, t0);
    bk_archive__tree_release(&t);
    return BK_OK;
}
