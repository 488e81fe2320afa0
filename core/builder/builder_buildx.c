/*
 * builder_buildx.c - the "buildx" driver: `docker buildx build --builder NAME`.
 *
 * Probe: `docker buildx version` must work (the component is installed),
 * then `docker buildx inspect [NAME]` must find the builder (the current
 * one when --builder is not given). The build options are those of the
 * docker driver; buildx needs no DOCKER_BUILDKIT in the environment.
 */
#include "core/builder/builder.h"

#include "core/util/error.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int run_buildx(const struct bk_builder_config *cfg, const char *verb)
{
    struct bk_strvec argv = BK_STRVEC_INIT;
    struct bk_strbuf out = BK_STRBUF_INIT;
    const char *client = bk_builder__docker_client(cfg);
    int rc, status = 0;

    bk_strvec_push(&argv, client);
    bk_strvec_push(&argv, "buildx");
    bk_strvec_push(&argv, verb);
    if (cfg->builder && verb[0] == 'i')
        bk_strvec_push(&argv, cfg->builder);
    rc = bk_builder__exec(&argv, NULL, &out, &status);
    if (rc == BK_ENOTFOUND)
        rc = bk_error_set(BK_ENOTFOUND, "buildx: no docker client '%s'", client);
    else if (rc == BK_EDENIED)
        rc = bk_error_set(BK_EDENIED, "buildx: permission denied running '%s'", client);
    else if (rc == BK_OK && status != 0 && verb[0] == 'v')
        rc = bk_error_set(BK_ENOTFOUND, "buildx: '%s' has no buildx component", client);
    else if (rc == BK_OK && status != 0 && cfg->builder && strstr(out.buf, "no builder") != NULL)
        rc = bk_error_set(BK_ENOTFOUND, "buildx: no builder named '%s' (see docker buildx ls)",
                          cfg->builder);
    else if (rc == BK_OK && status != 0)
        rc = bk_builder__explain("buildx", "docker buildx inspect", out.buf);
    bk_strbuf_release(&out);
    bk_strvec_clear(&argv);
    return rc;
}

/* The docker client finds buildx as a CLI plugin in these directories;
 * when none has it, `docker buildx` cannot work and is not worth a run. */
static int plugin_installed(const struct bk_builder_config *cfg)
{
    static const char *const dirs[] = {
        "/usr/local/lib/docker/cli-plugins",
        "/usr/local/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
        NULL,
    };
    const char *(*get)(const char *) = cfg->getenv ? cfg->getenv : bk_builder__getenv;
    const char *conf = get("DOCKER_CONFIG"), *home = get("HOME");
    char path[4096];

    if (conf && *conf) {
        snprintf(path, sizeof(path), "%s/cli-plugins/docker-buildx", conf);
        if (access(path, X_OK) == 0)
            return 1;
    }
    if (home && *home) {
        snprintf(path, sizeof(path), "%s/.docker/cli-plugins/docker-buildx", home);
        if (access(path, X_OK) == 0)
            return 1;
    }
    for (const char *const *d = dirs; *d; d++) {
        snprintf(path, sizeof(path), "%s/docker-buildx", *d);
        if (access(path, X_OK) == 0)
            return 1;
    }
    return 0;
}

static int buildx_probe(const struct bk_builder_config *cfg)
{
    int rc;

    if (!plugin_installed(cfg))
        return bk_error_set(BK_ENOTFOUND, "buildx: no docker-buildx plugin installed");
    rc = run_buildx(cfg, "version");
    return rc ? rc : run_buildx(cfg, "inspect");
}

static int buildx_command(const struct bk_builder_config *cfg, const struct bk_build_request *req,
                          struct bk_strvec *argv, struct bk_strvec *env)
{
    (void)env;
    bk_strvec_push(argv, bk_builder__docker_client(cfg));
    bk_strvec_push(argv, "buildx");
    bk_strvec_push(argv, "build");
    if (cfg->builder) {
        bk_strvec_push(argv, "--builder");
        bk_strvec_push(argv, cfg->builder);
    }
    bk_builder__docker_build_args(req, argv);
    return BK_OK;
}

const struct bk_builder_ops bk_builder_buildx = {
    "buildx",                        /* name */
    buildx_probe,                    /* probe */
    buildx_command,                  /* command */
    bk_builder__buildx_cache_export, /* cache_export */
};
