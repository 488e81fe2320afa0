/*
 * builder.c - choosing a BuildKit driver and running a build; see builder.h.
 *
 * Selection: a driver named with --driver is probed alone and its failure is
 * the answer. "auto" probes buildx, docker and buildctl in that order and
 * takes the first that works; when none does, the most useful explanation
 * wins: a client that exists but cannot build (daemon down, permission,
 * no BuildKit) says more than "not found".
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

const char *bk_builder__getenv(const char *name)
{
    return getenv(name);
}

int bk_builder_select(const char *name, const struct bk_builder_config *cfg,
                      const struct bk_builder_ops **out)
{
    char first_err[512] = "";
    int first_code = 0, rc;

    *out = NULL;
    if (name && *name && strcmp(name, "auto") != 0) {
        for (const struct bk_builder_ops *const *b = bk_builders; *b; b++) {
            if (strcmp((*b)->name, name) != 0)
                continue;
            rc = (*b)->probe(cfg);
            if (rc)
                return rc;
            *out = *b;
            return BK_OK;
        }
        return bk_error_set(BK_EINVAL,
                            "--driver: unknown driver '%s' (auto, buildx, docker, "
                            "buildctl)",
                            name);
    }
    for (const struct bk_builder_ops *const *b = bk_builders; *b; b++) {
        rc = (*b)->probe(cfg);
        if (rc == BK_OK) {
            bk_debug("builder: using the %s driver", (*b)->name);
            *out = *b;
            return BK_OK;
        }
        bk_debug("builder: %s: %s", (*b)->name, bk_error_msg());
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
