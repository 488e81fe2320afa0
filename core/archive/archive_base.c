/*
 * archive_base.c - the base record: which stored layers a tree came from,
 * and the digest line of every member it had.
 *
 * A layered unpack with a record writes BK_ARCHIVE_BASE_RECORD into the new
 * tree's root; a later pack reads it (bk_pack_opts.parent_record) to write
 * only what changed. The file is one zstd frame (checksum on) of text:
 *
 *   {"format":1,"tree":"<hex>","layers":[{"digest":"sha256:<hex>","size":N,
 *    "tree":"<hex>"},...]}\n                              (one line, bottom first)
 *   one digest line per member, in canonical order     (archive_digest.c)
 *
 * The member lines are exactly what the content digest hashes, so a reader
 * checks the record against itself: SHA-256 over the lines must be "tree",
 * and "tree" must be the top layer's tree. The first line is written and
 * read in exactly this form (no other spacing or key order): only bkcache
 * writes the file, and any other record is not used (a full pack instead).
 * The writer streams the lines into `.bkcache-base.tmp` while unpacking and
 * renames it once the tree is verified, so a record is always whole.
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"
#include "core/util/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define BASE_FORMAT 1
#define BASE_TMP BK_ARCHIVE_BASE_RECORD ".tmp"
#define BASE_MAX (1ull << 32) /* decompressed: ~30 million members */

/* ----------------------------------------------------------------- layers */

void bk_archive__layers_json(const struct bk_archive_layer *l, size_t n, struct bk_strbuf *out)
{
    bk_strbuf_addch(out, '[');
    for (size_t i = 0; i < n; i++)
        bk_strbuf_addf(out, "%s{\"digest\":\"%s\",\"size\":%" PRIu64 ",\"tree\":\"%s\"}",
                       i ? "," : "", l[i].digest, l[i].size, l[i].tree);
    bk_strbuf_addch(out, ']');
}

static int take_hex(const char **p, const char *end, char *out);
static int take_u64(const char **p, const char *end, uint64_t *out);

int bk_archive__layers_parse(const char *s, struct bk_archive_layer *out, size_t max, size_t *n)
{
    const char *p = s, *end = s + strlen(s);
    *n = 0;
    while (p < end) {
        struct bk_archive_layer *l = &out[*n];
        if (*n == max)
            return bk_error_set(BK_EINVAL, "--record: more than %zu layers", max);
        if (strncmp(p, "sha256:", 7) != 0 || (p += 7, take_hex(&p, end, l->digest + 7)) ||
            *p++ != ':' || take_u64(&p, end, &l->size) || *p++ != ':' ||
            (strncmp(p, "sha256:", 7) == 0 && (p += 7, 0)) || take_hex(&p, end, l->tree) ||
            (*p && *p != ','))
            return bk_error_set(
                BK_EINVAL, "--record: layer %zu is not sha256:HEX:SIZE:TREE (in '%s')", *n + 1, s);
        memcpy(l->digest, "sha256:", 7);
        (*n)++;
        if (*p == ',' && *++p == '\0')
            return bk_error_set(BK_EINVAL, "--record: a trailing comma (in '%s')", s);
    }
    return *n ? BK_OK : bk_error_set(BK_EINVAL, "--record: no layers");
}

/* ------------------------------------------------------------------ write */

struct bk_archive_base_writer {
    ZSTD_CCtx *cctx;
    int fd;
    char *tmp, *final;
    struct bk_strbuf out;
};

