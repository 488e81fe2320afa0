/*
 * buildplan_dispatch.c - walk one closure stage the way BuildKit dispatches
 * it (spec 2.4 phase 2, 2.6, 3.6): start from the parent stage's final
 * environment and working directory (or an image that contributes only
 * PATH and WorkingDir "/"), run the inherited ONBUILD triggers, then the
 * stage's own ENV, ARG, WORKDIR, RUN and COPY. Each `--mount` is expanded
 * and validated; cache mounts become bk_mount_use entries. Dispatch-time
 * errors (bad mount keys or values, `${X:?}`, a mount point of "/", a
 * from= or COPY --from naming a later stage) are reported only here, so
 * only for stages the build runs.
 */
#include "core/plan/buildplan_int.h"

#include "core/util/error.h"
#include "core/dockerfile/runmount.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

#define BK_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int expand(struct bk_plan_ctx *cx, const struct bk_vars *vars, const char *word, int line,
                  char **out)
{
    if (bk_shell_expand(word, cx->df->escape, vars, out))
        return bk_plan_wrap(cx, line);
    return BK_OK;
}

static int dispatch_env(struct bk_plan_ctx *cx, struct bk_plan_stage *ps,
                        const struct bk_df_node *n, int line)
{
    size_t npairs = n->nargs / 3;
    char **kv = bk_xcalloc(npairs * 2 + 1, sizeof(char *));
    int rc = BK_OK;

    /* every pair is expanded with the environment from before the ENV */
    for (size_t i = 0; rc == BK_OK && i < npairs; i++) {
        rc = expand(cx, &ps->vars, n->args[3 * i], line, &kv[2 * i]);
        if (rc == BK_OK)
            rc = expand(cx, &ps->vars, n->args[3 * i + 1], line, &kv[2 * i + 1]);
    }
    for (size_t i = 0; rc == BK_OK && i < npairs; i++)
        bk_vars_set(&ps->vars, kv[2 * i], kv[2 * i + 1]);
    for (size_t i = 0; i < npairs * 2; i++)
        free(kv[i]);
    free(kv);
    return rc;
}

static int dispatch_arg(struct bk_plan_ctx *cx, struct bk_plan_stage *ps,
                        const struct bk_df_node *n, int line)
{
    for (size_t i = 0; i < n->nargs; i++) {
        const char *word = n->args[i], *eq = strchr(word, '=');
        char *key = eq ? bk_xstrndup(word, (size_t)(eq - word)) : bk_xstrdup(word);
        const char *given = bk_vars_get(&cx->build_args, key);
        char *value = NULL;

        if (given) {
            value = bk_xstrdup(given); /* a --build-arg is used literally */
        } else if (eq) {
            if (expand(cx, &ps->vars, eq + 1, line, &value)) {
                free(key);
                return BK_EINVAL;
            }
        } else if (bk_vars_get(&cx->globals, key)) {
            value = bk_xstrdup(bk_vars_get(&cx->globals, key));
        }
        if (value && strcmp(key, "BUILDKIT_SBOM_SCAN_CONTEXT") != 0 &&
            strcmp(key, "BUILDKIT_SBOM_SCAN_STAGE") != 0)
            bk_vars_set(&ps->vars, key, value);
        free(value);
        free(key);
    }
    return BK_OK;
}

static int dispatch_workdir(struct bk_plan_ctx *cx, struct bk_plan_stage *ps,
                            const struct bk_df_node *n, int line)
{
    char *p = NULL, *joined;

    if (n->nargs < 1)
        return bk_plan_error(cx, line, "WORKDIR requires exactly one argument");
    if (expand(cx, &ps->vars, n->args[0], line, &p))
        return BK_EINVAL;
    if (!*p) {
        free(p);
        return bk_plan_error(cx, line, "normalizing workdir: cannot normalize nothing");
    }
    joined = p[0] == '/' ? bk_xstrdup(p) : bk_xasprintf("/%s/%s", ps->workdir, p);
    free(ps->workdir);
    ps->workdir = bk_path_clean(joined);
    free(joined);
    free(p);
    return BK_OK;
}

static void add_use(struct bk_plan_ctx *cx, int stage, int line, struct bk_runmount *m, char *path)
{
    struct bk_buildplan *plan = cx->plan;
    struct bk_mount_use *u;

    plan->uses = bk_xrealloc(plan->uses, (plan->nuses + 1) * sizeof(*u));
    u = &plan->uses[plan->nuses++];
    memset(u, 0, sizeof(*u));
    u->stage = stage;
    u->stage_label = plan->stages[stage].label;
    u->line = line;
    u->id = bk_runmount_cache_id(m);
    {
        size_t ln = strlen(plan->ns), li = strlen(u->id);
        u->cache_id = bk_xmalloc(ln + li + 2);
        memcpy(u->cache_id, plan->ns, ln);
        u->cache_id[ln] = '/';
        memcpy(u->cache_id + ln + 1, u->id, li + 1);
    }
    u->target = path;
    u->sharing = m->sharing;
    u->readonly = m->readonly;
    u->uid = m->uid;
    u->gid = m->gid;
    u->mode = m->mode;
    u->has_uid = m->has_uid;
    u->has_gid = m->has_gid;
    u->has_mode = m->has_mode;
    u->has_base = bk_runmount_has_base(m);
    u->from = m->from && *m->from ? bk_xstrdup(m->from) : NULL;
    u->from_stage = u->from ? bk_plan_find_stage(plan, u->from) : -1;
    u->source = m->source && *m->source ? bk_xstrdup(m->source) : NULL;
}

