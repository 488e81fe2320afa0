/*
 * s3_layout.c - the entry layout and lookup rule that the s3 and azblob
 * stores share; see s3.h.
 *
 * An entry is one object named PREFIX + KEY + ".tar.zst", except a blob
 * kept as an entry (key BK_BLOB_KEY_PREFIX<hex>, see provider.h): its
 * object is PREFIX + "blobs/sha256/<hex>", beside the entries, so the
 * blobs of every key are one content-addressed directory. Lookup asks for
 * the exact key with a HEAD, then lists each restore key as a name prefix
 * and takes the newest match (bk_provider_pick()). Only the requests differ
 * between the two services, so each store passes its own head() and list()
 * and the list page parser is told the element names of its XML.
 */
#include "providers/s3.h"

#include "core/util/error.h"
#include "core/net/http.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

#define SUFFIX_LEN (sizeof(S3_SUFFIX) - 1)

void s3_entries_free(struct s3_entries *es)
{
    for (size_t i = 0; i < es->n; i++)
        bk_provider_entry_release(&es->v[i]);
    free(es->v);
    memset(es, 0, sizeof(*es));
}

#define BLOB_DIR "blobs/sha256/"
#define BLOB_KEY_LEN (sizeof(BK_BLOB_KEY_PREFIX) - 1)

char *s3_layout_name(const char *prefix, const char *key)
{
    if (strncmp(key, BK_BLOB_KEY_PREFIX, BLOB_KEY_LEN) == 0)
        return bk_xasprintf("%s" BLOB_DIR "%s", prefix, key + BLOB_KEY_LEN);
    return bk_xasprintf("%s%s%s", prefix, key, S3_SUFFIX);
}

/* The key of object `name`, or NULL when it is not an entry under prefix. */
static char *layout_key(const char *prefix, const char *name)
{
    size_t pl = strlen(prefix), n = strlen(name);
    if (strncmp(name, prefix, pl) == 0 && strncmp(name + pl, BLOB_DIR, strlen(BLOB_DIR)) == 0 &&
        n == pl + strlen(BLOB_DIR) + 64)
        return bk_xasprintf("%s%s", BK_BLOB_KEY_PREFIX, name + pl + strlen(BLOB_DIR));
    if (n <= pl + SUFFIX_LEN || strncmp(name, prefix, pl) != 0 ||
        strcmp(name + n - SUFFIX_LEN, S3_SUFFIX) != 0)
        return NULL;
    return bk_xstrndup(name + pl, n - pl - SUFFIX_LEN);
}

void s3_entries_parse(struct s3_entries *es, const char *prefix, const struct s3_list_format *f,
                      const struct bk_strbuf *body)
{
    struct s3_xml_span item;
    size_t pos = 0;

    while (s3_xml_next(body->buf, body->len, &pos, f->item, &item)) {
        char *name = s3_xml_text(&item, f->name);
        char *key = name ? layout_key(prefix, name) : NULL;
        if (key) {
            char *size = s3_xml_text(&item, f->size);
            char *mod = s3_xml_text(&item, f->modified);
            if (es->n == es->alloc) {
                es->alloc = es->alloc ? 2 * es->alloc : 16;
                es->v = bk_xrealloc(es->v, es->alloc * sizeof(*es->v));
            }
            struct bk_provider_entry *e = &es->v[es->n++];
            memset(e, 0, sizeof(*e));
            e->key = key;
            e->size = size ? strtoull(size, NULL, 10) : 0;
            e->created = s3_parse_time(mod);
            e->handle = bk_xstrdup(name);
            free(size);
            free(mod);
        }
        free(name);
    }
}

int s3_layout_head(const struct s3_queries *qs, struct bk_provider *p, const char *prefix,
                   const char *key, struct bk_provider_entry *out)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    char *name = s3_layout_name(prefix, key);
    char *what = bk_xasprintf("%s: head %s", qs->label, key);
    int rc = qs->request(p, "HEAD", name, &resp, what);

    if (!rc) {
        const char *len = bk_http_header(&resp, "content-length");
        memset(out, 0, sizeof(*out));
        out->key = bk_xstrdup(key);
        out->size = len ? strtoull(len, NULL, 10) : 0;
        out->created = s3_parse_time(bk_http_header(&resp, "last-modified"));
        out->handle = name;
        name = NULL;
    }
    bk_http_response_release(&resp);
    free(what);
    free(name);
    return rc;
}

int s3_layout_remove(const struct s3_queries *qs, struct bk_provider *p, const char *prefix,
                     const struct bk_provider_entry *e)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    char *name = e->handle ? bk_xstrdup(e->handle) : s3_layout_name(prefix, e->key);
    char *what = bk_xasprintf("%s: delete %s", qs->label, e->key);
    int rc = qs->request(p, "DELETE", name, &resp, what);
    bk_http_response_release(&resp);
    free(what);
    free(name);
    return rc;
}

int s3_layout_lookup(const struct s3_queries *qs, struct bk_provider *p, const char *prefix,
                     const struct bk_lookup *q, struct bk_provider_entry *out)
{
    int rc = s3_layout_head(qs, p, prefix, q->key, out);
    if (rc != BK_ENOTFOUND)
        return rc;
    for (size_t r = 0; r < q->nrestore; r++) {
        struct s3_entries es = {0};
        struct bk_lookup one = {q->key, &q->restore_keys[r], 1, q->identity};
        rc = qs->list(p, q->restore_keys[r], &es);
        long best = rc ? -1 : bk_provider_pick(es.v, es.n, &one);
        if (best >= 0)
            bk_provider_entry_copy(out, &es.v[best]);
        s3_entries_free(&es);
        if (rc)
            return rc;
        if (best >= 0)
            return BK_OK;
    }
    return bk_error_set(BK_ENOTFOUND, "%s: no entry for %s", qs->label, q->key);
}

int s3_layout_list(const struct s3_queries *qs, struct bk_provider *p, bk_entry_cb cb,
                   void *payload)
{
    struct s3_entries es = {0};
    int rc = qs->list(p, "", &es);
    for (size_t i = 0; !rc && i < es.n; i++)
        if (cb(&es.v[i], payload))
            break;
    s3_entries_free(&es);
    return rc;
}
