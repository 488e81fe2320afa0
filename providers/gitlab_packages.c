/*
 * gitlab_packages.c - the gitlab provider's generic-package-registry store.
 * See providers/gitlab_common.h for the key mapping and ../shared/specs/gitlab.md §3
 * for the endpoints.
 *
 * Mapping: one package version per key, holding one file, cache.tar.zst.
 *   package name     package= or the key's first '-' segment ("bkcache")
 *   package version  the key itself (gitlab_key_to_version() for odd keys)
 *
 * Endpoints, all under {api}/projects/{project}:
 *   PUT    packages/generic/{name}/{version}/cache.tar.zst?select=package_file
 *   GET    packages/generic/{name}/{version}/cache.tar.zst  (a redirect to
 *          object storage is followed by hand, without the token)
 *   GET    packages?package_type=generic&package_name=…&order_by=created_at
 *          &sort=desc&per_page=100&page=N  (X-Next-Page until empty;
 *          package_name is a substring filter, so names are compared here)
 *   GET    packages/{id}/package_files  (list() for ls and prune only: the
 *          archive's size, which the packages list does not carry)
 *   DELETE packages/{id}
 *
 * Exact lookups list with package_version= first (GitLab 16.6+; older servers
 * ignore it and the client-side filter still holds); restore-key prefixes
 * list the whole package and pick the newest version whose key starts with
 * the prefix (bk_provider_pick).
 *
 * Checks: an archive over max-file-size is refused before any byte is sent
 * (BK_ESKIPPED); the server's file_sha256 is compared after an upload and
 * X-Checksum-SHA256 after a download (BK_ECORRUPT). After a save with
 * keep=N, versions beyond the N newest are deleted; a 403 there means the
 * token may not delete, which is a warning, not a failed save.
 *
 * HTTP errors: GitLab's {"message": …} body is put into the message;
 * 400 "File is too large" is BK_ESKIPPED, 400 "Duplicate package is not
 * allowed" BK_EEXISTS, the rest maps as bk_http_check() does (429/5xx are
 * BK_ETRANSIENT with Retry-After kept for core's retry loop). This store
 * never retries by itself.
 */
#include "providers/gitlab_common.h"

#include "core/net/http.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define PER_PAGE 100
#define MAX_PAGES 1000
#define MAX_REDIRECTS 5
#define TRANSFER_TIMEOUT_MS (6L * 3600 * 1000) /* stalls are caught by the low-speed limit */

struct pkg {
    long id;
    const char *name;
    const char *version;
    int64_t created;
};

typedef int (*pkg_cb)(const struct pkg *p, void *payload);

/* ---- HTTP helpers ---- */

static void add_auth(const struct gitlab_config *c, struct bk_strvec *h)
{
    if (c->token)
        bk_strvec_pushf(h, "%s: %s", c->token_header, c->token);
}

/* GitLab's error text: {"message": "..."} or {"error": "..."}, else the body's first line. */
static char *error_text(const struct bk_http_response *resp)
{
    cJSON *o = cJSON_ParseWithLength(resp->body.buf, resp->body.len);
    cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
    char *out = NULL;

    if (!m)
        m = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (cJSON_IsString(m))
        out = bk_xstrdup(m->valuestring);
    else if (m)
        out = cJSON_PrintUnformatted(m);
    cJSON_Delete(o);
    if (!out) {
        size_t n = strcspn(resp->body.buf, "\r\n");
        out = bk_xstrndup(resp->body.buf, n > 200 ? 200 : n);
    }
    return out;
}

