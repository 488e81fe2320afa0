/*
 * buildplan.c - stages, global ARGs, the stage graph, the target's closure,
 * inherited ONBUILD triggers and cache identities; see buildplan.h.
 *
 * Order of work (BuildKit's dockerfile2llb, spec section 4):
 *  1. check every instruction of every stage (buildplan_check.c);
 *  2. evaluate the global ARGs over the automatic platform args, with
 *     --build-arg overrides;
 *  3. expand each FROM and link parents (exact match to an earlier stage);
 *  4. add COPY --from and mount from= edges; reject cycles;
 *  5. pick the target and its closure, adding edges from inherited ONBUILD
 *     triggers until nothing changes;
 *  6. dispatch closure stages in file order (buildplan_dispatch.c);
 *  7. group the uses into identities and name them.
 *
 * Identity names (docs/keys.md): the id with every run of characters
 * outside [A-Za-z0-9._-] replaced by one '-', leading/trailing '-' and '.'
 * trimmed, cut to 64 characters ("cache" when nothing is left). When that
 * is not the id itself, or the identity has a base (mkdir or from=), the
 * first 8 hex digits of SHA-256(descriptor) are appended after a '-'. So
 * "pnpm" stays "pnpm", "/root/.cache/go-build" becomes
 * "root-.cache-go-build-<8 hex>", and the name depends only on the
 * identity itself, never on the other mounts of the Dockerfile.
 */
#include "core/plan/buildplan_int.h"

#include "core/util/error.h"
#include "core/plan/keys.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_platform_args[] = {
    "BUILDPLATFORM", "BUILDOS",        "BUILDOSVERSION", "BUILDARCH",
    "BUILDVARIANT",  "TARGETPLATFORM", "TARGETOS",       "TARGETOSVERSION",
    "TARGETARCH",    "TARGETVARIANT",  "TARGETSTAGE",
};

/* ---- global args ------------------------------------------------------- */

static int set_platform_args(struct bk_plan_ctx *cx, const struct bk_build_opts *opts,
                             const char *target_stage)
{
    struct bk_platform tp, bp;
    char tps[112], bps[112];
    const char *vals[11];

    if (bk_platform_parse(opts->platform ? opts->platform : bk_host_platform(), &tp))
        return bk_error_wrap(BK_EINVAL, "--platform");
    if (bk_platform_parse(opts->build_platform ? opts->build_platform : bk_host_platform(), &bp))
        return BK_EINVAL;
    bk_platform_format(&tp, tps, sizeof(tps));
    bk_platform_format(&bp, bps, sizeof(bps));
    cx->plan->platform = bk_xstrdup(tps);
    vals[0] = bps, vals[1] = bp.os, vals[2] = "", vals[3] = bp.arch, vals[4] = bp.variant;
    vals[5] = tps, vals[6] = tp.os, vals[7] = "", vals[8] = tp.arch, vals[9] = tp.variant;
    vals[10] = target_stage;
    for (size_t i = 0; i < 11; i++) {
        const char *over = bk_vars_get(&cx->build_args, k_platform_args[i]);
        bk_vars_set(&cx->globals, k_platform_args[i], over ? over : vals[i]);
    }
    return BK_OK;
}

static int eval_global_arg(struct bk_plan_ctx *cx, const struct bk_df_node *n)
{
    for (size_t i = 0; i < n->nargs; i++) {
        const char *eq = strchr(n->args[i], '=');
        char *key =
            eq ? bk_xstrndup(n->args[i], (size_t)(eq - n->args[i])) : bk_xstrdup(n->args[i]);
        const char *given = bk_vars_get(&cx->build_args, key);
        char *value = NULL;

        if (given)
            value = bk_xstrdup(given);
        else if (eq && bk_shell_expand(eq + 1, cx->df->escape, &cx->globals, &value)) {
            free(key);
            return bk_plan_wrap(cx, n->start_line);
        }
        if (value)
            bk_vars_set(&cx->globals, key, value);
        free(value);
        free(key);
    }
    return BK_OK;
}

/* ---- stages ------------------------------------------------------------ */

