/*
 * azure_builds.c - restore side of the Azure Pipelines store: find an
 * artifact among earlier runs, download its file, list.
 *
 * Search order (GitHub's and Cache@2's: branch outer, key inner): for the
 * current branch (BUILD_SOURCEBRANCH), then the pull request's target branch,
 * then the default branch (--store-opt default-branch, else the definition's
 * repository.defaultBranch, asked once), read completed builds of the same
 * definition whose result is succeeded or partiallySucceeded, newest finish
 * time first, page by page (`$top` = page-size, next page from the
 * x-ms-continuationtoken response header), and list each build's artifacts.
 * An artifact named exactly after the key, or matching the first restore key
 * (a run of the key itself; no older build can hold a newer one), ends the
 * search at once; otherwise the branch's builds are read up to max-builds
 * and bk_provider_pick() chooses the newest prefix match (restore keys in
 * order). A branch with any
 * match wins over the next branch. Paging also stops when the service sends a
 * page it already sent (a known quirk of build continuation tokens).
 *
 * An entry's handle is the artifact's resource.data, "#/<container>/<key>";
 * download lists that folder and fetches the archive file in it with
 * `$format=OctetStream`, following one redirect (without the Authorization
 * header when it leaves the service's host).
 */
#include "providers/azure_common.h"

#include "core/util/json.h"
#include "core/util/strbuf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int64_t azure_parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

int azure_parse_container_ref(const char *data, long *container_out, char **root_out)
{
    char *end;
    if (!data || strncmp(data, "#/", 2) != 0)
        return bk_error_set(BK_EINVAL, "artifact resource '%s' is not a file container",
                            data ? data : "");
    errno = 0;
    long id = strtol(data + 2, &end, 10);
    if (errno || end == data + 2 || id <= 0 || *end != '/' || !end[1])
        return bk_error_set(BK_EINVAL, "artifact resource '%s' is not '#/<container>/<path>'",
                            data);
    *container_out = id;
    *root_out = bk_xstrdup(end + 1);
    return BK_OK;
}

static cJSON *parse_json(const struct bk_http_response *resp, const char *what)
{
    cJSON *j = cJSON_ParseWithLength(resp->body.buf, resp->body.len);
    if (!j)
        bk_error_set(BK_ERR, "%s: the response is not JSON", what);
    return j;
}

/* ---- one build's artifacts ---- */

struct scan {
    struct azure_provider *az;
    const char *branch;
    bk_entry_cb cb;
    void *payload;
    int stop;   /* the callback asked to stop */
    long *seen; /* build ids listed on this branch (to spot a repeated page) */
    size_t nseen;
    long nread; /* builds whose artifacts were read */
};

void azure_runs_release(struct azure_provider *az)
{
    for (size_t i = 0; i < az->nruns; i++) {
        for (size_t k = 0; k < az->runs[i].n; k++)
            bk_provider_entry_release(&az->runs[i].v[k]);
        free(az->runs[i].v);
    }
    free(az->runs);
    az->runs = NULL;
    az->nruns = 0;
}

/* Parse an artifact list into `run` (Container artifacts only). */
static void parse_artifacts(const cJSON *j, const char *branch, int64_t finished,
                            struct azure_run_artifacts *run)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(j, "value"))
    {
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(a, "resource");
        const char *name = bk_json_str(a, "name");
        const char *type = bk_json_str(res, "type");
        const char *data = bk_json_str(res, "data");
        const char *size =
            bk_json_str(cJSON_GetObjectItemCaseSensitive(res, "properties"), "artifactsize");
        if (!name || !type || strcasecmp(type, "Container") != 0 || !data)
            continue;
        struct bk_provider_entry e = {(char *)name,   size ? strtoull(size, NULL, 10) : 0,
                                      finished,       0,
                                      (char *)branch, (char *)data};
        run->v = bk_xrealloc(run->v, (run->n + 1) * sizeof(*run->v));
        bk_provider_entry_copy(&run->v[run->n++], &e);
    }
}