static int check(const struct bk_http_response *resp, const char *what)
{
    int code = bk_http_check(resp, what);
    long retry_after = bk_error_retry_after_ms();
    char *text;

    if (code == BK_OK || resp->status < 300)
        return code; /* a 203 sign-in page: bk_http_check's message says it all */
    text = error_text(resp);
    if (resp->status == 400 && strstr(text, "too large"))
        code = BK_ESKIPPED;
    else if (resp->status == 400 && strstr(text, "Duplicate"))
        code = BK_EEXISTS;
    if (resp->status == 401 || resp->status == 403)
        bk_error_set(code, "%s: HTTP %ld%s%s (check the token and its role)", what, resp->status,
                     *text ? ": " : "", text);
    else
        bk_error_set(code, "%s: HTTP %ld%s%s", what, resp->status, *text ? ": " : "", text);
    if (code == BK_ETRANSIENT)
        bk_error_set_retry_after(retry_after);
    free(text);
    return code;
}

static char *project_url(const struct gitlab_config *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *project_url(const struct gitlab_config *c, const char *fmt, ...)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    char *tail;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&tail, fmt, ap) < 0)
        abort();
    va_end(ap);
    bk_strbuf_addf(&sb, "%s/projects/%s/%s", c->api_url, c->project, tail);
    free(tail);
    return bk_strbuf_detach(&sb);
}

static char *file_url(const struct gitlab_config *c, const char *name, const char *version)
{
    return project_url(c, "packages/generic/%s/%s/%s", name, version, GITLAB_ARCHIVE_FILE);
}

static int64_t parse_time(const char *s)
{
    struct tm tm;
    const char *rest;

    if (!s)
        return 0;
    memset(&tm, 0, sizeof(tm));
    rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return 0;
    int64_t t = (int64_t)timegm(&tm);
    while (*rest == '.' || (*rest >= '0' && *rest <= '9'))
        rest++;
    if ((*rest == '+' || *rest == '-') && strlen(rest) >= 6) {
        int64_t off = (rest[1] - '0') * 36000 + (rest[2] - '0') * 3600 + (rest[4] - '0') * 600 +
                      (rest[5] - '0') * 60;
        t += *rest == '+' ? -off : off;
    }
    return t;
}

/* ---- listing ---- */

/* Called for each item of a paged JSON array; nonzero stops the walk. */
typedef int (*item_cb)(cJSON *item, void *payload);

/* GET {project}/`query` plus per_page=100&page=N for N = 1, 2, ... while
 * X-Next-Page names one, calling fn for each item of each page (an array;
 * anything else is BK_ETRANSIENT). `what` names the listing in errors. */
static int get_pages(const struct gitlab_config *c, const char *what, const char *query, item_cb fn,
                     void *payload)
{
    struct bk_strvec hdrs = BK_STRVEC_INIT;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    char *next = bk_xstrdup("1");
    int rc = BK_OK, stop = 0;

    add_auth(c, &hdrs);
    for (int pages = 0; rc == BK_OK && !stop && next && *next; pages++) {
        struct bk_http_request req;
        char *url;
        cJSON *arr, *it;

        if (pages == MAX_PAGES) {
            bk_warn("%s: stopped after %d pages", what, MAX_PAGES);
            break;
        }
        url = project_url(c, "%s%cper_page=%d&page=%s", query, strchr(query, '?') ? '&' : '?',
                          PER_PAGE, next);
        bk_http_request_init(&req, "GET", url);
        req.headers = &hdrs;
        rc = bk_http_do(&req, &resp);
        if (rc == BK_OK)
            rc = check(&resp, what);
        free(url);
        if (rc)
            break;
        arr = cJSON_ParseWithLength(resp.body.buf, resp.body.len);
        if (!cJSON_IsArray(arr)) {
            cJSON_Delete(arr);
            rc = bk_error_set(BK_ETRANSIENT, "%s: the answer is not a JSON array", what);
            break;
        }
        cJSON_ArrayForEach(it, arr)
        {
            if (fn(it, payload)) {
                stop = 1;
                break;
            }
        }
        cJSON_Delete(arr);
        free(next);
        next = bk_http_header(&resp, "x-next-page")
                   ? bk_xstrdup(bk_http_header(&resp, "x-next-page"))
                   : NULL;
    }
    free(next);
    bk_http_response_release(&resp);
    bk_strvec_clear(&hdrs);
    return rc;
}

