/*
 * buildplan_check.c - parse-time checks on every instruction, as BuildKit's
 * instructions package makes them before any stage is chosen (spec 1.5,
 * 1.8, 1.9, 2.4 phase 1, 3.4): unknown instructions, flag validation
 * ("unknown flag", "missing a value on flag", duplicates, booleans), FROM
 * word counts and stage names, ONBUILD nesting rules, and the literal
 * `from` values that build the stage graph.
 */
#include "core/plan/buildplan_int.h"

#include "core/util/error.h"
#include "core/dockerfile/runmount.h"
#include "core/util/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum flag_type { F_STR, F_STRS, F_BOOL };

struct flag_def {
    const char *name;
    enum flag_type type;
};

static const struct flag_def k_run_flags[] = {
    {"mount", F_STRS}, {"network", F_STR}, {"security", F_STR}, {"device", F_STRS}, {NULL, F_STR},
};
static const struct flag_def k_copy_flags[] = {
    {"from", F_STR},     {"chown", F_STR},    {"chmod", F_STR}, {"link", F_BOOL},
    {"parents", F_BOOL}, {"exclude", F_STRS}, {NULL, F_STR},
};
static const struct flag_def k_add_flags[] = {
    {"chown", F_STR},    {"chmod", F_STR},   {"link", F_BOOL},    {"keep-git-dir", F_BOOL},
    {"checksum", F_STR}, {"unpack", F_BOOL}, {"exclude", F_STRS}, {NULL, F_STR},
};
static const struct flag_def k_from_flags[] = {{"platform", F_STR}, {NULL, F_STR}};
static const struct flag_def k_health_flags[] = {
    {"interval", F_STR},       {"timeout", F_STR}, {"start-period", F_STR},
    {"start-interval", F_STR}, {"retries", F_STR}, {NULL, F_STR},
};
static const struct flag_def k_no_flags[] = {{NULL, F_STR}};

struct instr_def {
    const char *keyword;
    const struct flag_def *flags; /* NULL: flags are not looked at */
};

static const struct instr_def k_instructions[] = {
    {"add", k_add_flags},
    {"arg", NULL},
    {"cmd", k_no_flags},
    {"copy", k_copy_flags},
    {"entrypoint", k_no_flags},
    {"env", k_no_flags},
    {"expose", k_no_flags},
    {"from", k_from_flags},
    {"healthcheck", k_health_flags},
    {"label", k_no_flags},
    {"maintainer", k_no_flags},
    {"onbuild", k_no_flags},
    {"run", k_run_flags},
    {"shell", k_no_flags},
    {"stopsignal", NULL},
    {"user", k_no_flags},
    {"volume", k_no_flags},
    {"workdir", k_no_flags},
    {NULL, NULL},
};

int bk_plan_error(const struct bk_plan_ctx *cx, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return bk_error_set(BK_EINVAL, "%s:%d: %s", cx->df->filename, line, msg);
}

int bk_plan_wrap(const struct bk_plan_ctx *cx, int line)
{
    return bk_error_wrap(BK_EINVAL, "%s:%d", cx->df->filename, line);
}

