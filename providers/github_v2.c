/*
 * github_v2.c - the GitHub Actions cache service v2 (§3): Twirp JSON RPCs
 * at the origin of ACTIONS_RESULTS_URL, data through signed Azure Blob URLs
 * (core/net/blob.c).
 *
 * Requests use proto field names (snake_case), omit empty fields and send
 * int64 values as decimal strings, as the official client does (§3.2).
 * Replies are read by either key casing. One call is one request: a 429 or
 * 5xx comes back as BK_ETRANSIENT with Retry-After recorded, and core's
 * retry loop repeats the whole operation (the blob layer retries blocks).
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

#define TWIRP_PREFIX "twirp/github.actions.results.api.v1.CacheService/"

/* A reply field by proto name or JSON (lowerCamel) name. */
static const cJSON *field(const cJSON *obj, const char *proto, const char *json)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, proto);
    return v ? v : cJSON_GetObjectItemCaseSensitive(obj, json);
}

static const char *field_str(const cJSON *obj, const char *proto, const char *json)
{
    const cJSON *v = field(obj, proto, json);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Map a failed Twirp call: the envelope {"code","msg"} names it better than
 * the status alone (§3.5). */
static int twirp_error(const struct bk_http_response *resp, const char *method)
{
    cJSON *err = cJSON_ParseWithLength(resp->body.buf, resp->body.len);
    const char *code = err ? field_str(err, "code", "code") : NULL;
    const char *msg = err ? field_str(err, "msg", "msg") : NULL;
    char what[160];
    int rc;

    snprintf(what, sizeof(what), "github: %s", method);
    rc = bk_http_check(resp, what);
    long retry_after = bk_error_retry_after_ms();
    if (code || msg) {
        rc = bk_error_set(rc, "%s: HTTP %ld %s%s%s", what, resp->status, code ? code : "",
                          code && msg ? ": " : "", msg ? msg : "");
        bk_error_set_retry_after(retry_after);
    }
    if (code && strcmp(code, "already_exists") == 0)
        rc = BK_EEXISTS;
    else if (code && strcmp(code, "bad_route") == 0)
        rc = bk_error_set(BK_ERR,
                          "%s: the service has no such method (is this a v2 cache "
                          "service? try --store-opt service=v1)",
                          what);
    cJSON_Delete(err);
    return rc;
}

static int twirp_call(struct github *g, const char *method, cJSON *req, cJSON **out)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_strvec headers = BK_STRVEC_INIT;
    struct bk_http_request hr;
    char *url = bk_xasprintf("%s" TWIRP_PREFIX "%s", g->cfg.url, method);
    char *body = cJSON_PrintUnformatted(req);
    int rc;

    *out = NULL;
    github_auth_header(g, &headers);
    bk_strvec_push(&headers, "Content-Type: application/json");
    bk_http_request_init(&hr, "POST", url);
    hr.headers = &headers;
    hr.body = body;
    hr.body_len = strlen(body);
    hr.timeout_ms = 120000;
    bk_debug("github: %s %s", method, body);
    rc = bk_http_do(&hr, &resp);
    if (rc)
        rc = bk_error_wrap(rc, "github: %s", method);
    else if (resp.status < 200 || resp.status >= 300)
        rc = twirp_error(&resp, method);
    else if (!(*out = cJSON_ParseWithLength(resp.body.buf, resp.body.len)))
        rc = bk_error_set(BK_ETRANSIENT, "github: %s: HTTP %ld with a reply that is not JSON",
                          method, resp.status);
    bk_http_response_release(&resp);
    bk_strvec_clear(&headers);
    free(body);
    free(url);
    return rc;
}

int github_v2_lookup(struct github *g, const struct bk_lookup *q, const char *version,
                     struct bk_provider_entry *out)
{
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    int rc;

