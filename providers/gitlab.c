/*
 * gitlab.c - the `gitlab` provider: configuration, key naming and the one ops
 * table that hands each slot to the runner-cache store
 * (providers/gitlab_runnercache.c) or the generic-package store
 * (providers/gitlab_packages.c). See providers/gitlab_common.h and docs/gitlab.md.
 *
 * Configuration (--store-opt K=V; the environment is GitLab's predefined
 * CI/CD variables):
 *
 *   store=runner|packages  which store; default $BKCACHE_GITLAB_STORE, else runner
 *   keep=N                 at most N entries are kept after a save
 *   max-size=SIZE          runner: total archive bytes kept (LRU eviction)
 *   api-url=URL            packages: default $CI_API_V4_URL
 *   project=ID|PATH        packages: default $CI_PROJECT_ID, else $CI_PROJECT_PATH
 *   package=NAME           packages: package name; default the key's first segment
 *   token-env=VAR          packages: token variable; default CI_JOB_TOKEN
 *   token-type=job|private|deploy  packages: header for it (default: job for
 *                          CI_JOB_TOKEN, private for any other variable)
 *   max-file-size=SIZE     packages: registry file limit (default 5G; 0: none)
 *   status=default|hidden  packages: upload status (hidden: not shown in the UI)
 *
 * --store is the runner store's directory (relative to $CI_PROJECT_DIR); the
 * packages store takes none. Tokens are named by variable, never passed as
 * values, and registered as secrets in create().
 */
#include "providers/gitlab_common.h"

#include "core/net/http.h"
#include "core/util/numparse.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gitlab_provider {
    struct bk_provider base;
    struct gitlab_config cfg;
    struct bk_provider *runner; /* the runner store's local store; NULL for packages */
};

static const char *const k_attrs[] = {
    "store",     "keep",       "max-size",      "api-url", "project", "package",
    "token-env", "token-type", "max-file-size", "status",  NULL,
};

/* ---- configuration ---- */

static int parse_keep(const char *v, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0)
        return bk_error_set(BK_EINVAL, "--store-opt keep: expected a number >= 0, got '%s'", v);
    *out = n;
    return BK_OK;
}

static int parse_size_attr(const char *name, const char *v, uint64_t *out)
{
    char *what;
    if (bk_parse_size(v, out) == BK_OK)
        return BK_OK;
    what = bk_xasprintf("--store-opt %s", name);
    bk_error_wrap(BK_EINVAL, "%s", what);
    free(what);
    return BK_EINVAL;
}

static int check_attrs(const struct bk_provider_config *cfg)
{
    if (!cfg->attrs)
        return BK_OK;
    for (size_t i = 0; i < cfg->attrs->n; i++) {
        const char *a = cfg->attrs->v[i];
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        int known = 0;
        for (size_t k = 0; k_attrs[k] && !known; k++)
            known = strlen(k_attrs[k]) == n && strncmp(k_attrs[k], a, n) == 0;
        if (!known)
            return bk_error_set(BK_EINVAL,
                                "--store-opt %.*s: unknown option for the gitlab provider "
                                "(see docs/gitlab.md)",
                                (int)n, a);
    }
    return BK_OK;
}

