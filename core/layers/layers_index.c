/*
 * layers_index.c - what a layer cache is made of: the blobs an OCI layout's
 * index.json reaches, and the index document bkcache stores; see layers.h.
 *
 * BuildKit's local cache export writes index.json naming one manifest (an
 * image index or image manifest) whose "manifests"/"layers" list the layer
 * blobs and whose "config" is the cache configuration. The walk below does
 * not depend on that shape: it follows every descriptor under "manifests",
 * "layers", "config" and "blobs", and reads the blobs whose media type is an
 * index or a manifest for more, each blob once.
 */
#include "core/layers/layers.h"

#include "core/util/error.h"
#include "core/util/json.h"
#include "core/util/sha256.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#define MAX_INDEX_BYTES (64u << 20) /* a manifest or index larger than this is not one */

void bk_layer_index_release(struct bk_layer_index *ix)
{
    free(ix->oci_index);
    free(ix->blobs);
    memset(ix, 0, sizeof(*ix));
}

static int has_blob(const struct bk_layer_index *ix, const char *digest)
{
    for (size_t i = 0; i < ix->n; i++)
        if (strcmp(ix->blobs[i].digest, digest) == 0)
            return 1;
    return 0;
}

static void add_blob(struct bk_layer_index *ix, const char *digest, uint64_t size)
{
    if (ix->n == ix->alloc) {
        ix->alloc = ix->alloc ? ix->alloc * 2 : 16;
        ix->blobs = bk_xrealloc(ix->blobs, ix->alloc * sizeof(*ix->blobs));
    }
    snprintf(ix->blobs[ix->n].digest, sizeof(ix->blobs[ix->n].digest), "%s", digest);
    ix->blobs[ix->n].size = size;
    ix->n++;
}

static int is_json_manifest(const char *media_type)
{
    return media_type && (strstr(media_type, "image.index") || strstr(media_type, "manifest")) &&
           !strstr(media_type, "layer");
}

static int walk_doc(const char *dir, const cJSON *doc, const char *what, int depth,
                    struct bk_layer_index *ix);

/* One descriptor: record its blob, and read it when it lists more. */
static int walk_descriptor(const char *dir, const cJSON *d, const char *what, int depth,
                           struct bk_layer_index *ix)
{
    const cJSON *dg = cJSON_GetObjectItemCaseSensitive(d, "digest");
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(d, "size");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(d, "mediaType");
    char *path;
    struct stat st;
    int rc = BK_OK;

    if (!cJSON_IsString(dg) || !bk_digest_valid(dg->valuestring) || !cJSON_IsNumber(sz) ||
        sz->valuedouble < 0)
        return bk_error_set(BK_ECORRUPT, "%s: a descriptor without a sha256 digest and a size",
                            what);
    if (has_blob(ix, dg->valuestring))
        return BK_OK;
    path = bk_xasprintf("%s/blobs/sha256/%s", dir, dg->valuestring + 7);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = bk_error_set(BK_ECORRUPT, "%s names %s, which %s/blobs lacks", what, dg->valuestring,
                          dir);
    } else if ((uint64_t)st.st_size != (uint64_t)sz->valuedouble) {
        rc = bk_error_set(BK_ECORRUPT, "%s: %llu bytes, its descriptor in %s says %.0f", path,
                          (unsigned long long)st.st_size, what, sz->valuedouble);
    } else {
        add_blob(ix, dg->valuestring, (uint64_t)st.st_size);
        if (cJSON_IsString(mt) && is_json_manifest(mt->valuestring)) {
            cJSON *sub = NULL;
            if (depth > 8)
                rc = bk_error_set(BK_ECORRUPT, "%s: manifests nested too deeply", path);
            else if (st.st_size > MAX_INDEX_BYTES || bk_json_read_file(path, (void **)&sub) < 0)
                rc = bk_error_set(BK_ECORRUPT, "%s: not a JSON manifest", path);
            else
                rc = walk_doc(dir, sub, path, depth + 1, ix);
            cJSON_Delete(sub);
        }
    }
    free(path);
    return rc;
}

static int walk_doc(const char *dir, const cJSON *doc, const char *what, int depth,
                    struct bk_layer_index *ix)
{
    static const char *const lists[] = {"manifests", "layers", "blobs"};
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(doc, "config");
    int rc = BK_OK;

    if (!cJSON_IsObject(doc))
        return bk_error_set(BK_ECORRUPT, "%s: not a JSON object", what);
    if (cJSON_IsObject(cfg) && (rc = walk_descriptor(dir, cfg, what, depth, ix)) < 0)
        return rc;
    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, lists[l]), *d;
        cJSON_ArrayForEach(d, arr)
        {
            if ((rc = walk_descriptor(dir, d, what, depth, ix)) < 0)
                return rc;
        }
    }
    return BK_OK;
}

