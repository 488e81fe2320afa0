/*
 * builder_docker.c - the "docker" driver: `DOCKER_BUILDKIT=1 docker build`,
 * the BuildKit embedded in the docker daemon.
 *
 * Probe: `docker version` must reach the daemon, and `docker build --help`
 * with DOCKER_BUILDKIT=1 must not refuse (clients from 23.0 on delegate
 * BuildKit builds to the buildx component and fail without it). When that
 * help is buildx's ("docker buildx build"), `docker build` is a buildx build
 * on the current builder: the probe says so (found->via_buildx), and auto
 * does not try it after buildx itself failed. The build options are shared
 * with the buildx driver (bk_builder__docker_build_args).
 */
#include "core/builder/builder.h"

#include "core/util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bk_builder__docker_client(const struct bk_builder_config *cfg)
{
    return cfg->docker && *cfg->docker ? cfg->docker : "docker";
}

void bk_builder__docker_build_args(const struct bk_build_request *req, struct bk_strvec *argv)
{
    bk_strvec_push(argv, "--network=none");
    bk_strvec_push(argv, "--progress=plain");
    bk_strvec_push(argv, "-f");
    bk_strvec_push(argv, req->dockerfile);
    for (size_t i = 0; req->build_args && i < req->build_args->n; i++) {
        bk_strvec_push(argv, "--build-arg");
        bk_strvec_push(argv, req->build_args->v[i]);
    }
    if (req->target) {
        bk_strvec_push(argv, "--target");
        bk_strvec_push(argv, req->target);
    }
    if (req->platform) {
        bk_strvec_push(argv, "--platform");
        bk_strvec_push(argv, req->platform);
    }
    if (req->output_tar) {
        bk_strvec_push(argv, "-o");
        bk_strvec_pushf(argv, "type=tar,dest=%s", req->output_tar);
    }
    bk_strvec_push(argv, req->context_dir);
}

/* Run the client with DOCKER_BUILDKIT=1 and the given arguments; on failure,
 * explain. A client that cannot be started is "not found". */
static int run_client(const struct bk_builder_config *cfg, const char *const *args,
                      const char *what, struct bk_strbuf *keep)
{
    struct bk_strvec argv = BK_STRVEC_INIT, env = BK_STRVEC_INIT;
    struct bk_strbuf out = BK_STRBUF_INIT;
    const char *client = bk_builder__docker_client(cfg);
    int rc, status = 0;

    bk_strvec_push(&argv, client);
    for (; *args; args++)
        bk_strvec_push(&argv, *args);
    bk_strvec_push(&env, "DOCKER_BUILDKIT=1");
    rc = bk_builder__exec(&argv, &env, &out, &status);
    if (rc == BK_ENOTFOUND)
        rc = bk_error_set(BK_ENOTFOUND,
                          "docker: no docker client '%s' (install docker.io, or "
                          "pass --docker PATH)",
                          client);
    else if (rc == BK_EDENIED)
        rc = bk_error_set(BK_EDENIED, "docker: permission denied running '%s'", client);
    else if (rc == BK_OK && (status != 0 || strstr(out.buf, "buildx component is missing")))
        rc = bk_builder__explain("docker", what, out.buf);
    if (keep)
        bk_strbuf_add(keep, out.buf, out.len);
    bk_strbuf_release(&out);
    bk_strvec_clear(&argv);
    bk_strvec_clear(&env);
    return rc;
}

static int docker_probe(const struct bk_builder_config *cfg, struct bk_builder_found *found)
{
    static const char *const version[] = {"version", "--format",
                                          "{{.Client.Version}}|{{.Server.Version}}", NULL};
    static const char *const help[] = {"build", "--help", NULL};
    struct bk_strbuf out = BK_STRBUF_INIT, helptext = BK_STRBUF_INIT;
    int rc = run_client(cfg, version, "docker version", &out), via_buildx = 0;
    const char *bar = strchr(out.buf, '|');

    /* Clients from 23.0 on hand BuildKit builds to the buildx component
     * and refuse without it: ask them; older clients build themselves. */
    if (rc == BK_OK && atoi(out.buf) >= 23) {
        rc = run_client(cfg, help, "docker build", &helptext);
        via_buildx = rc == BK_OK && strstr(helptext.buf, "docker buildx build") != NULL;
    }
    if (rc == BK_OK && found) {
        found->via_buildx = via_buildx;
        snprintf(found->detail, sizeof(found->detail),
                 via_buildx ? "docker %.*s: docker build is a buildx build (daemon %.*s)"
                            : "docker %.*s builds with the daemon's BuildKit (daemon %.*s)",
                 bar ? (int)(bar - out.buf) : 0, out.buf, bar ? (int)strcspn(bar + 1, "\n") : 0,
                 bar ? bar + 1 : "");
    }
    bk_strbuf_release(&out);
    bk_strbuf_release(&helptext);
    return rc;
}

static int docker_command(const struct bk_builder_config *cfg, const struct bk_build_request *req,
                          struct bk_strvec *argv, struct bk_strvec *env)
{
    bk_strvec_push(argv, bk_builder__docker_client(cfg));
    bk_strvec_push(argv, "build");
    bk_builder__docker_build_args(req, argv);
    bk_strvec_push(env, "DOCKER_BUILDKIT=1");
    return BK_OK;
}

const struct bk_builder_ops bk_builder_docker = {
    "docker",                        /* name */
    docker_probe,                    /* probe */
    docker_command,                  /* command */
    bk_builder__docker_cache_export, /* cache_export */
};