struct pkg_walk {
    const char *name; /* only packages of this name (NULL: any) */
    pkg_cb fn;
    void *payload;
};

static int pkg_item(cJSON *it, void *payload)
{
    struct pkg_walk *w = payload;
    struct pkg p;
    cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "package_type");

    p.id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "id"));
    p.name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
    p.version = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "version"));
    p.created =
        parse_time(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "created_at")));
    if (!p.name || !p.version || p.id <= 0)
        return 0;
    if (cJSON_IsString(type) && strcmp(type->valuestring, "generic") != 0)
        return 0;
    if (w->name && strcmp(p.name, w->name) != 0)
        return 0; /* package_name is a substring filter */
    return w->fn(&p, w->payload);
}

/* Call fn for each generic package (newest first) whose name is `name`
 * (NULL: any); `version` narrows the request to one version. */
static int list_packages(const struct gitlab_config *c, const char *name, const char *version,
                         pkg_cb fn, void *payload)
{
    struct bk_strbuf q = BK_STRBUF_INIT;
    struct pkg_walk w = {name, fn, payload};
    int rc;

    bk_strbuf_adds(&q, "packages?package_type=generic&order_by=created_at&sort=desc");
    if (name)
        bk_strbuf_addf(&q, "&package_name=%s", name);
    if (version)
        bk_strbuf_addf(&q, "&package_version=%s", version);
    if (c->hidden)
        bk_strbuf_adds(&q, "&status=hidden");
    rc = get_pages(c, "gitlab: list packages", q.buf, pkg_item, &w);
    bk_strbuf_release(&q);
    return rc;
}

struct newest_file {
    long id;       /* the newest GITLAB_ARCHIVE_FILE's file id so far (0: none) */
    uint64_t size; /* and its size */
};

static int file_item(cJSON *it, void *payload)
{
    struct newest_file *nf = payload;
    const char *fname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "file_name"));
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(it, "size");

    /* the download serves the newest file of that name, so that is the size */
    if (fname && strcmp(fname, GITLAB_ARCHIVE_FILE) == 0 && cJSON_IsNumber(id) &&
        cJSON_IsNumber(size) && id->valuedouble > nf->id && size->valuedouble > 0) {
        nf->id = (long)id->valuedouble;
        nf->size = (uint64_t)size->valuedouble;
    }
    return 0;
}

/* A hashed version shows its readable part + "*": prefix restores still
 * match it, an exact lookup never does (no key contains '*'). */
static void pkg_to_entry(const struct pkg *p, struct bk_provider_entry *e)
{
    int hashed;
    char *part = gitlab_version_key_part(p->version, &hashed);

    memset(e, 0, sizeof(*e));
    e->key = hashed ? bk_xasprintf("%s*", part) : bk_xstrdup(part);
    free(part);
    e->created = p->created;
    e->handle = bk_xasprintf("%ld/%s/%s", p->id, p->name, p->version);
}

/* handle "<id>/<name>/<version>" back into its parts (pointers into `buf`). */
static int split_handle(const struct bk_provider_entry *e, char **buf, long *id, const char **name,
                        const char **version)
{
    char *s1, *s2;
    *buf = e->handle ? bk_xstrdup(e->handle) : NULL;
    if (!*buf || !(s1 = strchr(*buf, '/')) || !(s2 = strchr(s1 + 1, '/'))) {
        free(*buf);
        *buf = NULL;
        return bk_error_set(BK_ERR, "gitlab: entry %s has no package locator", e->key);
    }
    *s1 = *s2 = '\0';
    *id = strtol(*buf, NULL, 10);
    *name = s1 + 1;
    *version = s2 + 1;
    return BK_OK;
}

struct collect {
    struct bk_provider_entry *v;
    size_t n, alloc;
    const char *want_version; /* exact lookups: only this version */
    int own_only;             /* list(): only versions that look like our keys */
};

