/*
 * builder_cache_export.c - can the user's build export a layer cache
 * (--cache-to type=local)? See bk_builder_cache_export_verdict() in
 * builder.h.
 *
 * BuildKit itself always can (buildctl, buildx's docker-container,
 * kubernetes and remote drivers). The docker daemon's embedded BuildKit
 * (buildx's "docker" driver, and `docker build`) can only with the
 * containerd image store, which the daemon reports in its storage driver
 * status as "io.containerd.snapshotter.v1"; and `docker build` of Docker
 * before 23 has no --cache-to at all.
 */
#include "core/builder/builder.h"

#include "core/util/error.h"

#include <stdlib.h>
#include <string.h>

#define SWITCH_ON                                                                                  \
    "enable the containerd image store (\"features\": {\"containerd-snapshotter\": true} in "      \
    "daemon.json) or use a docker-container builder (docker buildx create --use); the cache "      \
    "mounts still work"

int bk_builder_cache_export_verdict(const char *server_version, const char *buildx_driver,
                                    const char *driver_status)
{
    int major = server_version && *server_version ? atoi(server_version) : 0;

    if (buildx_driver && strcmp(buildx_driver, "docker") != 0)
        return BK_OK;
    if (!buildx_driver && major > 0 && major < 23)
        return bk_error_set(BK_ESKIPPED,
                            "the layer cache needs --cache-to, which docker build of Docker %s "
                            "lacks: use docker buildx with a docker-container builder, or Docker "
                            "24 or later with the containerd image store; the cache mounts still "
                            "work",
                            server_version);
    if (driver_status && strstr(driver_status, "io.containerd.snapshotter"))
        return BK_OK;
    return bk_error_set(BK_ESKIPPED,
                        "the layer cache needs a builder that can export it, and the docker "
                        "driver cannot without the containerd image store: " SWITCH_ON);
}

/* Run the docker client with `args`; its output (trimmed) into `out`. The
 * callers judge by what it printed, so a failure only leaves `out` empty. */
static int ask_docker(const struct bk_builder_config *cfg, const char *const *args,
                      struct bk_strbuf *out)
{
    struct bk_strvec argv = BK_STRVEC_INIT;
    int status = 0, rc;

    bk_strvec_push(&argv, bk_builder__docker_client(cfg));
    for (; *args; args++)
        bk_strvec_push(&argv, *args);
    rc = bk_builder__exec(&argv, NULL, out, &status);
    bk_strvec_clear(&argv);
    if (rc == BK_OK && status != 0)
        rc = bk_error_set(BK_ERR, "docker exited with %d", status);
    while (out->len && (out->buf[out->len - 1] == '\n' || out->buf[out->len - 1] == ' '))
        out->buf[--out->len] = '\0';
    return rc;
}

static int daemon_verdict(const struct bk_builder_config *cfg, const char *buildx_driver)
{
    static const char *const version[] = {"version", "--format", "{{.Server.Version}}", NULL};
    static const char *const info[] = {"info", "--format", "{{json .DriverStatus}}", NULL};
    struct bk_strbuf ver = BK_STRBUF_INIT, status = BK_STRBUF_INIT;
    int rc;

    if (!buildx_driver)
        ask_docker(cfg, version, &ver);
    ask_docker(cfg, info, &status);
    bk_error_clear();
    rc = bk_builder_cache_export_verdict(ver.buf, buildx_driver, status.buf);
    bk_strbuf_release(&ver);
    bk_strbuf_release(&status);
    return rc;
}

int bk_builder__docker_cache_export(const struct bk_builder_config *cfg)
{
    return daemon_verdict(cfg, NULL);
}

int bk_builder__buildx_cache_export(const struct bk_builder_config *cfg)
{
    const char *inspect[] = {"buildx", "inspect", cfg->builder, NULL};
    struct bk_strbuf out = BK_STRBUF_INIT;
    char driver[64] = "";
    const char *line;
    int rc;

    if (!cfg->builder)
        inspect[2] = NULL;
    rc = ask_docker(cfg, inspect, &out);
    line = rc == BK_OK ? strstr(out.buf, "Driver:") : NULL;
    if (line) {
        line += strlen("Driver:");
        line += strspn(line, " \t");
        size_t n = strcspn(line, " \t\r\n");
        if (n < sizeof(driver)) {
            memcpy(driver, line, n);
            driver[n] = '\0';
        }
    }
    bk_strbuf_release(&out);
    bk_error_clear();
    if (!driver[0]) /* cannot tell: let the build try */
        return BK_OK;
    return strcmp(driver, "docker") == 0 ? daemon_verdict(cfg, driver)
                                         : bk_builder_cache_export_verdict(NULL, driver, NULL);
}