    cJSON_AddStringToObject(req, "key", q->key);
    if (q->nrestore) {
        cJSON *rk = cJSON_AddArrayToObject(req, "restore_keys");
        for (size_t i = 0; i < q->nrestore; i++)
            cJSON_AddItemToArray(rk, cJSON_CreateString(q->restore_keys[i]));
    }
    cJSON_AddStringToObject(req, "version", version);
    rc = twirp_call(g, "GetCacheEntryDownloadURL", req, &resp);
    if (!rc) {
        const char *url = field_str(resp, "signed_download_url", "signedDownloadUrl");
        const char *matched = field_str(resp, "matched_key", "matchedKey");
        if (!cJSON_IsTrue(field(resp, "ok", "ok")) || !url || !*url)
            rc = bk_error_set(BK_ENOTFOUND, "github: no entry for key '%s' (version %.12s)", q->key,
                              version);
        else {
            github_hide_signature(url);
            memset(out, 0, sizeof(*out));
            out->key = bk_xstrdup(matched && *matched ? matched : q->key);
            out->handle = bk_xstrdup(url);
        }
    }
    cJSON_Delete(req);
    cJSON_Delete(resp);
    return rc;
}

static int create_entry(struct github *g, const struct bk_upload *u, const char *version,
                        char **upload_url)
{
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    int rc;

    cJSON_AddStringToObject(req, "key", u->key);
    cJSON_AddStringToObject(req, "version", version);
    rc = twirp_call(g, "CreateCacheEntry", req, &resp);
    if (rc == BK_EEXISTS)
        rc = github_exists(u->key);
    if (!rc) {
        const char *url = field_str(resp, "signed_upload_url", "signedUploadUrl");
        const char *msg = field_str(resp, "message", "message");
        if (cJSON_IsTrue(field(resp, "ok", "ok")) && url && *url) {
            github_hide_signature(url);
            *upload_url = bk_xstrdup(url);
        } else if (msg && strncmp(msg, "cache write denied:", 19) == 0) {
            rc = bk_error_set(BK_EDENIED, "github: save of '%s' refused: %s", u->key, msg);
        } else {
            rc = bk_error_set(BK_ESKIPPED,
                              "github: cannot reserve key '%s'%s%s (another job may "
                              "be creating it)",
                              u->key, msg ? ": " : "", msg ? msg : "");
        }
    }
    cJSON_Delete(req);
    cJSON_Delete(resp);
    return rc;
}

static int finalize_entry(struct github *g, const struct bk_upload *u, const char *version)
{
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    char size[24];
    int rc;

    snprintf(size, sizeof(size), "%" PRIu64, u->size);
    cJSON_AddStringToObject(req, "key", u->key);
    cJSON_AddStringToObject(req, "size_bytes", size);
    cJSON_AddStringToObject(req, "version", version);
    rc = twirp_call(g, "FinalizeCacheEntryUpload", req, &resp);
    if (!rc && !cJSON_IsTrue(field(resp, "ok", "ok"))) {
        const char *msg = field_str(resp, "message", "message");
        rc = bk_error_set(BK_ERR, "github: cannot finalize key '%s': %s", u->key,
                          msg ? msg : "the service refused (another job may be finalizing it)");
    } else if (!rc) {
        const char *id = field_str(resp, "entry_id", "entryId");
        bk_debug("github: saved '%s' as entry %s", u->key, id ? id : "?");
    }
    cJSON_Delete(req);
    cJSON_Delete(resp);
    return rc;
}

int github_v2_upload(struct github *g, const struct bk_upload *u, const char *version, int fd)
{
    char *url = NULL;
    int rc = create_entry(g, u, version, &url);

    if (!rc) {
        struct bk_blob_target t = {.url = url};
        rc = bk_blob_upload(&t, fd, u->size, &g->cfg.blob);
        if (rc)
            bk_error_wrap(rc, "github: upload of '%s'", u->key);
    }
    if (!rc)
        rc = finalize_entry(g, u, version);
    free(url);
    return rc;
}