int bk_layer_index_read_dir(const char *dir, struct bk_layer_index *out)
{
    struct bk_strbuf text = BK_STRBUF_INIT;
    char *path = bk_xasprintf("%s/index.json", dir);
    cJSON *doc = NULL;
    struct stat st;
    int rc;

    memset(out, 0, sizeof(*out));
    if (stat(path, &st) != 0) {
        rc = bk_error_set(BK_ENOTFOUND, "%s: no such file", path);
    } else if ((rc = bk_strbuf_read_file(&text, path)) < 0) {
        /* message set */
    } else if (!(doc = cJSON_ParseWithLength(text.buf, text.len))) {
        rc = bk_error_set(BK_ECORRUPT, "%s: not JSON", path);
    } else {
        rc = walk_doc(dir, doc, path, 0, out);
        if (rc == BK_OK && out->n == 0)
            rc = bk_error_set(BK_ECORRUPT, "%s: names no blob", path);
    }
    cJSON_Delete(doc);
    if (rc == BK_OK)
        out->oci_index = bk_strbuf_detach(&text);
    else
        bk_layer_index_release(out);
    bk_strbuf_release(&text);
    free(path);
    return rc;
}

/* ---- the stored document ---- */

int bk_layer_index_encode(const struct bk_layer_index *ix, struct bk_strbuf *out)
{
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    char *json;
    size_t bound, got;

    cJSON_AddStringToObject(doc, "schema", BK_LAYERS_SCHEMA);
    cJSON_AddStringToObject(doc, "index", ix->oci_index);
    for (size_t i = 0; i < ix->n; i++) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "digest", ix->blobs[i].digest);
        cJSON_AddNumberToObject(b, "size", (double)ix->blobs[i].size);
        cJSON_AddItemToArray(arr, b);
    }
    cJSON_AddItemToObject(doc, "blobs", arr);
    json = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!json)
        abort();
    bound = ZSTD_compressBound(strlen(json));
    bk_strbuf_reset(out);
    bk_strbuf_grow(out, bound);
    got = ZSTD_compress(out->buf, bound, json, strlen(json), 3);
    cJSON_free(json);
    if (ZSTD_isError(got))
        return bk_error_set(BK_ERR, "cannot compress the layer index: %s", ZSTD_getErrorName(got));
    out->len = got;
    return BK_OK;
}

int bk_layer_index_decode(const void *data, size_t len, const char *what,
                          struct bk_layer_index *out)
{
    unsigned long long want = ZSTD_getFrameContentSize(data, len);
    const cJSON *schema, *index, *blobs, *b;
    char *json;
    size_t got;
    cJSON *doc;
    int rc = BK_OK;

    memset(out, 0, sizeof(*out));
    if (want == ZSTD_CONTENTSIZE_ERROR || want == ZSTD_CONTENTSIZE_UNKNOWN ||
        want > MAX_INDEX_BYTES)
        return bk_error_set(BK_ECORRUPT, "%s: not a layer index", what);
    json = bk_xmalloc((size_t)want + 1);
    got = ZSTD_decompress(json, (size_t)want, data, len);
    if (ZSTD_isError(got) || got != want) {
        free(json);
        return bk_error_set(BK_ECORRUPT, "%s: a damaged layer index", what);
    }
    doc = cJSON_ParseWithLength(json, got);
    free(json);
    schema = cJSON_GetObjectItemCaseSensitive(doc, "schema");
    index = cJSON_GetObjectItemCaseSensitive(doc, "index");
    blobs = cJSON_GetObjectItemCaseSensitive(doc, "blobs");
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, BK_LAYERS_SCHEMA) != 0 ||
        !cJSON_IsString(index) || !cJSON_IsArray(blobs)) {
        rc = bk_error_set(BK_ECORRUPT, "%s: not a %s document", what, BK_LAYERS_SCHEMA);
        goto done;
    }
    cJSON_ArrayForEach(b, blobs)
    {
        const cJSON *dg = cJSON_GetObjectItemCaseSensitive(b, "digest");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(b, "size");
        if (!cJSON_IsString(dg) || !bk_digest_valid(dg->valuestring) || !cJSON_IsNumber(sz) ||
            sz->valuedouble < 0) {
            rc = bk_error_set(BK_ECORRUPT, "%s: a blob without a sha256 digest and a size", what);
            goto done;
        }
        if (!has_blob(out, dg->valuestring))
            add_blob(out, dg->valuestring, (uint64_t)sz->valuedouble);
    }
    out->oci_index = bk_xstrdup(index->valuestring);
done:
    cJSON_Delete(doc);
    if (rc < 0)
        bk_layer_index_release(out);
    return rc;
}
