/*
 * project.h - from the command line's Dockerfile options to mounts and keys.
 *
 * Every command that works on a Dockerfile (mounts, key, plan, save,
 * restore) starts the same way: read the Dockerfile (-f, "-" for stdin),
 * resolve the build plan for --target / --build-arg / --platform, and
 * compute the cache keys with --key-prefix / --key-file / --key-extra.
 * bk_project_load() does all of it in one call so the commands agree.
 *
 *     struct bk_project *p;
 *     int rc = bk_project_load(opts, BK_PROJECT_KEYS, &p);
 *     if (rc)
 *         return bk_project_report_error(rc); // prints; returns the exit status
 *     for (size_t i = 0; i < p->plan->nidentities; i++)
 *         use(&p->plan->identities[i], &p->keys->keys[i]);
 *     bk_project_free(p);
 *
 * Key files are globbed relative to --context when given, else to the
 * Dockerfile's directory (the current directory for stdin).
 *
 * Errors: BK_EINVAL for bad input (message "FILE:LINE: ..." for Dockerfile
 * problems, "FILE: ..." for an unreadable file), BK_ERR for I/O failures
 * such as an unreadable --key-file. Nothing is printed on stdout.
 */
#ifndef BK_PROJECT_H
#define BK_PROJECT_H

#include "core/plan/buildplan.h"
#include "core/cli/cli.h"
#include "core/dockerfile/dockerfile.h"
#include "core/plan/keys.h"
#include "core/plan/runid.h"

enum bk_project_flags {
    BK_PROJECT_KEYS = 1u << 0, /* also compute keys (needs the key option group) */
};

struct bk_project {
    struct bk_dockerfile *df;
    struct bk_buildplan *plan;
    struct bk_keyset *keys; /* NULL unless BK_PROJECT_KEYS; keys[i] is for identities[i] */
    char *base_dir;         /* directory that --key-file globs are relative to */
    struct bk_run_part run; /* the run part of saved keys, and where it came from */
};

/* Load the Dockerfile named by opts->file and resolve it. *out is owned by
 * the caller (bk_project_free). On failure *out is NULL and the message is
 * set. */
int bk_project_load(const struct bk_options *opts, unsigned flags, struct bk_project **out);
void bk_project_free(struct bk_project *p);

struct bk_buildspec;

/* The same for one build of a compose or bake file, or of the user's build
 * command (core/buildspec/): its Dockerfile (or dockerfile_inline), target,
 * build args and `platform` (one of the spec's platforms, or NULL); the key
 * options come from `opts`, key files are relative to the spec's context.
 * Messages name the spec: "compose.yaml: service web: ...". */
int bk_project_load_spec(const struct bk_options *opts, const struct bk_buildspec *spec,
                         const char *platform, unsigned flags, struct bk_project **out);

/* Print the current error as "bkcache: <message>" on stderr; returns 2, the
 * exit status for bad input (1 for other failures, with `code` BK_ERR). */
int bk_project_report_error(int code);

#endif