static int dispatch_run(struct bk_plan_ctx *cx, int stage, struct bk_plan_stage *ps,
                        const struct bk_plan_cmd *c)
{
    const struct bk_df_node *n = c->node;

    for (size_t i = 0; i < n->nflags; i++) {
        struct bk_runmount m;
        char *path = NULL;
        int from_stage = -1;

        if (strcmp(n->flags[i], "--") == 0)
            break;
        if (strncmp(n->flags[i], "--mount=", 8) != 0)
            continue;
        if (bk_runmount_parse(n->flags[i] + 8, cx->df->escape, &ps->vars, &m))
            return bk_plan_wrap(cx, c->err_line);
        if (m.from && *m.from)
            from_stage = bk_plan_find_stage(cx->plan, m.from);
        if (from_stage >= 0 && !cx->st[from_stage].dispatched) {
            bk_plan_error(cx, c->err_line,
                          "cannot mount from stage \"%s\" to \"%s\", stage needs to be defined "
                          "before current command",
                          m.from, m.target ? m.target : "");
            bk_runmount_release(&m);
            return BK_EINVAL;
        }
        if (m.type == BK_MOUNT_SECRET || m.type == BK_MOUNT_SSH) {
            bk_runmount_release(&m);
            continue;
        }
        if (bk_runmount_mount_path(&m, ps->workdir, &path)) {
            bk_runmount_release(&m);
            return bk_plan_wrap(cx, c->err_line);
        }
        if (m.type == BK_MOUNT_CACHE)
            add_use(cx, stage, c->line, &m, path);
        else
            free(path);
        bk_runmount_release(&m);
    }
    return BK_OK;
}

static int dispatch_copy(struct bk_plan_ctx *cx, int stage, const struct bk_plan_cmd *c)
{
    const char *from = bk_plan_flag(c->node, "from");
    int s;

    if (!from || !*from)
        return BK_OK;
    if (bk_plan_copy_source(cx, from, c->err_line, &s))
        return BK_EINVAL;
    if (s >= 0 && !cx->st[s].dispatched)
        return bk_plan_error(cx, c->err_line,
                             "cannot copy from stage \"%s\", it needs to be defined before "
                             "current stage \"%s\"",
                             from, cx->plan->stages[stage].label);
    return BK_OK;
}

/*
 * BuildKit also expands the words of COPY, ADD, LABEL, USER, VOLUME and
 * STOPSIGNAL before dispatching them; the results do not matter here, but
 * an expansion error (`${X:?}`, a bad substitution) fails the build.
 */
static int check_expansions(struct bk_plan_ctx *cx, struct bk_plan_stage *ps,
                            const struct bk_df_node *n, int line)
{
    static const char *const kws[] = {"copy", "add", "label", "user", "volume", "stopsignal"};
    static const char *const flags[] = {"chown", "chmod", "checksum"};
    size_t k;

    for (k = 0; k < sizeof(kws) / sizeof(kws[0]); k++)
        if (!strcmp(n->keyword, kws[k]))
            break;
    if (k == sizeof(kws) / sizeof(kws[0]))
        return BK_OK;
    for (size_t i = 0; i < n->nargs; i++) {
        char *out = NULL;
        /* LABEL args are key, value, separator triples: skip the separators */
        if (!strcmp(n->keyword, "label") && i % 3 == 2)
            continue;
        if (expand(cx, &ps->vars, n->args[i], line, &out))
            return BK_EINVAL;
        free(out);
    }
    for (size_t f = 0; k < 2 && f < sizeof(flags) / sizeof(flags[0]); f++) {
        const char *v = bk_plan_flag(n, flags[f]);
        char *out = NULL;
        if (v && expand(cx, &ps->vars, v, line, &out))
            return BK_EINVAL;
        free(out);
    }
    return BK_OK;
}

int bk_plan_dispatch_stage(struct bk_plan_ctx *cx, int i)
{
    const struct bk_stage *stage = &cx->plan->stages[i];
    struct bk_plan_stage *ps = &cx->st[i];
    int rc = BK_OK;

    if (stage->parent >= 0) {
        bk_vars_copy(&ps->vars, &cx->st[stage->parent].vars);
        ps->workdir = bk_xstrdup(cx->st[stage->parent].workdir);
    } else {
        bk_vars_set(&ps->vars, "PATH", BK_DEFAULT_PATH);
        ps->workdir = bk_xstrdup("/");
    }
    ps->dispatched = 1;
    for (size_t k = 0; rc == BK_OK && k < ps->ncmds; k++) {
        const struct bk_plan_cmd *c = &ps->cmds[k];
        const char *kw = c->node->keyword;

        if (!strcmp(kw, "env"))
            rc = dispatch_env(cx, ps, c->node, c->err_line);
        else if (!strcmp(kw, "arg"))
            rc = dispatch_arg(cx, ps, c->node, c->err_line);
        else if (!strcmp(kw, "workdir"))
            rc = dispatch_workdir(cx, ps, c->node, c->err_line);
        else if (!strcmp(kw, "run"))
            rc = dispatch_run(cx, i, ps, c);
        else if (!strcmp(kw, "copy"))
            rc = dispatch_copy(cx, i, c);
        if (rc == BK_OK)
            rc = check_expansions(cx, ps, c->node, c->err_line);
    }
    return rc;
}
