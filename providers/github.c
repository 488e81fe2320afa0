/*
 * github.c - the GitHub Actions cache provider (`--provider github`).
 *
 * Stores archives in the repository's Actions cache, the storage that
 * actions/cache uses, through the cache service v2 (Twirp, signed Azure Blob
 * URLs) or the legacy v1 REST service, chosen the way the official client
 * chooses (github_config.c). Entries are immutable and branch scoped: a save
 * goes to the current ref's scope, a lookup sees the current ref, then the
 * pull request's base and the default branch; the service matches keys
 * case-insensitively and restore keys as prefixes, newest first. It offers
 * no list and no delete, so neither slot is set.
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

#include <stdlib.h>
#include <string.h>

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

static int github_download(struct bk_provider *p, const struct bk_provider_entry *e, int fd)
{
    struct github *g = (struct github *)p;
    struct bk_blob_target t = {.url = e->handle};
    int rc;

    if (!e->handle)
        return bk_error_set(BK_ERR, "github: entry '%s' has no download URL (look it up first)",
                            e->key);
    rc = bk_blob_download(&t, fd, &g->cfg.blob, NULL);
    if (rc)
        bk_error_wrap(rc, "github: download of '%s'", e->key);
    return rc;
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
    free(version);
    return rc;
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
    .name = "github",                                     /* --provider github */
    .scheme = NULL,                                       /* no --store URL scheme */
    .caps = BK_CAP_IMMUTABLE_KEYS | BK_CAP_BRANCH_SCOPED, /* no list, no delete */
    .detect = github_detect,                              /* GITHUB_ACTIONS + runtime token */
    .create = github_create,                              /* config from env and attrs */
    .lookup = github_lookup,                              /* exact key, then prefixes */
    .download = github_download,                          /* parallel ranged GETs */
    .upload = github_upload,                              /* reserve, blocks, finalize */
    .list = NULL,                                         /* the service cannot list */
    .remove = NULL,                                       /* nor delete */
    .destroy = github_destroy,
};
