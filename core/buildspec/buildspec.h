/*
 * buildspec.h - one image build as bkcache sees it: a "build spec".
 *
 * What decides a build's cache mounts is a short list: the Dockerfile (a
 * path, or text given inline), the context it is resolved in, the target
 * stage, the build arguments and the platforms. A build spec holds exactly
 * that, plus where it came from (for messages) and which builder runs it.
 *
 * Build specs come from three readers, all in this folder:
 *   - the user's build command line (buildcmd.h): `docker build ...`,
 *     `docker buildx build ...`, `buildctl build ...` give one spec;
 *   - compose files (compose.h): one spec per service with a `build:`;
 *   - bake files (bake.h): one spec per target.
 * Readers never fail the whole list for one bad build: a service without
 * `build:` or an unknown bake target is an entry of `errors` ("FILE: service
 * S: ..."), and the other builds are still returned.
 *
 * Ownership: a list owns its specs and every string in them; free with
 * bk_buildspec_list_free().
 */
#ifndef BK_BUILDSPEC_H
#define BK_BUILDSPEC_H

#include "core/util/strvec.h"

#include <stddef.h>

struct bk_buildspec {
    char *name;                  /* service or bake target; "build" for one build command */
    char *origin;                /* the file it was read from, or "command line" */
    const char *unit;            /* "service", "target" (for messages), or NULL */
    char *context;               /* local context directory; NULL: none that bkcache can read */
    char *dockerfile;            /* the Dockerfile to read: a path usable from the current
                                    directory, "-" for stdin; NULL with dockerfile_inline */
    char *dockerfile_inline;     /* Dockerfile text given inline, or NULL */
    char *target;                /* stage to build, or NULL: the last one */
    struct bk_strvec build_args; /* "K=V", in order; the last one of a name wins */
    struct bk_strvec platforms;  /* "os/arch[/variant]"; empty: the builder's default */
    struct bk_strvec cache_from; /* layer-cache imports as written (used by --layers) */
    struct bk_strvec cache_to;   /* layer-cache exports as written (used by --layers) */
    char *builder;               /* the buildx builder the build names, or NULL */
};

struct bk_buildspec_list {
    struct bk_buildspec *v;
    size_t n, alloc;
    struct bk_strvec errors;   /* one line per build that could not be read */
    struct bk_strvec warnings; /* one line per option that changes the caches but
                                  cannot be read (a remote context, ...) */
};

#define BK_BUILDSPEC_LIST_INIT                                                                     \
    {                                                                                              \
        NULL, 0, 0, BK_STRVEC_INIT, BK_STRVEC_INIT                                                 \
    }

/*
 * How the readers run the ecosystem's own resolvers (`docker compose config
 * --format json`, `docker buildx bake --print`): the caller supplies the
 * process runner, so this folder starts no program itself. run() puts the
 * program's stdout in `out` and its stderr in `err` and returns BK_OK with
 * the exit status in *status, or BK_ENOTFOUND when the program is missing.
 * `mode` is "auto" (use the resolver when it is there), "builtin" (never)
 * or "docker" (always; its absence is an error).
 */
struct bk_strbuf;
struct bk_spec_runner {
    int (*run)(const struct bk_strvec *argv, struct bk_strbuf *out, struct bk_strbuf *err,
               int *status, void *arg);
    void *arg;
    const char *docker; /* the docker client; NULL: "docker" */
    const char *mode;   /* "auto" (NULL), "builtin", "docker" */
};

/* 1 when the runner may use `docker PLUGIN` (mode not "builtin" and
 * `docker PLUGIN version` succeeds), else 0. */
int bk_spec_runner_has(const struct bk_spec_runner *r, const char *plugin);

/* The first line of a resolver's stderr, without a leading "ERROR: ";
 * caller frees. */
char *bk_spec_first_line(const char *text);

/* Append an empty spec (every vector initialised) named `name`, read from
 * `origin`; returns it. The pointer is valid until the next add. */
struct bk_buildspec *bk_buildspec_list_add(struct bk_buildspec_list *l, const char *name,
                                           const char *origin);
/* The spec of one service or target read from a file: named `name`, a
 * `unit` ("service", "target") of `origin`, its context `context` (NULL:
 * ".") joined to `dir`, its Dockerfile `dockerfile` (NULL: "Dockerfile")
 * joined to the context, or `inline_text`. A context that is not a local
 * directory is a warning instead, and NULL is returned. */
struct bk_buildspec *bk_buildspec_list_add_file(struct bk_buildspec_list *l, const char *name,
                                                const char *origin, const char *unit,
                                                const char *dir, const char *context,
                                                const char *dockerfile, const char *inline_text);

/* Remove spec i, keeping the order of the others. */
void bk_buildspec_list_remove(struct bk_buildspec_list *l, size_t i);
void bk_buildspec_list_free(struct bk_buildspec_list *l);

/* Initialise / release one spec's fields (the list does this for its own). */
void bk_buildspec_init(struct bk_buildspec *s);
void bk_buildspec_release(struct bk_buildspec *s);
/* Deep copy of `src` into the empty `dst`. */
void bk_buildspec_copy(struct bk_buildspec *dst, const struct bk_buildspec *src);

/* Replace *field with a copy of `value` (NULL clears it). */
void bk_buildspec_set(char **field, const char *value);

/* Add "K=V" to `args`, replacing an earlier value of K. */
void bk_buildspec_set_arg(struct bk_strvec *args, const char *name, const char *value);

/* Push each comma-separated item of `list` ("linux/amd64,linux/arm64"),
 * trimmed, skipping empty ones. */
void bk_buildspec_push_split(struct bk_strvec *out, const char *list);

/* `path` joined to `dir` unless absolute or dir is NULL/"." ("a/b", "c" ->
 * "a/b/c"). Caller frees. */
char *bk_buildspec_join(const char *dir, const char *path);

/* 1 when `context` names no local directory: a git or HTTP(S) URL, a
 * `docker-image://` or `oci-layout://` source, or "-" (a context on stdin). */
int bk_buildspec_remote_context(const char *context);

#endif