static int collect_cb(const struct pkg *p, void *payload)
{
    struct collect *col = payload;
    if (col->want_version && strcmp(p->version, col->want_version) != 0)
        return 0;
    if (col->own_only) {
        size_t n = strlen(p->name);
        if (strncmp(p->version, p->name, n) != 0 || p->version[n] != '-')
            return 0;
    }
    if (col->n == col->alloc) {
        col->alloc = col->alloc ? 2 * col->alloc : 32;
        col->v = bk_xrealloc(col->v, col->alloc * sizeof(*col->v));
    }
    pkg_to_entry(p, &col->v[col->n++]);
    return col->want_version != NULL; /* the newest copy of an exact version is enough */
}

static void collect_release(struct collect *col)
{
    for (size_t i = 0; i < col->n; i++)
        bk_provider_entry_release(&col->v[i]);
    free(col->v);
}

/* The packages list carries no sizes; the package's files do. Fills each
 * entry's size from GET packages/{id}/package_files (one small request per
 * version, instead of `ls` downloading whole archives to tell an index from
 * an archive). A version gone since the list keeps size 0 (unknown); any
 * other failure leaves that size and the rest unknown, with one warning:
 * the listing itself stands. */
static void fill_sizes(const struct gitlab_config *c, struct bk_provider_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct newest_file nf = {0, 0};
        const char *name, *version;
        char *buf, *q;
        long id;
        int rc = split_handle(&v[i], &buf, &id, &name, &version);

        if (rc == BK_OK) {
            q = bk_xasprintf("packages/%ld/package_files", id);
            rc = get_pages(c, "gitlab: list package files", q, file_item, &nf);
            free(q);
            free(buf);
        }
        if (rc == BK_ENOTFOUND) {
            bk_error_clear();
            continue; /* deleted since the list (a prune running beside): unknown */
        }
        if (rc) {
            bk_warn("%s; sizes of this store are shown as 0", bk_error_msg());
            bk_error_clear();
            return;
        }
        v[i].size = nf.size;
    }
}

/* ---- the store ---- */

int gitlab_packages_lookup(const struct gitlab_config *c, const struct bk_lookup *q,
                           struct bk_provider_entry *out)
{
    char *name = c->package ? bk_xstrdup(c->package) : gitlab_package_for_key(q->key);
    char *version = gitlab_key_to_version(q->key);
    struct collect exact = {0}, all = {0};
    int rc;

    exact.want_version = version;
    rc = list_packages(c, name, version, collect_cb, &exact);
    if (rc == BK_OK && exact.n > 0) {
        *out = exact.v[0];
        free(out->key);
        out->key = bk_xstrdup(q->key);
        exact.n = 0;
    } else if (rc == BK_OK && q->nrestore > 0) {
        rc = list_packages(c, name, NULL, collect_cb, &all);
        long i = rc == BK_OK ? bk_provider_pick(all.v, all.n, q) : -1;
        if (i >= 0)
            bk_provider_entry_copy(out, &all.v[i]);
        else if (rc == BK_OK)
            rc = bk_error_set(BK_ENOTFOUND, "gitlab: package %s: no version for key %s", name,
                              q->key);
    } else if (rc == BK_OK) {
        rc = bk_error_set(BK_ENOTFOUND, "gitlab: package %s: no version %s", name, version);
    }
    collect_release(&exact);
    collect_release(&all);
    free(version);
    free(name);
    return rc;
}

int gitlab_packages_list(const struct gitlab_config *c, bk_entry_cb cb, void *payload)
{
    struct collect col = {0};
    int rc;

    col.own_only = c->package == NULL;
    rc = list_packages(c, c->package, NULL, collect_cb, &col);
    if (rc == BK_OK && c->list_sizes)
        fill_sizes(c, col.v, col.n);
    for (size_t i = 0; rc == BK_OK && i < col.n; i++)
        if (cb(&col.v[i], payload))
            break;
    collect_release(&col);
    return rc;
}

