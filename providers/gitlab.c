/*
 * gitlab.c - the `gitlab` provider: configuration, key naming and the one ops
 * table that hands each slot to the runner-cache store
 * (providers/gitlab_runnercache.c) or the generic-package store
 * (providers/gitlab_packages.c). See providers/gitlab.h and docs/gitlab.md.
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
#include "providers/gitlab.h"

#include "core/cli.h"
#include "core/http.h"
#include "core/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VERSION_MAX 200  /* a key up to this long is its own package version */
#define READABLE_MAX 120 /* the readable part of a hashed version */
#define HASH_HEX 24

struct gitlab_provider {
    struct bk_provider base;
    struct gitlab_config cfg;
    struct bk_provider *runner; /* the runner store's local store; NULL for packages */
};

static const char *const k_attrs[] = {
    "store",     "keep",       "max-size",      "api-url", "project", "package",
    "token-env", "token-type", "max-file-size", "status",  NULL,
};

/* ---- helpers ---- */

static int portable_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '-';
}

static int valid_package_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!portable_char(*s) && *s != '+')
            return 0;
    return 1;
}

static int portable_version(const char *s, size_t n)
{
    if (n == 0 || n > VERSION_MAX)
        return 0;
    if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!portable_char(s[i]))
            return 0;
        if (s[i] == '.' && i + 1 < n && s[i + 1] == '.')
            return 0;
    }
    return 1;
}

void gitlab_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = '\0';
}

int gitlab_sha256_fd(int fd, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[1 << 16], md[32];
    unsigned int mdlen = 0;
    off_t off = 0;
    ssize_t n;

    if (!ctx)
        return bk_error_set(BK_ERR, "cannot allocate a SHA-256 context");
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while ((n = pread(fd, buf, sizeof(buf), off)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            EVP_MD_CTX_free(ctx);
            return bk_error_set(BK_ERR, "cannot read the archive: %s", strerror(errno));
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        off += n;
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = '\0';
    return BK_OK;
}

char *gitlab_key_to_version(const char *key)
{
    size_t n = strlen(key), keep = 0;
    char hex[65];

    if (portable_version(key, n))
        return bk_xstrdup(key);
    /* longest portable prefix: stop at the first bad character or "..", then
     * trim back to an alphanumeric end */
    while (keep < n && keep < READABLE_MAX && portable_char(key[keep]) &&
           !(key[keep] == '.' && key[keep + 1] == '.'))
        keep++;
    while (keep > 0 && !isalnum((unsigned char)key[keep - 1]))
        keep--;
    if (keep > 0 && !isalnum((unsigned char)key[0]))
        keep = 0;
    gitlab_sha256_hex(key, n, hex);
    return bk_xasprintf("%.*s%sh%.*s", (int)keep, key, keep ? "." : "", HASH_HEX, hex);
}

char *gitlab_version_key_part(const char *version, int *hashed)
{
    size_t n = strlen(version);
    size_t tail = 1 + HASH_HEX; /* "h" + hex */
    int h = 0;

    if (n >= tail) {
        const char *t = version + n - tail;
        h = t[0] == 'h' && (t == version || t[-1] == '.');
        for (size_t i = 1; h && i < tail; i++)
            h = isxdigit((unsigned char)t[i]) && !isupper((unsigned char)t[i]);
    }
    if (hashed)
        *hashed = h;
    if (!h)
        return bk_xstrdup(version);
    n -= tail;
    return bk_xstrndup(version, n ? n - 1 : 0);
}

char *gitlab_package_for_key(const char *key)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (const char *p = key; *p && *p != '-'; p++)
        bk_strbuf_addch(&sb, portable_char(*p) || *p == '+' ? *p : '_');
    if (sb.len == 0)
        bk_strbuf_adds(&sb, "bkcache");
    return bk_strbuf_detach(&sb);
}

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
        if (!valid_package_name(v))
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
