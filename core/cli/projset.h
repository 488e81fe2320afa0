/*
 * projset.h - several builds at once: the caches of a compose project, a
 * bake file or the user's build command, as one list.
 *
 * Where the builds come from (in this order):
 *   --compose FILE... [--service S...]     core/buildspec/compose.h
 *   --bake FILE... [--bake-target T...]     core/buildspec/bake.h
 *   the specs handed in by `bkcache build`  core/buildspec/buildcmd.h
 *   otherwise the Dockerfile options (-f, --target, ...): one build, loaded
 *     exactly as bk_project_load() does.
 * A spec with several platforms is one build per platform.
 *
 * Every build is loaded (Dockerfile -> plan -> keys, core/cli/project.h),
 * and their cache identities are merged into `caches`: BuildKit keeps one
 * cache per identity (cache id + uid + gid + mode + from), whichever image
 * mounts it, so an identity used by several builds is restored and saved
 * once. A merged cache's key is its builds' key when they agree; when they
 * differ it is "<prefix>-<name>-<slug>-" (from the first build) followed by
 * a hash of all their keys, so it changes when any of those Dockerfiles
 * does, and its restore keys fall back like any other key. A cache whose
 * from= names a stage of its build's Dockerfile is never merged (the
 * stage's content is part of it). Two different identities that would
 * share a name get the build's name appended to the second one's name.
 *
 * A build that cannot be loaded (a missing Dockerfile, a bad line) is one
 * line in `errors` naming the file and the service or target; the others
 * are still loaded.
 */
#ifndef BK_PROJSET_H
#define BK_PROJSET_H

#include "core/buildspec/buildspec.h"
#include "core/cli/cli.h"
#include "core/cli/project.h"

struct bk_projset_build {
    const struct bk_buildspec *spec; /* borrowed from the set's specs */
    const char *platform;            /* one of spec->platforms, or NULL */
    char *label;                     /* "web", or "web linux/arm64" */
    struct bk_project *project;      /* NULL when it could not be loaded */
};

struct bk_projset_cache {
    struct bk_identity identity;    /* the first build's, with the set's name */
    const struct bk_mount_use *use; /* its first use in that build */
    size_t build;                   /* index of that build */
    struct bk_strvec builds;        /* labels of every build that mounts it */
    struct bk_strvec member_keys;   /* each build's own key (distinct) */
    char *key;                      /* the Dockerfile-derived key (keys.h) */
    char *save_key;                 /* what a save writes: "<key>-<run part>" */
    struct bk_strvec restore_keys;  /* with a run part, "<key>" first */
    char *own_name;                 /* identity.name when the set renamed it */
};

struct bk_projset {
    struct bk_buildspec_list specs;
    struct bk_projset_build *builds;
    size_t nbuilds;
    struct bk_projset_cache *caches;
    size_t ncaches;
    struct bk_strvec errors;       /* bad builds, one line each ("compose.yaml: service x: ...") */
    int many;                      /* the builds came from compose, bake or a build command */
    const struct bk_run_part *run; /* the run part of saved keys (the first loaded build's) */
    char *state_name;              /* names the default state file (see state.h) */
    char *state_target;
};

/*
 * Load the builds for `o` (or `specs`, when not NULL: taken over, emptied).
 * BK_PROJECT_KEYS in `flags` computes keys and merged caches. Returns
 * BK_OK with *out set, errors included, unless the builds' source itself
 * cannot be read (a compose file that is not YAML, no bake file, a bad
 * Dockerfile with the plain options): then BK_EINVAL with the message set.
 */
int bk_projset_load(const struct bk_options *o, struct bk_buildspec_list *specs, unsigned flags,
                    struct bk_projset **out);
void bk_projset_free(struct bk_projset *s);

/* Print the warnings and the errors on stderr; returns how many errors. */
size_t bk_projset_report(const struct bk_projset *s);

/* The resolver runner (core/buildspec/buildspec.h) that runs `docker compose
 * config` and `docker buildx bake --print` with o->docker;
 * $BKCACHE_RESOLVER picks the mode (auto, builtin, docker). */
void bk_projset_runner(const struct bk_options *o, struct bk_spec_runner *r);

#endif
