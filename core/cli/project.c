/*
 * project.c - load a Dockerfile, resolve its plan and keys; see project.h.
 */
#include "core/cli/project.h"

#include "core/buildspec/buildspec.h"

#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *dockerfile_dir(const char *file)
{
    char *copy, *dir;

    if (strcmp(file, "-") == 0)
        return bk_xstrdup(".");
    copy = bk_xstrdup(file);
    dir = bk_xstrdup(dirname(copy));
    free(copy);
    return dir;
}

/* Resolve the parsed p->df for `bo` and compute the keys. */
static int resolve(struct bk_project *p, const struct bk_options *opts,
                   const struct bk_build_opts *bo, unsigned flags, struct bk_project **out)
{
    int rc = bk_buildplan_resolve(p->df, bo, &p->plan);
    if (rc == BK_OK && (flags & BK_PROJECT_KEYS)) {
        struct bk_key_opts ko = {opts->key_prefix, &opts->key_files, &opts->key_extra, p->base_dir,
                                 p->run.text};
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        rc = bk_run_part_detect(opts->run_id, NULL, &now, (long)getpid(), &p->run);
        if (rc == BK_OK)
            rc = bk_keys_compute(p->plan, &ko, &p->keys);
    }
    if (rc) {
        bk_project_free(p);
        return rc;
    }
    *out = p;
    return BK_OK;
}

int bk_project_load(const struct bk_options *opts, unsigned flags, struct bk_project **out)
{
    struct bk_project *p = bk_xcalloc(1, sizeof(*p));
    struct bk_build_opts bo = {opts->target, &opts->build_args, opts->platform, NULL};
    int rc;

    *out = NULL;
    p->base_dir = opts->context ? bk_xstrdup(opts->context) : dockerfile_dir(opts->file);
    rc = bk_dockerfile_parse_file(opts->file, &p->df);
    if (rc) {
        bk_project_free(p);
        return rc;
    }
    return resolve(p, opts, &bo, flags, out);
}

int bk_project_load_spec(const struct bk_options *opts, const struct bk_buildspec *spec,
                         const char *platform, unsigned flags, struct bk_project **out)
{
    struct bk_project *p = bk_xcalloc(1, sizeof(*p));
    struct bk_build_opts bo = {spec->target, &spec->build_args, platform, NULL};
    int rc;

    *out = NULL;
    p->base_dir = bk_xstrdup(spec->context ? spec->context : ".");
    if (spec->dockerfile_inline) {
        char *name = bk_xasprintf("%s (dockerfile_inline)", spec->name);
        rc = bk_dockerfile_parse(spec->dockerfile_inline, strlen(spec->dockerfile_inline), name,
                                 &p->df);
        free(name);
    } else {
        rc = bk_dockerfile_parse_file(spec->dockerfile ? spec->dockerfile : "Dockerfile", &p->df);
    }
    if (rc) {
        bk_project_free(p);
        return rc;
    }
    return resolve(p, opts, &bo, flags, out);
}

void bk_project_free(struct bk_project *p)
{
    if (!p)
        return;
    bk_keyset_free(p->keys);
    bk_buildplan_free(p->plan);
    bk_dockerfile_free(p->df);
    free(p->base_dir);
    free(p);
}

int bk_project_report_error(int code)
{
    bk_error("%s", bk_error_msg());
    return code == BK_EINVAL || code == BK_ENOTFOUND ? 2 : 1;
}
