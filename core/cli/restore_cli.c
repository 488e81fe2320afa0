/*
 * restore_cli.c - command-line setup shared by restore, save and plan; see
 * restore_cli.h.
 *
 * select_mountio() is the one place that decides where the caches live.
 * Core's save/restore logic only sees the struct bk_mountio it returns.
 */
#include "core/cli/restore_cli.h"

#include "core/builder/builder.h"
#include "core/util/log.h"
#include "core/xfer/state.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli/projset.h"

/* ---- where the caches live ---- */

/*
 * Choose the mountio for these options and describe it in *desc (caller
 * frees). With out == NULL (plan) only describe. Returns BK_EINVAL with a
 * message when no mountio can serve the options (an unknown --driver); an
 * unreachable builder fails each batch instead (see core/builder/builder.h).
 */
static int select_mountio(const struct bk_options *o, struct bk_mountio **out, char **desc)
{
    struct bk_mountio_opts mo = {
        .compression_level = o->compression_level,
        .force = o->force,
        .allow_special = o->allow_special,
    };

    *desc = NULL;
    if (o->dir) {
        *desc = bk_xasprintf("dir %s", o->dir);
        return out ? bk_mountio_dir_create(o->dir, &mo, out) : BK_OK;
    }
    /* the builder's cache mounts, through generated builds (core/builder/builder.h) */
    return bk_builder_mountio_open(o, out, desc);
}

/* ---- the layer cache ---- */

/* The working directory, absolute: the build may run elsewhere. Caller frees. */
static char *layers_dir(const struct bk_options *o, const char *state_path)
{
    const char *env = getenv("BKCACHE_LAYERS_DIR");
    size_t n = strlen(state_path);
    char *dir, cwd[4096];

    if (o->layers_dir)
        dir = bk_xstrdup(o->layers_dir);
    else if (env && *env)
        dir = bk_xstrdup(env);
    else {
        if (n > 5 && strcmp(state_path + n - 5, ".json") == 0)
            n -= 5;
        dir = bk_xasprintf("%.*s-layers", (int)n, state_path);
    }
    if (dir[0] != '/' && getcwd(cwd, sizeof(cwd))) {
        char *abs = bk_xasprintf("%s/%s", cwd, dir);
        free(dir);
        dir = abs;
    }
    return dir;
}

static int open_layers(const struct bk_options *o, enum bk_xfer_cli_mode mode,
                       struct bk_xfer_cli *c)
{
    const struct bk_project *p = c->set->nbuilds == 1 ? c->set->builds[0].project : NULL;
    struct bk_key_opts ko = {o->key_prefix, &o->key_files, &o->key_extra, NULL, NULL};
    struct bk_cache_key k;
    char *dir;
    int rc;

    /* one build of one platform: -f, or a build command (bkcache build) */
    if (o->compose.n || o->bake.n || !p)
        return bk_error_set(BK_EINVAL, "--layers works with one Dockerfile (-f, or one build "
                                       "command) of one platform for now, not with --compose "
                                       "or --bake");
    ko.base_dir = p->base_dir;
    ko.run_part = p->run.text;
    rc = bk_keys_layers(p->plan, &ko, &k);
    if (rc < 0)
        return rc;
    dir = layers_dir(o, c->state_path);
    bk_layers_init(&c->layers, dir, p->plan->stages[p->plan->target].label, k.key, k.save_key,
                   &k.restore_keys);
    for (size_t i = 0; i < o->layers_from.n; i++) {
        char *prefix = bk_keys_layers_prefix(p->plan, &ko, o->layers_from.v[i]);
        bk_layers_add_from(&c->layers, o->layers_from.v[i], prefix);
        free(prefix);
    }
    c->x.layers = &c->layers;
    c->layers.lookup_only = o->lookup_only;
    /* the builder's own check; with --dir the user's build is not ours to judge */
    if (!o->dir && mode != BK_XFER_CLI_PLAN && bk_builder_layers_check(o) == BK_ESKIPPED) {
        c->layers.unsupported = bk_xstrdup(bk_error_msg());
        bk_warn("warning: %s", c->layers.unsupported);
    }
    bk_cache_key_release(&k);
    free(dir);
    return BK_OK;
}