/* The artifacts of run `build_id`, read once per instance. */
static int run_artifacts(struct scan *s, long build_id, int64_t finished,
                         const struct azure_run_artifacts **out)
{
    struct azure_provider *az = s->az;
    const struct azure_config *c = &az->cfg;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_http_request req;
    struct azure_run_artifacts run = {build_id, NULL, 0};
    char what[64];
    cJSON *j = NULL;
    int rc;

    for (size_t i = 0; i < az->nruns; i++) {
        if (az->runs[i].build_id == build_id) {
            *out = &az->runs[i];
            return BK_OK;
        }
    }
    char *url = bk_xasprintf("%s%s/_apis/build/builds/%ld/artifacts?api-version=%s", c->collection,
                             c->project, build_id, AZURE_API_BUILD);
    snprintf(what, sizeof(what), "artifacts of build %ld", build_id);
    bk_http_request_init(&req, "GET", url);
    rc = azure_call(az, &req, NULL, &resp, what, 0);
    if (rc == BK_ENOTFOUND) /* deleted since the list was read: no artifacts */
        rc = BK_OK;
    else if (!rc && !(j = parse_json(&resp, what)))
        rc = BK_ERR;
    if (j)
        parse_artifacts(j, s->branch, finished, &run);
    if (!rc) {
        az->runs = bk_xrealloc(az->runs, (az->nruns + 1) * sizeof(*az->runs));
        az->runs[az->nruns] = run;
        *out = &az->runs[az->nruns++];
    }
    cJSON_Delete(j);
    bk_http_response_release(&resp);
    free(url);
    return rc;
}

static int read_artifacts(struct scan *s, long build_id, int64_t finished)
{
    const struct azure_run_artifacts *run;
    int rc = run_artifacts(s, build_id, finished, &run);
    for (size_t i = 0; !rc && i < run->n && !s->stop; i++)
        s->stop = s->cb(&run->v[i], s->payload) != 0;
    return rc;
}

/* ---- one branch's builds, page by page ---- */

static int result_ok(const cJSON *b)
{
    const char *r = bk_json_str(b, "result");
    return !r || strcasecmp(r, "succeeded") == 0 || strcasecmp(r, "partiallySucceeded") == 0;
}

static char *builds_url(const struct scan *s, long top, const char *token)
{
    const struct azure_config *c = &s->az->cfg;
    struct bk_strbuf sb = BK_STRBUF_INIT;
    char *branch = bk_http_urlencode(s->branch);

    bk_strbuf_addf(&sb,
                   "%s%s/_apis/build/builds?api-version=%s&definitions=%ld&branchName=%s"
                   "&statusFilter=completed&resultFilter=succeeded,partiallySucceeded"
                   "&queryOrder=finishTimeDescending&$top=%ld",
                   c->collection, c->project, AZURE_API_BUILD, c->definition_id, branch, top);
    if (token) {
        char *t = bk_http_urlencode(token);
        bk_strbuf_addf(&sb, "&continuationToken=%s", t);
        free(t);
    }
    free(branch);
    return bk_strbuf_detach(&sb);
}

static int seen_before(struct scan *s, long id)
{
    for (size_t i = 0; i < s->nseen; i++)
        if (s->seen[i] == id)
            return 1;
    s->seen = bk_xrealloc(s->seen, (s->nseen + 1) * sizeof(*s->seen));
    s->seen[s->nseen++] = id;
    return 0;
}

