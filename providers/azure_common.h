/*
 * azure_common.h - internals shared by the Azure Pipelines provider's files.
 *
 * The provider keeps each cache archive as a build (container) artifact of
 * the run that saved it: the artifact is named exactly after the key, its
 * container folder is the key too, and the archive is the one file in it
 * (<key>/cache.tar.zst). It is split in four files:
 *
 *   azure_common.c  the request helper (errors, pacing) and the branch rule,
 *                   used by both sides below;
 *   azure.c         configuration, authentication, the vtable, save (file-container upload in
 * Content-Range chunks + association, or the agent's artifact.upload logging command with
 * `--store-opt upload=agent`); azure_builds.c  restore: walk completed builds of the same
 * definition, newest first, branch by branch, and read their artifacts; download one container
 * file; list; azure_vso.c     the `##vso[...]` logging-command escaping rules.
 *
 * Wire format and variables: ../shared/specs/azure-pipelines.md; the user
 * side: docs/azure-pipelines.md. Nothing here is public API: core reaches the
 * provider only through `bk_provider_azure`.
 */
#ifndef BK_PROVIDERS_AZURE_COMMON_H
#define BK_PROVIDERS_AZURE_COMMON_H

#include "core/net/http.h"
#include "providers/provider.h"

#include <stdint.h>

#define AZURE_API_BUILD "7.1"
#define AZURE_API_CONTAINER "7.1-preview.4"
#define AZURE_ARCHIVE_NAME "cache.tar.zst"
#define AZURE_DEFAULT_CHUNK (8u << 20)
#define AZURE_MAX_CHUNK (64u << 20)

/* Everything the provider needs, from the predefined variables, --store and
 * --store-opt. Owned strings; release with azure_config_release(). */
struct azure_config {
    char *collection;     /* SYSTEM_COLLECTIONURI or --store, always ending in '/' */
    char *project;        /* URL path segment: project id, else the encoded name */
    char *project_id;     /* SYSTEM_TEAMPROJECTID: the `scope` of container calls; may be NULL */
    long definition_id;   /* SYSTEM_DEFINITIONID */
    long build_id;        /* BUILD_BUILDID: the run that saves; 0 when unknown */
    long container_id;    /* BUILD_CONTAINERID: where saves go; 0 when unknown */
    char *job_id;         /* SYSTEM_JOBID: the artifact's `source`; may be NULL */
    char *branch;         /* BUILD_SOURCEBRANCH: refs/heads/x, refs/pull/1/merge; may be NULL */
    char *target_branch;  /* SYSTEM_PULLREQUEST_TARGETBRANCH as refs/heads/x; may be NULL */
    char *default_branch; /* --store-opt default-branch; NULL: ask the definition */
    char *auth_header;    /* "Authorization: Bearer|Basic ..." (a secret) */
    char *temp_dir;       /* AGENT_TEMPDIRECTORY, else TMPDIR, else /tmp (agent uploads) */
    int upload_agent;     /* --store-opt upload=agent: emit ##vso[artifact.upload] */
    uint64_t chunk_size;  /* --store-opt chunk-size; default 8 MiB */
    long page_size;       /* --store-opt page-size: builds per request ($top); default 20 */
    long max_builds;      /* --store-opt max-builds: builds read per branch; default 50 */
    long retry_ms;        /* --store-opt retry-ms: first pause between chunk attempts */
};

/*
 * Fill `out` from cfg->getenv, cfg->store and cfg->attrs; pure (no network).
 * BK_EINVAL naming the variable or option at fault; BK_EDENIED with the one
 * line that says how to map SYSTEM_ACCESSTOKEN into the step when no token
 * is found. On failure `out` holds nothing to release.
 */
int azure_parse_config(const struct bk_provider_config *cfg, struct azure_config *out);
void azure_config_release(struct azure_config *c);

/* "refs/heads/x" for "x", unchanged when it already starts with "refs/". Caller frees. */
char *azure_normalize_branch(const char *branch);

extern const struct bk_provider_ops bk_provider_azure;

/* The Container artifacts of one earlier run. A command looks up several
 * keys (one per cache identity) in the same runs, so each run's artifact list
 * is read once per provider instance. */
struct azure_run_artifacts {
    long build_id;
    struct bk_provider_entry *v;
    size_t n;
};

/* One provider instance. */
struct azure_provider {
    struct bk_provider base;
    struct azure_config cfg;
    unsigned uploads; /* upload attempts so far: a retry writes a fresh item path */
    int default_branch_looked_up;
    struct azure_run_artifacts *runs; /* artifact lists read so far */
    size_t nruns;
};

/*
 * One REST call: adds the Authorization header and, unless `extra` names one,
 * `Accept: application/json`, runs `req` and maps the status with
 * bk_http_check() (`what` starts the message). A 2xx that is HTML (a sign-in
 * page) is BK_EDENIED. A Retry-After on a success is honoured by sleeping
 * (at most 60 s) before returning, as the service asks.
 */
int azure_call(struct azure_provider *az, struct bk_http_request *req,
               const struct bk_strvec *extra, struct bk_http_response *resp, const char *what,
               unsigned flags);

/* azure_call() flags */
#define AZURE_CALL_REDIRECT 1u /* a 3xx with a Location is BK_OK: the caller follows it */

/* Sleep `ms` milliseconds (EINTR-safe). */
void azure_sleep_ms(long ms);

/* ---- azure_builds.c ---- */
int azure_lookup(struct bk_provider *p, const struct bk_lookup *q, struct bk_provider_entry *out);
int azure_download(struct bk_provider *p, const struct bk_provider_entry *e, int fd);
int azure_list(struct bk_provider *p, bk_entry_cb cb, void *payload);
/* Free az->runs. */
void azure_runs_release(struct azure_provider *az);

/* "#/<containerId>/<root>" (resource.data of a Container artifact) into its
 * parts; BK_EINVAL when it is not that shape. *root_out: caller frees. */
int azure_parse_container_ref(const char *data, long *container_out, char **root_out);

/* ISO 8601 UTC ("2024-05-01T10:00:00.123Z") as Unix seconds; 0 when unparsable. */
int64_t azure_parse_time(const char *s);

/* ---- azure_vso.c ---- */

/* Escape a logging-command property value (%, CR, LF, ']', ';'). Caller frees. */
char *azure_vso_escape_property(const char *s);
/* Escape a logging-command message (%, CR, LF). Caller frees. */
char *azure_vso_escape_message(const char *s);

#endif