/*
 * Several builds (compose, bake, a build command) without --dir: one
 * builder mountio per transfer build they need, behind a group. Caches go
 * to the transfer build of their builder and platform; a cache whose from=
 * names a stage of its build's Dockerfile gets that build's own (the
 * Dockerfile is appended to it). The options each member was made from
 * live in c->group_opts, which the members point into.
 */
static int select_group_mountio(const struct bk_options *o, struct bk_xfer_cli *c,
                                int describe_only)
{
    const struct bk_projset *s = c->set;
    struct bk_strvec keys = BK_STRVEC_INIT, descs = BK_STRVEC_INIT;
    struct bk_mountio **ios = bk_xcalloc(s->ncaches + 1, sizeof(*ios));
    const struct bk_identity **ids = bk_xcalloc(s->ncaches + 1, sizeof(*ids));
    size_t *which = bk_xcalloc(s->ncaches + 1, sizeof(*which));
    int rc = BK_OK;

    c->group_opts = bk_xcalloc(s->ncaches + 1, sizeof(*c->group_opts));
    for (size_t i = 0; i < s->ncaches && rc == BK_OK; i++) {
        const struct bk_projset_cache *pc = &s->caches[i];
        const struct bk_projset_build *b = &s->builds[pc->build];
        const char *builder = b->spec->builder ? b->spec->builder : o->builder;
        int own = pc->use && pc->use->from_stage >= 0;
        char *key = bk_xasprintf("%s|%s|%zu", builder ? builder : "",
                                 b->platform ? b->platform : "", own ? pc->build : (size_t)-1);
        long m = bk_strvec_find(&keys, key);

        if (m < 0) {
            struct bk_options *go = &c->group_opts[keys.n];
            char *desc = NULL;
            *go = *o;
            go->file = b->spec->dockerfile;
            go->context = b->spec->context;
            go->build_args = b->spec->build_args;
            go->platform = b->platform;
            go->builder = builder;
            m = (long)keys.n;
            bk_strvec_push(&keys, key);
            rc = bk_builder_mountio_open(go, describe_only ? NULL : &ios[m], &desc);
            if (desc && bk_strvec_find(&descs, desc) < 0)
                bk_strvec_push(&descs, desc);
            free(desc);
        }
        ids[i] = &pc->identity;
        which[i] = (size_t)m;
        free(key);
    }
    c->mountio_desc = descs.n ? bk_strvec_join(&descs, "; ") : bk_xstrdup("builder (no caches)");
    if (rc == BK_OK && !describe_only && keys.n == 1) {
        c->x.io = ios[0];
    } else if (rc == BK_OK && !describe_only && keys.n > 1) {
        rc = bk_mountio_group_create(ios, keys.n, ids, which, s->ncaches, &c->x.io);
    } else if (!describe_only) {
        for (size_t m = 0; m < keys.n; m++)
            if (ios[m])
                ios[m]->ops->destroy(ios[m]);
    }
    bk_strvec_clear(&keys);
    bk_strvec_clear(&descs);
    free(ios);
    free(ids);
    free(which);
    return rc;
}

/* The transfer items of the set's merged caches, --mount filtering them. */
static int items_from_set(const struct bk_projset *s, const struct bk_strvec *only,
                          struct bk_xfer_cli *c)
{
    c->x.items = bk_xcalloc(s->ncaches + 1, sizeof(*c->x.items));
    for (size_t i = 0; only && i < only->n; i++) {
        size_t k = 0;
        while (k < s->ncaches && strcmp(s->caches[k].identity.name, only->v[i]) != 0)
            k++;
        if (k == s->ncaches)
            return bk_error_set(BK_EINVAL, "--mount: no cache named '%s'", only->v[i]);
    }
    for (size_t i = 0; i < s->ncaches; i++) {
        const struct bk_projset_cache *pc = &s->caches[i];
        struct bk_xfer_item *it;
        if (only && only->n && bk_strvec_find(only, pc->identity.name) < 0)
            continue;
        it = &c->x.items[c->x.n++];
        it->identity = &pc->identity;
        it->use = pc->use;
        it->key = pc->key;
        it->save_key = pc->save_key;
        it->restore_keys = (const char *const *)pc->restore_keys.v;
        it->nrestore = pc->restore_keys.n;
    }
    return BK_OK;
}

