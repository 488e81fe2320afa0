/*
 * github.c - the GitHub Actions cache provider (`--provider github`).
 *
 * Stores archives in the repository's Actions cache, the storage that
 * actions/cache uses, through the cache service v2 (Twirp, signed Azure Blob
 * URLs) or the legacy v1 REST service, chosen the way the official client
 * chooses (github_config.c). Entries are immutable and branch scoped: a save
 * goes to the current ref's scope, a lookup sees the current ref, then the
 * pull request's base and the default branch; the service matches keys
 * case-insensitively and restore keys as prefixes, newest first. The cache
 * service offers no list and no delete; the repository's REST API does
 * (github_rest.c), so with an API token (GITHUB_TOKEN), GITHUB_API_URL and
 * GITHUB_REPOSITORY the provider can list and delete too (extra_caps), and
 * save removes older runs of a key (docs/keys.md).
 *
 * Entries are scoped by `version` as well as by key (github_version()), so
 * an entry saved here is found by actions/cache or @actions/cache given the
 * same key and paths, and the reverse.
 *
 * Only JavaScript actions receive ACTIONS_RUNTIME_TOKEN; the actions in
 * actions/ pass it on. The token is registered with the log's redactor
 * before any request, and signed URLs' query strings likewise.
 */
#include "providers/github_common.h"

#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct bk_provider_ops bk_provider_github;

static int github_detect(const struct bk_provider_config *cfg)
{
    const char *ga = bk_provider_env(cfg, "GITHUB_ACTIONS");
    return ga && strcmp(ga, "true") == 0 && bk_provider_env(cfg, "ACTIONS_RUNTIME_TOKEN") &&
           (bk_provider_env(cfg, "ACTIONS_RESULTS_URL") ||
            bk_provider_env(cfg, "ACTIONS_CACHE_URL"));
}

static int github_create(const struct bk_provider_config *cfg, struct bk_provider **out)
{
    struct github *g = bk_xcalloc(1, sizeof(*g));
    int rc = github_parse_config(cfg, &g->cfg);

    if (rc) {
        free(g);
        return rc;
    }
    bk_log_add_secret(g->cfg.token);
    if (g->cfg.api_token)
        bk_log_add_secret(g->cfg.api_token);
    g->base.ops = &bk_provider_github;
    bk_debug("github: service %s at %s, token from %s", g->cfg.v2 ? "v2" : "v1", g->cfg.url,
             g->cfg.token_env);
    *out = &g->base;
    return BK_OK;
}

static int github_lookup(struct bk_provider *p, const struct bk_lookup *q,
                         struct bk_provider_entry *out)
{
    struct github *g = (struct github *)p;
    int rc = github_check_keys(q->key, q->restore_keys, q->nrestore);
    char *version;

    if (rc)
        return rc;
    version = github_version(&g->cfg, q->identity);
    rc = g->cfg.v2 ? github_v2_lookup(g, q, version, out) : github_v1_lookup(g, q, version, out);
    free(version);
    return rc;
}

/*
 * A listed entry (handle "cache-id:<id>@<version>", github_rest.c) has no
 * download URL: an exact lookup of its key with its version gives one. The
 * cache service sees only this ref's and the default branch's entries, so
 * an entry the REST API lists for another branch cannot be read from here:
 * that is BK_ERR, not a miss, so that no caller takes it for an entry
 * that is gone (prune would then free the blobs it references).
 */
static int resolve_listed(struct github *g, const struct bk_provider_entry *e,
                          struct bk_provider_entry *out)
{
    const char *at = e->handle ? strchr(e->handle, '@') : NULL;
    struct bk_lookup q = {.key = e->key};
    int rc;

    if (!at || !at[1])
        return bk_error_set(BK_ERR, "github: entry '%s' has no download URL (look it up first)",
                            e->key);
    rc = g->cfg.v2 ? github_v2_lookup(g, &q, at + 1, out) : github_v1_lookup(g, &q, at + 1, out);
    if (rc == BK_OK && strcmp(out->key, e->key) != 0) {
        bk_provider_entry_release(out);
        rc = BK_ENOTFOUND;
    }
    if (rc == BK_ENOTFOUND)
        rc = bk_error_set(BK_ERR,
                          "github: entry '%s' (%s) is listed but not readable from this ref: it "
                          "belongs to another branch's scope",
                          e->key, e->scope ? e->scope : "no ref");
    return rc;
}

