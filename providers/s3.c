/*
 * s3.c - the S3-compatible object store (`--provider s3`, `--store
 * s3://BUCKET/PREFIX`): AWS S3, MinIO, Ceph RGW, Cloudflare R2, GCS
 * interoperability. Configuration: s3.h; signing: s3_sigv4.c.
 *
 * Layout: one object per entry, named PREFIX + KEY + ".tar.zst", so a
 * restore key is an object-name prefix and ListObjectsV2 answers restore
 * lookups directly. The object's LastModified is the entry's creation time
 * (S3 keeps no access time, so last_used stays 0 and prune ranks entries by
 * age). The identity descriptor travels as x-amz-meta-bkcache-identity
 * (percent-encoded). list() and prune see only objects under PREFIX whose
 * names end in ".tar.zst", so a shared bucket's other objects are safe.
 *
 * Transfers: an archive up to part_size bytes is one PUT; a larger one is a
 * multipart upload (CreateMultipartUpload, UploadPart, CompleteMultipart-
 * Upload), aborted on failure so no orphaned parts stay billed. Downloads
 * are ranged GETs that resume where a cut-off response stopped.
 *
 * Concurrency: two runners saving one key both succeed and the last
 * complete write wins (S3 objects are replaced atomically), so a reader
 * sees one whole archive or the other. Caps: list and delete; keys are not
 * immutable.
 *
 * Errors: S3's XML error Code and Message are put into the message; 503
 * SlowDown and 5xx are BK_ETRANSIENT (core retries); 403 and the 400s of
 * an expired or unknown credential (ExpiredToken, InvalidToken,
 * InvalidAccessKeyId) are BK_EDENIED; NoSuchBucket is BK_ERR, not a miss.
 */
#include "providers/s3.h"

#include "core/net/blob.h"
#include "core/util/error.h"
#include "core/net/http.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PARTS 10000

extern const struct bk_provider_ops bk_provider_s3;

struct s3_store {
    struct bk_provider base;
    struct s3_config c;
    struct s3_sigv4 k;
};

/* ---- requests ---- */

static int s3_sign(void *payload, const char *method, const char *url, uint64_t content_length,
                   struct bk_strvec *headers)
{
    struct s3_store *s = payload;
    return s3_sigv4_sign(&s->k, method, url, content_length, headers, NULL);
}

/* One signed request with an in-memory body (or none); the response in resp. */
static int s3_request(struct s3_store *s, const char *method, const char *url,
                      const struct bk_strvec *extra, const char *body, size_t body_len,
                      struct bk_http_response *resp, const char *what)
{
    struct bk_strvec h = BK_STRVEC_INIT;
    struct bk_http_request req;
    int rc;

    for (size_t i = 0; extra && i < extra->n; i++)
        bk_strvec_push(&h, extra->v[i]);
    bk_http_request_init(&req, method, url);
    req.body = body;
    req.body_len = body_len;
    req.headers = &h;
    rc = s3_sign(s, method, url, body_len, &h);
    if (!rc)
        rc = bk_http_do(&req, resp);
    if (!rc)
        rc = s3_xml_check(resp, what);
    else
        bk_error_wrap(rc, "%s", what);
    bk_strvec_clear(&h);
    return rc;
}

static char *object_name(const struct s3_store *s, const char *key)
{
    return s3_layout_name(s->c.prefix, key);
}

static int check_key(const struct s3_store *s, const char *key)
{
    if (!*key || strlen(s->c.prefix) + strlen(key) + strlen(S3_SUFFIX) > S3_MAX_KEY)
        return bk_error_set(BK_EINVAL, "s3: key '%.60s...' is empty or too long for an object name",
                            key);
    return BK_OK;
}

/* ---- listing ---- */

static const struct s3_list_format k_list_format = {"Contents", "Key", "Size", "LastModified"};

/* Every entry whose key starts with `key_prefix` ("" for all), following
 * continuation tokens. */