static int base_write(struct bk_archive_base_writer *w, const void *buf, size_t len,
                      ZSTD_EndDirective end)
{
    ZSTD_inBuffer in = {buf, len, 0};
    size_t cap = ZSTD_CStreamOutSize();
    for (;;) {
        bk_strbuf_grow(&w->out, cap);
        ZSTD_outBuffer o = {w->out.buf, cap, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &o, &in, end);
        if (ZSTD_isError(left))
            return bk_error_set(BK_ERR, "%s: zstd: %s", w->tmp, ZSTD_getErrorName(left));
        if (o.pos && bk_write_all(w->fd, w->out.buf, o.pos, -1))
            return bk_error_set(BK_ERR, "%s: write failed: %s", w->tmp, strerror(errno));
        if (end == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return BK_OK;
    }
}

int bk_archive__base_open(const char *dir, const char *tree, const struct bk_archive_layer *layers,
                          size_t n, struct bk_archive_base_writer **out)
{
    struct bk_archive_base_writer *w = bk_xcalloc(1, sizeof(*w));
    struct bk_strbuf head = BK_STRBUF_INIT;
    int rc;

    *out = NULL;
    w->out = (struct bk_strbuf)BK_STRBUF_INIT;
    w->tmp = bk_xasprintf("%s/" BASE_TMP, dir);
    w->final = bk_xasprintf("%s/" BK_ARCHIVE_BASE_RECORD, dir);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx)
        abort();
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    bk_strbuf_addf(&head, "{\"format\":%d,\"tree\":\"%s\",\"layers\":", BASE_FORMAT, tree);
    bk_archive__layers_json(layers, n, &head);
    bk_strbuf_adds(&head, "}\n");
    rc = w->fd < 0 ? bk_error_set(BK_ERR, "%s: cannot create: %s", w->tmp, strerror(errno))
                   : base_write(w, head.buf, head.len, ZSTD_e_continue);
    bk_strbuf_release(&head);
    if (rc) {
        bk_archive__base_abort(w);
        return rc;
    }
    *out = w;
    return BK_OK;
}

int bk_archive__base_add(struct bk_archive_base_writer *w, const char *lines, size_t len)
{
    return base_write(w, lines, len, ZSTD_e_continue);
}

int bk_archive__base_commit(struct bk_archive_base_writer *w)
{
    int rc = base_write(w, "", 0, ZSTD_e_end);
    if (rc == BK_OK && close(w->fd) != 0)
        rc = bk_error_set(BK_ERR, "%s: %s", w->tmp, strerror(errno));
    w->fd = -1;
    if (rc == BK_OK && rename(w->tmp, w->final) != 0)
        rc = bk_error_set(BK_ERR, "%s: cannot rename: %s", w->final, strerror(errno));
    if (rc == BK_OK) {
        free(w->tmp);
        w->tmp = NULL; /* nothing for abort to remove */
    }
    bk_archive__base_abort(w);
    return rc;
}

void bk_archive__base_abort(struct bk_archive_base_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp)
        unlink(w->tmp);
    ZSTD_freeCCtx(w->cctx);
    bk_strbuf_release(&w->out);
    free(w->tmp);
    free(w->final);
    free(w);
}

/* ------------------------------------------------------------------- read */

static int unusable(const char *path, const char *why)
{
    return bk_error_set(BK_ECORRUPT, "%s: not a usable base record (%s)", path, why);
}

static int decompress(const char *path, struct bk_strbuf *text)
{
    struct bk_strbuf raw = BK_STRBUF_INIT;
    ZSTD_DCtx *dctx;
    size_t left = 1;
    int rc;

    rc = bk_strbuf_read_file(&raw, path); /* BK_ENOTFOUND: no record */
    if (rc) {
        bk_strbuf_release(&raw);
        return rc;
    }
    dctx = ZSTD_createDCtx();
    if (!dctx)
        abort();
    ZSTD_inBuffer in = {raw.buf, raw.len, 0};
    while (in.pos < in.size) {
        bk_strbuf_grow(text, ZSTD_DStreamOutSize());
        ZSTD_outBuffer o = {text->buf + text->len, ZSTD_DStreamOutSize(), 0};
        left = ZSTD_decompressStream(dctx, &o, &in);
        if (ZSTD_isError(left))
            break;
        text->len += o.pos;
        if (text->len > BASE_MAX)
            break;
        if (left == 0 && in.pos < in.size) /* one frame only */
            break;
    }
    ZSTD_freeDCtx(dctx);
    bk_strbuf_release(&raw);
    if (ZSTD_isError(left) || left != 0 || in.pos != in.size || text->len > BASE_MAX)
        return unusable(path, "not one complete zstd frame");
    bk_strbuf_grow(text, 1);
    text->buf[text->len] = '\0';
    return BK_OK;
}

/* Fixed-form pieces of the first line. */
static int take(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return -1;
    *p += n;
    return 0;
}

