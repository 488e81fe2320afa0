/*
 * github_config.c - configuration, the `version` string and the key rules
 * of the GitHub Actions cache provider; see github_common.h.
 *
 * Everything here is pure (no network, no logging) so unit tests can call
 * it with a fake environment.
 */
#include "providers/github_common.h"

#include "core/util/error.h"
#include "core/util/numparse.h"
#include "core/util/strbuf.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Upload block size, as the official client's v2 save uses (@actions/cache
 * forces uploadChunkSize to 64 MiB, 8 in flight; archives up to 128 MiB go
 * as one Put Blob). store-opt block-size overrides it. */
#define GITHUB_BLOCK_SIZE (64ull << 20)

static int ends_with_ci(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

int github_is_ghes(const char *server_url)
{
    const char *host, *end;
    size_t n;

    if (!server_url || !*server_url)
        return 0;
    host = strstr(server_url, "://");
    host = host ? host + 3 : server_url;
    end = host + strcspn(host, ":/?#");
    n = (size_t)(end - host);
    if (n == 10 && strncasecmp(host, "github.com", 10) == 0)
        return 0;
    return !ends_with_ci(host, n, ".ghe.com") && !ends_with_ci(host, n, ".localhost");
}

static int is_http_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* v2: the origin only, since the official client resolves "/twirp/..."
 * against the URL and so drops any path (§3.1). */
static char *origin_of(const char *url)
{
    const char *host = strstr(url, "://") + 3;
    size_t n = (size_t)(host - url) + strcspn(host, "/?#");
    return bk_xasprintf("%.*s/", (int)n, url);
}

static char *with_slash(const char *url)
{
    size_t n = strlen(url);
    return n && url[n - 1] == '/' ? bk_xstrdup(url) : bk_xasprintf("%s/", url);
}

/* A size attribute from 1 MiB to 4000 MiB (Azure's largest block); unset leaves *out. */
static int size_attr(const struct bk_provider_config *cfg, const char *name, uint64_t *out)
{
    const char *v = bk_provider_attr(cfg, name);
    uint64_t n;

    if (!v)
        return BK_OK;
    if (bk_parse_size(v, &n) || n < (1u << 20) || n > (4000ull << 20))
        return bk_error_set(BK_EINVAL, "github: store-opt %s=%s: expected 1M to 4000M", name, v);
    *out = n;
    return BK_OK;
}

static int parse_attrs(const struct bk_provider_config *cfg, struct github_config *c)
{
    const char *v;

    if (cfg->attrs)
        for (size_t i = 0; i < cfg->attrs->n; i++)
            if (strncmp(cfg->attrs->v[i], "path=", 5) == 0 && cfg->attrs->v[i][5])
                bk_strvec_push(&c->paths, cfg->attrs->v[i] + 5);
    v = bk_provider_attr(cfg, "compression");
    if (v && strcmp(v, "zstd-without-long") != 0 && strcmp(v, "zstd") != 0 &&
        strcmp(v, "gzip") != 0)
        return bk_error_set(BK_EINVAL,
                            "github: store-opt compression=%s: expected "
                            "zstd-without-long, zstd or gzip",
                            v);
    c->compression = bk_xstrdup(v ? v : "zstd-without-long");
    v = bk_provider_attr(cfg, "version");
    if (v) {
        size_t n = strlen(v);
        if (n == 0 || n > 128 || strspn(v, "0123456789abcdefABCDEF") != n)
            return bk_error_set(BK_EINVAL, "github: store-opt version=%s: expected a hex digest",
                                v);
        c->version = bk_xstrdup(v);
    }
    if (size_attr(cfg, "block-size", &c->blob.block_size) ||
        size_attr(cfg, "range-size", &c->blob.range_size))
        return BK_EINVAL;
    v = bk_provider_attr(cfg, "parallel");
    if (v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (end == v || *end || n < 1 || n > 32)
            return bk_error_set(BK_EINVAL, "github: store-opt parallel=%s: expected 1 to 32", v);
        c->blob.parallel = (int)n;
    }
    return BK_OK;
}

static int pick_service(const struct bk_provider_config *cfg, struct github_config *c)
{
    const char *v = bk_provider_attr(cfg, "service");

    if (v) {
        if (strcmp(v, "v2") != 0 && strcmp(v, "v1") != 0)
            return bk_error_set(BK_EINVAL, "github: store-opt service=%s: expected v1 or v2", v);
        c->v2 = strcmp(v, "v2") == 0;
        return BK_OK;
    }
    /* the official client's rule (§1.2): GHES always uses v1; elsewhere
     * any non-empty ACTIONS_CACHE_SERVICE_V2 selects v2 */
    c->v2 = !github_is_ghes(bk_provider_env(cfg, "GITHUB_SERVER_URL")) &&
            bk_provider_env(cfg, "ACTIONS_CACHE_SERVICE_V2") != NULL;
    return BK_OK;
}

int github_parse_config(const struct bk_provider_config *cfg, struct github_config *out)
{
    struct github_config *c = out;
    const char *url, *v;
    int rc;

    memset(c, 0, sizeof(*c));
    c->paths = (struct bk_strvec)BK_STRVEC_INIT;
    c->blob.label = "github";
    c->blob.block_size = GITHUB_BLOCK_SIZE;
    if ((rc = pick_service(cfg, c)) || (rc = parse_attrs(cfg, c)))
        goto fail;

    url = bk_provider_attr(cfg, "url");
    if (!url && cfg->store && is_http_url(cfg->store))
        url = cfg->store;
    if (!url && c->v2)
        url = bk_provider_env(cfg, "ACTIONS_RESULTS_URL");
    if (!url && !c->v2) {
        url = bk_provider_env(cfg, "ACTIONS_CACHE_URL");
        if (!url)
            url = bk_provider_env(cfg, "ACTIONS_RESULTS_URL");
    }
    if (!url) {
        rc = bk_error_set(BK_EINVAL,
                          "github: %s is not set: only JavaScript actions receive it "
                          "(use the bkcache actions, or pass --store-opt url=URL)",
                          c->v2 ? "ACTIONS_RESULTS_URL" : "ACTIONS_CACHE_URL");
        goto fail;
    }
    if (!is_http_url(url)) {
        rc = bk_error_set(BK_EINVAL, "github: cache service URL '%s' is not http(s)", url);
        goto fail;
    }
    c->url = c->v2 ? origin_of(url) : with_slash(url);

    c->token_env = bk_provider_attr(cfg, "token-env");
    if (!c->token_env)
        c->token_env = "ACTIONS_RUNTIME_TOKEN";
    v = bk_provider_env(cfg, c->token_env);
    if (!v) {
        rc = bk_error_set(BK_EINVAL,
                          "github: %s is not set: only JavaScript actions receive the "
                          "runtime token (use the bkcache actions)",
                          c->token_env);
        goto fail;
    }
    c->token = bk_xstrdup(v);

    /* the REST API: optional, all three parts or none */
    c->api_token_env = bk_provider_attr(cfg, "api-token-env");
    if (!c->api_token_env)
        c->api_token_env = "GITHUB_TOKEN";
    v = bk_provider_env(cfg, c->api_token_env);
    url = bk_provider_attr(cfg, "api-url");
    if (!url)
        url = bk_provider_env(cfg, "GITHUB_API_URL");
    if (url && !is_http_url(url)) {
        rc = bk_error_set(BK_EINVAL, "github: API URL '%s' is not http(s)", url);
        goto fail;
    }
    if (v && url) {
        const char *repo = bk_provider_attr(cfg, "repository");
        if (!repo)
            repo = bk_provider_env(cfg, "GITHUB_REPOSITORY");
        if (repo && strchr(repo, '/')) {
            size_t n = strlen(url);
            while (n && url[n - 1] == '/')
                n--;
            c->api_url = bk_xasprintf("%.*s", (int)n, url);
            c->repository = bk_xstrdup(repo);
            c->api_token = bk_xstrdup(v);
        }
    }
    return BK_OK;
fail:
    github_config_release(c);
    return rc;
}

void github_config_release(struct github_config *c)
{
    free(c->url);
    free(c->token);
    free(c->compression);
    free(c->version);
    free(c->api_url);
    free(c->repository);
    free(c->api_token);
    bk_strvec_clear(&c->paths);
    memset(c, 0, sizeof(*c));
    c->paths = (struct bk_strvec)BK_STRVEC_INIT;
}

char *github_version(const struct github_config *c, const char *identity)
{
    struct bk_strbuf in = BK_STRBUF_INIT;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *hex;

    if (c->version)
        return bk_xstrdup(c->version);
    if (c->paths.n)
        for (size_t i = 0; i < c->paths.n; i++)
            bk_strbuf_addf(&in, "%s|", c->paths.v[i]);
    else
        bk_strbuf_addf(&in, "%s|", identity && *identity ? identity : "bkcache");
    bk_strbuf_addf(&in, "%s|%s", c->compression ? c->compression : "zstd-without-long",
                   GITHUB_VERSION_SALT);
    EVP_Digest(in.buf, in.len, md, &mdlen, EVP_sha256(), NULL);
    hex = bk_xmalloc(mdlen * 2 + 1);
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    bk_strbuf_release(&in);
    return hex;
}

/* Length in UTF-16 code units of a UTF-8 string, as JavaScript counts it. */
static size_t utf16_length(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue;
        n += (*p >= 0xF0) ? 2 : 1;
    }
    return n;
}

static int check_key(const char *key)
{
    if (!key || !*key)
        return bk_error_set(BK_EINVAL, "github: empty cache key");
    if (utf16_length(key) > GITHUB_KEY_MAX)
        return bk_error_set(BK_EINVAL, "github: key '%.40s...' is longer than %d characters", key,
                            GITHUB_KEY_MAX);
    if (strchr(key, ','))
        return bk_error_set(BK_EINVAL, "github: key '%s' contains a comma", key);
    return BK_OK;
}

int github_check_keys(const char *key, const char *const *restore_keys, size_t nrestore)
{
    int rc = check_key(key);
    if (rc)
        return rc;
    if (1 + nrestore > GITHUB_MAX_KEYS)
        return bk_error_set(BK_EINVAL,
                            "github: key '%s' has %zu restore keys: at most %d keys "
                            "in all",
                            key, nrestore, GITHUB_MAX_KEYS);
    for (size_t i = 0; i < nrestore; i++)
        if ((rc = check_key(restore_keys[i])))
            return rc;
    return BK_OK;
}
