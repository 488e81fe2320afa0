/*
 * builder_cli.c - from the command line's builder options to a builder
 * mountio: what restore and save use when --dir is not given.
 *
 * --driver (auto|buildx|docker|buildctl), --builder, --docker and
 * --buildkit-addr fill the builder configuration; the driver is probed
 * (bk_builder_select; for plan, a failed probe is only described) and the mountio gets the user's
 * Dockerfile, context, build arguments and platform, which it needs for from= stages.
 */
#include "core/builder.h"

#include "core/cli.h"
#include "core/error.h"
#include "core/mountio.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

int bk_builder_mountio_open(const struct bk_options *o, struct bk_mountio **out, char **desc)
{
    struct bk_builder_config bc = {0};
    struct bk_mountio_builder_config mc = {0};
    struct bk_mountio_opts mo = {0};
    const struct bk_builder_ops *ops = NULL;
    char *dfdir = NULL;
    int rc;

    bc.docker = o->docker;
    bc.builder = o->builder;
    bc.buildkit_addr = o->buildkit_addr;
    *desc = NULL;
    rc = bk_builder_select(o->driver, &bc, &ops);
    if (rc) {
        *desc = bk_xasprintf("none (%s)", bk_error_msg());
        return out ? rc : BK_OK;
    }
    *desc = bk_xasprintf("builder %s%s%s", ops->name, o->builder ? " " : "",
                         o->builder ? o->builder : "");
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
    return rc;
}
