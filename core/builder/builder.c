/*
 * builder.c - choosing a BuildKit driver and running a build; see builder.h.
 *
 * Selection: a driver named with --driver is probed alone and its failure is
 * the answer. "auto" does the same for a builder the user named otherwise
 * (--buildkit-addr or BUILDKIT_HOST: buildctl; --builder or BUILDX_BUILDER:
 * buildx): caches must go where the user's own build will look. With none
 * named, it probes buildx, docker and buildctl in that order and takes the
 * first that works; when none does, the most useful explanation wins: a
 * client that exists but cannot build (daemon down, permission, no
 * BuildKit, builder not running) says more than "not found".
 */
#include "core/builder/builder.h"

#include "core/util/error.h"
#include "core/util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct bk_builder_ops *const bk_builders[] = {
    &bk_builder_buildx,
    &bk_builder_docker,
    &bk_builder_buildctl,
    NULL,
};

const char *bk_builder__env(const struct bk_builder_config *cfg, const char *name)
{
    const char *v = cfg->getenv ? cfg->getenv(name) : getenv(name);
    return v && *v ? v : NULL;
}

static const struct bk_builder_ops *by_name(const char *name)
{
    for (const struct bk_builder_ops *const *b = bk_builders; *b; b++)
        if (strcmp((*b)->name, name) == 0)
            return *b;
    return NULL;
}

/* Probe one driver the user asked for, by --driver or by naming its builder. */
static int probe_named(const struct bk_builder_ops *ops, const struct bk_builder_config *cfg,
                       const char *reason, const struct bk_builder_ops **out, char *why,
                       size_t why_size)
{
    struct bk_builder_found found = {"", 0};
    int rc = ops->probe(cfg, &found);

    if (rc)
        return rc;
    *out = ops;
    if (why)
        snprintf(why, why_size, "%s%s%s", reason, found.detail[0] ? ": " : "", found.detail);
    return BK_OK;
}

/* The builder the user named without --driver, with the reason; NULL: none. */
static const struct bk_builder_ops *named_builder(const struct bk_builder_config *cfg, char *reason,
                                                  size_t size)
{
    const char *v;

    if (cfg->buildkit_addr && *cfg->buildkit_addr) {
        snprintf(reason, size, "--buildkit-addr %s", cfg->buildkit_addr);
        return &bk_builder_buildctl;
    }
    if (cfg->builder && *cfg->builder) {
        snprintf(reason, size, "--builder %s", cfg->builder);
        return &bk_builder_buildx;
    }
    if ((v = bk_builder__env(cfg, "BUILDKIT_HOST"))) {
        snprintf(reason, size, "BUILDKIT_HOST=%s", v);
        return &bk_builder_buildctl;
    }
    if ((v = bk_builder__env(cfg, "BUILDX_BUILDER"))) {
        snprintf(reason, size, "BUILDX_BUILDER=%s", v);
        return &bk_builder_buildx;
    }
    return NULL;
}

int bk_builder_choose(const char *name, const struct bk_builder_config *cfg,
                      const struct bk_builder_ops **out, char *why, size_t why_size)
{
    char first_err[512] = "", reason[300];
    int first_code = 0, rc, buildx_failed = 0;
    const struct bk_builder_ops *named;

    *out = NULL;
    if (why && why_size)
        why[0] = '\0';
    if (name && *name && strcmp(name, "auto") != 0) {
        named = by_name(name);
        if (!named)
            return bk_error_set(BK_EINVAL,
                                "--driver: unknown driver '%s' (auto, buildx, docker, "
                                "buildctl)",
                                name);
        snprintf(reason, sizeof(reason), "--driver %s", name);
        return probe_named(named, cfg, reason, out, why, why_size);
    }
    if (cfg->buildkit_addr && *cfg->buildkit_addr && cfg->builder && *cfg->builder)
        return bk_error_set(BK_EINVAL,
                            "--builder %s (buildx) and --buildkit-addr %s (buildctl) name two "
                            "different builders: pass one",
                            cfg->builder, cfg->buildkit_addr);
    named = named_builder(cfg, reason, sizeof(reason));
    if (named) {
        bk_debug("builder: %s names the %s driver", reason, named->name);
        return probe_named(named, cfg, reason, out, why, why_size);
    }
    for (const struct bk_builder_ops *const *b = bk_builders; *b; b++) {
        struct bk_builder_found found = {"", 0};
        rc = (*b)->probe(cfg, &found);
        if (rc == BK_OK && found.via_buildx && buildx_failed) {
            /* docker build would use the very builder buildx just refused */
            bk_debug("builder: docker: docker build is buildx here; not a second chance");
            continue;
        }
        if (rc == BK_OK) {
            bk_debug("builder: using the %s driver (%s)", (*b)->name, found.detail);
            *out = *b;
            if (why)
                snprintf(why, why_size, "auto: %s", found.detail);
            return BK_OK;
        }
        bk_debug("builder: %s: %s", (*b)->name, bk_error_msg());
        if (*b == &bk_builder_buildx && rc != BK_ENOTFOUND)
            buildx_failed = 1;
        /* A missing client is expected (buildx absent where plain docker
         * works); remember the first real explanation, else the first
         * "not found". */
        if (!first_code || (first_code == BK_ENOTFOUND && rc != BK_ENOTFOUND)) {
            first_code = rc;
            snprintf(first_err, sizeof(first_err), "%s", bk_error_msg());
        }
    }
    if (first_code == BK_ENOTFOUND)
        return bk_error_set(BK_ENOTFOUND,
                            "no BuildKit client found: install docker (with BuildKit) or buildctl, "
                            "pass --docker PATH, or use --dir");
    return bk_error_set(first_code, "%s", first_err);
}

int bk_builder_select(const char *name, const struct bk_builder_config *cfg,
                      const struct bk_builder_ops **out)
{
    return bk_builder_choose(name, cfg, out, NULL, 0);
}

int bk_builder_run(const struct bk_builder_ops *ops, const struct bk_builder_config *cfg,
                   const struct bk_build_request *req, const struct bk_build_sink *sink,
                   struct bk_strbuf *log)
{
    struct bk_strvec argv = BK_STRVEC_INIT, env = BK_STRVEC_INIT;
    struct bk_strbuf out = BK_STRBUF_INIT;
    int rc, status = 0;

    rc = ops->command(cfg, req, &argv, &env);
    if (rc == BK_OK) {
        if (bk_log_verbosity >= BK_LOG_DEBUG) {
            char *line = bk_strvec_join(&argv, " ");
            bk_debug("builder: %s", line);
            free(line);
        }
        rc = bk_builder__exec_sink(&argv, &env, sink, &out, &status);
    }
    /* A failed build also cuts its output stream short: its own reason wins. */
    if (status > 0)
        rc = bk_builder__explain(ops->name, "build", out.buf);
    if (log)
        bk_strbuf_add(log, out.buf, out.len);
    bk_strbuf_release(&out);
    bk_strvec_clear(&argv);
    bk_strvec_clear(&env);
    return rc;
}