/* distribution/reference: repository names must be lowercase. */
static int check_image_ref(const struct bk_plan_ctx *cx, const char *base, const char *as_written,
                           int line)
{
    const char *slash = strchr(base, '/'), *rem = base;
    struct bk_strbuf name = BK_STRBUF_INIT;
    int bad = 0;

    if (slash) {
        size_t dl = (size_t)(slash - base);
        int has_upper = 0, has_dot = memchr(base, '.', dl) || memchr(base, ':', dl);
        for (size_t i = 0; i < dl; i++)
            has_upper |= isupper((unsigned char)base[i]);
        if (has_dot || has_upper || (dl == 9 && !strncmp(base, "localhost", 9)))
            rem = slash + 1;
    } else {
        bk_strbuf_adds(&name, "library/");
    }
    bk_strbuf_add(&name, rem, strcspn(rem, ":@"));
    for (size_t i = 0; i < name.len; i++)
        bad |= isupper((unsigned char)name.buf[i]);
    if (bad)
        bk_plan_error(cx, line,
                      "failed to parse stage name \"%s\": invalid reference format: repository "
                      "name (%s) must be lowercase",
                      as_written, name.buf);
    bk_strbuf_release(&name);
    return bad ? BK_EINVAL : BK_OK;
}

static void push_cmd(struct bk_plan_stage *ps, const struct bk_df_node *n, int line, int err_line)
{
    ps->cmds = bk_xrealloc(ps->cmds, (ps->ncmds + 1) * sizeof(*ps->cmds));
    ps->cmds[ps->ncmds].node = n;
    ps->cmds[ps->ncmds].line = line;
    ps->cmds[ps->ncmds].err_line = err_line;
    ps->ncmds++;
}

static void add_dep(struct bk_stage *s, int d)
{
    for (size_t i = 0; i < s->ndeps; i++)
        if (s->deps[i] == d)
            return;
    s->deps = bk_xrealloc(s->deps, (s->ndeps + 1) * sizeof(int));
    s->deps[s->ndeps++] = d;
}

