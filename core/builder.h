/*
 * builder.h - the BuildKit client interface: one vtable, three drivers.
 *
 *   buildx   `docker buildx build --builder NAME ...`
 *   docker   `DOCKER_BUILDKIT=1 docker build ...` (the daemon's embedded BuildKit)
 *   buildctl `buildctl --addr ADDR build --frontend dockerfile.v0 ...`
 *
 * A driver only knows how to probe for its client and how to spell a build
 * as a command line; core (core/builder.c) runs the command, and the
 * inject/extract code (core/mountio_builder.c) writes the generated
 * Dockerfiles. command() is pure, so unit tests pin every command line.
 * Every generated build runs with --network=none and pulls no image.
 */
#ifndef BK_BUILDER_H
#define BK_BUILDER_H

#include "core/strbuf.h"
#include "core/strvec.h"

struct bk_builder_config {
    const char *docker;        /* --docker PATH: the docker client; NULL: "docker" on PATH */
    const char *buildctl;      /* the buildctl client; NULL: "buildctl" on PATH */
    const char *builder;       /* --builder NAME (buildx); NULL: the current builder */
    const char *buildkit_addr; /* --buildkit-addr, else BUILDKIT_HOST (buildctl) */
    const char *(*getenv)(const char *name); /* NULL: getenv */
};

struct bk_build_request {
    const char *context_dir;            /* build context directory */
    const char *dockerfile;             /* path to the Dockerfile to build */
    const char *output_dir;             /* export the result with type=local here, or NULL */
    const struct bk_strvec *build_args; /* "K=V"; may be NULL */
    const char *target;                 /* stage to build, or NULL */
    const char *platform;               /* "linux/amd64", or NULL */
};

struct bk_builder_ops {
    const char *name; /* "buildx", "docker", "buildctl" */
    /* 0 when the driver can be used now. Otherwise BK_ENOTFOUND (no client),
     * BK_EDENIED (permission), BK_ERR (daemon unreachable, BuildKit
     * unavailable) with a one-line explanation in bk_error_msg(). */
    int (*probe)(const struct bk_builder_config *cfg);
    /* The argv and extra environment ("K=V") that run `req`. */
    int (*command)(const struct bk_builder_config *cfg, const struct bk_build_request *req,
                   struct bk_strvec *argv, struct bk_strvec *env);
};

/* NULL-terminated, in auto-selection order: buildx, docker, buildctl. */
extern const struct bk_builder_ops *const bk_builders[];

/* By name, or "auto"/NULL: the first whose probe() succeeds. */
int bk_builder_select(const char *name, const struct bk_builder_config *cfg,
                      const struct bk_builder_ops **out);

/* Run `req` with `ops`; the client's combined output is appended to `log`
 * (may be NULL). BK_ERR with the client's last lines when the build fails. */
int bk_builder_run(const struct bk_builder_ops *ops, const struct bk_builder_config *cfg,
                   const struct bk_build_request *req, struct bk_strbuf *log);

#endif
