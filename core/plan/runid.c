/*
 * runid.c - the run part of a saved key; see runid.h.
 */
#include "core/plan/runid.h"

#include "core/util/error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env(const char *(*getenv_fn)(const char *), const char *name)
{
    const char *v = getenv_fn ? getenv_fn(name) : getenv(name);
    return v && *v ? v : NULL;
}

/* A CI run number: 1 to 20 decimal digits. */
static const char *number(const char *(*getenv_fn)(const char *), const char *name)
{
    const char *v = env(getenv_fn, name);
    size_t n = v ? strlen(v) : 0;

    if (!v || n > 20)
        return NULL;
    for (const char *p = v; *p; p++)
        if (!isdigit((unsigned char)*p))
            return NULL;
    return v;
}

static int explicit_id(const char *id, const char *what, struct bk_run_part *out)
{
    size_t n = strlen(id);

    if (n == 0 || n > BK_RUN_PART_MAX)
        return bk_error_set(BK_EINVAL, "%s: a run id is 1 to %d characters, got '%s'", what,
                            BK_RUN_PART_MAX, id);
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return bk_error_set(BK_EINVAL,
                                "%s: run id '%s' has '%c'; only A-Z a-z 0-9 . _ - are allowed",
                                what, id, *p);
    snprintf(out->text, sizeof(out->text), "%s", id);
    snprintf(out->source, sizeof(out->source), "%s", what);
    return BK_OK;
}

int bk_run_part_detect(const char *override, const char *(*getenv_fn)(const char *name),
                       const struct timespec *now, long pid, struct bk_run_part *out)
{
    const char *a, *b;
    struct tm tm;

    memset(out, 0, sizeof(*out));
    if (override)
        return explicit_id(override, "--run-id", out);
    if ((a = env(getenv_fn, "BKCACHE_RUN_ID")))
        return explicit_id(a, "BKCACHE_RUN_ID", out);
    if ((a = number(getenv_fn, "GITHUB_RUN_ID"))) {
        b = number(getenv_fn, "GITHUB_RUN_ATTEMPT");
        snprintf(out->text, sizeof(out->text), "gh%s.%s", a, b ? b : "1");
        snprintf(out->source, sizeof(out->source), "GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT");
        return BK_OK;
    }
    if ((a = number(getenv_fn, "BUILD_BUILDID"))) {
        b = number(getenv_fn, "SYSTEM_JOBATTEMPT");
        snprintf(out->text, sizeof(out->text), "az%s%s%s", a, b ? "." : "", b ? b : "");
        snprintf(out->source, sizeof(out->source), "BUILD_BUILDID%s",
                 b ? ", SYSTEM_JOBATTEMPT" : "");
        return BK_OK;
    }
    if ((a = number(getenv_fn, "CI_PIPELINE_ID")) && (b = number(getenv_fn, "CI_JOB_ID"))) {
        snprintf(out->text, sizeof(out->text), "gl%s.%s", a, b);
        snprintf(out->source, sizeof(out->source), "CI_PIPELINE_ID, CI_JOB_ID");
        return BK_OK;
    }
    gmtime_r(&now->tv_sec, &tm);
    snprintf(out->text, sizeof(out->text), "t%04d%02d%02dT%02d%02d%02d.%06ld-p%ld",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             now->tv_nsec / 1000, pid);
    snprintf(out->source, sizeof(out->source),
             "the clock and process id; no --run-id, BKCACHE_RUN_ID or CI run variables");
    return BK_OK;
}