static int build_stages(struct bk_plan_ctx *cx, const struct bk_build_opts *opts)
{
    const struct bk_dockerfile *df = cx->df;
    struct bk_buildplan *plan = cx->plan;
    size_t nfrom = 0, i;
    int rc;

    for (i = 0; i < df->nnodes; i++) {
        const struct bk_df_node *n = &df->nodes[i];
        if ((rc = bk_plan_check_node(cx, n, n->start_line)))
            return rc;
        if (!strcmp(n->keyword, "from"))
            nfrom++;
        else if (nfrom == 0 && strcmp(n->keyword, "arg") != 0)
            return bk_plan_error(cx, n->start_line, "no build stage in current context");
    }
    if (nfrom == 0)
        return bk_plan_error(cx, df->nnodes ? df->nodes[df->nnodes - 1].start_line : 1,
                             "dockerfile contains no stages to build");
    plan->stages = bk_xcalloc(nfrom, sizeof(*plan->stages));
    cx->st = bk_xcalloc(nfrom, sizeof(*cx->st));
    for (i = 0; i < df->nnodes; i++) {
        const struct bk_df_node *n = &df->nodes[i];
        struct bk_stage *s;
        if (strcmp(n->keyword, "from") != 0) {
            if (plan->nstages)
                plan->stages[plan->nstages - 1].end_node = i + 1;
            continue;
        }
        s = &plan->stages[plan->nstages];
        s->index = (int)plan->nstages++;
        s->parent = -1;
        s->first_node = i;
        s->end_node = i + 1;
        if (n->nargs == 3) {
            s->name = bk_xstrdup(n->args[2]);
            for (char *p = s->name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            s->label = bk_xstrdup(s->name);
        } else {
            s->label = bk_xasprintf("stage-%d", s->index);
        }
    }

    /* automatic platform args, then the global ARGs in order */
    {
        const char *ts = opts->target && *opts->target ? opts->target
                         : plan->stages[plan->nstages - 1].name
                             ? plan->stages[plan->nstages - 1].name
                             : "default";
        if ((rc = set_platform_args(cx, opts, ts)))
            return rc;
    }
    for (i = 0; i < plan->stages[0].first_node; i++)
        if ((rc = eval_global_arg(cx, &df->nodes[i])))
            return rc;

    /* FROM operands, parents, and the stage's own commands and edges */
    for (size_t k = 0; k < plan->nstages; k++) {
        struct bk_stage *s = &plan->stages[k];
        const struct bk_df_node *from = &df->nodes[s->first_node];
        const char *platform = bk_plan_flag(from, "platform");
        int line = from->start_line;

        if (bk_shell_expand(from->args[0], df->escape, &cx->globals, &s->base))
            return bk_plan_wrap(cx, line);
        if (!*s->base)
            return bk_plan_error(cx, line, "base name (%s) should not be blank", from->args[0]);
        if (platform) {
            char *p = NULL;
            if (bk_shell_expand(platform, df->escape, &cx->globals, &p))
                return bk_plan_wrap(cx, line);
            rc = *p ? BK_OK
                    : bk_plan_error(cx, line, "empty platform value from expression %s", platform);
            free(p);
            if (rc)
                return rc;
        }
        for (size_t j = k; j-- > 0;)
            if (plan->stages[j].name && !strcmp(plan->stages[j].name, s->base)) {
                s->parent = (int)j;
                add_dep(s, (int)j);
                break;
            }
        if (s->parent < 0 && strcmp(s->base, "scratch") != 0 &&
            (rc = check_image_ref(cx, s->base, from->args[0], line)))
            return rc;
        for (size_t ni = s->first_node + 1; ni < s->end_node; ni++) {
            const struct bk_df_node *n = &df->nodes[ni];
            int *deps = NULL;
            size_t nd = 0;
            push_cmd(&cx->st[k], n, n->start_line, n->start_line);
            rc = bk_plan_cmd_sources(cx, n, n->start_line, &deps, &nd);
            for (size_t d = 0; d < nd; d++)
                add_dep(s, deps[d]);
            free(deps);
            if (rc)
                return rc;
        }
    }
    return BK_OK;
}

/* ---- graph --------------------------------------------------------------- */

static int visit_cycle(const struct bk_buildplan *plan, int i, unsigned char *mark)
{
    mark[i] = 1;
    for (size_t d = 0; d < plan->stages[i].ndeps; d++) {
        int j = plan->stages[i].deps[d];
        if (mark[j] == 1 || (mark[j] == 0 && visit_cycle(plan, j, mark)))
            return 1;
    }
    mark[i] = 2;
    return 0;
}

static int check_cycles(struct bk_plan_ctx *cx)
{
    struct bk_buildplan *plan = cx->plan;
    unsigned char *mark = bk_xcalloc(plan->nstages, 1);
    int rc = BK_OK;

    for (size_t i = 0; i < plan->nstages && rc == BK_OK; i++)
        if (mark[i] == 0 && visit_cycle(plan, (int)i, mark))
            rc = bk_plan_error(cx, cx->df->nodes[plan->stages[i].first_node].start_line,
                               "circular dependency detected on stage: %s", plan->stages[i].label);
    free(mark);
    return rc;
}

static int resolve_target(struct bk_plan_ctx *cx, const char *target)
{
    struct bk_buildplan *plan = cx->plan;
    struct bk_strbuf names = BK_STRBUF_INIT;

    if (!target || !*target) {
        plan->target = (int)plan->nstages - 1;
        return BK_OK;
    }
    plan->target = bk_plan_find_stage(plan, target);
    if (plan->target >= 0)
        return BK_OK;
    for (size_t i = 0; i < plan->nstages; i++)
        if (plan->stages[i].name)
            bk_strbuf_addf(&names, "%s%s", names.len ? ", " : "", plan->stages[i].name);
    bk_plan_error(cx, cx->df->nodes[plan->stages[plan->nstages - 1].first_node].start_line,
                  "target stage \"%s\" could not be found (stages: %s)", target,
                  names.len ? names.buf : "none named");
    bk_strbuf_release(&names);
    return BK_EINVAL;
}

static void mark_closure(struct bk_buildplan *plan, int i)
{
    if (plan->stages[i].in_closure)
        return;
    plan->stages[i].in_closure = 1;
    for (size_t d = 0; d < plan->stages[i].ndeps; d++)
        mark_closure(plan, plan->stages[i].deps[d]);
}

/* Prepend the parent's ONBUILD triggers to a closure stage; 1 when they
 * add edges (the closure must then be recomputed). */
static int init_triggers(struct bk_plan_ctx *cx, int k, int *changed)
{
    struct bk_buildplan *plan = cx->plan;
    struct bk_stage *s = &plan->stages[k];
    struct bk_stage *p = &plan->stages[s->parent];
    struct bk_plan_stage *ps = &cx->st[k];
    int line = cx->df->nodes[s->first_node].start_line;
    struct bk_plan_cmd *own = ps->cmds;
    size_t nown = ps->ncmds;
    int rc = BK_OK;

    ps->cmds = NULL;
    ps->ncmds = 0;
    for (size_t ni = p->first_node + 1; ni < p->end_node; ni++) {
        const struct bk_df_node *n = &cx->df->nodes[ni];
        int *deps = NULL;
        size_t nd = 0, before = s->ndeps;
        if (strcmp(n->keyword, "onbuild") != 0 || !n->sub || rc)
            continue;
        rc = bk_plan_check_node(cx, n->sub, line);
        if (rc == BK_OK)
            rc = bk_plan_cmd_sources(cx, n->sub, line, &deps, &nd);
        for (size_t d = 0; d < nd; d++)
            add_dep(s, deps[d]);
        free(deps);
        if (s->ndeps != before)
            *changed = 1;
        push_cmd(ps, n->sub, n->start_line, line);
    }
    ps->ntriggers = ps->ncmds;
    for (size_t i = 0; i < nown; i++)
        push_cmd(ps, own[i].node, own[i].line, own[i].err_line);
    free(own);
    return rc;
}

static int compute_closure(struct bk_plan_ctx *cx)
{
    struct bk_buildplan *plan = cx->plan;
    unsigned char *done = bk_xcalloc(plan->nstages, 1);
    int changed = 1, rc = BK_OK;

    while (changed && rc == BK_OK) {
        changed = 0;
        for (size_t i = 0; i < plan->nstages; i++)
            plan->stages[i].in_closure = 0;
        mark_closure(plan, plan->target);
        for (size_t i = 0; i < plan->nstages && rc == BK_OK; i++) {
            if (!plan->stages[i].in_closure || done[i] || plan->stages[i].parent < 0)
                continue;
            done[i] = 1;
            rc = init_triggers(cx, (int)i, &changed);
        }
        if (rc == BK_OK && changed)
            rc = check_cycles(cx);
    }
    free(done);
    return rc;
}

/* ---- identities ---------------------------------------------------------- */

static char *identity_descriptor(const struct bk_mount_use *u, const char *from)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;

    bk_strbuf_addf(&sb, "cache_id=%s base=", u->cache_id);
    if (!from && !u->has_base)
        bk_strbuf_adds(&sb, "none");
    if (from)
        bk_strbuf_addf(&sb, "from(%s)%s", from, u->has_base ? "+" : "");
    if (u->has_base)
        bk_strbuf_addf(&sb, "mkdir(%u,%u,%04o)", u->uid, u->gid, u->mode);
    return bk_strbuf_detach(&sb);
}