static int list_prefix(struct bk_provider *p, const char *key_prefix, struct s3_entries *es)
{
    struct s3_store *s = (struct s3_store *)p;
    char *token = NULL;
    char *bucket = s3_object_url(&s->c, NULL);
    int rc = BK_OK;

    do {
        struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
        char *full = bk_xasprintf("%s%s", s->c.prefix, key_prefix);
        char *pre = s3_uri_encode(full, strlen(full), 0);
        char *t = token ? s3_uri_encode(token, strlen(token), 0) : NULL;
        char *url = bk_xasprintf("%s?list-type=2&max-keys=%d&prefix=%s%s%s", bucket, s->c.list_page,
                                 pre, t ? "&continuation-token=" : "", t ? t : "");
        free(full);
        free(pre);
        free(t);
        free(token);
        token = NULL;
        rc = s3_request(s, "GET", url, NULL, NULL, 0, &resp, "s3: list objects");
        if (!rc) {
            struct s3_xml_span doc = {resp.body.buf, resp.body.len};
            char *trunc = s3_xml_text(&doc, "IsTruncated");
            if (trunc && strcmp(trunc, "true") == 0)
                token = s3_xml_text(&doc, "NextContinuationToken");
            free(trunc);
            s3_entries_parse(es, s->c.prefix, &k_list_format, &resp.body);
        }
        bk_http_response_release(&resp);
        free(url);
    } while (!rc && token);
    free(token);
    free(bucket);
    return rc;
}

/* ---- provider slots ---- */

static int s3_create(const struct bk_provider_config *cfg, struct bk_provider **out)
{
    struct s3_store *s = bk_xcalloc(1, sizeof(*s));
    int rc = s3_parse_config(cfg, &s->c);
    if (rc) {
        free(s);
        return rc;
    }
    bk_log_add_secret(s->c.secret_key);
    if (s->c.session_token)
        bk_log_add_secret(s->c.session_token);
    s->base.ops = &bk_provider_s3;
    s->k.access_key = s->c.access_key;
    s->k.secret_key = s->c.secret_key;
    s->k.session_token = s->c.session_token;
    s->k.region = s->c.region;
    s->k.service = "s3";
    *out = &s->base;
    return BK_OK;
}

static int object_request(struct bk_provider *p, const char *method, const char *name,
                          struct bk_http_response *resp, const char *what)
{
    struct s3_store *s = (struct s3_store *)p;
    char *url = s3_object_url(&s->c, name);
    int rc = s3_request(s, method, url, NULL, NULL, 0, resp, what);
    free(url);
    return rc;
}

static const struct s3_queries k_queries = {"s3", object_request, list_prefix};

static int s3_lookup(struct bk_provider *p, const struct bk_lookup *q,
                     struct bk_provider_entry *out)
{
    struct s3_store *s = (struct s3_store *)p;
    int rc = check_key(s, q->key);
    return rc ? rc : s3_layout_lookup(&k_queries, p, s->c.prefix, q, out);
}

/* ---- transfers: parts through core/net/blob.c's runner ---- */

struct s3_xfer {
    struct s3_store *s;
    const char *url;           /* the object */
    const struct bk_upload *u; /* uploads */
    char *etag;                /* downloads: the version every range must come from */
    char *upload_id;           /* multipart uploads */
    char **etags;              /* one per part */
    uint64_t nparts;
};

static void blob_opts(const struct s3_store *s, struct bk_blob_opts *o, const char *label,
                      int retries)
{
    memset(o, 0, sizeof(*o));
    o->block_size = s->c.part_size;
    o->parallel = s->c.parallel;
    o->retries = retries;
    o->label = label;
}

static int prepare_get(void *payload, uint64_t index, uint64_t offset, uint64_t len,
                       struct bk_blob_part *part)
{
    struct s3_xfer *x = payload;
    (void)index;
    part->method = "GET";
    part->url = bk_xstrdup(x->url);
    bk_strvec_pushf(&part->headers, "Range: bytes=%" PRIu64 "-%" PRIu64, offset, offset + len - 1);
    if (x->etag)
        bk_strvec_pushf(&part->headers, "If-Match: %s", x->etag);
    return BK_OK;
}

/* Size and ETag of object `name` (HEAD). */
static int head_version(struct bk_provider *p, const char *name, const char *key, uint64_t *size,
                        char **etag)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    char *what = bk_xasprintf("s3: head %s", key);
    int rc = object_request(p, "HEAD", name, &resp, what);
    if (!rc) {
        const char *len = bk_http_header(&resp, "content-length");
        const char *tag = bk_http_header(&resp, "etag");
        *size = len ? strtoull(len, NULL, 10) : 0;
        *etag = tag ? bk_xstrdup(tag) : NULL;
    }
    bk_http_response_release(&resp);
    free(what);
    return rc;
}

/*
 * Ranged GETs of part_size bytes, `parallel` at a time, written in place; a
 * response cut off midway is asked for again from the last byte received
 * (core/net/blob.c retries each part up to 4 more times on its own). An archive
 * of more than one part is pinned to the version a HEAD saw (If-Match), so
 * a concurrent save cannot splice two archives together: the download then
 * fails with 412 instead.
 */
