/*
 * buildplan.h - what a BuildKit build of one target will do with cache mounts.
 *
 * core/plan/ turns a parsed Dockerfile into what a build will do: the stage
 * graph and --target closure, ARG/ENV scoping, the cache mounts the closure
 * uses with their BuildKit identities (this file), and the cache keys and
 * restore keys for each identity (keys.h). It reads core/dockerfile/ and
 * does no I/O beyond the key files.
 *
 * From a parsed Dockerfile and the build's inputs (target, build args,
 * platform), bk_buildplan_resolve() reproduces BuildKit's conversion (spec
 * sections 1.9 to 3.7): global ARGs, FROM resolution, the stage graph and the
 * target's closure, ARG/ENV scoping and variable expansion, inherited ONBUILD
 * triggers, and every cache mount that the closure uses with the identity
 * BuildKit stores it under.
 *
 * Two views of the mounts:
 *  - uses: one bk_mount_use per `--mount=type=cache` in build order (stages
 *    in file order, RUNs in order, mounts in order), as `bkcache mounts` shows;
 *  - identities: the distinct caches (cache_id + uid + gid + mode + from), in
 *    order of first use. Save and restore work per identity.
 *
 * Ownership: the plan owns everything inside; free with bk_buildplan_free().
 */
#ifndef BK_BUILDPLAN_H
#define BK_BUILDPLAN_H

#include "core/dockerfile/dockerfile.h"
#include "core/dockerfile/runmount.h"
#include "core/util/strvec.h"

#include <stdint.h>

/* The build's inputs, as given on the command line. */
struct bk_build_opts {
    const char *target;                 /* --target, or NULL for the last stage */
    const struct bk_strvec *build_args; /* "K=V" strings; may be NULL */
    const char *platform;               /* "os/arch[/variant]", NULL: linux/<host arch> */
    const char *build_platform;         /* NULL: the same as the host */
};

struct bk_stage {
    int index;         /* 0-based, file order */
    char *name;        /* lowercased "AS" name, or NULL */
    char *label;       /* name, or "stage-N" */
    char *base;        /* FROM operand after expansion */
    int parent;        /* index of the parent stage (FROM <stage>), or -1 */
    size_t first_node; /* index into df->nodes of the FROM */
    size_t end_node;   /* one past its last instruction */
    int *deps;         /* indexes of stages it depends on (parent, COPY --from, mount from=) */
    size_t ndeps;
    int in_closure; /* 1 when the target's build runs this stage */
};

struct bk_mount_use {
    int stage;               /* stage index */
    const char *stage_label; /* borrowed from the stage */
    int line;                /* 1-based line of the RUN (of the ONBUILD for a trigger) */
    char *id;                /* id without namespace: explicit, or path.Clean(target) */
    char *cache_id;          /* the solver id: NS + "/" + id */
    char *target;            /* mount point as BuildKit uses it: an absolute target as
                                written, a relative one joined to WORKDIR (cleaned) */
    enum bk_sharing sharing;
    int readonly;
    uint32_t uid, gid, mode;        /* effective values (0, 0, 0755 by default) */
    int has_uid, has_gid, has_mode; /* given explicitly */
    int has_base;                   /* uid/gid/mode given and no source: mkdir base layer */
    char *from;                     /* from= as written, or NULL */
    int from_stage;                 /* stage index when from= names a stage, else -1 */
    char *source;                   /* source= or NULL */
    size_t identity;                /* index into plan->identities */
};

/*
 * One cache as BuildKit stores it. The name is derived from the identity
 * alone (docs/keys.md): the id with each run of characters outside
 * [A-Za-z0-9._-] replaced by '-', '-' and '.' trimmed at both ends, at most
 * 64 characters ("cache" if empty); when that differs from the id or the
 * identity has a base, "-" and the first 8 hex digits of
 * SHA-256(descriptor) are appended. "pnpm" -> "pnpm",
 * "/root/.cache/go-build" -> "root-.cache-go-build-f0d2735e".
 */
struct bk_identity {
    char *name;     /* file-system-safe, unique within the plan: [A-Za-z0-9._-] */
    char *cache_id; /* NS + "/" + id */
    char *id;       /* without namespace */
    uint32_t uid, gid, mode;
    int has_base;     /* uid/gid/mode given and no source: mkdir base layer */
    char *from;       /* from= or NULL */
    char *descriptor; /* canonical one-line description, e.g.
                         "cache_id=//root/.cache/go-build base=mkdir(1000,1000,0700)" */
    size_t first_use; /* index into plan->uses */
};

struct bk_buildplan {
    const struct bk_dockerfile *df; /* borrowed */
    struct bk_stage *stages;
    size_t nstages;
    int target;     /* index of the target stage */
    char *platform; /* normalized target platform: "linux/amd64" */
    char *ns;       /* BUILDKIT_CACHE_MOUNT_NS, "" when unset */
    struct bk_mount_use *uses;
    size_t nuses;
    struct bk_identity *identities;
    size_t nidentities;
    struct bk_vars globals;    /* automatic platform args + global ARGs, evaluated */
    struct bk_vars build_args; /* --build-arg values (the last one of a name wins) */
};

/*
 * Resolve `df` for `opts`. Errors (BK_EINVAL, message "FILE:LINE: ...") for
 * what BuildKit rejects: parse-time errors in any stage, dispatch-time
 * errors in closure stages, an unknown target (message lists the stages).
 * `df` must outlive the plan.
 */
int bk_buildplan_resolve(const struct bk_dockerfile *df, const struct bk_build_opts *opts,
                         struct bk_buildplan **out);
void bk_buildplan_free(struct bk_buildplan *plan);

/* Find an identity by its name; NULL when absent. */
const struct bk_identity *bk_buildplan_identity(const struct bk_buildplan *plan, const char *name);

/* "linux/amd64" for this machine (uname). Static string. */
const char *bk_host_platform(void);

#endif