/* ---- open and close ---- */

int bk_xfer_cli_open(struct bk_options *o, enum bk_xfer_cli_mode mode,
                     struct bk_buildspec_list *specs, struct bk_xfer_cli *c)
{
    int rc;

    memset(c, 0, sizeof(*c));
    if (o->args.n && !specs) {
        bk_error("unexpected argument '%s'", o->args.v[0]);
        return 2;
    }
    rc = bk_projset_load(o, specs, BK_PROJECT_KEYS, &c->set);
    if (rc < 0)
        return bk_project_report_error(rc);
    c->bad_input = bk_projset_report(c->set) > 0;
    if (!c->set->many) {
        const struct bk_project *p = c->set->builds[0].project;
        rc = bk_xfer_items_from_plan(p->plan, p->keys, &o->mounts, &c->x.items, &c->x.n);
    } else {
        rc = items_from_set(c->set, &o->mounts, c);
    }
    if (rc < 0) {
        bk_error("%s", bk_error_msg());
        return 2;
    }
    if (c->set->many && !o->dir)
        rc = select_group_mountio(o, c, mode == BK_XFER_CLI_PLAN);
    else
        rc = select_mountio(o, mode == BK_XFER_CLI_PLAN ? NULL : &c->x.io, &c->mountio_desc);
    if (rc < 0) {
        bk_error("%s", bk_error_msg());
        return 2;
    }
    rc = bk_store_open_cli(o, mode == BK_XFER_CLI_PLAN || o->lookup_only, 0, &c->x.store);
    if (rc == BK_EINVAL) {
        bk_error("%s", bk_error_msg());
        return 2;
    }
    if (rc < 0) {
        char clean[1024]; /* it goes to stdout too (plan, the report): no secret in it */
        c->store_error = bk_xstrdup(bk_log_redact(bk_error_msg(), clean, sizeof(clean)));
        c->x.store_error = c->store_error;
        if (mode != BK_XFER_CLI_PLAN)
            bk_warn("warning: the store is unavailable: %s", c->store_error);
    }
    c->state_path = o->state
                        ? bk_xstrdup(o->state)
                        : bk_state_default_path(c->set->state_name, c->set->state_target, NULL);
    c->x.state_path = c->state_path;
    c->store_id = bk_store_identity_cli(o, c->x.store);
    c->x.store_id = c->store_id;
    c->x.lookup_only = o->lookup_only;
    c->x.keep_runs = o->keep_per_key >= 0 ? o->keep_per_key : BK_KEEP_PER_KEY_DEFAULT;
    c->x.delta = !o->delta_off;
    if (o->layers && open_layers(o, mode, c) < 0) {
        bk_error("%s", bk_error_msg());
        return 2;
    }
    return 0;
}

int bk_xfer_cli_run(struct bk_xfer_cli *c, enum bk_xfer_cli_mode mode)
{
    int restore = mode == BK_XFER_CLI_RESTORE;

    if ((restore ? bk_restore_run(&c->x) : bk_save_run(&c->x)) < 0)
        return BK_ERR;
    if (!c->x.layers)
        return BK_OK;
    return restore ? bk_layers_restore(c->x.layers, c->x.store, c->x.store_error)
                   : bk_layers_save(c->x.layers, c->x.store, c->x.store_error);
}

void bk_xfer_cli_close(struct bk_xfer_cli *c)
{
    bk_xfer_items_free(c->x.items, c->x.n);
    if (c->x.io)
        c->x.io->ops->destroy(c->x.io);
    bk_store_close(c->x.store);
    bk_projset_free(c->set);
    free(c->group_opts);
    if (c->x.layers)
        bk_layers_release(&c->layers);
    free(c->state_path);
    free(c->store_id);
    free(c->store_error);
    free(c->mountio_desc);
    memset(c, 0, sizeof(*c));
}
