/*
 * store_index.c - the index of a layered cache entry: written as one zstd
 * frame of JSON, read back with every field checked; see store_index.h.
 *
 * Telling an index from a plain archive needs no marker outside the data:
 * an archive's first frame decompresses to a tar header (its first member
 * is .bkcache/manifest.json), an index's to a JSON object with the field
 * "bkcache_index". So the reader only looks at files of at most
 * BK_INDEX_MAX_BYTES, decompresses at most INDEX_MAX_JSON bytes of the
 * first frame, and says "not an index" (BK_ENOTFOUND) for anything that is
 * not a JSON object carrying that field. Once the field is there, the file
 * claims to be an index, and every defect is BK_ECORRUPT naming the field.
 */
#include "core/store/store_index.h"

#include "core/store/store.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define INDEX_FORMAT 1
/* JSON larger than this is not an index (16 layers take about 3 KiB). */
#define INDEX_MAX_JSON (1u << 20)
#define SHA256_PREFIX "sha256:"

void bk_index_release(struct bk_index *ix)
{
    if (!ix)
        return;
    free(ix->key);
    free(ix->identity);
    free(ix->created);
    memset(ix, 0, sizeof(*ix));
}

int bk_index_download(struct bk_store *s, const struct bk_provider_entry *e, const char *path,
                      struct bk_index *out)
{
    int rc = bk_store_download(s, e, path, NULL);

    if (rc == BK_OK) {
        rc = bk_index_read_file(path, out);
        unlink(path);
    }
    return rc;
}

uint64_t bk_index_bytes(const struct bk_index *ix)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < ix->nlayers; i++)
        sum += ix->layers[i].size;
    return sum;
}

/* 1 when `s` is exactly BK_DIGEST_HEX lowercase hex digits. */
static int is_hex_digest(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == BK_DIGEST_HEX;
}

/* "sha256:<hex>" -> the hex part, or NULL. */
static const char *sha256_hex(const char *s)
{
    return s && bk_digest_valid(s) ? s + strlen(SHA256_PREFIX) : NULL;
}

/* ---- writing ---- */

static int check_for_write(const struct bk_index *ix, const char *path)
{
    if (!is_hex_digest(ix->digest))
        return bk_error_set(BK_EINVAL, "%s: index digest is not %d hex digits", path,
                            BK_DIGEST_HEX);
    if (ix->nlayers < 1 || ix->nlayers > BK_ARCHIVE_MAX_LAYERS)
        return bk_error_set(BK_EINVAL, "%s: an index holds 1 to %d layers, not %zu", path,
                            BK_ARCHIVE_MAX_LAYERS, ix->nlayers);
    for (size_t i = 0; i < ix->nlayers; i++)
        if (!sha256_hex(ix->layers[i].digest) || !is_hex_digest(ix->layers[i].tree))
            return bk_error_set(BK_EINVAL, "%s: layer %zu has no valid digest and tree", path, i);
    return BK_OK;
}

static void add_opt_string(cJSON *doc, const char *name, const char *value)
{
    if (value)
        cJSON_AddStringToObject(doc, name, value);
}

static char *index_json(const struct bk_index *ix)
{
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    char buf[BK_ARCHIVE_BLOB_DIGEST_LEN + 1];
    char *json;

    cJSON_AddNumberToObject(doc, "bkcache_index", INDEX_FORMAT);
    add_opt_string(doc, "key", ix->key);
    add_opt_string(doc, "identity", ix->identity);
    add_opt_string(doc, "created", ix->created);
    snprintf(buf, sizeof(buf), SHA256_PREFIX "%s", ix->digest);
    cJSON_AddStringToObject(doc, "digest", buf);
    cJSON_AddNumberToObject(doc, "files", (double)ix->files);
    cJSON_AddNumberToObject(doc, "entries", (double)ix->entries);
    cJSON_AddNumberToObject(doc, "bytes", (double)ix->bytes);
    for (size_t i = 0; i < ix->nlayers; i++) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "digest", ix->layers[i].digest);
        cJSON_AddNumberToObject(l, "size", (double)ix->layers[i].size);
        snprintf(buf, sizeof(buf), SHA256_PREFIX "%s", ix->layers[i].tree);
        cJSON_AddStringToObject(l, "tree", buf);
        cJSON_AddItemToArray(arr, l);
    }
    cJSON_AddItemToObject(doc, "layers", arr);
    json = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!json)
        abort();
    return json;
}

