/*
 * builder_buildx.c - the "buildx" driver: `docker buildx build --builder NAME`.
 *
 * Probe: `docker buildx version` must work (the component is installed),
 * then `docker buildx inspect [NAME]` (the current builder, or
 * $BUILDX_BUILDER's, when --builder is not given) must show a builder that
 * can build now. inspect exits 0 when the daemon is unreachable or the
 * socket refused (its output then has an "Error:" line) and for a builder
 * that was never started ("Status: inactive"), so its output is read:
 * an "Error:" line is explained like any client failure, and the first
 * node's "Status:" must be "running". A builder that is not running is
 * not started here (a docker-container builder would pull its image):
 * the message says how. The build options are those of the docker
 * driver; buildx needs no DOCKER_BUILDKIT in the environment.
 */
#include "core/builder/builder.h"

#include "core/util/error.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* What `docker buildx inspect` says about a builder. */
struct inspect {
    char name[128], driver[64], status[64];
    const char *error; /* the text after "Error:", inside the output, or NULL */
};

/* Copy the value of a "Key:   value" line into dst. */
static void field(const char *line, size_t n, size_t key_len, char *dst, size_t size)
{
    const char *v = line + key_len;
    while (v < line + n && *v == ' ')
        v++;
    snprintf(dst, size, "%.*s", (int)(line + n - v), v);
}

/* The builder's name and driver (its first lines), the first node's status,
 * and an "Error:" line anywhere. */
static void parse_inspect(const char *out, struct inspect *in)
{
    memset(in, 0, sizeof(*in));
    for (const char *s = out; s && *s;) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n && s[n - 1] == '\r')
            n--;
        if (n >= 5 && strncmp(s, "Name:", 5) == 0 && !in->name[0])
            field(s, n, 5, in->name, sizeof(in->name));
        else if (n >= 7 && strncmp(s, "Driver:", 7) == 0 && !in->driver[0])
            field(s, n, 7, in->driver, sizeof(in->driver));
        else if (n >= 7 && strncmp(s, "Status:", 7) == 0 && !in->status[0])
            field(s, n, 7, in->status, sizeof(in->status));
        else if (n >= 6 && strncmp(s, "Error:", 6) == 0 && !in->error)
            in->error = s + 6;
        s = e ? e + 1 : NULL;
    }
}

static int inspect_result(const struct bk_builder_config *cfg, const char *out,
                          struct bk_builder_found *found)
{
    struct inspect in;
    const char *name;

    parse_inspect(out, &in);
    if (in.error) {
        const char *t = in.error;
        while (*t == ' ')
            t++;
        return bk_builder__explain("buildx", "docker buildx inspect", t);
    }
    name = in.name[0] ? in.name : cfg->builder ? cfg->builder : "(current)";
    if (!in.status[0])
        return bk_error_set(BK_ERR, "buildx: docker buildx inspect shows no status for builder %s",
                            name);
    if (strcmp(in.status, "running") != 0)
        return bk_error_set(BK_ERR,
                            "buildx: builder %s (%s driver) is %s, not running: start it with "
                            "'docker buildx inspect --bootstrap %s', or pick another with "
                            "--builder",
                            name, in.driver[0] ? in.driver : "unknown", in.status, name);
    if (found)
        snprintf(found->detail, sizeof(found->detail), "buildx builder %s (%s driver) is running",
                 name, in.driver[0] ? in.driver : "unknown");
    return BK_OK;
}

static int run_buildx(const struct bk_builder_config *cfg, const char *verb,
                      struct bk_builder_found *found)
{
    struct bk_strvec argv = BK_STRVEC_INIT;
    struct bk_strbuf out = BK_STRBUF_INIT;
    const char *client = bk_builder__docker_client(cfg);
    int rc, status = 0;

    bk_strvec_push(&argv, client);
    bk_strvec_push(&argv, "buildx");
    bk_strvec_push(&argv, verb);
    if (cfg->builder && verb[0] == 'i')
        bk_strvec_push(&argv, cfg->builder);
    rc = bk_builder__exec(&argv, NULL, &out, &status);
    if (rc == BK_ENOTFOUND)
        rc = bk_error_set(BK_ENOTFOUND, "buildx: no docker client '%s'", client);
    else if (rc == BK_EDENIED)
        rc = bk_error_set(BK_EDENIED, "buildx: permission denied running '%s'", client);
    else if (rc == BK_OK && status != 0 && verb[0] == 'v')
        rc = bk_error_set(BK_ENOTFOUND, "buildx: '%s' has no buildx component", client);
    else if (rc == BK_OK && status != 0 && strstr(out.buf, "ERROR: no builder "))
        rc = bk_error_set(BK_ENOTFOUND, "buildx: no builder named '%s' (see docker buildx ls)",
                          cfg->builder ? cfg->builder : bk_builder__env(cfg, "BUILDX_BUILDER"));
    else if (rc == BK_OK && status != 0)
        rc = bk_builder__explain("buildx", "docker buildx inspect", out.buf);
    else if (rc == BK_OK && verb[0] == 'i')
        rc = inspect_result(cfg, out.buf, found);
    bk_strbuf_release(&out);
    bk_strvec_clear(&argv);
    return rc;
}

/* The docker client finds buildx as a CLI plugin in these directories;
 * when none has it, `docker buildx` cannot work and is not worth a run. */
static int plugin_installed(const struct bk_builder_config *cfg)
{
    static const char *const dirs[] = {
        "/usr/local/lib/docker/cli-plugins",
        "/usr/local/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
        NULL,
    };
    const char *conf = bk_builder__env(cfg, "DOCKER_CONFIG"), *home = bk_builder__env(cfg, "HOME");
    char path[4096];

    if (conf) {
        snprintf(path, sizeof(path), "%s/cli-plugins/docker-buildx", conf);
        if (access(path, X_OK) == 0)
            return 1;
    }
    if (home) {
        snprintf(path, sizeof(path), "%s/.docker/cli-plugins/docker-buildx", home);
        if (access(path, X_OK) == 0)
            return 1;
    }
    for (const char *const *d = dirs; *d; d++) {
        snprintf(path, sizeof(path), "%s/docker-buildx", *d);
        if (access(path, X_OK) == 0)
            return 1;
    }
    return 0;
}

static int buildx_probe(const struct bk_builder_config *cfg, struct bk_builder_found *found)
{
    int rc;

    if (!plugin_installed(cfg))
        return bk_error_set(BK_ENOTFOUND, "buildx: no docker-buildx plugin installed");
    rc = run_buildx(cfg, "version", NULL);
    return rc ? rc : run_buildx(cfg, "inspect", found);
}

static int buildx_command(const struct bk_builder_config *cfg, const struct bk_build_request *req,
                          struct bk_strvec *argv, struct bk_strvec *env)
{
    (void)env;
    bk_strvec_push(argv, bk_builder__docker_client(cfg));
    bk_strvec_push(argv, "buildx");
    bk_strvec_push(argv, "build");
    if (cfg->builder) {
        bk_strvec_push(argv, "--builder");
        bk_strvec_push(argv, cfg->builder);
    }
    bk_builder__docker_build_args(req, argv);
    return BK_OK;
}

const struct bk_builder_ops bk_builder_buildx = {
    "buildx",                        /* name */
    buildx_probe,                    /* probe */
    buildx_command,                  /* command */
    bk_builder__buildx_cache_export, /* cache_export */
};
