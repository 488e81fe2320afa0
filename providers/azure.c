/*
 * azure.c - the Azure Pipelines store: configuration, requests and save.
 *
 * A cache entry is a build (container) artifact of the run that saved it,
 * named exactly after the key (see providers/azure_common.h for the layout and the
 * split into files). Save writes the archive into the run's file container
 * (BUILD_CONTAINERID) with PUT requests of `chunk-size` bytes carrying
 * `Content-Range: bytes first-last/total` (202 until the last byte, 201
 * then), and associates the folder with the run as an artifact. With
 * `--store-opt upload=agent` (the `--azure-upload=agent` of issue 6) it
 * instead copies the archive under AGENT_TEMPDIRECTORY and prints the
 * `##vso[artifact.upload]` logging command on stdout, so that the agent
 * uploads it when the step ends; stdout is where the agent reads logging
 * commands, the one exception to "stdout carries results only".
 *
 * Retries: a whole operation is retried by core (BK_ETRANSIENT, Retry-After
 * recorded). An upload moves many chunks, so each chunk is also retried here
 * up to 3 more times after a transport error, 429 or 5xx, pausing for
 * Retry-After or retry-ms doubling; a retried operation writes a fresh item
 * path because the service does not promise to accept offset 0 again.
 *
 * Auth: SYSTEM_ACCESSTOKEN as a Bearer token, else a personal access token
 * (AZURE_DEVOPS_EXT_PAT) as HTTP Basic; `token-env=NAME` / `pat-env=NAME`
 * pick another variable. Both are registered as secrets before any request.
 *
 * No delete: an artifact belongs to the run that made it, the job token may
 * not change other runs, and runs' retention policies remove old artifacts;
 * so remove() is NULL and `bkcache prune` does nothing here.
 */
#include "providers/azure_common.h"

#include "core/util/fileio.h"
#include "core/util/numparse.h"
#include "core/util/strbuf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_HINT                                                                                 \
    "SYSTEM_ACCESSTOKEN is not set: map it into the step with "                                    \
    "'env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)' (or set AZURE_DEVOPS_EXT_PAT to a "          \
    "personal access token)"

static int env_long(const struct bk_provider_config *cfg, const char *name, long *out)
{
    const char *v = bk_provider_env(cfg, name);
    *out = 0;
    return v ? bk_parse_long(name, v, 1, 0x7fffffffL, out) : BK_OK;
}