int bk_index_write_file(const struct bk_index *ix, const char *path)
{
    char *json;
    size_t len, bound, got;
    void *frame;
    int rc = check_for_write(ix, path);

    if (rc < 0)
        return rc;
    json = index_json(ix);
    len = strlen(json);
    bound = ZSTD_compressBound(len);
    frame = bk_xmalloc(bound);
    got = ZSTD_compress(frame, bound, json, len, 3);
    cJSON_free(json);
    if (ZSTD_isError(got)) {
        rc =
            bk_error_set(BK_ERR, "%s: cannot compress the index: %s", path, ZSTD_getErrorName(got));
    } else if (got > BK_INDEX_MAX_BYTES) {
        rc = bk_error_set(BK_EINVAL, "%s: the index would take %zu bytes, more than %u", path, got,
                          BK_INDEX_MAX_BYTES);
    } else {
        rc = bk_file_write_atomic(path, frame, got);
    }
    free(frame);
    return rc;
}

/* ---- reading ---- */

/* The content of the first zstd frame of data[0..len) into `out`, at most
 * INDEX_MAX_JSON bytes; *end gets the compressed size of that frame.
 * BK_ENOTFOUND when it is not a complete frame that small. */
static int first_frame(const void *data, size_t len, struct bk_strbuf *out, size_t *end)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    ZSTD_inBuffer in = {data, len, 0};
    ZSTD_outBuffer ob;
    size_t ret;
    int rc = BK_ENOTFOUND;

    if (!dctx)
        abort();
    bk_strbuf_grow(out, INDEX_MAX_JSON + 1);
    ob.dst = out->buf;
    ob.size = INDEX_MAX_JSON + 1;
    ob.pos = 0;
    /* decompressStream stops at the end of the first frame (it returns 0) */
    do {
        ret = ZSTD_decompressStream(dctx, &ob, &in);
    } while (!ZSTD_isError(ret) && ret != 0 && ob.pos < ob.size && in.pos < in.size);
    if (!ZSTD_isError(ret) && ret == 0 && ob.pos <= INDEX_MAX_JSON) {
        out->len = ob.pos;
        out->buf[out->len] = '\0';
        *end = in.pos;
        rc = BK_OK;
    }
    ZSTD_freeDCtx(dctx);
    return rc;
}

/* A non-negative integer field (cJSON keeps numbers as doubles: exact to 2^53). */
static int read_count(const cJSON *obj, const char *name, const char *what, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
        floor(v->valuedouble) != v->valuedouble)
        return bk_error_set(BK_ECORRUPT, "%s: \"%s\" is not a non-negative integer", what, name);
    *out = (uint64_t)v->valuedouble;
    return BK_OK;
}

static int read_opt_string(const cJSON *obj, const char *name, const char *what, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v))
        return BK_OK;
    if (!cJSON_IsString(v))
        return bk_error_set(BK_ECORRUPT, "%s: \"%s\" is not a string", what, name);
    *out = bk_xstrdup(v->valuestring);
    return BK_OK;
}

/* "sha256:<hex>" field -> hex into out (BK_DIGEST_HEX + 1 bytes). */
static int read_hex(const cJSON *obj, const char *name, const char *what, char *out)
{
    const char *hex = sha256_hex(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name)));
    if (!hex)
        return bk_error_set(BK_ECORRUPT, "%s: \"%s\" is not sha256:<%d hex digits>", what, name,
                            BK_DIGEST_HEX);
    memcpy(out, hex, BK_DIGEST_HEX + 1);
    return BK_OK;
}