static int take_hex(const char **p, const char *end, char *out)
{
    if (end - *p < BK_DIGEST_HEX)
        return -1;
    for (int i = 0; i < BK_DIGEST_HEX; i++) {
        char c = (*p)[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
        out[i] = c;
    }
    out[BK_DIGEST_HEX] = '\0';
    *p += BK_DIGEST_HEX;
    return 0;
}

static int take_u64(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    while (*p < end && **p >= '0' && **p <= '9') {
        unsigned d = (unsigned)(**p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        (*p)++;
    }
    *out = v;
    return *p > s && (*p - s == 1 || *s != '0') ? 0 : -1;
}

static int parse_head(const char **p, const char *end, struct bk_archive_base *b)
{
    if (take(p, end, "{\"format\":1,\"tree\":\"") || take_hex(p, end, b->tree) ||
        take(p, end, "\",\"layers\":["))
        return -1;
    for (;;) {
        struct bk_archive_layer *l = &b->layers[b->nlayers];
        if (b->nlayers == BK_ARCHIVE_MAX_LAYERS || (b->nlayers && take(p, end, ",")) ||
            take(p, end, "{\"digest\":\"sha256:") || take_hex(p, end, l->digest + 7) ||
            take(p, end, "\",\"size\":") || take_u64(p, end, &l->size) ||
            take(p, end, ",\"tree\":\"") || take_hex(p, end, l->tree) || take(p, end, "\"}"))
            return -1;
        memcpy(l->digest, "sha256:", 7);
        b->nlayers++;
        if (take(p, end, "]}\n") == 0)
            return 0;
    }
}

int bk_archive__base_line(const char *p, const char *end, struct bk_archive_base_line *out)
{
    const char *s = p;
    uint64_t plen, tlen;
    for (int spaces = 0; spaces < 8; p++) {
        if (p >= end || *p == '\n')
            return -1;
        spaces += *p == ' ';
    }
    if (take_u64(&p, end, &plen) || take(&p, end, ":") || (uint64_t)(end - p) < plen)
        return -1;
    out->path = p;
    out->path_len = (size_t)plen;
    p += plen;
    if (take(&p, end, " ") || take_u64(&p, end, &tlen) || take(&p, end, ":") ||
        (uint64_t)(end - p) < tlen + 1 || p[tlen] != '\n')
        return -1;
    out->line = s;
    out->len = (size_t)(p + tlen + 1 - s);
    return 0;
}

int bk_archive__base_read(const char *path, struct bk_archive_base *b)
{
    struct bk_archive_base_line ln, prev = {0};
    char hex[BK_DIGEST_HEX + 1];
    const char *p, *end;
    int rc;

    memset(b, 0, sizeof(*b));
    b->text = (struct bk_strbuf)BK_STRBUF_INIT;
    rc = decompress(path, &b->text);
    if (rc) {
        bk_archive__base_release(b);
        return rc;
    }
    p = b->text.buf;
    end = p + b->text.len;
    if (parse_head(&p, end, b)) {
        bk_archive__base_release(b);
        return unusable(path, "its first line is not a format 1 record");
    }
    if (strcmp(b->layers[b->nlayers - 1].tree, b->tree) != 0) {
        bk_archive__base_release(b);
        return unusable(path, "its tree is not its top layer's");
    }
    b->lines = (size_t)(p - b->text.buf);
    /* The lines are well formed, in strictly increasing order, and hash
     * (all together, as they are stored) to the tree. */
    while (rc == BK_OK && p < end) {
        if (bk_archive__base_line(p, end, &ln) ||
            (prev.line &&
             bk_archive__path_cmp_n(prev.path, prev.path_len, ln.path, ln.path_len) >= 0)) {
            rc = unusable(path, "a member line is malformed or out of order");
            break;
        }
        prev = ln;
        p += ln.len;
    }
    if (rc == BK_OK) {
        bk_sha256_hex(b->text.buf + b->lines, b->text.len - b->lines, hex);
        if (strcmp(hex, b->tree) != 0)
            rc = unusable(path, "its member lines do not hash to its tree");
    }
    if (rc)
        bk_archive__base_release(b);
    return rc;
}

void bk_archive__base_release(struct bk_archive_base *b)
{
    bk_strbuf_release(&b->text);
    memset(b, 0, sizeof(*b));
}