static char *identity_name(const char *id, const char *descriptor, int has_base)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    size_t start = 0, end;
    char hex[65];

    for (const char *p = id; *p; p++) {
        int ok = isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
        if (ok)
            bk_strbuf_addch(&sb, *p);
        else if (sb.len == 0 || sb.buf[sb.len - 1] != '-')
            bk_strbuf_addch(&sb, '-');
    }
    while (start < sb.len && (sb.buf[start] == '-' || sb.buf[start] == '.'))
        start++;
    end = sb.len;
    while (end > start && (sb.buf[end - 1] == '-' || sb.buf[end - 1] == '.'))
        end--;
    if (end - start > 64)
        end = start + 64;
    {
        struct bk_strbuf name = BK_STRBUF_INIT;
        bk_strbuf_add(&name, sb.buf + start, end - start);
        if (name.len == 0)
            bk_strbuf_adds(&name, "cache");
        if (has_base || strcmp(name.buf, id) != 0) {
            bk_sha256_hex(descriptor, strlen(descriptor), hex);
            bk_strbuf_addf(&name, "-%.8s", hex);
        }
        bk_strbuf_release(&sb);
        return bk_strbuf_detach(&name);
    }
}

static void build_identities(struct bk_buildplan *plan)
{
    for (size_t i = 0; i < plan->nuses; i++) {
        struct bk_mount_use *u = &plan->uses[i];
        const char *from = u->from_stage >= 0 ? plan->stages[u->from_stage].label : u->from;
        char *desc = identity_descriptor(u, from);
        size_t k;

        for (k = 0; k < plan->nidentities; k++)
            if (!strcmp(plan->identities[k].descriptor, desc))
                break;
        u->identity = k;
        if (k < plan->nidentities) {
            free(desc);
            continue;
        }
        plan->identities = bk_xrealloc(plan->identities, (k + 1) * sizeof(struct bk_identity));
        struct bk_identity *id = &plan->identities[plan->nidentities++];
        memset(id, 0, sizeof(*id));
        id->descriptor = desc;
        id->cache_id = bk_xstrdup(u->cache_id);
        id->id = bk_xstrdup(u->id);
        id->has_base = u->has_base;
        id->uid = u->has_base ? u->uid : 0;
        id->gid = u->has_base ? u->gid : 0;
        id->mode = u->has_base ? u->mode : 0755;
        id->from = from ? bk_xstrdup(from) : NULL;
        id->first_use = i;
        id->name = identity_name(u->id, desc, u->has_base || from);
        /* names are unique in practice; make sure of it */
        for (int n = 2; bk_buildplan_identity(plan, id->name) != id; n++) {
            char *alt = bk_xasprintf("%s-%d", id->name, n);
            free(id->name);
            id->name = alt;
        }
    }
}

