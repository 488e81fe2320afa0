/*
 * builder.h - the BuildKit client interface: one vtable, three drivers.
 *
 * core/builder/ moves cache contents in and out of where the build sees them:
 * the BuildKit drivers (this file), the generated transfer Dockerfiles
 * (gen_dockerfile.h), the transfer build's files and exported archives
 * (builder_files.h), and the mountio interface (mountio.h) with its two
 * implementations, a builder and plain directories (--dir).
 *
 *   buildx   `docker buildx build --builder NAME ...`
 *   docker   `DOCKER_BUILDKIT=1 docker build ...` (the daemon's embedded BuildKit)
 *   buildctl `buildctl --addr ADDR build --frontend dockerfile.v0 ...`
 *
 * A driver only knows how to probe for its client and how to spell a build
 * as a command line; core (core/builder/builder.c) runs the command, and the
 * inject/extract code (core/builder/mountio_builder.c) writes the generated
 * Dockerfiles. command() is pure, so unit tests pin every command line.
 * Every generated build runs with --network=none and pulls no image.
 */
#ifndef BK_BUILDER_H
#define BK_BUILDER_H

#include "core/util/strbuf.h"
#include "core/util/strvec.h"

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
    const char *output_tar;             /* export the result with type=tar to this file;
                                           "-": the client's stdout (see bk_build_sink) */
    const struct bk_strvec *build_args; /* "K=V"; may be NULL */
    const char *target;                 /* stage to build, or NULL */
    const char *platform;               /* "linux/amd64", or NULL */
};

/* What a successful probe found, for the one line that says why a driver
 * was chosen. */
struct bk_builder_found {
    char detail[256]; /* e.g. "builder default (docker driver) is running" */
    int via_buildx;   /* docker: this `docker build` is a buildx build (Docker 23+) */
};

struct bk_builder_ops {
    const char *name; /* "buildx", "docker", "buildctl" */
    /* 0 when the driver can be used now, with `found` (may be NULL) filled.
     * Otherwise BK_ENOTFOUND (no client), BK_EDENIED (permission), BK_ERR
     * (daemon unreachable, BuildKit unavailable, builder not running) with a
     * one-line explanation in bk_error_msg(). */
    int (*probe)(const struct bk_builder_config *cfg, struct bk_builder_found *found);
    /* The argv and extra environment ("K=V") that run `req`. */
    int (*command)(const struct bk_builder_config *cfg, const struct bk_build_request *req,
                   struct bk_strvec *argv, struct bk_strvec *env);
    /* 0 when the user's build through this driver can export a layer cache
     * (--cache-to type=local); else BK_ESKIPPED with a one-line explanation
     * of what to switch on. NULL: always can. */
    int (*cache_export)(const struct bk_builder_config *cfg);
};

/* ---- can the build export its layer cache? (core/builder/builder_cache_export.c) ---- */

/*
 * The verdict from what the clients said: the server's version (the
 * "Server.Version" of `docker version`, "" when not asked), the driver of
 * the buildx builder ("docker", "docker-container", ...; NULL for the plain
 * docker driver) and the daemon's storage driver status (`docker info
 * --format '{{json .DriverStatus}}'`). Only a builder on the docker driver
 * without the containerd image store cannot export, and Docker before 23,
 * whose `docker build` has no --cache-to at all. Pure: unit tested.
 */
int bk_builder_cache_export_verdict(const char *server_version, const char *buildx_driver,
                                    const char *driver_status);

/* The cache_export slots of the buildx and docker drivers. */
int bk_builder__buildx_cache_export(const struct bk_builder_config *cfg);
int bk_builder__docker_cache_export(const struct bk_builder_config *cfg);

/* NULL-terminated, in auto-selection order: buildx, docker, buildctl. */
extern const struct bk_builder_ops *const bk_builders[];

/*
 * Choose the driver: by name, or for "auto"/NULL:
 *   --buildkit-addr, else --builder, else $BUILDKIT_HOST, else $BUILDX_BUILDER
 *   name the builder (buildctl, buildx, buildctl, buildx): that driver alone
 *   is probed and its failure is the answer;
 *   otherwise the first of buildx (a running builder), docker (the daemon's
 *   BuildKit; skipped when `docker build` is itself buildx and buildx has
 *   already failed) and buildctl whose probe succeeds.
 * `why` (may be NULL) gets one line saying which and why, e.g. "auto:
 * buildx builder default (docker driver) is running". BK_EINVAL for an
 * unknown name or for both --builder and --buildkit-addr.
 */
int bk_builder_choose(const char *name, const struct bk_builder_config *cfg,
                      const struct bk_builder_ops **out, char *why, size_t why_size);