static char *base64(const char *s)
{
    size_t n = strlen(s);
    char *out = bk_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

static int parse_auth(const struct bk_provider_config *cfg, struct azure_config *c)
{
    const char *bearer_var = bk_provider_attr(cfg, "token-env");
    const char *pat_var = bk_provider_attr(cfg, "pat-env");
    const char *token = NULL, *pat = NULL;

    if (bearer_var || !pat_var)
        token = bk_provider_env(cfg, bearer_var ? bearer_var : "SYSTEM_ACCESSTOKEN");
    if (!token && (pat_var || !bearer_var))
        pat = bk_provider_env(cfg, pat_var ? pat_var : "AZURE_DEVOPS_EXT_PAT");
    if (token) {
        bk_log_add_secret(token);
        c->auth_header = bk_xasprintf("Authorization: Bearer %s", token);
        return BK_OK;
    }
    if (pat) {
        char *user_pat = bk_xasprintf(":%s", pat);
        char *b64 = base64(user_pat);
        bk_log_add_secret(pat);
        bk_log_add_secret(b64);
        c->auth_header = bk_xasprintf("Authorization: Basic %s", b64);
        free(user_pat);
        free(b64);
        return BK_OK;
    }
    if (bearer_var)
        return bk_error_set(BK_EDENIED, "%s (named by token-env) is not set", bearer_var);
    if (pat_var)
        return bk_error_set(BK_EDENIED, "%s (named by pat-env) is not set", pat_var);
    return bk_error_set(BK_EDENIED, TOKEN_HINT);
}

static const char *const k_known_attrs[] = {
    "upload",         "azure-upload", "chunk-size", "page-size", "max-builds", "retry-ms",
    "default-branch", "project",      "definition", "token-env", "pat-env",    NULL,
};

static void warn_unknown_attrs(const struct bk_provider_config *cfg)
{
    for (size_t i = 0; cfg->attrs && i < cfg->attrs->n; i++) {
        const char *a = cfg->attrs->v[i];
        size_t n = strcspn(a, "=");
        int known = 0;
        for (size_t k = 0; k_known_attrs[k]; k++)
            known |= strlen(k_known_attrs[k]) == n && strncmp(k_known_attrs[k], a, n) == 0;
        if (!known)
            bk_warn("azure: ignoring unknown --store-opt '%.*s'", (int)n, a);
    }
}

static int parse_tuning(const struct bk_provider_config *cfg, struct azure_config *c)
{
    const char *v;
    uint64_t size;

    v = bk_provider_attr(cfg, "upload");
    if (!v)
        v = bk_provider_attr(cfg, "azure-upload");
    if (v && strcmp(v, "agent") != 0 && strcmp(v, "direct") != 0)
        return bk_error_set(BK_EINVAL, "--store-opt upload: expected 'agent' or 'direct', got '%s'",
                            v);
    c->upload_agent = v && strcmp(v, "agent") == 0;
    c->chunk_size = AZURE_DEFAULT_CHUNK;
    if ((v = bk_provider_attr(cfg, "chunk-size"))) {
        if (bk_parse_size(v, &size) || size < 1024 || size > AZURE_MAX_CHUNK)
            return bk_error_set(BK_EINVAL, "--store-opt chunk-size: expected 1K to 64M, got '%s'",
                                v);
        c->chunk_size = size;
    }
    c->page_size = 20;
    c->max_builds = 50;
    c->retry_ms = 1000;
    if ((v = bk_provider_attr(cfg, "page-size")) &&
        bk_parse_long("--store-opt page-size", v, 1, 1000, &c->page_size))
        return BK_EINVAL;
    if ((v = bk_provider_attr(cfg, "max-builds")) &&
        bk_parse_long("--store-opt max-builds", v, 1, 100000, &c->max_builds))
        return BK_EINVAL;
    if ((v = bk_provider_attr(cfg, "retry-ms")) &&
        bk_parse_long("--store-opt retry-ms", v, 0, 60000, &c->retry_ms))
        return BK_EINVAL;
    return BK_OK;
}

static int parse_location(const struct bk_provider_config *cfg, struct azure_config *c)
{
    const char *v = cfg->store;
    const char *proj;

    if (!v)
        v = bk_provider_env(cfg, "SYSTEM_COLLECTIONURI");
    if (!v)
        v = bk_provider_env(cfg, "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI");
    if (!v)
        return bk_error_set(BK_EINVAL, "SYSTEM_COLLECTIONURI is not set: run inside an Azure "
                                       "Pipelines job or pass --store with the organization URL");
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
        return bk_error_set(BK_EINVAL, "collection URL '%s' is not an http(s) URL", v);
    size_t n = strlen(v);
    c->collection = n && v[n - 1] == '/' ? bk_xstrdup(v) : bk_xasprintf("%s/", v);

    c->project_id = (v = bk_provider_env(cfg, "SYSTEM_TEAMPROJECTID")) ? bk_xstrdup(v) : NULL;
    proj = bk_provider_attr(cfg, "project");
    if (!proj)
        proj = c->project_id;
    if (!proj)
        proj = bk_provider_env(cfg, "SYSTEM_TEAMPROJECT");
    if (!proj)
        return bk_error_set(BK_EINVAL, "SYSTEM_TEAMPROJECTID and SYSTEM_TEAMPROJECT are not set");
    c->project = bk_http_urlencode(proj);

    if ((v = bk_provider_attr(cfg, "definition"))) {
        if (bk_parse_long("--store-opt definition", v, 1, 0x7fffffffL, &c->definition_id))
            return BK_EINVAL;
    } else if (env_long(cfg, "SYSTEM_DEFINITIONID", &c->definition_id)) {
        return BK_EINVAL;
    }
    if (!c->definition_id)
        return bk_error_set(BK_EINVAL, "SYSTEM_DEFINITIONID is not set: the pipeline whose "
                                       "runs hold the caches is unknown");
    if (env_long(cfg, "BUILD_BUILDID", &c->build_id) ||
        env_long(cfg, "BUILD_CONTAINERID", &c->container_id))
        return BK_EINVAL;
    return BK_OK;
}

static char *dup_env(const struct bk_provider_config *cfg, const char *name)
{
    const char *v = bk_provider_env(cfg, name);
    return v ? bk_xstrdup(v) : NULL;
}

int azure_parse_config(const struct bk_provider_config *cfg, struct azure_config *out)
{
    struct azure_config c;
    const char *v;
    int rc;

    memset(&c, 0, sizeof(c));
    if ((rc = parse_location(cfg, &c)) || (rc = parse_tuning(cfg, &c)) ||
        (rc = parse_auth(cfg, &c))) {
        azure_config_release(&c);
        return rc;
    }
    c.job_id = dup_env(cfg, "SYSTEM_JOBID");
    c.branch = dup_env(cfg, "BUILD_SOURCEBRANCH");
    if ((v = bk_provider_env(cfg, "SYSTEM_PULLREQUEST_TARGETBRANCH")))
        c.target_branch = azure_normalize_branch(v);
    if ((v = bk_provider_attr(cfg, "default-branch")) && *v)
        c.default_branch = azure_normalize_branch(v);
    v = bk_provider_env(cfg, "AGENT_TEMPDIRECTORY");
    if (!v)
        v = bk_provider_env(cfg, "TMPDIR");
    c.temp_dir = bk_xstrdup(v ? v : "/tmp");
    warn_unknown_attrs(cfg);
    *out = c;
    return BK_OK;
}

void azure_config_release(struct azure_config *c)
{
    free(c->collection);
    free(c->project);
    free(c->project_id);
    free(c->job_id);
    free(c->branch);
    free(c->target_branch);
    free(c->default_branch);
    free(c->auth_header);
    free(c->temp_dir);
    memset(c, 0, sizeof(*c));
}
/* ---- save ---- */

static int agent_copy(int fd, const char *dst)
{
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc;

    if (out < 0)
        return bk_error_set(BK_ERR, "%s: %s", dst, strerror(errno));
    rc = bk_file_copy_fd(fd, out, dst);
    if (close(out) != 0 && rc == BK_OK)
        rc = bk_error_set(BK_ERR, "%s: %s", dst, strerror(errno));
    return rc;
}

/* Let the agent upload: copy the archive where it survives this process and
 * print the logging command. */
static int upload_by_agent(struct azure_provider *az, const struct bk_upload *u, int fd)
{
    char *dir = bk_xasprintf("%s/bkcache-azure", az->cfg.temp_dir);
    char *keydir = bk_xasprintf("%s/%s", dir, u->key);
    char *path = bk_xasprintf("%s/%s", keydir, AZURE_ARCHIVE_NAME);
    int rc = BK_OK;

    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || (mkdir(keydir, 0755) != 0 && errno != EEXIST))
        rc = bk_error_set(BK_ERR, "%s: %s", keydir, strerror(errno));
    if (!rc)
        rc = agent_copy(fd, path);
    if (!rc) {
        char *name = azure_vso_escape_property(u->key);
        char *msg = azure_vso_escape_message(path);
        printf("##vso[artifact.upload containerfolder=%s;artifactname=%s]%s\n", name, name, msg);
        fflush(stdout);
        bk_info("azure: %s handed to the agent, which uploads it when this step ends", u->key);
        free(name);
        free(msg);
    }
    free(dir);
    free(keydir);
    free(path);
    return rc;
}