static int read_layers(const cJSON *doc, const char *path, struct bk_index *out)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "layers"), *l;
    int n, rc = BK_OK;

    if (!cJSON_IsArray(arr))
        return bk_error_set(BK_ECORRUPT, "%s: \"layers\" is not an array", path);
    n = cJSON_GetArraySize(arr);
    if (n < 1 || n > BK_ARCHIVE_MAX_LAYERS)
        return bk_error_set(BK_ECORRUPT, "%s: \"layers\" holds %d layers, not 1 to %d", path, n,
                            BK_ARCHIVE_MAX_LAYERS);
    cJSON_ArrayForEach(l, arr)
    {
        struct bk_archive_layer *ly = &out->layers[out->nlayers];
        char *what = bk_xasprintf("%s: layers[%zu]", path, out->nlayers);
        const char *dg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "digest"));

        if (!cJSON_IsObject(l))
            rc = bk_error_set(BK_ECORRUPT, "%s is not an object", what);
        else if (!sha256_hex(dg))
            rc = bk_error_set(BK_ECORRUPT, "%s: \"digest\" is not sha256:<%d hex digits>", what,
                              BK_DIGEST_HEX);
        else if ((rc = read_count(l, "size", what, &ly->size)) == BK_OK &&
                 (rc = read_hex(l, "tree", what, ly->tree)) == BK_OK)
            snprintf(ly->digest, sizeof(ly->digest), "%s", dg);
        free(what);
        if (rc < 0)
            return rc;
        out->nlayers++;
    }
    return BK_OK;
}

/* The fields of a document that claims to be an index. */
static int read_doc(const cJSON *doc, const char *path, struct bk_index *out)
{
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(doc, "bkcache_index");
    int rc;

    if (!cJSON_IsNumber(fmt) || fmt->valuedouble != INDEX_FORMAT)
        return bk_error_set(BK_ECORRUPT,
                            "%s: \"bkcache_index\" is an unknown index format (this bkcache "
                            "reads format %d)",
                            path, INDEX_FORMAT);
    if ((rc = read_opt_string(doc, "key", path, &out->key)) < 0 ||
        (rc = read_opt_string(doc, "identity", path, &out->identity)) < 0 ||
        (rc = read_opt_string(doc, "created", path, &out->created)) < 0 ||
        (rc = read_hex(doc, "digest", path, out->digest)) < 0 ||
        (rc = read_count(doc, "files", path, &out->files)) < 0 ||
        (rc = read_count(doc, "entries", path, &out->entries)) < 0 ||
        (rc = read_count(doc, "bytes", path, &out->bytes)) < 0)
        return rc;
    return read_layers(doc, path, out);
}

int bk_index_read_file(const char *path, struct bk_index *out)
{
    struct bk_strbuf raw = BK_STRBUF_INIT, json = BK_STRBUF_INIT;
    cJSON *doc = NULL;
    struct stat st;
    size_t end = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (stat(path, &st) != 0)
        return bk_error_set(BK_ENOTFOUND, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)BK_INDEX_MAX_BYTES)
        return bk_error_set(BK_ENOTFOUND, "%s: not an index (%lld bytes)", path,
                            (long long)st.st_size);
    if ((rc = bk_strbuf_read_file(&raw, path)) < 0)
        return rc;
    if (raw.len > BK_INDEX_MAX_BYTES || first_frame(raw.buf, raw.len, &json, &end) < 0 ||
        json.len == 0 || json.buf[0] != '{' || !(doc = cJSON_ParseWithLength(json.buf, json.len)) ||
        !cJSON_IsObject(doc) || !cJSON_GetObjectItemCaseSensitive(doc, "bkcache_index")) {
        rc = bk_error_set(BK_ENOTFOUND, "%s: not an index", path);
    } else if (end != raw.len) {
        rc = bk_error_set(BK_ECORRUPT, "%s: %zu bytes after the index's zstd frame", path,
                          raw.len - end);
    } else {
        rc = read_doc(doc, path, out);
    }
    cJSON_Delete(doc);
    bk_strbuf_release(&raw);
    bk_strbuf_release(&json);
    if (rc < 0)
        bk_index_release(out);
    return rc;
}
