/*
 * bake.h - the builds of a `docker buildx bake` file, one spec per target.
 *
 * The truth is `docker buildx bake --print`: it reads HCL, JSON and compose
 * bake files, variables, functions, `inherits` and groups, applies --set,
 * and needs no daemon. When it is present (runner mode "auto") bkcache asks
 * it. Without it, bkcache reads JSON bake files itself (cJSON): `variable`
 * defaults (overridden by the environment, as bake does), ${VAR}
 * interpolation in strings, `inherits`, groups (nested), and --set for
 * args, target, platform, dockerfile and context (`T.args.K=V`, `*` and
 * `?` patterns); a compose file given as a bake file is read by the compose
 * reader. HCL without buildx is an error naming the file.
 *
 * Per target: context (default ".", relative to the current directory),
 * dockerfile (relative to the context, default Dockerfile) or
 * dockerfile-inline, target, args, platforms, cache-from, cache-to.
 * Targets named that do not exist: one line each in list->errors naming
 * the file and the target; the others are still returned. No targets
 * named: the `default` group.
 */
#ifndef BK_BAKE_H
#define BK_BAKE_H

#include "core/buildspec/buildspec.h"

#include <cjson/cJSON.h>

struct bk_bake_opts {
    const struct bk_strvec *files;   /* -f; NULL/empty: docker-bake.json, docker-bake.hcl,
                                        docker-bake.override.*, or a default compose file */
    const struct bk_strvec *targets; /* NULL/empty: the "default" group */
    const struct bk_strvec *set;     /* --set overrides */
    const char *(*getenv_fn)(const char *name); /* NULL: getenv */
    const struct bk_spec_runner *runner;        /* NULL: the builtin reader only */
};

int bk_bake_read(const struct bk_bake_opts *o, struct bk_buildspec_list *out);

/* The builtin reader alone, for JSON files: the definition as `--print`
 * prints it ({"group": ..., "target": {...}}), caller deletes. */
int bk_bake_load(const struct bk_bake_opts *o, cJSON **def, struct bk_buildspec_list *diag);

/* A resolved definition (either path) to build specs. */
void bk_bake_specs(const cJSON *def, const char *origin, const struct bk_bake_opts *o,
                   struct bk_buildspec_list *out);

#endif
