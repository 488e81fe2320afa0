/*
 * github_rest.c - list and delete entries of the GitHub Actions cache
 * through the repository's REST API, which the cache service itself does
 * not offer (§3.3 names it; the shapes below are GitHub's REST reference
 * for "GitHub Actions cache").
 *
 *   GET    {api}/repos/{owner}/{repo}/actions/caches?per_page=100&page=N
 *          &sort=created_at&direction=desc
 *          -> {"total_count": n, "actions_caches": [{"id", "ref", "key",
 *              "version", "created_at", "last_accessed_at", "size_in_bytes"}]}
 *   DELETE {api}/repos/{owner}/{repo}/actions/caches/{id}  -> 204
 *
 * Both need a token for the API (GITHUB_TOKEN, or the variable named by
 * `api-token-env=`), sent as a Bearer token; deleting needs one whose job
 * has `permissions: actions: write`. Without a token, GITHUB_API_URL and
 * GITHUB_REPOSITORY, the provider has neither capability (github.c).
 * A listed entry's handle is "cache-id:<id>@<version>": it can be
 * removed by its id, and downloaded (github.c) after an exact lookup of
 * its key with its version gives the download URL.
 */
#include "providers/github_common.h"

#include "core/net/http.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REST_PER_PAGE 100
#define REST_MAX_PAGES 1000

static int64_t rest_time(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (!cJSON_IsString(v) || !strptime(v->valuestring, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

/* One API request; 2xx is BK_OK, else a message with GitHub's "message". */
static int rest_request(const struct github *g, const char *method, const char *path,
                        struct bk_http_response *resp, const char *what)
{
    struct bk_strvec headers = BK_STRVEC_INIT;
    struct bk_http_request req;
    char *url =
        bk_xasprintf("%s/repos/%s/actions/caches%s", g->cfg.api_url, g->cfg.repository, path);
    int rc;

    bk_strvec_pushf(&headers, "Authorization: Bearer %s", g->cfg.api_token);
    bk_strvec_push(&headers, "Accept: application/vnd.github+json");
    bk_strvec_push(&headers, "X-GitHub-Api-Version: 2022-11-28");
    bk_http_request_init(&req, method, url);
    req.headers = &headers;
    req.timeout_ms = 60000;
    rc = bk_http_do(&req, resp);
    if (rc == BK_OK && (rc = bk_http_check(resp, what)) < 0) {
        long retry_after = bk_error_retry_after_ms();
        cJSON *j = cJSON_ParseWithLength(resp->body.buf, resp->body.len);
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "message"));
        if (rc == BK_EDENIED)
            bk_error_set(rc, "%s: HTTP %ld %s (the token in %s needs 'permissions: actions: %s')",
                         what, resp->status, m ? m : "", g->cfg.api_token_env,
                         strcmp(method, "GET") == 0 ? "read" : "write");
        else if (m)
            bk_error_set(rc, "%s: HTTP %ld %s", what, resp->status, m);
        bk_error_set_retry_after(retry_after);
        cJSON_Delete(j);
    } else if (rc < 0) {
        bk_error_wrap(rc, "%s", what);
    }
    bk_strvec_clear(&headers);
    free(url);
    return rc;
}

/* Hand each cache of one page to cb; *count gets how many the page held. */
static int rest_page(const cJSON *doc, bk_entry_cb cb, void *payload, size_t *count, int *stop)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "actions_caches"), *it;

    *count = 0;
    if (!cJSON_IsArray(arr))
        return bk_error_set(BK_ERR, "github: cache list: no actions_caches in the reply");
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(it, "size_in_bytes");
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "key"));
        const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "ref"));
        const char *version = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "version"));
        struct bk_provider_entry e;

        (*count)++;
        if (!key || !cJSON_IsNumber(id))
            continue;
        memset(&e, 0, sizeof(e));
        e.key = (char *)key;
        e.size = cJSON_IsNumber(size) && size->valuedouble > 0 ? (uint64_t)size->valuedouble : 0;
        e.created = rest_time(it, "created_at");
        e.last_used = rest_time(it, "last_accessed_at");
        e.scope = (char *)ref;
        e.handle = bk_xasprintf("cache-id:%.0f@%s", id->valuedouble, version ? version : "");
        *stop = cb(&e, payload) != 0;
        free(e.handle);
        if (*stop)
            break;
    }
    return BK_OK;
}