/* Read one page; *token_out is the next page's token or NULL. */
static int read_page(struct scan *s, const char *token, char **token_out, int *done)
{
    const struct azure_config *c = &s->az->cfg;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_http_request req;
    long left = c->max_builds - s->nread;
    char *url = builds_url(s, left < c->page_size ? left : c->page_size, token);
    char what[300];
    cJSON *j = NULL;
    int rc, fresh = 0;

    *token_out = NULL;
    snprintf(what, sizeof(what), "builds of definition %ld on %s", c->definition_id, s->branch);
    bk_http_request_init(&req, "GET", url);
    rc = azure_call(s->az, &req, NULL, &resp, what, 0);
    if (!rc && !(j = parse_json(&resp, what)))
        rc = BK_ERR;
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(j, "value"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
        if (rc || s->stop || s->nread >= c->max_builds)
            break;
        if (!cJSON_IsNumber(id) || seen_before(s, (long)id->valuedouble))
            continue;
        fresh++;
        if ((long)id->valuedouble == c->build_id || !result_ok(b))
            continue;
        s->nread++;
        rc = read_artifacts(s, (long)id->valuedouble,
                            azure_parse_time(bk_json_str(b, "finishTime")));
    }
    const char *next = bk_http_header(&resp, "x-ms-continuationtoken");
    if (!rc && next && *next && fresh)
        *token_out = bk_xstrdup(next);
    *done = !*token_out || s->stop || s->nread >= c->max_builds;
    cJSON_Delete(j);
    bk_http_response_release(&resp);
    free(url);
    return rc;
}

static int scan_branch(struct azure_provider *az, const char *branch, bk_entry_cb cb, void *payload,
                       int *stop)
{
    struct scan s = {az, branch, cb, payload, 0, NULL, 0, 0};
    char *token = NULL;
    int rc, done = 0, pages = 0;

    do {
        char *next;
        rc = read_page(&s, token, &next, &done);
        free(token);
        token = next;
        pages++;
    } while (!rc && !done);
    bk_debug("azure: %s: %ld builds in %d pages", branch, s.nread, pages);
    free(token);
    free(s.seen);
    *stop = s.stop;
    return rc;
}

/* ---- which branches ---- */

static int lookup_default_branch(struct azure_provider *az)
{
    struct azure_config *c = &az->cfg;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_http_request req;
    char *url;
    cJSON *j = NULL;
    int rc;

    if (c->default_branch || az->default_branch_looked_up)
        return BK_OK;
    az->default_branch_looked_up = 1;
    url = bk_xasprintf("%s%s/_apis/build/definitions/%ld?api-version=%s", c->collection, c->project,
                       c->definition_id, AZURE_API_BUILD);
    bk_http_request_init(&req, "GET", url);
    rc = azure_call(az, &req, NULL, &resp, "the pipeline definition", 0);
    if (!rc && (j = parse_json(&resp, "the pipeline definition"))) {
        const char *b =
            bk_json_str(cJSON_GetObjectItemCaseSensitive(j, "repository"), "defaultBranch");
        if (b && *b)
            c->default_branch = azure_normalize_branch(b);
    }
    if (rc == BK_ENOTFOUND || (!rc && !j)) {
        bk_debug("azure: no default branch: %s", bk_error_msg());
        rc = BK_OK;
    }
    cJSON_Delete(j);
    bk_http_response_release(&resp);
    free(url);
    return rc;
}

/* The distinct branches in search order (current, PR target, default),
 * skipping the first `from` candidates. */
static size_t branches(struct azure_provider *az, const char *out[3], size_t from)
{
    const char *cand[3] = {az->cfg.branch, az->cfg.target_branch, az->cfg.default_branch};
    size_t n = 0;
    for (size_t i = 0; i < 3; i++) {
        int dup = !cand[i];
        for (size_t k = 0; k < i && !dup; k++)
            dup = cand[k] && strcmp(cand[k], cand[i]) == 0;
        if (!dup && i >= from)
            out[n++] = cand[i];
    }
    return n;
}

/* ---- lookup ---- */

struct collect {
    const struct bk_lookup *q;
    struct bk_provider_entry *v;
    size_t n;
};

/* 2: the search can stop here (the exact key, or a match of the first
 * restore key: builds come newest first, and an entry is as old as its
 * build, so no later build holds a newer one); 1: a match; 0: none. */