static int s3_download(struct bk_provider *p, const struct bk_provider_entry *e, int fd)
{
    struct s3_store *s = (struct s3_store *)p;
    char *name = e->handle ? bk_xstrdup(e->handle) : object_name(s, e->key);
    char *url = s3_object_url(&s->c, name);
    char *label = bk_xasprintf("s3: get %s", e->key);
    struct s3_xfer x = {.s = s, .url = url};
    uint64_t size = e->size;
    int rc = BK_OK;

    if (!size || size > s->c.part_size)
        rc = head_version(p, name, e->key, &size, &x.etag);
    struct bk_blob_parts job = {.upload = 0,
                                .fd = fd,
                                .size = size,
                                .part_size = s->c.part_size,
                                .prepare = prepare_get,
                                .payload = &x,
                                .sign = s3_sign,
                                .sign_payload = s};
    struct bk_blob_opts o;
    blob_opts(s, &o, label, 0);
    if (!rc && size > 0)
        rc = bk_blob_run_parts(&job, &o);
    if (!rc && ftruncate(fd, (off_t)size) != 0)
        rc = bk_error_set(BK_ERR, "%s: cannot truncate the output: %s", label, strerror(errno));
    free(x.etag);
    free(label);
    free(url);
    free(name);
    return rc;
}

static void meta_headers(const struct bk_upload *u, struct bk_strvec *h)
{
    bk_strvec_push(h, "Content-Type: application/zstd");
    if (u->identity) {
        char *enc = bk_http_urlencode(u->identity);
        if (strlen(enc) <= 1024)
            bk_strvec_pushf(h, "x-amz-meta-bkcache-identity: %s", enc);
        free(enc);
    }
}

static int prepare_put(void *payload, uint64_t index, uint64_t offset, uint64_t len,
                       struct bk_blob_part *part)
{
    struct s3_xfer *x = payload;
    (void)offset;
    (void)len;
    part->method = "PUT";
    if (!x->upload_id) {
        part->url = bk_xstrdup(x->url);
        meta_headers(x->u, &part->headers);
        return BK_OK;
    }
    char *id = s3_uri_encode(x->upload_id, strlen(x->upload_id), 0);
    part->url = bk_xasprintf("%s?partNumber=%" PRIu64 "&uploadId=%s", x->url, index + 1, id);
    free(id);
    return BK_OK;
}

static int part_done(void *payload, uint64_t index, const struct bk_http_response *resp)
{
    struct s3_xfer *x = payload;
    const char *etag = bk_http_header(resp, "etag");
    if (!x->upload_id)
        return BK_OK;
    if (!etag)
        return bk_error_set(BK_ERR, "s3: put %s: part %" PRIu64 " came back without an ETag",
                            x->u->key, index + 1);
    free(x->etags[index]);
    x->etags[index] = bk_xstrdup(etag);
    return BK_OK;
}

static int mpu_create(struct s3_xfer *x)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_strvec h = BK_STRVEC_INIT;
    char *url = bk_xasprintf("%s?uploads", x->url);
    char *what = bk_xasprintf("s3: create multipart upload %s", x->u->key);
    meta_headers(x->u, &h);
    int rc = s3_request(x->s, "POST", url, &h, NULL, 0, &resp, what);
    if (!rc) {
        struct s3_xml_span doc = {resp.body.buf, resp.body.len};
        x->upload_id = s3_xml_text(&doc, "UploadId");
        if (!x->upload_id || !*x->upload_id)
            rc = bk_error_set(BK_ERR, "%s: no UploadId in the answer", what);
    }
    bk_http_response_release(&resp);
    bk_strvec_clear(&h);
    free(what);
    free(url);
    return rc;
}

static int mpu_complete(struct s3_xfer *x)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_strbuf xml = BK_STRBUF_INIT;
    char *id = s3_uri_encode(x->upload_id, strlen(x->upload_id), 0);
    char *url = bk_xasprintf("%s?uploadId=%s", x->url, id);
    char *what = bk_xasprintf("s3: complete multipart upload %s", x->u->key);
    struct bk_strvec h = BK_STRVEC_INIT;

    bk_strbuf_adds(&xml, "<CompleteMultipartUpload>");
    for (uint64_t i = 0; i < x->nparts; i++)
        bk_strbuf_addf(&xml, "<Part><PartNumber>%" PRIu64 "</PartNumber><ETag>%s</ETag></Part>",
                       i + 1, x->etags[i]);
    bk_strbuf_adds(&xml, "</CompleteMultipartUpload>");
    bk_strvec_push(&h, "Content-Type: application/xml");
    int rc = s3_request(x->s, "POST", url, &h, xml.buf, xml.len, &resp, what);
    /* S3 may answer 200 and report a failure in the body */
    if (!rc && strstr(resp.body.buf, "<Error>")) {
        resp.status = 500;
        rc = s3_xml_check(&resp, what);
    }
    bk_http_response_release(&resp);
    bk_strbuf_release(&xml);
    bk_strvec_clear(&h);
    free(what);
    free(url);
    free(id);
    return rc;
}