static char *container_url(const struct azure_config *c, const char *item_path)
{
    char *item = bk_http_urlencode(item_path);
    char *scope = bk_http_urlencode(c->project_id);
    char *url = bk_xasprintf("%s_apis/resources/Containers/%ld?itemPath=%s&scope=%s&api-version=%s",
                             c->collection, c->container_id, item, scope, AZURE_API_CONTAINER);
    free(item);
    free(scope);
    return url;
}

/* PUT one chunk, retrying transient failures a few times (see the header). */
static int put_chunk(struct azure_provider *az, const char *url, int fd, uint64_t off, uint64_t n,
                     uint64_t total, long *status_out)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    long pause = az->cfg.retry_ms;
    int rc = BK_ERR;

    for (int attempt = 1; attempt <= 4; attempt++) {
        struct bk_strvec extra = BK_STRVEC_INIT;
        struct bk_http_request req;
        char what[160];

        bk_http_request_init(&req, "PUT", url);
        bk_strvec_push(&extra, "Content-Type: application/octet-stream");
        if (total > 0) {
            bk_strvec_pushf(&extra, "Content-Range: bytes %llu-%llu/%llu", (unsigned long long)off,
                            (unsigned long long)(off + n - 1), (unsigned long long)total);
            req.body_fd = fd;
            req.body_offset = off;
            req.body_size = n;
        }
        if (total > 0)
            snprintf(what, sizeof(what), "upload bytes %llu-%llu of %llu", (unsigned long long)off,
                     (unsigned long long)(off + n - 1), (unsigned long long)total);
        else
            snprintf(what, sizeof(what), "upload an empty archive");
        rc = azure_call(az, &req, &extra, &resp, what, 0);
        bk_strvec_clear(&extra);
        *status_out = resp.status;
        if (rc == BK_ENOTFOUND) /* how the service says "no write access" too */
            rc = bk_error_set(BK_EDENIED,
                              "%s: container %ld does not exist or the token cannot "
                              "write to it",
                              what, az->cfg.container_id);
        if (!rc || !bk_status_retryable(rc) || attempt == 4)
            break;
        long wait = bk_error_retry_after_ms();
        if (wait < 0)
            wait = pause;
        if (wait > 60000)
            wait = 60000;
        bk_warn("azure: %s; retrying in %ld ms", bk_error_msg(), wait);
        azure_sleep_ms(wait);
        pause *= 2;
    }
    bk_http_response_release(&resp);
    return rc;
}