static int matches(const struct bk_lookup *q, const char *key)
{
    if (strcmp(key, q->key) == 0)
        return 2;
    for (size_t i = 0; i < q->nrestore; i++)
        if (strncmp(key, q->restore_keys[i], strlen(q->restore_keys[i])) == 0)
            return i == 0 ? 2 : 1;
    return 0;
}

static int collect_cb(const struct bk_provider_entry *e, void *payload)
{
    struct collect *c = payload;
    int m = matches(c->q, e->key);
    if (!m)
        return 0;
    c->v = bk_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    bk_provider_entry_copy(&c->v[c->n++], e);
    return m == 2; /* the exact key or a run of it: stop */
}

static void collect_release(struct collect *c)
{
    for (size_t i = 0; i < c->n; i++)
        bk_provider_entry_release(&c->v[i]);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

int azure_lookup(struct bk_provider *p, const struct bk_lookup *q, struct bk_provider_entry *out)
{
    struct azure_provider *az = (struct azure_provider *)p;
    struct collect col = {q, NULL, 0};
    struct bk_strbuf tried = BK_STRBUF_INIT;
    int rc = BK_OK, found = 0;

    for (int phase = 0; phase < 2 && !found && !rc; phase++) {
        const char *br[3];
        size_t n;
        /* phase 0: current and target branch; phase 1: the default branch */
        if (phase == 1 && (rc = lookup_default_branch(az)))
            break;
        n = branches(az, br, phase == 0 ? 0 : 2);
        for (size_t i = 0; i < n && !found && !rc; i++) {
            int stop;
            if (phase == 0 && br[i] == az->cfg.default_branch)
                continue;
            bk_strbuf_addf(&tried, "%s%s", tried.len ? ", " : "", br[i]);
            rc = scan_branch(az, br[i], collect_cb, &col, &stop);
            long k = rc ? -1 : bk_provider_pick(col.v, col.n, q);
            if (k >= 0) {
                bk_provider_entry_copy(out, &col.v[k]);
                found = 1;
            }
            collect_release(&col);
        }
    }
    if (!rc && !found)
        rc = bk_error_set(BK_ENOTFOUND, "%s: no artifact in completed runs of definition %ld on %s",
                          q->key, az->cfg.definition_id, tried.len ? tried.buf : "no branch");
    bk_strbuf_release(&tried);
    return rc;
}

/* ---- list ---- */

int azure_list(struct bk_provider *p, bk_entry_cb cb, void *payload)
{
    struct azure_provider *az = (struct azure_provider *)p;
    const char *br[3];
    int rc, stop = 0;

    if ((rc = lookup_default_branch(az)))
        return rc;
    size_t n = branches(az, br, 0);
    for (size_t i = 0; i < n && !rc && !stop; i++)
        rc = scan_branch(az, br[i], cb, payload, &stop);
    return rc;
}

/* ---- download ---- */

static char *item_url(const struct azure_config *c, long cid, const char *path, const char *extra)
{
    char *item = bk_http_urlencode(path);
    struct bk_strbuf sb = BK_STRBUF_INIT;
    bk_strbuf_addf(&sb, "%s_apis/resources/Containers/%ld?itemPath=%s", c->collection, cid, item);
    if (c->project_id) {
        char *scope = bk_http_urlencode(c->project_id);
        bk_strbuf_addf(&sb, "&scope=%s", scope);
        free(scope);
    }
    bk_strbuf_addf(&sb, "&api-version=%s%s", AZURE_API_CONTAINER, extra);
    free(item);
    return bk_strbuf_detach(&sb);
}

/* The archive file in folder `root`: <root>/cache.tar.zst when complete,
 * else the last complete file (a retried save wrote cache.N.tar.zst). */
static int find_item(struct azure_provider *az, long cid, const char *root, char **path_out,
                     uint64_t *len_out)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_http_request req;
    char *url = item_url(&az->cfg, cid, root, "&isShallow=true");
    char *want = bk_xasprintf("%s/%s", root, AZURE_ARCHIVE_NAME);
    cJSON *j = NULL;
    int rc;

    *path_out = NULL;
    bk_http_request_init(&req, "GET", url);
    rc = azure_call(az, &req, NULL, &resp, "list the artifact's files", 0);
    if (!rc && !(j = parse_json(&resp, "list the artifact's files")))
        rc = BK_ERR;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "value"))
    {
        const char *path = bk_json_str(it, "path");
        const char *type = bk_json_str(it, "itemType");
        const char *status = bk_json_str(it, "status");
        const cJSON *len = cJSON_GetObjectItemCaseSensitive(it, "fileLength");
        if (!path || (type && strcasecmp(type, "file") != 0) ||
            (status && strcasecmp(status, "created") != 0))
            continue;
        if (*path_out && strcmp(*path_out, want) == 0)
            break;
        free(*path_out);
        *path_out = bk_xstrdup(path);
        *len_out = cJSON_IsNumber(len) ? (uint64_t)len->valuedouble : 0;
    }
    if (!rc && !*path_out)
        rc = bk_error_set(BK_ENOTFOUND, "artifact folder %s holds no complete file", root);
    cJSON_Delete(j);
    bk_http_response_release(&resp);
    free(url);
    free(want);
    return rc;
}