/* Best effort: parts of a failed upload would otherwise stay (and be billed).
 * Returns `code`, the failure being reported, with its message kept. */
static int mpu_abort(struct s3_xfer *x, int code)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    char *id = s3_uri_encode(x->upload_id, strlen(x->upload_id), 0);
    char *url = bk_xasprintf("%s?uploadId=%s", x->url, id);
    char *msg = bk_xstrdup(bk_error_msg());
    long ra = bk_error_retry_after_ms();

    if (s3_request(x->s, "DELETE", url, NULL, NULL, 0, &resp, "s3: abort multipart upload"))
        bk_warn("%s", bk_error_msg());
    bk_error_set(code, "%s", msg);
    bk_error_set_retry_after(ra);
    bk_http_response_release(&resp);
    free(msg);
    free(url);
    free(id);
    return code;
}

/*
 * Up to part_size bytes: one PUT (core retries it as a whole). Larger: a
 * multipart upload of part_size parts (more when 10000 would not do),
 * `parallel` at a time, each part retried on its own; aborted on failure.
 */
static int s3_upload(struct bk_provider *p, const struct bk_upload *u, int fd)
{
    struct s3_store *s = (struct s3_store *)p;
    int rc = check_key(s, u->key);
    if (rc)
        return rc;
    char *name = object_name(s, u->key);
    char *url = s3_object_url(&s->c, name);
    char *label = bk_xasprintf("s3: put %s", u->key);
    struct s3_xfer x = {.s = s, .url = url, .u = u};
    uint64_t part = s->c.part_size;
    struct bk_blob_parts job = {.upload = 1,
                                .fd = fd,
                                .size = u->size,
                                .prepare = prepare_put,
                                .payload = &x,
                                .sign = s3_sign,
                                .sign_payload = s,
                                .done = part_done};
    struct bk_blob_opts o;

    if (u->size <= part) {
        job.part_size = u->size ? u->size : 1;
        blob_opts(s, &o, label, -1);
        rc = bk_blob_run_parts(&job, &o);
    } else {
        if ((u->size + part - 1) / part > MAX_PARTS)
            part = (u->size + MAX_PARTS - 1) / MAX_PARTS;
        job.part_size = part;
        x.nparts = (u->size + part - 1) / part;
        x.etags = bk_xcalloc(x.nparts, sizeof(char *));
        blob_opts(s, &o, label, 0);
        rc = mpu_create(&x);
        if (!rc) {
            rc = bk_blob_run_parts(&job, &o);
            if (!rc)
                rc = mpu_complete(&x);
            if (rc)
                rc = mpu_abort(&x, rc);
        }
        for (uint64_t i = 0; i < x.nparts; i++)
            free(x.etags[i]);
        free(x.etags);
        free(x.upload_id);
    }
    free(label);
    free(url);
    free(name);
    return rc;
}

static int s3_list(struct bk_provider *p, bk_entry_cb cb, void *payload)
{
    return s3_layout_list(&k_queries, p, cb, payload);
}

static int s3_remove(struct bk_provider *p, const struct bk_provider_entry *e)
{
    return s3_layout_remove(&k_queries, p, ((struct s3_store *)p)->c.prefix, e);
}

static void s3_destroy(struct bk_provider *p)
{
    struct s3_store *s = (struct s3_store *)p;
    if (!s)
        return;
    s3_config_release(&s->c);
    free(s);
}

const struct bk_provider_ops bk_provider_s3 = {
    .name = "s3",                                            /* name */
    .scheme = "s3",                                          /* scheme */
    .caps = BK_CAP_DELETE | BK_CAP_LIST | BK_CAP_THREADSAFE, /* caps */
    .detect = NULL,                                          /* detect: only when asked for */
    .create = s3_create,                                     /* create */
    .lookup = s3_lookup,                                     /* lookup */
    .download = s3_download,                                 /* download */
    .upload = s3_upload,                                     /* upload */
    .list = s3_list,                                         /* list */
    .remove = s3_remove,                                     /* remove */
    .destroy = s3_destroy,                                   /* destroy */
};