static int upload_chunks(struct azure_provider *az, const char *item_path, int fd, uint64_t total)
{
    char *url = container_url(&az->cfg, item_path);
    uint64_t chunk = az->cfg.chunk_size;
    long status = 0;
    int rc = BK_OK;

    if (total == 0)
        rc = put_chunk(az, url, fd, 0, 0, 0, &status);
    for (uint64_t off = 0; !rc && off < total; off += chunk) {
        uint64_t n = total - off < chunk ? total - off : chunk;
        rc = put_chunk(az, url, fd, off, n, total, &status);
        if (!rc)
            bk_progress("azure: uploaded %llu of %llu bytes", (unsigned long long)(off + n),
                        (unsigned long long)total);
    }
    if (!rc && status != 201)
        rc = bk_error_set(BK_ERR,
                          "upload %s: the service answered HTTP %ld, not 201, to the last "
                          "chunk",
                          item_path, status);
    free(url);
    return rc;
}

static int associate(struct azure_provider *az, const struct bk_upload *u, uint64_t size)
{
    const struct azure_config *c = &az->cfg;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_strvec extra = BK_STRVEC_INIT;
    struct bk_http_request req;
    cJSON *body = cJSON_CreateObject();
    cJSON *res = cJSON_AddObjectToObject(body, "resource");
    cJSON *props = cJSON_CreateObject();
    char *data = bk_xasprintf("#/%ld/%s", c->container_id, u->key);
    char *size_s = bk_xasprintf("%llu", (unsigned long long)size);
    char *url = bk_xasprintf("%s%s/_apis/build/builds/%ld/artifacts?api-version=%s", c->collection,
                             c->project, c->build_id, AZURE_API_BUILD);
    char *json;
    int rc;

    cJSON_AddStringToObject(body, "name", u->key);
    if (c->job_id)
        cJSON_AddStringToObject(body, "source", c->job_id);
    cJSON_AddStringToObject(res, "type", "Container");
    cJSON_AddStringToObject(res, "data", data);
    cJSON_AddStringToObject(props, "artifactsize", size_s);
    cJSON_AddItemToObject(res, "properties", props);
    json = cJSON_PrintUnformatted(body);
    bk_http_request_init(&req, "POST", url);
    req.body = json;
    req.body_len = strlen(json);
    bk_strvec_push(&extra, "Content-Type: application/json");
    rc = azure_call(az, &req, &extra, &resp, "associate the artifact", 0);
    if (rc == BK_EEXISTS)
        rc = bk_error_set(BK_EEXISTS, "artifact %s already exists in build %ld", u->key,
                          c->build_id);
    bk_strvec_clear(&extra);
    bk_http_response_release(&resp);
    cJSON_free(json);
    cJSON_Delete(body);
    free(data);
    free(size_s);
    free(url);
    return rc;
}

