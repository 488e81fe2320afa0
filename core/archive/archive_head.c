/*
 * archive_head.c - the head of an archive: the manifest, in a frame of its own.
 *
 * An archive is a sequence of zstd frames whose decompressed bytes form one
 * tar stream:
 *
 *   [frame 1: the tar member .bkcache/manifest.json]
 *   [skippable frame: zero padding]      (ignored by every zstd decoder)
 *   [frame 2: every other member and the tar end marker]
 *
 * Frames 1 and the padding form the "head", whose size depends only on the
 * manifest JSON's length: the JSON is padded with spaces to a width computed
 * from a placeholder manifest (widest counts, any digest), and the padding
 * frame fills the head up to ZSTD_compressBound(member) + 8 bytes. So pack
 * can reserve the head, stream the entries once while hashing them, then
 * write the real head in place (when the output is seekable), and the bytes
 * are the same as when the head is computed first (pipes). Decoders such as
 * `zstd -d` concatenate frames, so `zstd -d | tar -x` still sees one tar.
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include <string.h>
#include <zstd.h>

#define SKIPPABLE_MAGIC 0x184D2A50u
#define TAR_END 1024 /* two zero blocks */

static la_ssize_t collect(struct archive *a, void *cd, const void *buf, size_t len)
{
    (void)a;
    bk_strbuf_add(cd, buf, len);
    return (la_ssize_t)len;
}

/* The manifest as tar bytes: one pax member, without the end marker. */
static int render_member(const char *json, size_t len, int64_t mtime, struct bk_strbuf *out)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    int ok;

    archive_write_set_format_pax(a);
    archive_write_set_bytes_per_block(a, 0);
    archive_write_set_bytes_in_last_block(a, 1);
    ok = archive_write_open(a, out, NULL, collect, NULL) == ARCHIVE_OK;
    archive_entry_set_pathname(e, BK_ARCHIVE_MANIFEST_PATH);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, (time_t)mtime, 0);
    ok = ok && archive_write_header(a, e) == ARCHIVE_OK &&
         archive_write_data(a, json, len) == (la_ssize_t)len &&
         archive_write_close(a) == ARCHIVE_OK;
    archive_entry_free(e);
    archive_write_free(a);
    if (!ok || out->len < TAR_END + 512)
        return bk_error_set(BK_ERR, "%s: cannot render the manifest", BK_ARCHIVE_MANIFEST_PATH);
    out->len -= TAR_END;
    out->buf[out->len] = '\0';
    return BK_OK;
}

size_t bk_archive__head_json_width(const struct bk_archive_manifest *m)
{
    struct bk_archive_manifest wide = *m;
    struct bk_strbuf sb = BK_STRBUF_INIT;
    memset(wide.digest, '0', BK_DIGEST_HEX);
    wide.digest[BK_DIGEST_HEX] = '\0';
    wide.files = wide.entries = wide.bytes = UINT64_MAX;
    bk_archive__manifest_write(&wide, &sb);
    size_t n = sb.len;
    bk_strbuf_release(&sb);
    return n;
}

static void put_le32(struct bk_strbuf *sb, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    bk_strbuf_add(sb, b, 4);
}

int bk_archive__head_render(const struct bk_archive_manifest *m, int64_t mtime, size_t width,
                            struct bk_strbuf *out)
{
    struct bk_strbuf json = BK_STRBUF_INIT, member = BK_STRBUF_INIT;
    int rc;

    bk_archive__manifest_write(m, &json);
    if (json.len > width || json.len < 2) {
        bk_strbuf_release(&json);
        return bk_error_set(BK_ERR, "%s: manifest wider than reserved", BK_ARCHIVE_MANIFEST_PATH);
    }
    /* Pad inside the object: "...}\n" -> "...   }\n". */
    json.len -= 2;
    while (json.len < width - 2)
        bk_strbuf_addch(&json, ' ');
    bk_strbuf_adds(&json, "}\n");
    rc = render_member(json.buf, json.len, mtime, &member);
    if (rc == BK_OK) {
        size_t bound = ZSTD_compressBound(member.len);
        ZSTD_CCtx *cctx = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, m->level);
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
        bk_strbuf_reset(out);
        bk_strbuf_grow(out, bound + 8);
        size_t n = ZSTD_compress2(cctx, out->buf, bound, member.buf, member.len);
        ZSTD_freeCCtx(cctx);
        if (ZSTD_isError(n)) {
            rc = bk_error_set(BK_ERR, "zstd: %s", ZSTD_getErrorName(n));
        } else {
            out->len = n;
            put_le32(out, SKIPPABLE_MAGIC);
            put_le32(out, (uint32_t)(bound - n));
            bk_strbuf_grow(out, bound - n);
            memset(out->buf + out->len, 0, bound - n);
            out->len += bound - n;
            out->buf[out->len] = '\0';
        }
    }
    bk_strbuf_release(&json);
    bk_strbuf_release(&member);
    return rc;
}
