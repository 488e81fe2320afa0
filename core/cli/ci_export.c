/*
 * ci_export.c - hand the layer cache's build arguments to the CI's later
 * steps; see bk_xfer_cli_layers_export() in restore_cli.h.
 *
 * One table row per CI: the variable that says the job runs there, and how
 * a value reaches the next step. The value is the arguments joined by
 * spaces, e.g. "--cache-from type=local,src=DIR --cache-to
 * type=local,dest=DIR2,mode=max" (paths with spaces are not supported).
 */
#include "core/cli/restore_cli.h"

#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VAR "BKCACHE_LAYERS_ARGS"

static void append_line(const char *file, const char *name, const char *value)
{
    FILE *f = fopen(file, "a");
    int ok = f && fprintf(f, "%s=%s\n", name, value) >= 0;

    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        bk_warn("warning: cannot write %s to %s: %s", name, file, strerror(errno));
}

static void github(const char *value, int json)
{
    const char *out = getenv("GITHUB_OUTPUT"), *env = getenv("GITHUB_ENV");
    (void)json;
    if (out && *out)
        append_line(out, "layers-args", value);
    if (env && *env)
        append_line(env, VAR, value);
}

static void azure(const char *value, int json)
{
    if (!json) /* a logging command on stdout; the task reads --json instead */
        printf("##vso[task.setvariable variable=%s]%s\n", VAR, value);
}

static void gitlab(const char *value, int json)
{
    const char *file = getenv("BKCACHE_OUTPUT");
    (void)json;
    append_line(file && *file ? file : "bkcache.env", VAR, value);
}

static const struct {
    const char *detect; /* set (non-empty) when the job runs on this CI */
    void (*put)(const char *value, int json);
} k_cis[] = {
    {"GITHUB_ACTIONS", github},
    {"TF_BUILD", azure},
    {"GITLAB_CI", gitlab},
};

void bk_xfer_cli_layers_export(const struct bk_xfer_cli *c, int json)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;

    for (size_t i = 0; i < c->layers.build_args.n; i++)
        bk_strbuf_addf(&sb, "%s%s", i ? " " : "", c->layers.build_args.v[i]);
    if (!json)
        printf("build-args: %s\n", sb.buf);
    for (size_t i = 0; i < sizeof(k_cis) / sizeof(k_cis[0]); i++) {
        const char *v = getenv(k_cis[i].detect);
        if (v && *v)
            k_cis[i].put(sb.buf, json);
    }
    bk_strbuf_release(&sb);
}
