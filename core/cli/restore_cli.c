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

#include "core/cli/project.h"

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
    struct bk_key_opts ko = {o->key_prefix, &o->key_files, &o->key_extra, c->project->base_dir,
                             c->project->run.text};
    struct bk_cache_key k;
    char *dir;
    int rc = bk_keys_layers(c->plan, &ko, &k);

    if (rc < 0)
        return rc;
    dir = layers_dir(o, c->state_path);
    bk_layers_init(&c->layers, dir, c->plan->stages[c->plan->target].label, k.key, k.save_key,
                   &k.restore_keys);
    for (size_t i = 0; i < o->layers_from.n; i++) {
        char *prefix = bk_keys_layers_prefix(c->plan, &ko, o->layers_from.v[i]);
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

/* ---- open and close ---- */

int bk_xfer_cli_open(struct bk_options *o, enum bk_xfer_cli_mode mode, struct bk_xfer_cli *c)
{
    int rc;

    memset(c, 0, sizeof(*c));
    if (o->args.n) {
        bk_error("unexpected argument '%s'", o->args.v[0]);
        return 2;
    }
    rc = bk_project_load(o, BK_PROJECT_KEYS, &c->project);
    if (rc < 0)
        return bk_project_report_error(rc);
    c->plan = c->project->plan;
    c->keys = c->project->keys;
    rc = bk_xfer_items_from_plan(c->plan, c->keys, &o->mounts, &c->x.items, &c->x.n);
    if (rc < 0) {
        bk_error("%s", bk_error_msg());
        return 2;
    }
    rc = select_mountio(o, mode == BK_XFER_CLI_PLAN ? NULL : &c->x.io, &c->mountio_desc);
    if (rc < 0) {
        bk_error("%s", bk_error_msg());
        return 2;
    }
    rc = bk_store_open_cli(o, mode == BK_XFER_CLI_PLAN || o->lookup_only, &c->x.store);
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
    c->state_path =
        o->state ? bk_xstrdup(o->state) : bk_state_default_path(o->file, o->target, NULL);
    c->x.state_path = c->state_path;
    c->store_id = bk_store_identity_cli(o, c->x.store);
    c->x.store_id = c->store_id;
    c->x.lookup_only = o->lookup_only;
    c->x.keep_runs = o->keep_per_key >= 0 ? o->keep_per_key : BK_KEEP_PER_KEY_DEFAULT;
    if (o->layers && open_layers(o, mode, c) < 0) {
        bk_error("%s", bk_error_msg());
        return 2;
    }
    return 0;
}

void bk_xfer_cli_close(struct bk_xfer_cli *c)
{
    bk_xfer_items_free(c->x.items, c->x.n);
    if (c->x.io)
        c->x.io->ops->destroy(c->x.io);
    bk_store_close(c->x.store);
    bk_project_free(c->project);
    if (c->x.layers)
        bk_layers_release(&c->layers);
    free(c->state_path);
    free(c->store_id);
    free(c->store_error);
    free(c->mountio_desc);
    memset(c, 0, sizeof(*c));
}
