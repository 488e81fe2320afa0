/*
 * runid.h - the run part of a saved key: what makes each save's key unique.
 *
 * A cache mount keeps changing while its Dockerfile-derived key (keys.h)
 * stays the same, and some stores never overwrite a key (the GitHub cache).
 * So save writes "<key>-<run part>", a key no earlier run used, and restore
 * takes the newest entry whose key starts with "<key>" (docs/keys.md).
 *
 * The run part, first found wins:
 *   --run-id ID / $BKCACHE_RUN_ID   ID as given (1-64 of [A-Za-z0-9._-])
 *   GitHub Actions                  gh<GITHUB_RUN_ID>.<GITHUB_RUN_ATTEMPT>
 *   Azure Pipelines                 az<BUILD_BUILDID>[.<SYSTEM_JOBATTEMPT>]
 *   GitLab CI                       gl<CI_PIPELINE_ID>.<CI_JOB_ID>
 *   anywhere else: the clock        t<YYYYMMDD>T<HHMMSS>.<microseconds>-p<pid> (UTC)
 * A re-run gets a new part (a new attempt, job id or time), so two runs
 * never write the same key, and two jobs saving at once leave two entries.
 */
#ifndef BK_RUNID_H
#define BK_RUNID_H

#include <time.h>

#define BK_RUN_PART_MAX 64

struct bk_run_part {
    char text[BK_RUN_PART_MAX + 1]; /* "gh7712345678.1" */
    char source[192];               /* "GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT" */
};

/*
 * Choose the run part. `override` is --run-id (NULL: none); `getenv_fn` the
 * environment (NULL: getenv); `now` and `pid` feed the clock fallback.
 * BK_EINVAL naming the option or variable when an explicit ID breaks the
 * key rules; a CI variable that is not a number is ignored.
 */
int bk_run_part_detect(const char *override, const char *(*getenv_fn)(const char *name),
                       const struct timespec *now, long pid, struct bk_run_part *out);

#endif
