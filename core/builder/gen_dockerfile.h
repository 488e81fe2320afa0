/*
 * gen_dockerfile.h - the Dockerfiles that bkcache generates to move cache
 * contents in and out of BuildKit.
 *
 * One build per batch. Every generated Dockerfile is a `FROM scratch` stage
 * named bkcache-transfer with exec-form RUNs only, so nothing is ever
 * pulled; the builds run with --network=none. The stage declares
 * `ARG BKCACHE_NONCE`; bkcache passes a new value on every call, which
 * changes every RUN's cache key, so each RUN really executes.
 *
 * Each cache gets one RUN with two mounts:
 *   - the build context (bkcache-helper and, for inject, the archives),
 *     bound read-only at /.bkcache/ctx (or a sub-directory of the user's
 *     context, see below);
 *   - the cache, at /.bkcache/mount, with exactly the user's identity
 *     options: id (the namespace is added by the frontend from the
 *     BUILDKIT_CACHE_MOUNT_NS build arg, which the caller passes), uid, gid
 *     and mode as the user wrote them (they create the cache's base layer),
 *     from= and source= when from= is given, and sharing=locked.
 * Inject into a from= cache also binds the from= content at /.bkcache/base:
 * a new cache starts as a copy of it, and the helper counts a cache equal
 * to it as new rather than warm.
 * The RUN writes its report (and, for extract, its archive) under
 * /.bkcache/out/; the caller builds the bkcache-transfer target with the tar
 * exporter and reads .bkcache/out/<i>.json (and <i>.tar.zst) from the stream.
 *
 * Delta saves: inject of a layered entry names every layer file of the
 * stack, bottom first (`unpack L1 L2 ... MNT --record D:S:T,...`, the record
 * being the stored layers the helper writes into the cache's base record);
 * extract of a layer blob adds `--reproducible`, and `--delta L:R` (the
 * mountio's limits) when the pack may write a delta over that record.
 *
 * Tests only: with pause_arg the stage also declares `ARG BKCACHE_HELPER_PAUSE`,
 * so the value the caller passes reaches the helper's environment (it stops
 * there, see helper/main.c); without it the text is unchanged.
 *
 * When a cache mount's from= names a stage of the user's Dockerfile, that
 * stage must be built exactly as the user's build builds it (the cache is
 * keyed by the stage's result), so the generated text is the user's
 * Dockerfile followed by the bkcache-transfer stage, built in the user's
 * context with the user's build arguments ("appended" mode). The helper
 * files then live in a sub-directory of the user's context (ctx_subdir).
 */
#ifndef BK_GEN_DOCKERFILE_H
#define BK_GEN_DOCKERFILE_H

#include "core/util/strbuf.h"

#include <stddef.h>
#include <stdint.h>

#define BK_GEN_STAGE "bkcache-transfer"
#define BK_GEN_HELPER "bkcache-helper"

/* REPAIR: the helper's `repair` in every mount (after an interrupted inject:
 * a cache left marked as an unfinished restore is emptied). */
enum bk_gen_kind { BK_GEN_INJECT, BK_GEN_EXTRACT, BK_GEN_REPAIR };

/* One cache mount, as the user's build mounts it. */
struct bk_gen_mount {
    const char *name; /* identity name, for messages */
    const char *id;   /* cache id without the namespace */
    uint32_t uid, gid, mode;
    int has_uid, has_gid, has_mode;
    const char *from;          /* from= as written, or NULL */
    const char *source;        /* source= (used only with from=), or NULL */
    const char *expect_digest; /* inject: the archive's digest, or NULL */
    /* inject, a layered entry (nlayers 0: the archive <i>.tar.zst): */
    const char *const *layer_files; /* the layers' names in the context, bottom first */
    size_t nlayers;
    const char *record; /* --record: "DIGEST:SIZE:TREE,..." of the stored layers */
    /* extract: */
    int reproducible; /* a layer blob: --reproducible */
    int delta;        /* ... that may be a delta: --delta L:R */
};

struct bk_gen_opts {
    const char *user_dockerfile; /* appended mode: the user's Dockerfile text; NULL: scratch */
    const char *ctx_subdir;      /* where the helper files are in the context; NULL: its root */
    int force;                   /* inject even into a cache that holds data */
    int allow_special;           /* keep device nodes and FIFOs */
    int level;                   /* extract: zstd level; 0: the helper's default */
    int pause_arg;               /* tests only: declare ARG BKCACHE_HELPER_PAUSE */
};

/* Append the Dockerfile for `kind` over `mounts` to `out`. In the context
 * the archives are named <i>.tar.zst (inject), i the mount's index, and
 * the layers as layer_files says. BK_EINVAL
 * naming the identity when a value cannot be written into a --mount flag
 * without being changed by the frontend (',', quotes, '$', '\', spaces). */
int bk_gen_dockerfile(enum bk_gen_kind kind, const struct bk_gen_mount *mounts, size_t n,
                      const struct bk_gen_opts *opts, struct bk_strbuf *out);

#endif