int bk_plan_find_stage(const struct bk_buildplan *plan, const char *name)
{
    for (size_t i = plan->nstages; i-- > 0;)
        if (plan->stages[i].name && strcasecmp(plan->stages[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *bk_plan_flag(const struct bk_df_node *n, const char *name)
{
    size_t len = strlen(name);
    const char *val = NULL;
    for (size_t i = 0; i < n->nflags; i++) {
        const char *f = n->flags[i];
        if (strcmp(f, "--") == 0)
            break;
        if (strncmp(f, "--", 2) == 0 && strncmp(f + 2, name, len) == 0 && f[2 + len] == '=')
            val = f + 3 + len;
    }
    return val;
}

static int check_flags(const struct bk_plan_ctx *cx, const struct bk_df_node *n,
                       const struct flag_def *defs, int line)
{
    unsigned used = 0;

    for (size_t i = 0; i < n->nflags; i++) {
        const char *a = n->flags[i], *eq;
        size_t nlen;
        int d;

        if (strcmp(a, "--") == 0)
            return BK_OK;
        if (strncmp(a, "--", 2) != 0)
            return bk_plan_error(cx, line, "arg should start with -- : %s", a);
        eq = strchr(a, '=');
        nlen = eq ? (size_t)(eq - a) : strlen(a);
        for (d = 0; defs[d].name; d++)
            if (strlen(defs[d].name) == nlen - 2 && strncmp(defs[d].name, a + 2, nlen - 2) == 0)
                break;
        if (!defs[d].name)
            return bk_plan_error(cx, line, "unknown flag: %.*s", (int)nlen, a);
        if ((used & (1u << d)) && defs[d].type != F_STRS)
            return bk_plan_error(cx, line, "duplicate flag specified: %.*s", (int)nlen, a);
        used |= 1u << d;
        if (defs[d].type == F_BOOL) {
            if (eq && !eq[1])
                return bk_plan_error(cx, line, "missing a value on flag: %.*s", (int)nlen, a);
            if (eq && strcasecmp(eq + 1, "true") != 0 && strcasecmp(eq + 1, "false") != 0)
                return bk_plan_error(cx, line, "expecting boolean value for flag %.*s, not: %s",
                                     (int)nlen, a, eq + 1);
        } else if (!eq) {
            return bk_plan_error(cx, line, "missing a value on flag: %s", a);
        }
    }
    return BK_OK;
}

static int valid_stage_name(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && !strchr("-_.", *s))
            return 0;
    return 1;
}

static int check_from(const struct bk_plan_ctx *cx, const struct bk_df_node *n, int line)
{
    if (n->nargs == 3 && strcasecmp(n->args[1], "as") == 0) {
        char *name = bk_xstrdup(n->args[2]);
        int ok;
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        ok = valid_stage_name(name);
        free(name);
        if (!ok)
            return bk_plan_error(cx, line,
                                 "invalid name for build stage: \"%s\", name can't start with a "
                                 "number or contain symbols",
                                 n->args[2]);
    } else if (n->nargs != 1) {
        return bk_plan_error(cx, line, "FROM requires either one or three arguments");
    }
    return BK_OK;
}

static int check_args(const struct bk_plan_ctx *cx, const struct bk_df_node *n, int line)
{
    const char *k = n->keyword;

    if (!strcmp(k, "from"))
        return check_from(cx, n, line);
    if (!strcmp(k, "onbuild")) {
        if (!n->sub)
            return bk_plan_error(cx, line, "ONBUILD requires at least one argument");
        if (!strcmp(n->sub->keyword, "onbuild"))
            return bk_plan_error(cx, line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (!strcmp(n->sub->keyword, "from") || !strcmp(n->sub->keyword, "maintainer"))
            return bk_plan_error(cx, line, "%s isn't allowed as an ONBUILD trigger",
                                 !strcmp(n->sub->keyword, "from") ? "FROM" : "MAINTAINER");
    }
    if ((!strcmp(k, "copy") || !strcmp(k, "add")) && n->nargs < 2 && n->nheredocs == 0)
        return bk_plan_error(cx, line,
                             "%s requires at least two arguments, but only one was provided. "
                             "Destination could not be determined",
                             !strcmp(k, "copy") ? "COPY" : "ADD");
    if (!strcmp(k, "workdir") && n->nargs != 1)
        return bk_plan_error(cx, line, "WORKDIR requires exactly one argument");
    if (!strcmp(k, "arg")) {
        if (n->nargs == 0)
            return bk_plan_error(cx, line, "ARG requires at least one argument");
        for (size_t i = 0; i < n->nargs; i++)
            if (n->args[i][0] == '=')
                return bk_plan_error(cx, line, "ARG names can not be blank");
    }
    if (!strcmp(k, "env")) {
        if (n->nargs == 0)
            return bk_plan_error(cx, line, "ENV requires at least one argument");
        if (n->nargs % 3)
            return bk_plan_error(cx, line, "Bad input to ENV, too many arguments");
        for (size_t i = 0; i < n->nargs; i += 3)
            if (!n->args[i][0])
                return bk_plan_error(cx, line, "ENV names can not be blank");
    }
    return BK_OK;
}

int bk_plan_check_node(const struct bk_plan_ctx *cx, const struct bk_df_node *n, int line)
{
    const struct instr_def *d;
    int rc;

    for (d = k_instructions; d->keyword; d++)
        if (strcmp(d->keyword, n->keyword) == 0)
            break;
    if (!d->keyword)
        return bk_plan_error(cx, line, "unknown instruction: %s", n->keyword);
    rc = check_args(cx, n, line);
    if (rc)
        return rc;
    if (d->flags && !(strcmp(n->keyword, "healthcheck") == 0 && n->nargs > 0 &&
                      strcasecmp(n->args[0], "none") == 0)) {
        rc = check_flags(cx, n, d->flags, line);
        if (rc)
            return rc;
    }
    if (strcmp(n->keyword, "run") == 0) {
        /* phase 1 of --mount: CSV and the literal from= (spec 2.4) */
        for (size_t i = 0; i < n->nflags; i++) {
            char *from = NULL;
            if (strncmp(n->flags[i], "--mount=", 8) != 0)
                continue;
            rc = bk_runmount_parse_from(n->flags[i] + 8, &from);
            free(from);
            if (rc)
                return bk_plan_wrap(cx, line);
        }
    }
    return BK_OK;
}

static void add_dep(int **deps, size_t *n, int s)
{
    for (size_t i = 0; i < *n; i++)
        if ((*deps)[i] == s)
            return;
    *deps = bk_xrealloc(*deps, (*n + 1) * sizeof(int));
    (*deps)[(*n)++] = s;
}

int bk_plan_copy_source(const struct bk_plan_ctx *cx, const char *from, int line, int *out)
{
    char *expanded = NULL;
    char *end;
    long idx;
    int changed;

    *out = -1;
    if (bk_shell_expand(from, cx->df->escape, NULL, &expanded))
        return bk_plan_wrap(cx, line);
    changed = strcmp(expanded, from) != 0;
    free(expanded);
    if (changed)
        return bk_plan_error(cx, line,
                             "variable expansion is not supported for --from, define a new stage "
                             "with FROM using ARG from global scope as a workaround");
    errno = 0;
    idx = strtol(from, &end, 10);
    if (*from && !*end && !errno && !isspace((unsigned char)*from)) {
        if (idx < 0 || (size_t)idx >= cx->plan->nstages)
            return bk_plan_error(cx, line, "invalid stage index %ld", idx);
        *out = (int)idx;
        return BK_OK;
    }
    *out = bk_plan_find_stage(cx->plan, from);
    return BK_OK;
}

int bk_plan_cmd_sources(const struct bk_plan_ctx *cx, const struct bk_df_node *n, int line,
                        int **deps, size_t *ndeps)
{
    int s, rc;

    if (strcmp(n->keyword, "copy") == 0) {
        const char *from = bk_plan_flag(n, "from");
        if (from && *from) {
            rc = bk_plan_copy_source(cx, from, line, &s);
            if (rc)
                return rc;
            if (s >= 0)
                add_dep(deps, ndeps, s);
        }
    }
    if (strcmp(n->keyword, "run") == 0) {
        for (size_t i = 0; i < n->nflags; i++) {
            char *from = NULL;
            if (strncmp(n->flags[i], "--mount=", 8) != 0)
                continue;
            if (bk_runmount_parse_from(n->flags[i] + 8, &from))
                return bk_plan_wrap(cx, line);
            if (from && *from && (s = bk_plan_find_stage(cx->plan, from)) >= 0)
                add_dep(deps, ndeps, s);
            free(from);
        }
    }
    return BK_OK;
}