static size_t origin_len(const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    return (size_t)(host - url) + strcspn(host, "/?#");
}

static int fetch_file(struct azure_provider *az, const char *url, int fd,
                      struct bk_http_response *resp)
{
    struct bk_strvec extra = BK_STRVEC_INIT;
    struct bk_http_request req;
    int rc;

    bk_strvec_push(&extra, "Accept: application/octet-stream");
    bk_http_request_init(&req, "GET", url);
    req.out_fd = fd;
    rc = azure_call(az, &req, &extra, resp, "download the archive", AZURE_CALL_REDIRECT);
    const char *loc = bk_http_header(resp, "location");
    if (!rc && resp->status >= 300 && resp->status < 400 && loc) {
        char *target = bk_xstrdup(loc);
        bk_http_request_init(&req, "GET", target);
        req.out_fd = fd;
        if (origin_len(target) == origin_len(url) && strncmp(target, url, origin_len(url)) == 0) {
            rc = azure_call(az, &req, &extra, resp, "download the archive", 0);
        } else { /* another host: it gets no Authorization header */
            req.headers = &extra;
            rc = bk_http_do(&req, resp);
            if (!rc)
                rc = bk_http_check(resp, "download the archive (redirected)");
        }
        free(target);
    } else if (!rc && resp->status >= 300) {
        rc =
            bk_error_set(BK_ERR, "download the archive: HTTP %ld without a location", resp->status);
    }
    bk_strvec_clear(&extra);
    return rc;
}

int azure_download(struct bk_provider *p, const struct bk_provider_entry *e, int fd)
{
    struct azure_provider *az = (struct azure_provider *)p;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    char *root = NULL, *path = NULL, *url = NULL;
    uint64_t len = 0;
    long cid;
    int rc;

    if ((rc = azure_parse_container_ref(e->handle, &cid, &root)) ||
        (rc = find_item(az, cid, root, &path, &len)))
        goto out;
    url = item_url(&az->cfg, cid, path, "&%24format=OctetStream");
    rc = fetch_file(az, url, fd, &resp);
    if (!rc && ftruncate(fd, (off_t)resp.bytes_written) != 0)
        rc = bk_error_set(BK_ERR, "download %s: %s", e->key, strerror(errno));
    if (!rc && len && !bk_http_header(&resp, "content-encoding") && resp.bytes_written != len)
        rc = bk_error_set(BK_ECORRUPT, "download %s: got %llu bytes, the file has %llu", e->key,
                          (unsigned long long)resp.bytes_written, (unsigned long long)len);
    if (!rc)
        bk_progress("azure: downloaded %s (%llu bytes)", e->key,
                    (unsigned long long)resp.bytes_written);
out:
    if (rc)
        bk_error_wrap(rc, "restore %s", e->key);
    bk_http_response_release(&resp);
    free(root);
    free(path);
    free(url);
    return rc;
}