static int github_download(struct bk_provider *p, const struct bk_provider_entry *e, int fd)
{
    struct github *g = (struct github *)p;
    struct bk_blob_target t = {.url = e->handle};
    struct bk_provider_entry found = {0};
    int rc;

    if (!e->handle || strncmp(e->handle, "cache-id:", 9) == 0) {
        if ((rc = resolve_listed(g, e, &found)) < 0)
            return rc;
        t.url = found.handle;
    }
    rc = bk_blob_download(&t, fd, &g->cfg.blob, NULL);
    bk_provider_entry_release(&found);
    if (rc)
        bk_error_wrap(rc, "github: download of '%s'", e->key);
    return rc;
}

/*
 * The service answers "already exists" for a key that a save reserved and
 * never committed (a job cancelled or killed while uploading) as for one
 * that another job saved. Only a lookup tells them apart: a committed entry
 * is found, a reservation is not. A job uploading right now commits within
 * moments, so the lookup is tried a few times, a second apart; a key still
 * only reserved after that is a real failure (it cannot be saved and
 * restores of it miss), not a skip.
 */
#define CONFLICT_LOOKUPS 4

static int explain_conflict(struct github *g, const struct bk_upload *u, const char *version)
{
    struct bk_lookup q = {.key = u->key, .identity = u->identity};
    char msg[1024];
    int rc = BK_ENOTFOUND;

    snprintf(msg, sizeof(msg), "%s", bk_error_msg());
    for (int i = 0; i < CONFLICT_LOOKUPS && rc == BK_ENOTFOUND; i++) {
        struct bk_provider_entry e;
        if (i)
            sleep(1);
        memset(&e, 0, sizeof(e));
        rc =
            g->cfg.v2 ? github_v2_lookup(g, &q, version, &e) : github_v1_lookup(g, &q, version, &e);
        bk_provider_entry_release(&e);
    }
    if (rc == BK_ENOTFOUND)
        return bk_error_set(BK_ERR,
                            "github: key '%s' is reserved by a save that has not finished: a job "
                            "cancelled or killed while uploading leaves it reserved, so it cannot "
                            "be saved and restores of it miss (later runs and re-runs save under "
                            "keys of their own)",
                            u->key);
    return bk_error_set(BK_EEXISTS, "%s", msg);
}

static int github_upload(struct bk_provider *p, const struct bk_upload *u, int fd)
{
    struct github *g = (struct github *)p;
    int rc = github_check_keys(u->key, NULL, 0);
    char *version;

    if (rc)
        return rc;
    version = github_version(&g->cfg, u->identity);
    rc = g->cfg.v2 ? github_v2_upload(g, u, version, fd) : github_v1_upload(g, u, version, fd);
    if (rc == BK_EEXISTS)
        rc = explain_conflict(g, u, version);
    free(version);
    return rc;
}

static unsigned github_extra_caps(const struct bk_provider *p)
{
    const struct github *g = (const struct github *)p;
    return g->cfg.api_token ? BK_CAP_LIST | BK_CAP_DELETE : 0;
}

static int github_list(struct bk_provider *p, bk_entry_cb cb, void *payload)
{
    struct github *g = (struct github *)p;
    if (!g->cfg.api_token)
        return bk_error_set(BK_EDENIED,
                            "github: listing needs an API token: set %s (and GITHUB_API_URL, "
                            "GITHUB_REPOSITORY, which the runner sets)",
                            g->cfg.api_token_env);
    return github_rest_list(g, cb, payload);
}

static int github_remove(struct bk_provider *p, const struct bk_provider_entry *e)
{
    struct github *g = (struct github *)p;
    if (!g->cfg.api_token)
        return bk_error_set(BK_EDENIED, "github: deleting needs an API token: set %s",
                            g->cfg.api_token_env);
    return github_rest_remove(g, e);
}

static void github_destroy(struct bk_provider *p)
{
    struct github *g = (struct github *)p;
    if (!g)
        return;
    github_config_release(&g->cfg);
    free(g);
}

const struct bk_provider_ops bk_provider_github = {
    .name = "github", /* --provider github */
    .scheme = NULL,   /* no --store URL scheme */
    .caps = BK_CAP_IMMUTABLE_KEYS | BK_CAP_BRANCH_SCOPED | BK_CAP_THREADSAFE, /* +extra_caps */
    .detect = github_detect,         /* GITHUB_ACTIONS + runtime token */
    .create = github_create,         /* config from env and attrs */
    .lookup = github_lookup,         /* exact key, then prefixes */
    .download = github_download,     /* parallel ranged GETs */
    .upload = github_upload,         /* reserve, blocks, finalize */
    .list = github_list,             /* REST API, with a token */
    .remove = github_remove,         /* likewise */
    .extra_caps = github_extra_caps, /* list, delete with a token */
    .destroy = github_destroy,
};