/* bk_builder_choose() without the reason. */
int bk_builder_select(const char *name, const struct bk_builder_config *cfg,
                      const struct bk_builder_ops **out);

/* Who reads a client's stdout while it runs (the tar stream of an output_tar
 * "-" export): consume() gets the read end of a pipe and returns BK_OK after
 * reading it to the end, or an error; what it leaves unread is discarded. */
struct bk_build_sink {
    int (*consume)(int fd, void *arg);
    void *arg;
};

/* Run `req` with `ops`. The client's stdout goes to `sink` (NULL: into the
 * log); its stderr (and stdout without a sink) is appended to `log` (may be
 * NULL). BK_ERR with the client's last lines when the build fails; the
 * sink's error when it failed and the build did not. */
int bk_builder_run(const struct bk_builder_ops *ops, const struct bk_builder_config *cfg,
                   const struct bk_build_request *req, const struct bk_build_sink *sink,
                   struct bk_strbuf *log);

/* ---- the builder mountio (core/builder/mountio_builder.c) ---- */

struct bk_mountio;
struct bk_mountio_opts;

/* What the builder mountio needs to run its transfer builds. Borrowed; must
 * outlive the mountio. */
struct bk_mountio_builder_config {
    const struct bk_builder_ops *ops; /* the driver (bk_builder_select) */
    const struct bk_builder_config *builder;
    const char *helper;                 /* bkcache-helper; NULL: $BKCACHE_HELPER, else next to
                                           the running bkcache */
    const char *dockerfile;             /* the user's Dockerfile (for from= stages), or NULL */
    const char *context_dir;            /* the user's build context (for from= stages) */
    const struct bk_strvec *build_args; /* the user's --build-arg (for from= stages), or NULL */
    const char *platform;               /* the target platform of the user's build, or NULL */
    const char *tmpdir;                 /* NULL: $TMPDIR, else /tmp */
};

/* A mountio that reaches the builder's cache mounts with one generated
 * build per batch (see core/builder/mountio_builder.c). */
int bk_mountio_builder_create(const struct bk_mountio_builder_config *cfg,
                              const struct bk_mountio_opts *opts, struct bk_mountio **out);

/* The drivers, also reachable by name through bk_builders[]. */
extern const struct bk_builder_ops bk_builder_buildx;
extern const struct bk_builder_ops bk_builder_docker;
extern const struct bk_builder_ops bk_builder_buildctl;

/* The signal (SIGINT, SIGTERM, SIGHUP) that asked bkcache to stop while a
 * BuildKit client was running, or 0. The client was cancelled at once; the
 * caller finishes what keeps the caches whole, then stops (core/main.c). */
int bk_builder_cancelled(void);

/* ---- shared by the drivers (core/builder/builder_exec.c); not for other callers ---- */

/* Run argv (argv->v[0] looked up on PATH) with `env` ("K=V", may be NULL)
 * added to the environment, stdin from /dev/null, stdout and stderr both
 * appended to `out` (may be NULL), and streamed to stderr at -vv. Returns
 * BK_OK with the exit status in *status (128+N for signal N), or
 * BK_ENOTFOUND / BK_EDENIED when the program cannot be started. */
int bk_builder__exec(const struct bk_strvec *argv, const struct bk_strvec *env,
                     struct bk_strbuf *out, int *status);

/* The same, with stdout handed to `sink` (NULL: as bk_builder__exec) while
 * stderr is collected on a thread. Returns the sink's error, if any, once
 * the program has exited (with *status set). */
int bk_builder__exec_sink(const struct bk_strvec *argv, const struct bk_strvec *env,
                          const struct bk_build_sink *sink, struct bk_strbuf *out, int *status);

/* The last non-empty line of `text` that is not a progress line, at most
 * 300 bytes, copied into `line` (size >= 301). */
void bk_builder__last_line(const char *text, char *line, size_t size);

/* Map a failed client's output to one of the one-line explanations
 * (core/builder/builder_explain.c): permission denied (BK_EDENIED), daemon
 * unreachable, BuildKit unavailable, else "<what> failed: <last line>"
 * (BK_ERR). `driver` prefixes the message. Returns the code with the
 * message set. */
int bk_builder__explain(const char *driver, const char *what, const char *output);

/* cfg->getenv(name), else getenv(3); NULL for an unset or empty variable. */
const char *bk_builder__env(const struct bk_builder_config *cfg, const char *name);

/* The docker client (cfg->docker, else "docker") and the build options that
 * `docker build` and `docker buildx build` share, from --network=none to
 * the context directory, appended to argv. */
const char *bk_builder__docker_client(const struct bk_builder_config *cfg);
void bk_builder__docker_build_args(const struct bk_build_request *req, struct bk_strvec *argv);

#endif
