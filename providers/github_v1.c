/*
 * github_v1.c - the legacy GitHub Actions cache service (§5), still the one
 * GitHub Enterprise Server offers: REST under <ACTIONS_CACHE_URL>_apis/
 * artifactcache/. Save is reserve (POST caches), chunks (PATCH caches/{id}
 * with Content-Range, several in flight through core/net/blob.c's part runner),
 * commit (POST caches/{id}); lookup is GET cache?keys=&version=, whose
 * archiveLocation is then downloaded like a blob.
 */
#include "providers/github_common.h"

#include "core/util/error.h"
#include "core/net/http.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V1_ACCEPT "Accept: application/json;api-version=6.0-preview.1"
#define V1_CHUNK (32ull << 20)

static void v1_headers(const struct github *g, struct bk_strvec *h, int json_body)
{
    github_auth_header(g, h);
    bk_strvec_push(h, V1_ACCEPT);
    if (json_body)
        bk_strvec_push(h, "Content-Type: application/json");
}

/* One control-plane request; the reply (any status) in resp. */
static int v1_request(struct github *g, const char *method, const char *resource, const char *json,
                      struct bk_http_response *resp)
{
    struct bk_strvec headers = BK_STRVEC_INIT;
    struct bk_http_request req;
    char *url = bk_xasprintf("%s_apis/artifactcache/%s", g->cfg.url, resource);
    int rc;

    v1_headers(g, &headers, json != NULL);
    bk_http_request_init(&req, method, url);
    req.headers = &headers;
    if (json) {
        req.body = json;
        req.body_len = strlen(json);
    }
    req.timeout_ms = 120000;
    rc = bk_http_do(&req, resp);
    if (rc)
        bk_error_wrap(rc, "github");
    bk_strvec_clear(&headers);
    free(url);
    return rc;
}

/* bk_http_check with the service's "message" added when it sent one. */
static int v1_check(const struct bk_http_response *resp, const char *what)
{
    int rc = bk_http_check(resp, what);
    if (rc) {
        long retry_after = bk_error_retry_after_ms();
        cJSON *j = cJSON_ParseWithLength(resp->body.buf, resp->body.len);
        const cJSON *m = j ? cJSON_GetObjectItemCaseSensitive(j, "message") : NULL;
        if (cJSON_IsString(m))
            bk_error_set(rc, "%s: HTTP %ld %s", what, resp->status, m->valuestring);
        bk_error_set_retry_after(retry_after);
        cJSON_Delete(j);
    }
    return rc;
}

int github_v1_lookup(struct github *g, const struct bk_lookup *q, const char *version,
                     struct bk_provider_entry *out)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_strvec keys = BK_STRVEC_INIT;
    char *joined, *enc, *resource;
    int rc;

    bk_strvec_push(&keys, q->key);
    for (size_t i = 0; i < q->nrestore; i++)
        bk_strvec_push(&keys, q->restore_keys[i]);
    joined = bk_strvec_join(&keys, ",");
    enc = bk_http_urlencode(joined);
    resource = bk_xasprintf("cache?keys=%s&version=%s", enc, version);
    rc = v1_request(g, "GET", resource, NULL, &resp);
    if (!rc && resp.status == 204)
        rc = bk_error_set(BK_ENOTFOUND, "github: no entry for key '%s' (version %.12s)", q->key,
                          version);
    else if (!rc)
        rc = v1_check(&resp, "github: cache lookup");
    if (!rc) {
        cJSON *j = cJSON_ParseWithLength(resp.body.buf, resp.body.len);
        const cJSON *loc = j ? cJSON_GetObjectItemCaseSensitive(j, "archiveLocation") : NULL;
        const cJSON *key = j ? cJSON_GetObjectItemCaseSensitive(j, "cacheKey") : NULL;
        const cJSON *scope = j ? cJSON_GetObjectItemCaseSensitive(j, "scope") : NULL;
        if (!cJSON_IsString(loc) || !*loc->valuestring) {
            rc = bk_error_set(BK_ENOTFOUND,
                              "github: lookup of '%s': reply has no "
                              "archiveLocation",
                              q->key);
        } else {
            github_hide_signature(loc->valuestring);
            memset(out, 0, sizeof(*out));
            out->key = bk_xstrdup(cJSON_IsString(key) ? key->valuestring : q->key);
            out->handle = bk_xstrdup(loc->valuestring);
            out->scope = cJSON_IsString(scope) ? bk_xstrdup(scope->valuestring) : NULL;
        }
        cJSON_Delete(j);
    }
    bk_http_response_release(&resp);
    free(resource);
    free(enc);
    free(joined);
    bk_strvec_clear(&keys);
    return rc;
}

static int reserve(struct github *g, const struct bk_upload *u, const char *version, long *id)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    cJSON *req = cJSON_CreateObject();
    char *body;
    int rc;

    cJSON_AddStringToObject(req, "key", u->key);
    cJSON_AddStringToObject(req, "version", version);
    cJSON_AddNumberToObject(req, "cacheSize", (double)u->size);
    body = cJSON_PrintUnformatted(req);
    rc = v1_request(g, "POST", "caches", body, &resp);
    if (!rc)
        rc = v1_check(&resp, "github: reserve");
    if (rc == BK_EEXISTS)
        rc = github_exists(u->key);
    if (!rc) {
        cJSON *j = cJSON_ParseWithLength(resp.body.buf, resp.body.len);
        const cJSON *v = j ? cJSON_GetObjectItemCaseSensitive(j, "cacheId") : NULL;
        *id = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
        if (*id <= 0)
            rc = bk_error_set(BK_ESKIPPED,
                              "github: cannot reserve key '%s' (another job may be "
                              "creating it)",
                              u->key);
        cJSON_Delete(j);
    }
    bk_http_response_release(&resp);
    cJSON_Delete(req);
    free(body);
    return rc;
}

struct patch_ctx {
    struct github *g;
    long id;
};

static int prepare_patch(void *payload, uint64_t index, uint64_t offset, uint64_t len,
                         struct bk_blob_part *part)
{
    struct patch_ctx *p = payload;
    (void)index;
    part->method = "PATCH";
    part->url = bk_xasprintf("%s_apis/artifactcache/caches/%ld", p->g->cfg.url, p->id);
    v1_headers(p->g, &part->headers, 0);
    bk_strvec_push(&part->headers, "Content-Type: application/octet-stream");
    bk_strvec_pushf(&part->headers, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/*", offset,
                    offset + len - 1);
    return BK_OK;
}

int github_v1_upload(struct github *g, const struct bk_upload *u, const char *version, int fd)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct patch_ctx pc = {g, 0};
    char resource[64], body[48];
    int rc = reserve(g, u, version, &pc.id);

    if (!rc && u->size > 0) {
        struct bk_blob_parts job = {.upload = 1,
                                    .fd = fd,
                                    .size = u->size,
                                    .part_size = V1_CHUNK,
                                    .prepare = prepare_patch,
                                    .payload = &pc};
        rc = bk_blob_run_parts(&job, &g->cfg.blob);
        if (rc)
            bk_error_wrap(rc, "github: upload of '%s'", u->key);
    }
    if (!rc) {
        snprintf(resource, sizeof(resource), "caches/%ld", pc.id);
        snprintf(body, sizeof(body), "{\"size\":%" PRIu64 "}", u->size);
        rc = v1_request(g, "POST", resource, body, &resp);
        if (!rc)
            rc = v1_check(&resp, "github: commit");
    }
    bk_http_response_release(&resp);
    return rc;
}
