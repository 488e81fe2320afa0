/*
 * builder_buildctl.c - the "buildctl" driver: a BuildKit daemon reached
 * directly, `buildctl --addr ADDR build --frontend dockerfile.v0`.
 *
 * The address is --buildkit-addr, else $BUILDKIT_HOST, else buildctl's own
 * default. The Dockerfile's directory and the context are sent as two local
 * sources, as `docker build` does; --network=none becomes the frontend
 * option force-network-mode=none. Probe: `buildctl debug workers` must
 * reach the daemon.
 */
#include "core/builder/builder.h"

#include "core/util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *buildctl_addr(const struct bk_builder_config *cfg)
{
    const char *a = cfg->buildkit_addr;
    return a && *a ? a : bk_builder__env(cfg, "BUILDKIT_HOST");
}

static void push_client(const struct bk_builder_config *cfg, struct bk_strvec *argv)
{
    const char *addr = buildctl_addr(cfg);
    bk_strvec_push(argv, cfg->buildctl && *cfg->buildctl ? cfg->buildctl : "buildctl");
    if (addr) {
        bk_strvec_push(argv, "--addr");
        bk_strvec_push(argv, addr);
    }
}

static int buildctl_probe(const struct bk_builder_config *cfg, struct bk_builder_found *found)
{
    struct bk_strvec argv = BK_STRVEC_INIT;
    struct bk_strbuf out = BK_STRBUF_INIT;
    int rc, status = 0;

    push_client(cfg, &argv);
    bk_strvec_push(&argv, "debug");
    bk_strvec_push(&argv, "workers");
    rc = bk_builder__exec(&argv, NULL, &out, &status);
    if (rc == BK_ENOTFOUND)
        rc = bk_error_set(BK_ENOTFOUND, "buildctl: no buildctl client '%s'", argv.v[0]);
    else if (rc == BK_EDENIED)
        rc = bk_error_set(BK_EDENIED, "buildctl: permission denied running '%s'", argv.v[0]);
    else if (rc == BK_OK && status != 0)
        rc = bk_builder__explain("buildctl", "buildctl debug workers", out.buf);
    if (rc == BK_OK && found)
        snprintf(found->detail, sizeof(found->detail), "buildkitd answers at %s",
                 buildctl_addr(cfg) ? buildctl_addr(cfg) : "buildctl's default address");
    bk_strbuf_release(&out);
    bk_strvec_clear(&argv);
    return rc;
}

static int buildctl_command(const struct bk_builder_config *cfg, const struct bk_build_request *req,
                            struct bk_strvec *argv, struct bk_strvec *env)
{
    const char *slash = strrchr(req->dockerfile, '/');
    (void)env;

    push_client(cfg, argv);
    bk_strvec_push(argv, "build");
    bk_strvec_push(argv, "--progress=plain");
    bk_strvec_push(argv, "--frontend");
    bk_strvec_push(argv, "dockerfile.v0");
    bk_strvec_push(argv, "--local");
    bk_strvec_pushf(argv, "context=%s", req->context_dir);
    bk_strvec_push(argv, "--local");
    if (slash)
        bk_strvec_pushf(argv, "dockerfile=%.*s",
                        (int)(slash == req->dockerfile ? 1 : slash - req->dockerfile),
                        req->dockerfile);
    else
        bk_strvec_push(argv, "dockerfile=.");
    bk_strvec_push(argv, "--opt");
    bk_strvec_pushf(argv, "filename=%s", slash ? slash + 1 : req->dockerfile);
    for (size_t i = 0; req->build_args && i < req->build_args->n; i++) {
        bk_strvec_push(argv, "--opt");
        bk_strvec_pushf(argv, "build-arg:%s", req->build_args->v[i]);
    }
    if (req->target) {
        bk_strvec_push(argv, "--opt");
        bk_strvec_pushf(argv, "target=%s", req->target);
    }
    if (req->platform) {
        bk_strvec_push(argv, "--opt");
        bk_strvec_pushf(argv, "platform=%s", req->platform);
    }
    bk_strvec_push(argv, "--opt");
    bk_strvec_push(argv, "force-network-mode=none");
    if (req->output_tar) {
        bk_strvec_push(argv, "--output");
        bk_strvec_pushf(argv, "type=tar,dest=%s", req->output_tar);
    }
    return BK_OK;
}

const struct bk_builder_ops bk_builder_buildctl = {
    "buildctl",       /* name */
    buildctl_probe,   /* probe */
    buildctl_command, /* command */
    NULL,             /* cache_export: buildctl always can */
};
