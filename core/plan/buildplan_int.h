/*
 * buildplan_int.h - what the buildplan_*.c files share; not a public API.
 *
 *  - buildplan_check.c: parse-time checks BuildKit applies to every
 *    instruction of every stage (known keyword, flags, FROM words, ONBUILD
 *    rules, COPY --from and mount from= literals).
 *  - buildplan_platform.c: "os/arch[/variant]" parsing and normalisation.
 *  - buildplan_dispatch.c: the per-stage walk over ENV/ARG/WORKDIR/RUN that
 *    yields the cache-mount uses (dispatch time, closure stages only).
 *  - buildplan.c: stages, global args, graph, target, closure, identities.
 */
#ifndef BK_BUILDPLAN_INT_H
#define BK_BUILDPLAN_INT_H

#include "core/plan/buildplan.h"
#include "core/dockerfile/shell_lex.h"

struct bk_platform {
    char os[32], arch[32], variant[32];
};

/* Parse and normalise ("x86_64" -> amd64, arm -> arm/v7, ...). */
int bk_platform_parse(const char *s, struct bk_platform *out);
/* "os/arch" or "os/arch/variant" into buf. */
void bk_platform_format(const struct bk_platform *p, char *buf, size_t size);

/* A command a stage runs: its own instruction, or a parent's ONBUILD trigger. */
struct bk_plan_cmd {
    const struct bk_df_node *node; /* for a trigger: the ONBUILD's sub node */
    int line;                      /* line shown for uses (the ONBUILD line for a trigger) */
    int err_line;                  /* line for errors (BuildKit: the child's FROM for triggers) */
};

/* Private per-stage state during resolution. */
struct bk_plan_stage {
    struct bk_plan_cmd *cmds; /* triggers first, then the stage's own instructions */
    size_t ncmds, ntriggers;
    struct bk_vars vars; /* final environment once dispatched */
    char *workdir;
    int dispatched;
};

struct bk_plan_ctx {
    const struct bk_dockerfile *df;
    struct bk_buildplan *plan;
    struct bk_plan_stage *st;
    struct bk_vars build_args; /* --build-arg, later wins */
    struct bk_vars globals;    /* platform args + global ARGs */
};

/* Set "FILE:LINE: msg" (BK_EINVAL). */
int bk_plan_error(const struct bk_plan_ctx *cx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the current message with "FILE:LINE: ". */
int bk_plan_wrap(const struct bk_plan_ctx *cx, int line);

/* Stage index by (case-insensitive) name, the last one with that name; -1. */
int bk_plan_find_stage(const struct bk_buildplan *plan, const char *name);

/* Parse-time check of one instruction (not descending into ONBUILD). */
int bk_plan_check_node(const struct bk_plan_ctx *cx, const struct bk_df_node *n, int err_line);
/* Value of the last `--name=value` flag of n, or NULL. */
const char *bk_plan_flag(const struct bk_df_node *n, const char *name);
/* Stages that command `n` (COPY --from, RUN --mount from=) needs: appended
 * to *deps. Errors for `$` in from values and bad COPY --from indexes. */
int bk_plan_cmd_sources(const struct bk_plan_ctx *cx, const struct bk_df_node *n, int err_line,
                        int **deps, size_t *ndeps);

/* The stage a `COPY --from=X` names: 0-based index, else a stage name
 * (case-insensitive), else -1 (an image). Errors for `$` in X and bad indexes. */
int bk_plan_copy_source(const struct bk_plan_ctx *cx, const char *from, int line, int *out);

/* Walk stage `i` (in the closure) and append its cache-mount uses. */
int bk_plan_dispatch_stage(struct bk_plan_ctx *cx, int i);

#endif