/* The redirect target: absolute, or a path on the API's host. Caller frees. */
static char *resolve_location(const struct gitlab_config *c, const char *loc)
{
    const char *host, *slash;
    if (strstr(loc, "://"))
        return bk_xstrdup(loc);
    host = strstr(c->api_url, "://") + 3;
    slash = strchr(host, '/');
    return bk_xasprintf("%.*s%s", (int)(slash ? slash - c->api_url : (long)strlen(c->api_url)),
                        c->api_url, loc);
}

/* 1 when `url` is on the API's scheme://host:port (the token may go there). */
static int same_origin(const char *url, const char *api)
{
    const char *h = strstr(api, "://");
    size_t n = strcspn(h + 3, "/");
    n += (size_t)(h + 3 - api);
    return strncmp(url, api, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

int gitlab_packages_download(const struct gitlab_config *c, const struct bk_provider_entry *e,
                             int fd)
{
    struct bk_strvec hdrs = BK_STRVEC_INIT;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_http_request req;
    const char *name, *version;
    char *buf, *url, *want = NULL;
    long id;
    int rc = split_handle(e, &buf, &id, &name, &version);

    if (rc)
        return rc;
    add_auth(c, &hdrs);
    url = file_url(c, name, version);
    for (int hop = 0;; hop++) {
        const char *loc, *sum;
        if (ftruncate(fd, 0) != 0) {
            rc = bk_error_set(BK_ERR, "gitlab: cannot truncate the download file: %s",
                              strerror(errno));
            break;
        }
        bk_http_request_init(&req, "GET", url);
        /* never send the token to another host (object storage) */
        req.headers = same_origin(url, c->api_url) ? &hdrs : NULL;
        req.out_fd = fd;
        req.timeout_ms = TRANSFER_TIMEOUT_MS;
        if ((rc = bk_http_do(&req, &resp)))
            break;
        if ((sum = bk_http_header(&resp, "x-checksum-sha256")) && !want)
            want = bk_xstrdup(sum);
        loc = bk_http_header(&resp, "location");
        if (resp.status >= 300 && resp.status < 400 && loc && hop < MAX_REDIRECTS) {
            char *next = resolve_location(c, loc);
            free(url);
            url = next;
            continue;
        }
        rc = check(&resp, e->key);
        break;
    }
    if (rc == BK_OK && want) {
        char got[65];
        if ((rc = bk_sha256_fd(fd, "the downloaded package file", got, NULL)) == BK_OK &&
            strcasecmp(got, want) != 0)
            rc = bk_error_set(BK_ECORRUPT,
                              "gitlab: %s: downloaded archive has SHA-256 %s, the registry says "
                              "%s",
                              e->key, got, want);
    } else if (rc == BK_OK) {
        bk_debug("gitlab: %s: no X-Checksum-SHA256 header; the archive's own digest still "
                 "applies",
                 e->key);
    }
    free(want);
    free(url);
    free(buf);
    bk_http_response_release(&resp);
    bk_strvec_clear(&hdrs);
    return rc;
}

static int delete_package(const struct gitlab_config *c, long id, const char *what)
{
    struct bk_strvec hdrs = BK_STRVEC_INIT;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_http_request req;
    char *url = project_url(c, "packages/%ld", id);
    int rc;

    add_auth(c, &hdrs);
    bk_http_request_init(&req, "DELETE", url);
    req.headers = &hdrs;
    rc = bk_http_do(&req, &resp);
    if (rc == BK_OK)
        rc = check(&resp, what);
    free(url);
    bk_http_response_release(&resp);
    bk_strvec_clear(&hdrs);
    return rc;
}

int gitlab_packages_remove(const struct gitlab_config *c, const struct bk_provider_entry *e)
{
    const char *name, *version;
    char *buf;
    long id;
    int rc = split_handle(e, &buf, &id, &name, &version);

    if (rc == BK_OK)
        rc = delete_package(c, id, e->key);
    free(buf);
    return rc;
}

static int is_blob_key(const char *key)
{
    return strncmp(key, BK_BLOB_KEY_PREFIX, strlen(BK_BLOB_KEY_PREFIX)) == 0;
}

/* keep=N: delete every version of `name` but the N newest; the version just
 * saved always stays and counts as one of them. The blobs of layer caches
 * are not versions of the budget (an index without its blobs is useless;
 * `bkcache prune` removes those no index references). Failures are
 * warnings. */
static void prune_versions(const struct gitlab_config *c, const char *name, const char *saved)
{
    struct collect col = {0};
    size_t others = c->keep > 0 ? (size_t)c->keep - 1 : 0, kept = 0;

    if (list_packages(c, name, NULL, collect_cb, &col) != BK_OK) {
        bk_warn("gitlab: keep=%ld: %s", c->keep, bk_error_msg());
        goto out;
    }
    for (size_t i = 0; i < col.n; i++) {
        const char *n, *version;
        char *buf;
        long id;
        int rc;

        if (is_blob_key(col.v[i].key) || split_handle(&col.v[i], &buf, &id, &n, &version))
            continue;
        if (strcmp(version, saved) == 0 || kept < others) {
            kept += strcmp(version, saved) != 0;
            free(buf);
            continue;
        }
        rc = delete_package(c, id, col.v[i].key);
        if (rc == BK_OK)
            bk_info("gitlab: keep=%ld: deleted version %s of package %s", c->keep, version, n);
        else
            bk_warn("gitlab: keep=%ld: %s%s", c->keep, bk_error_msg(),
                    rc == BK_EDENIED ? "; the token may not delete packages, old versions stay"
                                     : "");
        free(buf);
        if (rc == BK_EDENIED)
            break;
    }
out:
    collect_release(&col);
    bk_error_clear();
}

int gitlab_packages_upload(const struct gitlab_config *c, const struct bk_upload *u, int fd)
{
    char *name = c->package ? bk_xstrdup(c->package) : gitlab_package_for_key(u->key);
    char *version = gitlab_key_to_version(u->key);
    struct bk_strvec hdrs = BK_STRVEC_INIT;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_http_request req;
    char sum[65], *url = NULL, *full;
    int rc;

    if (c->max_file_size && u->size > c->max_file_size) {
        rc =
            bk_error_set(BK_ESKIPPED,
                         "gitlab: %s: archive of %llu bytes is over the package registry's file "
                         "limit of %llu bytes (max-file-size); not uploaded",
                         u->key, (unsigned long long)u->size, (unsigned long long)c->max_file_size);
        goto out;
    }
    if ((rc = bk_sha256_fd(fd, "the archive", sum, NULL)))
        goto out;
    add_auth(c, &hdrs);
    bk_strvec_push(&hdrs, "Content-Type: application/octet-stream");
    url = file_url(c, name, version);
    full = bk_xasprintf("%s?select=package_file%s", url, c->hidden ? "&status=hidden" : "");
    bk_http_request_init(&req, "PUT", full);
    req.headers = &hdrs;
    req.body_fd = fd;
    req.body_offset = 0;
    req.body_size = u->size;
    req.timeout_ms = TRANSFER_TIMEOUT_MS;
    rc = bk_http_do(&req, &resp);
    free(full);
    if (rc == BK_OK)
        rc = check(&resp, u->key);
    if (rc == BK_OK) {
        cJSON *o = cJSON_ParseWithLength(resp.body.buf, resp.body.len);
        const char *got = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "file_sha256"));
        if (got && strcasecmp(got, sum) != 0)
            rc = bk_error_set(BK_ECORRUPT,
                              "gitlab: %s: the registry stored SHA-256 %s, the archive has %s",
                              u->key, got, sum);
        cJSON_Delete(o);
    }
    if (rc == BK_OK && c->keep >= 0 && !is_blob_key(u->key))
        prune_versions(c, name, version);
out:
    free(url);
    free(version);
    free(name);
    bk_http_response_release(&resp);
    bk_strvec_clear(&hdrs);
    return rc;
}
