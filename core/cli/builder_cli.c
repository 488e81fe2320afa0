/*
 * builder_cli.c - from the command line's builder options to a builder
 * mountio: what restore and save use when --dir is not given.
 *
 * --driver (auto|buildx|docker|buildctl), --builder, --docker and
 * --buildkit-addr fill the builder configuration; the driver is probed
 * (bk_builder_choose, which also says why) and the mountio gets the user's
 * Dockerfile, context, build arguments and platform, which it needs for from= stages.
 */
#include "core/builder/builder.h"

#include "core/cli/cli.h"
#include "core/util/error.h"
#include "core/builder/mountio.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * No builder could be used: a mountio whose every batch fails with the
 * probe's explanation. restore and save then report it per cache, as for
 * any other builder failure (a warning, exit 1 only with --fail-on-error),
 * instead of refusing to start.
 */
struct unavailable_io {
    struct bk_mountio base;
    int code;
    char msg[512];
};

static int unavailable_batch(struct bk_mountio *base, struct bk_mountio_item *items, size_t n)
{
    struct unavailable_io *io = (struct unavailable_io *)base;
    for (size_t i = 0; i < n; i++)
        items[i].status = io->code;
    return bk_error_set(io->code, "%s", io->msg);
}

static void unavailable_destroy(struct bk_mountio *base)
{
    free(base);
}

static const struct bk_mountio_ops unavailable_ops = {
    "builder",           /* name */
    unavailable_batch,   /* extract */
    unavailable_batch,   /* inject */
    unavailable_destroy, /* destroy */
};

static int open_unavailable(int code, struct bk_mountio **out)
{
    struct unavailable_io *io = bk_xcalloc(1, sizeof(*io));
    io->base.ops = &unavailable_ops;
    io->code = code;
    snprintf(io->msg, sizeof(io->msg), "%s", bk_error_msg());
    *out = &io->base;
    return BK_OK;
}

int bk_builder_mountio_open(const struct bk_options *o, struct bk_mountio **out, char **desc)
{
    struct bk_builder_config bc = {0};
    struct bk_mountio_builder_config mc = {0};
    struct bk_mountio_opts mo = {0};
    const struct bk_builder_ops *ops = NULL;
    char *dfdir = NULL, why[600];
    int rc;

    bc.docker = o->docker;
    bc.builder = o->builder;
    bc.buildkit_addr = o->buildkit_addr;
    *desc = NULL;
    rc = bk_builder_choose(o->driver, &bc, &ops, why, sizeof(why));
    if (rc == BK_EINVAL)
        return rc; /* a bad --driver */
    if (rc) {
        *desc = bk_xasprintf("none (%s)", bk_error_msg());
        return out ? open_unavailable(rc, out) : BK_OK;
    }
    *desc = bk_xasprintf("builder %s (%s)", ops->name, why);
    if (!out)
        return BK_OK;
    if (!o->context && o->file && strcmp(o->file, "-") != 0) {
        char *copy = bk_xstrdup(o->file);
        dfdir = bk_xstrdup(dirname(copy));
        free(copy);
    }
    mc.ops = ops;
    mc.builder = &bc;
    mc.dockerfile = o->file && strcmp(o->file, "-") != 0 ? o->file : NULL;
    mc.context_dir = o->context ? o->context : dfdir ? dfdir : ".";
    mc.build_args = &o->build_args;
    mc.platform = o->platform;
    mo.compression_level = o->compression_level;
    mo.force = o->force;
    mo.allow_special = o->allow_special;
    rc = bk_mountio_builder_create(&mc, &mo, out);
    free(dfdir);
    if (rc) { /* no bkcache-helper */
        free(*desc);
        *desc = bk_xasprintf("none (%s)", bk_error_msg());
        rc = open_unavailable(rc, out);
    }
    return rc;
}

int bk_builder_layers_check(const struct bk_options *o)
{
    struct bk_builder_config bc = {0};
    const struct bk_builder_ops *ops = NULL;
    int rc;

    bc.docker = o->docker;
    bc.builder = o->builder;
    bc.buildkit_addr = o->buildkit_addr;
    rc = bk_builder_select(o->driver, &bc, &ops);
    if (rc < 0) {
        bk_error_clear(); /* no builder: the mounts report it; the user's build may differ */
        return BK_OK;
    }
    return ops->cache_export ? ops->cache_export(&bc) : BK_OK;
}