/* ---- public ------------------------------------------------------------- */

int bk_buildplan_resolve(const struct bk_dockerfile *df, const struct bk_build_opts *opts,
                         struct bk_buildplan **out)
{
    struct bk_plan_ctx cx = {df, NULL, NULL, BK_VARS_INIT, BK_VARS_INIT};
    struct bk_buildplan *plan = bk_xcalloc(1, sizeof(*plan));
    const char *ns;
    int rc;

    *out = NULL;
    cx.plan = plan;
    plan->df = df;
    plan->target = -1;
    for (size_t i = 0; opts->build_args && i < opts->build_args->n; i++) {
        const char *kv = opts->build_args->v[i], *eq = strchr(kv, '=');
        char *k;
        if (!eq || eq == kv) {
            rc = bk_error_set(BK_EINVAL, "invalid --build-arg '%s': expected KEY=VALUE", kv);
            goto done;
        }
        k = bk_xstrndup(kv, (size_t)(eq - kv));
        bk_vars_set(&cx.build_args, k, eq + 1);
        free(k);
    }
    ns = bk_vars_get(&cx.build_args, "BUILDKIT_CACHE_MOUNT_NS");
    plan->ns = bk_xstrdup(ns ? ns : "");

    rc = build_stages(&cx, opts);
    if (rc == BK_OK)
        rc = check_cycles(&cx);
    if (rc == BK_OK)
        rc = resolve_target(&cx, opts->target);
    if (rc == BK_OK)
        rc = compute_closure(&cx);
    for (size_t i = 0; rc == BK_OK && i < plan->nstages; i++)
        if (plan->stages[i].in_closure)
            rc = bk_plan_dispatch_stage(&cx, (int)i);
    if (rc == BK_OK)
        build_identities(plan);
done:
    for (size_t i = 0; cx.st && i < plan->nstages; i++) {
        bk_vars_release(&cx.st[i].vars);
        free(cx.st[i].workdir);
        free(cx.st[i].cmds);
    }
    free(cx.st);
    plan->globals = cx.globals;
    plan->build_args = cx.build_args;
    if (rc) {
        bk_buildplan_free(plan);
        return rc;
    }
    *out = plan;
    return BK_OK;
}

void bk_buildplan_free(struct bk_buildplan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->nstages; i++) {
        free(plan->stages[i].name);
        free(plan->stages[i].label);
        free(plan->stages[i].base);
        free(plan->stages[i].deps);
    }
    for (size_t i = 0; i < plan->nuses; i++) {
        free(plan->uses[i].id);
        free(plan->uses[i].cache_id);
        free(plan->uses[i].target);
        free(plan->uses[i].from);
        free(plan->uses[i].source);
    }
    for (size_t i = 0; i < plan->nidentities; i++) {
        free(plan->identities[i].name);
        free(plan->identities[i].cache_id);
        free(plan->identities[i].id);
        free(plan->identities[i].from);
        free(plan->identities[i].descriptor);
    }
    free(plan->stages);
    free(plan->uses);
    free(plan->identities);
    free(plan->platform);
    free(plan->ns);
    bk_vars_release(&plan->globals);
    bk_vars_release(&plan->build_args);
    free(plan);
}

const struct bk_identity *bk_buildplan_identity(const struct bk_buildplan *plan, const char *name)
{
    for (size_t i = 0; i < plan->nidentities; i++)
        if (strcmp(plan->identities[i].name, name) == 0)
            return &plan->identities[i];
    return NULL;
}