static int require_for_upload(const struct azure_config *c)
{
    if (!c->build_id)
        return bk_error_set(BK_EINVAL, "BUILD_BUILDID is not set: only a pipeline run can save");
    if (!c->container_id)
        return bk_error_set(BK_EINVAL, "BUILD_CONTAINERID is not set: the run's file container "
                                       "is unknown (or use --store-opt upload=agent)");
    if (!c->project_id)
        return bk_error_set(BK_EINVAL, "SYSTEM_TEAMPROJECTID is not set: file-container calls "
                                       "need the project id");
    return BK_OK;
}

static int azure_upload(struct bk_provider *p, const struct bk_upload *u, int fd)
{
    struct azure_provider *az = (struct azure_provider *)p;
    struct stat st;
    char *item;
    int rc;

    if (az->cfg.upload_agent)
        return upload_by_agent(az, u, fd);
    if ((rc = require_for_upload(&az->cfg)))
        return rc;
    if (fstat(fd, &st) != 0)
        return bk_error_set(BK_ERR, "upload %s: %s", u->key, strerror(errno));
    /* the first attempt writes <key>/cache.tar.zst; a retry starts a fresh file */
    az->uploads++;
    if (az->uploads == 1)
        item = bk_xasprintf("%s/%s", u->key, AZURE_ARCHIVE_NAME);
    else
        item = bk_xasprintf("%s/cache.%u.tar.zst", u->key, az->uploads);
    rc = upload_chunks(az, item, fd, (uint64_t)st.st_size);
    if (!rc)
        rc = associate(az, u, (uint64_t)st.st_size);
    if (!rc)
        bk_info("azure: saved %s as an artifact of build %ld (%llu bytes)", u->key,
                az->cfg.build_id, (unsigned long long)st.st_size);
    else
        bk_error_wrap(rc, "save %s", u->key);
    free(item);
    return rc;
}

/* ---- the vtable ---- */

static int azure_detect(const struct bk_provider_config *cfg)
{
    const char *v = bk_provider_env(cfg, "TF_BUILD");
    return v && strcasecmp(v, "true") == 0;
}

static int azure_create(const struct bk_provider_config *cfg, struct bk_provider **out)
{
    struct azure_provider *az = bk_xcalloc(1, sizeof(*az));
    int rc = azure_parse_config(cfg, &az->cfg);
    if (rc) {
        free(az);
        return bk_error_wrap(rc, "azure");
    }
    az->base.ops = &bk_provider_azure;
    *out = &az->base;
    return BK_OK;
}

static void azure_destroy(struct bk_provider *p)
{
    struct azure_provider *az = (struct azure_provider *)p;
    if (!az)
        return;
    azure_config_release(&az->cfg);
    azure_runs_release(az);
    free(az);
}

const struct bk_provider_ops bk_provider_azure = {
    .name = "azure",
    .scheme = NULL,
    .caps = BK_CAP_BRANCH_SCOPED | BK_CAP_LIST,
    .detect = azure_detect,
    .create = azure_create,
    .lookup = azure_lookup,
    .download = azure_download,
    .upload = azure_upload,
    .list = azure_list,
    .remove = NULL,
    .destroy = azure_destroy,
};
