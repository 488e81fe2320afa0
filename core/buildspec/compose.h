/*
 * compose.h - the builds of a compose project, one build spec per service.
 *
 * The truth is `docker compose config --format json`: it resolves
 * interpolation, `.env`, `extends`, `include`, profiles and several -f
 * files exactly as `docker compose build` will, and needs no daemon. When
 * it is present (runner mode "auto") bkcache asks it. Without it, bkcache
 * reads the YAML itself (libyaml): interpolation (compose's ${...} forms,
 * $$), the `.env` file of the project directory or --env-file, several
 * files merged in order, `extends` (within the project, or `file:`),
 * short (`build: ./dir`) and long `build:` syntax, and profiles. Both paths
 * end in the same code (bk_compose_specs), and the unit tests hold the
 * two against each other on a corpus of compose files.
 *
 * Per service: context (relative to the project directory), dockerfile
 * (relative to the context, default Dockerfile) or dockerfile_inline,
 * target, args (a mapping or a list; an arg without a value takes the
 * variable's value, and is left out when it is unset, as compose does),
 * platforms, cache_from, cache_to. Services are in name order.
 *
 * Errors: the whole project fails (BK_EINVAL, "FILE:LINE: ...") only when
 * a file cannot be read or is not YAML. A service named in `services` that
 * does not exist or has no `build:`, a service whose interpolation fails or
 * whose context is remote: one line in list->errors / warnings naming the
 * file and the service; the other services are still returned.
 */
#ifndef BK_COMPOSE_H
#define BK_COMPOSE_H

#include "core/buildspec/buildspec.h"

#include <cjson/cJSON.h>

struct bk_compose_opts {
    const struct bk_strvec *files;              /* -f; NULL/empty: $COMPOSE_FILE, else compose.yaml,
                                                   compose.yml, docker-compose.yaml, docker-compose.yml
                                                   (+ the matching .override file) */
    const struct bk_strvec *services;           /* the services to build; NULL/empty: every service
                                                   with a build: whose profiles are active */
    const struct bk_strvec *profiles;           /* --profile (and $COMPOSE_PROFILES) */
    const struct bk_strvec *env_files;          /* --env-file; NULL/empty: PROJECT_DIR/.env */
    const char *project_dir;                    /* NULL: the first file's directory */
    const struct bk_strvec *build_args;         /* `compose build --build-arg`: for every service */
    const char *(*getenv_fn)(const char *name); /* NULL: getenv */
    const struct bk_spec_runner *runner;        /* NULL: the builtin reader only */
};

/* Read the project's builds into `out` (appended). */
int bk_compose_read(const struct bk_compose_opts *o, struct bk_buildspec_list *out);

/* The builtin reader alone: the resolved project as `docker compose config
 * --format json` prints it (the parts bkcache reads), and its directory
 * (caller frees both). */
int bk_compose_load(const struct bk_compose_opts *o, cJSON **project, char **project_dir,
                    struct bk_buildspec_list *diag);

/* A resolved project (from either path) to build specs; `origin` names the
 * compose file in messages, `dir` is where relative contexts start. */
void bk_compose_specs(const cJSON *project, const char *origin, const char *dir,
                      const struct bk_compose_opts *o, struct bk_buildspec_list *out);

/* The default compose file in `dir` (NULL: "."), or NULL when none of the
 * four names exists. Caller frees. */
char *bk_compose_default_file(const char *dir);

#endif