static int under_dir(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static int parse_runner(const struct bk_provider_config *cfg, struct gitlab_config *c)
{
    const char *project_dir = bk_provider_env(cfg, "CI_PROJECT_DIR");
    const char *store = cfg->store && *cfg->store ? cfg->store : ".bkcache";
    const char *v;

    if (store[0] == '/' || !project_dir)
        c->dir = bk_xstrdup(store);
    else
        c->dir = bk_xasprintf("%s%s%s", project_dir,
                              project_dir[strlen(project_dir) - 1] == '/' ? "" : "/", store);
    c->outside_project = project_dir && !under_dir(c->dir, project_dir);
    if ((v = bk_provider_attr(cfg, "max-size")) && parse_size_attr("max-size", v, &c->max_size))
        return BK_EINVAL;
    return BK_OK;
}

static int parse_token(const struct bk_provider_config *cfg, struct gitlab_config *c)
{
    const char *var = bk_provider_attr(cfg, "token-env");
    const char *type = bk_provider_attr(cfg, "token-type");
    const char *tok;

    if (!var)
        var = "CI_JOB_TOKEN";
    if (!type)
        type = strcmp(var, "CI_JOB_TOKEN") == 0 ? "job" : "private";
    if (strcmp(type, "job") == 0)
        c->token_header = "JOB-TOKEN";
    else if (strcmp(type, "private") == 0)
        c->token_header = "PRIVATE-TOKEN";
    else if (strcmp(type, "deploy") == 0)
        c->token_header = "DEPLOY-TOKEN";
    else
        return bk_error_set(
            BK_EINVAL, "--store-opt token-type: expected job, private or deploy, got '%s'", type);
    tok = bk_provider_env(cfg, var);
    if (!tok && !cfg->read_only)
        return bk_error_set(BK_EINVAL,
                            "gitlab packages store: $%s is not set (a token is needed to upload; "
                            "set --store-opt token-env=VAR)",
                            var);
    c->token = tok ? bk_xstrdup(tok) : NULL;
    return BK_OK;
}

static int parse_packages(const struct bk_provider_config *cfg, struct gitlab_config *c)
{
    const char *api = bk_provider_attr(cfg, "api-url");
    const char *project = bk_provider_attr(cfg, "project");
    const char *v;
    size_t n;

    if (cfg->store && *cfg->store)
        return bk_error_set(BK_EINVAL,
                            "--store %s: the gitlab packages store takes no --store "
                            "(use --store-opt package=NAME)",
                            cfg->store);
    if (!api)
        api = bk_provider_env(cfg, "CI_API_V4_URL");
    if (!api)
        return bk_error_set(BK_EINVAL, "gitlab packages store: $CI_API_V4_URL is not set "
                                       "(or pass --store-opt api-url=URL)");
    if (strncmp(api, "http://", 7) != 0 && strncmp(api, "https://", 8) != 0)
        return bk_error_set(BK_EINVAL, "gitlab api url '%s': expected http:// or https://", api);
    n = strlen(api);
    while (n > 0 && api[n - 1] == '/')
        n--;
    c->api_url = bk_xstrndup(api, n);

    if (!project)
        project = bk_provider_env(cfg, "CI_PROJECT_ID");
    if (!project)
        project = bk_provider_env(cfg, "CI_PROJECT_PATH");
    if (!project)
        return bk_error_set(BK_EINVAL, "gitlab packages store: $CI_PROJECT_ID is not set "
                                       "(or pass --store-opt project=ID)");
    c->project = bk_http_urlencode(project);

    if ((v = bk_provider_attr(cfg, "package"))) {
        if (!gitlab_valid_package_name(v))
            return bk_error_set(BK_EINVAL,
                                "--store-opt package=%s: a package name is letters, digits, "
                                "'.', '_', '-' and '+'",
                                v);
        c->package = bk_xstrdup(v);
    }
    c->max_file_size = GITLAB_DEFAULT_MAX_FILE_SIZE;
    if ((v = bk_provider_attr(cfg, "max-file-size")) &&
        parse_size_attr("max-file-size", v, &c->max_file_size))
        return BK_EINVAL;
    if ((v = bk_provider_attr(cfg, "status"))) {
        if (strcmp(v, "hidden") != 0 && strcmp(v, "default") != 0)
            return bk_error_set(BK_EINVAL,
                                "--store-opt status: expected default or hidden, got '%s'", v);
        c->hidden = strcmp(v, "hidden") == 0;
    }
    c->list_sizes = cfg->list_sizes;
    return parse_token(cfg, c);
}

int gitlab_parse_config(const struct bk_provider_config *cfg, struct gitlab_config *c)
{
    const char *kind = bk_provider_attr(cfg, "store");
    const char *v;
    int rc;

    memset(c, 0, sizeof(*c));
    c->keep = -1;
    if ((rc = check_attrs(cfg)))
        return rc;
    if (!kind)
        kind = bk_provider_env(cfg, "BKCACHE_GITLAB_STORE");
    if (!kind || strcmp(kind, "runner") == 0)
        c->kind = GITLAB_STORE_RUNNER;
    else if (strcmp(kind, "packages") == 0)
        c->kind = GITLAB_STORE_PACKAGES;
    else
        return bk_error_set(BK_EINVAL, "--store-opt store: expected runner or packages, got '%s'",
                            kind);
    if ((v = bk_provider_attr(cfg, "keep")) && (rc = parse_keep(v, &c->keep)))
        return rc;
    rc = c->kind == GITLAB_STORE_RUNNER ? parse_runner(cfg, c) : parse_packages(cfg, c);
    if (rc)
        gitlab_config_release(c);
    return rc;
}

void gitlab_config_release(struct gitlab_config *c)
{
    free(c->dir);
    free(c->api_url);
    free(c->project);
    free(c->package);
    if (c->token)
        memset(c->token, 0, strlen(c->token));
    free(c->token);
    memset(c, 0, sizeof(*c));
    c->keep = -1;
}

/* ---- the ops table ---- */

static const struct gitlab_config *conf(struct bk_provider *p)
{
    return &((struct gitlab_provider *)p)->cfg;
}

/* The runner store's local store, or NULL in packages mode. */
static struct bk_provider *runner(struct bk_provider *p)
{
    return ((struct gitlab_provider *)p)->runner;
}

static int gitlab_detect(const struct bk_provider_config *cfg)
{
    const char *v = bk_provider_env(cfg, "GITLAB_CI");
    return v && strcmp(v, "true") == 0;
}

static int gitlab_create(const struct bk_provider_config *cfg, struct bk_provider **out)
{
    struct gitlab_provider *g = bk_xcalloc(1, sizeof(*g));
    int rc = gitlab_parse_config(cfg, &g->cfg);

    if (rc) {
        free(g);
        return rc;
    }
    g->base.ops = &bk_provider_gitlab;
    if (g->cfg.kind == GITLAB_STORE_RUNNER && (rc = gitlab_runner_open(cfg, &g->cfg, &g->runner))) {
        gitlab_config_release(&g->cfg);
        free(g);
        return rc;
    }
    if (g->cfg.token)
        bk_log_add_secret(g->cfg.token);
    if (g->cfg.kind == GITLAB_STORE_RUNNER && g->cfg.outside_project)
        bk_warn("gitlab: %s is outside $CI_PROJECT_DIR; the runner's cache: cannot carry it",
                g->cfg.dir);
    *out = &g->base;
    return BK_OK;
}

static int gitlab_lookup(struct bk_provider *p, const struct bk_lookup *q,
                         struct bk_provider_entry *out)
{
    struct bk_provider *r = runner(p);
    return r ? r->ops->lookup(r, q, out) : gitlab_packages_lookup(conf(p), q, out);
}

static int gitlab_download(struct bk_provider *p, const struct bk_provider_entry *e, int fd)
{
    struct bk_provider *r = runner(p);
    return r ? r->ops->download(r, e, fd) : gitlab_packages_download(conf(p), e, fd);
}

static int gitlab_upload(struct bk_provider *p, const struct bk_upload *u, int fd)
{
    struct bk_provider *r = runner(p);
    return r ? gitlab_runner_upload(conf(p), r, u, fd) : gitlab_packages_upload(conf(p), u, fd);
}

static int gitlab_list(struct bk_provider *p, bk_entry_cb cb, void *payload)
{
    struct bk_provider *r = runner(p);
    return r ? r->ops->list(r, cb, payload) : gitlab_packages_list(conf(p), cb, payload);
}

static int gitlab_remove(struct bk_provider *p, const struct bk_provider_entry *e)
{
    struct bk_provider *r = runner(p);
    return r ? r->ops->remove(r, e) : gitlab_packages_remove(conf(p), e);
}

static void gitlab_destroy(struct bk_provider *p)
{
    struct gitlab_provider *g = (struct gitlab_provider *)p;
    if (!g)
        return;
    if (g->runner)
        g->runner->ops->destroy(g->runner);
    gitlab_config_release(&g->cfg);
    free(g);
}

const struct bk_provider_ops bk_provider_gitlab = {
    .name = "gitlab",                    /* name */
    .scheme = NULL,                      /* no URL scheme */
    .caps = BK_CAP_LIST | BK_CAP_DELETE, /* caps */
    .detect = gitlab_detect,             /* GITLAB_CI=true */
    .create = gitlab_create,             /* create */
    .lookup = gitlab_lookup,             /* lookup */
    .download = gitlab_download,         /* download */
    .upload = gitlab_upload,             /* upload */
    .list = gitlab_list,                 /* list */
    .remove = gitlab_remove,             /* remove */
    .destroy = gitlab_destroy,           /* destroy */
};
