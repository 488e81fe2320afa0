/*
 * buildcmd.h - read the user's own build command line.
 *
 * `bkcache build [options] -- <command>` runs the user's build as they
 * wrote it and reads from it what decides the cache mounts, so the options
 * are never repeated (and never differ) between restore, build and save:
 *
 *   docker build / docker image build / docker builder build   (kind DOCKER)
 *   docker buildx build (or b), docker-buildx build             (kind BUILDX)
 *       -f/--file (- is stdin), --target, --build-arg K[=V] (no value: from
 *       the environment, as docker does), --platform a,b, --builder
 *       (else $BUILDX_BUILDER), the context (PATH; - is a Dockerfile or a
 *       tar on stdin; a URL or git context cannot be read: a warning);
 *   buildctl [--addr A] build                                   (kind BUILDCTL)
 *       --local context=DIR, --local dockerfile=DIR, --opt filename=NAME,
 *       --opt target=T, --opt build-arg:K=V, --opt platform=a,b;
 *   docker compose [-f F] [--profile P] ... build [S...], docker-compose
 *       build                                                   (kind COMPOSE)
 *       the compose files, profiles, env files, project directory, the
 *       services named and --build-arg (applied to every service);
 *   docker buildx bake [-f F] [--set T.K=V] [T...]             (kind BAKE)
 *       the bake files, --set overrides and the targets named.
 * Docker's global options -H/--host, -c/--context and --config become
 * DOCKER_HOST, DOCKER_CONTEXT and DOCKER_CONFIG in `env`, so bkcache's own
 * transfer builds reach the same daemon as the user's build.
 *
 * Every other option is left alone (the command runs exactly as given);
 * the parser only needs to know which options take a value, to find the
 * positional arguments. An option that changes the caches but cannot be
 * read is named in one line of `warnings`.
 *
 * The layer-cache seam (issue 17): `insert_at` is where options for the
 * build go in the command (just after `build` or `bake`);
 * bk_buildcmd_cache_args() spells "import the layer cache from X, export
 * it to Y" for each kind, and bk_buildcmd_with_args() puts such options
 * into the command; bk_buildcmd_layer_args() does both for the arguments
 * the layer cache's restore gives (`bkcache build --layers`).
 */
#ifndef BK_BUILDCMD_H
#define BK_BUILDCMD_H

#include "core/buildspec/buildspec.h"
#include "core/util/strvec.h"

#include <stddef.h>

enum bk_buildcmd_kind {
    BK_BUILDCMD_DOCKER,   /* docker build: the daemon's BuildKit (or buildx's alias) */
    BK_BUILDCMD_BUILDX,   /* docker buildx build */
    BK_BUILDCMD_BUILDCTL, /* buildctl build */
    BK_BUILDCMD_COMPOSE,  /* docker compose build */
    BK_BUILDCMD_BAKE,     /* docker buildx bake */
};

struct bk_buildcmd {
    enum bk_buildcmd_kind kind;
    char *client;             /* the program: "docker", "/usr/bin/docker", "buildctl", ... */
    struct bk_buildspec spec; /* DOCKER, BUILDX, BUILDCTL: the one build */
    /* COMPOSE and BAKE: where the builds are described */
    struct bk_strvec files;      /* -f/--file in order; empty: the tool's default files */
    struct bk_strvec names;      /* services or targets named; empty: the default set */
    struct bk_strvec profiles;   /* compose --profile */
    struct bk_strvec env_files;  /* compose --env-file */
    char *project_dir;           /* compose --project-directory */
    struct bk_strvec set;        /* bake --set overrides */
    struct bk_strvec build_args; /* compose build --build-arg: for every service */
    /* which builder runs it */
    char *builder;        /* --builder, else $BUILDX_BUILDER (buildx, bake, compose) */
    char *buildkit_addr;  /* buildctl --addr, else $BUILDKIT_HOST */
    struct bk_strvec env; /* "DOCKER_HOST=..." from docker's global options */
    size_t insert_at;     /* seam: index in argv where build options go */
    struct bk_strvec warnings;
};

/*
 * Read argv[0..argc). getenv_fn (NULL: getenv) supplies $BUILDX_BUILDER,
 * $BUILDKIT_HOST and the values of `--build-arg K` without a value.
 * BK_EINVAL with a one-line message when argv is not one of the build
 * commands above; *out is then released.
 */
int bk_buildcmd_parse(int argc, char *const *argv, const char *(*getenv_fn)(const char *name),
                      struct bk_buildcmd *out);
void bk_buildcmd_release(struct bk_buildcmd *c);

/* "docker build", "docker buildx build", "buildctl build", "docker compose
 * build", "docker buildx bake". Static string. */
const char *bk_buildcmd_kind_name(enum bk_buildcmd_kind kind);

/* argv with `extra` inserted at c->insert_at, into `out` (appended). */
void bk_buildcmd_with_args(const struct bk_buildcmd *c, int argc, char *const *argv,
                           const struct bk_strvec *extra, struct bk_strvec *out);

/*
 * The layer-cache seam: the options, spelled for c->kind, that import the
 * layer cache from `from` and export it to `to` (BuildKit cache specs such
 * as "type=local,src=DIR" and "type=local,dest=DIR,mode=max"; either may be
 * NULL), appended to `out`: --cache-from/--cache-to (docker, buildx),
 * --import-cache/--export-cache (buildctl), --set *.cache-from=... (bake).
 * BK_EINVAL with a message for compose, whose build command has no such
 * option (run the compose file through `docker buildx bake` instead).
 */
int bk_buildcmd_cache_args(const struct bk_buildcmd *c, const char *from, const char *to,
                           struct bk_strvec *out);

/*
 * The layer cache's build arguments as restore gives them (core/layers/:
 * pairs "--cache-from" SPEC ... "--cache-to" SPEC) spelled for c->kind with
 * bk_buildcmd_cache_args(), appended to `out` in the same order. Returns 1
 * when a --cache-to is among them (the build will export a cache save can
 * read), 0 when not, BK_EINVAL as bk_buildcmd_cache_args() (compose).
 */
int bk_buildcmd_layer_args(const struct bk_buildcmd *c, const struct bk_strvec *pairs,
                           struct bk_strvec *out);

#endif
