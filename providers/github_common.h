/*
 * github_common.h - internals of the GitHub Actions cache provider, shared
 * by its files and by its unit tests. Nothing outside providers/github*.c and
 * tests/unit/test_providers_github*.c includes this; the rest of bkcache
 * reaches the provider only through `bk_provider_github` (provider.h).
 *
 *   github_config.c  configuration, the `version` string, key rules (pure)
 *   github_v2.c      service v2: Twirp JSON at ACTIONS_RESULTS_URL + signed blob URLs
 *   github_v1.c      service v1: REST at ACTIONS_CACHE_URL + chunked PATCH
 *   github_common.c  helpers the two versions share (auth header, messages)
 *   github_rest.c    list and delete through the repository's REST API
 *   github.c         the vtable: detect, create, lookup, download, upload;
 *                    it calls the versions, they never call back into it
 *
 * The wire format follows ../shared/specs/github-actions-cache.md; section
 * numbers (§3.6) in comments refer to it.
 */
#ifndef BK_PROVIDERS_GITHUB_COMMON_H
#define BK_PROVIDERS_GITHUB_COMMON_H

#include "core/net/blob.h"
#include "core/util/strvec.h"
#include "providers/provider.h"

#define GITHUB_KEY_MAX 512 /* UTF-16 code units, as the official client counts */
#define GITHUB_MAX_KEYS 10 /* primary key plus restore keys */
#define GITHUB_VERSION_SALT "1.0"

struct github_config {
    int v2;                   /* 1: Twirp service v2; 0: legacy REST service v1 */
    char *url;                /* v2: origin "http://h:p/"; v1: base ending in "/" */
    char *token;              /* the runtime token (a secret; registered with the log) */
    const char *token_env;    /* the variable it came from, for messages */
    struct bk_strvec paths;   /* `path=` attributes: the version's path list */
    char *compression;        /* "zstd-without-long" (default), "zstd" or "gzip" */
    char *version;            /* `version=`: a fixed version string, or NULL */
    struct bk_blob_opts blob; /* block-size, range-size, parallel */
    /* the REST API, for list and delete (github_rest.c); NULL when not configured */
    char *api_url;             /* api-url=, else GITHUB_API_URL; no trailing slash */
    char *repository;          /* repository=, else GITHUB_REPOSITORY ("owner/name") */
    char *api_token;           /* a secret, registered with the log */
    const char *api_token_env; /* api-token-env=, else GITHUB_TOKEN */
};

/*
 * Read the configuration: the runner's environment first (ACTIONS_RESULTS_URL,
 * ACTIONS_CACHE_URL, ACTIONS_RUNTIME_TOKEN, ACTIONS_CACHE_SERVICE_V2,
 * GITHUB_SERVER_URL), then --store (a service URL) and the attributes, which
 * override it: url, service=v1|v2, token-env=NAME, path=P (repeatable),
 * compression, version, block-size, range-size, parallel; and, for list and
 * delete through the REST API (all three or none): api-url (GITHUB_API_URL),
 * repository (GITHUB_REPOSITORY), api-token-env=NAME (GITHUB_TOKEN). Pure: no
 * network, no logging.
 * BK_EINVAL with a message naming the variable or attribute at fault.
 */
int github_parse_config(const struct bk_provider_config *cfg, struct github_config *out);
void github_config_release(struct github_config *c);

/* The `version` a lookup or save is scoped to (§3.6): lower-case hex SHA-256
 * of "<path>|...|<compression>|1.0". The paths are c->paths, or the identity
 * descriptor alone when none were given ("bkcache" when that is NULL too).
 * c->version, when set, is returned as is. Caller frees. */
char *github_version(const struct github_config *c, const char *identity);

/* The official client's key rules (§3.7): non-empty, at most 512 UTF-16 code
 * units, no comma, at most 10 keys in all. BK_EINVAL naming the key. */
int github_check_keys(const char *key, const char *const *restore_keys, size_t nrestore);

/* True when GITHUB_SERVER_URL names a GitHub Enterprise Server (§1.2). */
int github_is_ghes(const char *server_url);

struct github {
    struct bk_provider base;
    struct github_config cfg;
};

/* Service v2 and v1. Keys are checked and `version` computed by the caller. */
int github_v2_lookup(struct github *g, const struct bk_lookup *q, const char *version,
                     struct bk_provider_entry *out);
int github_v2_upload(struct github *g, const struct bk_upload *u, const char *version, int fd);
int github_v1_lookup(struct github *g, const struct bk_lookup *q, const char *version,
                     struct bk_provider_entry *out);
int github_v1_upload(struct github *g, const struct bk_upload *u, const char *version, int fd);

/* The REST API (github_rest.c): every cache of the repository, newest first,
 * scope = its ref; and delete one listed entry. Need c->api_token. */
int github_rest_list(struct github *g, bk_entry_cb cb, void *payload);
int github_rest_remove(struct github *g, const struct bk_provider_entry *e);

/* "Authorization: Bearer <token>" into headers. */
void github_auth_header(const struct github *g, struct bk_strvec *headers);

/* BK_EEXISTS with the note that another job saved `key` first (409 on reserve). */
int github_exists(const char *key);

/* Register the query string of a signed URL as a secret (it holds a signature). */
void github_hide_signature(const char *url);

#endif