int github_rest_list(struct github *g, bk_entry_cb cb, void *payload)
{
    int rc = BK_OK, stop = 0;

    for (int page = 1; page <= REST_MAX_PAGES && !rc && !stop; page++) {
        struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
        char *q = bk_xasprintf("?per_page=%d&page=%d&sort=created_at&direction=desc", REST_PER_PAGE,
                               page);
        size_t n = 0;
        cJSON *doc = NULL;

        rc = rest_request(g, "GET", q, &resp, "github: cache list");
        if (!rc && !(doc = cJSON_ParseWithLength(resp.body.buf, resp.body.len)))
            rc = bk_error_set(BK_ERR, "github: cache list: the reply is not JSON");
        if (!rc)
            rc = rest_page(doc, cb, payload, &n, &stop);
        cJSON_Delete(doc);
        bk_http_response_release(&resp);
        free(q);
        if (n < REST_PER_PAGE)
            break;
    }
    return rc;
}

/* The cache ids of the entries named exactly `key` (every ref's). */
struct ids_of_key {
    const char *key;
    struct bk_strvec ids;
};

static int collect_id(const struct bk_provider_entry *e, void *payload)
{
    struct ids_of_key *k = payload;
    if (strcmp(e->key, k->key) == 0)
        bk_strvec_pushf(&k->ids, "%.*s", (int)strcspn(e->handle + 9, "@"), e->handle + 9);
    return 0;
}

/*
 * An entry from a lookup has a download URL, not a cache id: find the ids
 * of its key through the API's key filter and delete every one (a blob
 * kept as an entry may exist once per ref; all are the same bytes). Only
 * keys made of letters, digits and "-._" go into the query unescaped;
 * bkcache's keys always are.
 */
static int remove_by_key(struct github *g, const char *key)
{
    struct ids_of_key k = {key, BK_STRVEC_INIT};
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    cJSON *doc = NULL;
    size_t n = 0;
    int rc, stop = 0;
    char *q;

    if (key[strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")])
        return bk_error_set(BK_ERR, "github: entry '%s' has no cache id (list it first)", key);
    q = bk_xasprintf("?key=%s&per_page=%d", key, REST_PER_PAGE);
    rc = rest_request(g, "GET", q, &resp, "github: cache list");
    if (!rc && !(doc = cJSON_ParseWithLength(resp.body.buf, resp.body.len)))
        rc = bk_error_set(BK_ERR, "github: cache list: the reply is not JSON");
    if (!rc)
        rc = rest_page(doc, collect_id, &k, &n, &stop);
    cJSON_Delete(doc);
    bk_http_response_release(&resp);
    free(q);
    if (!rc && k.ids.n == 0)
        rc = bk_error_set(BK_ENOTFOUND, "github: no entry '%s' to delete", key);
    for (size_t i = 0; !rc && i < k.ids.n; i++) {
        struct bk_provider_entry one = {.key = (char *)key};
        one.handle = bk_xasprintf("cache-id:%s", k.ids.v[i]);
        rc = github_rest_remove(g, &one);
        free(one.handle);
    }
    bk_strvec_clear(&k.ids);
    return rc;
}

int github_rest_remove(struct github *g, const struct bk_provider_entry *e)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    char *path, *what;
    int rc;

    if (!e->handle || strncmp(e->handle, "cache-id:", 9) != 0)
        return remove_by_key(g, e->key);
    path = bk_xasprintf("/%.*s", (int)strcspn(e->handle + 9, "@"), e->handle + 9);
    what = bk_xasprintf("github: delete of '%s'", e->key);
    rc = rest_request(g, "DELETE", path, &resp, what);
    bk_http_response_release(&resp);
    free(path);
    free(what);
    return rc;
}
