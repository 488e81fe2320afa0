/*
 * gitlab_common.h - the GitLab CI provider's private interface, shared by
 * its files and its unit tests. Nothing outside providers/gitlab*.c and
 * tests/unit/test_providers_gitlab*.c includes it; core sees the provider only
 * through `bk_provider_gitlab` (providers/provider.h).
 *
 * One provider name, `gitlab`, two stores chosen by `--store-opt store=`:
 *
 *   runner    (default) a local store in a directory inside $CI_PROJECT_DIR
 *             (default .bkcache/) that the job's `cache:` keyword carries
 *             between jobs; LRU-evicted down to max-size / keep on every save.
 *             providers/gitlab_runnercache.c.
 *   packages  the project's generic package registry: one package version per
 *             key, listed for prefix restores, old versions deleted down to
 *             keep. providers/gitlab_packages.c.
 *
 * gitlab_parse_config() is pure (environment through cfg->getenv, no I/O) so
 * the unit tests drive it with a fake environment. The config owns every
 * string in it; gitlab_config_release() frees them.
 */
#ifndef BK_PROVIDERS_GITLAB_COMMON_H
#define BK_PROVIDERS_GITLAB_COMMON_H

#include "providers/provider.h"

#include <stdint.h>

enum gitlab_store_kind {
    GITLAB_STORE_RUNNER,
    GITLAB_STORE_PACKAGES,
};

extern const struct bk_provider_ops bk_provider_gitlab;

/* The generic package registry's default per-file limit (5 GiB). */
#define GITLAB_DEFAULT_MAX_FILE_SIZE (5ull << 30)
/* File name of the archive inside each package version. */
#define GITLAB_ARCHIVE_FILE "cache.tar.zst"

struct gitlab_config {
    enum gitlab_store_kind kind;
    long keep; /* keep=N: at most N entries after a save; -1: no limit */
    /* runner store */
    char *dir;           /* archive directory (absolute when CI_PROJECT_DIR is known) */
    uint64_t max_size;   /* max-size=SIZE: total archive bytes; 0: no limit */
    int outside_project; /* dir is not under CI_PROJECT_DIR: the runner will not carry it */
    /* packages store */
    char *api_url;            /* CI_API_V4_URL or api-url=, no trailing slash */
    char *project;            /* CI_PROJECT_ID, the URL-encoded CI_PROJECT_PATH, or project= */
    char *package;            /* package=NAME; NULL: derived from each key's first segment */
    char *token;              /* NULL: anonymous (public projects, read-only use) */
    const char *token_header; /* "JOB-TOKEN", "PRIVATE-TOKEN" or "DEPLOY-TOKEN" */
    uint64_t max_file_size;   /* max-file-size=SIZE; 0: unlimited */
    int hidden;               /* status=hidden: keep the packages out of the UI */
    int list_sizes;           /* list() asks each version's files for its size (ls, prune) */
};

/* Fill `c` from cfg (attrs, store, environment). BK_EINVAL naming the option
 * or variable at fault. On failure `c` holds nothing to release. */
int gitlab_parse_config(const struct bk_provider_config *cfg, struct gitlab_config *c);
void gitlab_config_release(struct gitlab_config *c);

/* A package name the registry accepts: letters, digits and . _ - +. */
int gitlab_valid_package_name(const char *s);

/*
 * The package version a key is stored under. A key that is a portable
 * version (at most 200 characters of [A-Za-z0-9._-], alphanumeric at both
 * ends, no "..") is used as it is, so listings show real keys and prefix
 * restores match on the version. Any other key becomes its longest portable
 * prefix (at most 120 characters) + ".h" + 24 hex digits of its SHA-256:
 * exact lookups still work, prefix restores match only within that readable
 * part, and listings show such a version as its readable part + "*".
 * Caller frees.
 */
char *gitlab_key_to_version(const char *key);
/* The key prefix a version shows: the version itself, or its readable part
 * when it has the hashed form. Caller frees. */
char *gitlab_version_key_part(const char *version, int *hashed);
/* The package name for `key` when package= is unset: its text before the
 * first '-' ("bkcache" for "bkcache-go-linux-amd64-…"). Caller frees. */
char *gitlab_package_for_key(const char *key);

/* The runner store is a local store in c->dir (providers/local.c, through
 * the registry) plus a size budget enforced on upload. */
int gitlab_runner_open(const struct bk_provider_config *cfg, const struct gitlab_config *c,
                       struct bk_provider **out);
int gitlab_runner_upload(const struct gitlab_config *c, struct bk_provider *store,
                         const struct bk_upload *u, int fd);

/* The package registry store (same contracts as provider.h). */
int gitlab_packages_lookup(const struct gitlab_config *c, const struct bk_lookup *q,
                           struct bk_provider_entry *out);
int gitlab_packages_download(const struct gitlab_config *c, const struct bk_provider_entry *e,
                             int fd);
int gitlab_packages_upload(const struct gitlab_config *c, const struct bk_upload *u, int fd);
int gitlab_packages_list(const struct gitlab_config *c, bk_entry_cb cb, void *payload);
int gitlab_packages_remove(const struct gitlab_config *c, const struct bk_provider_entry *e);

#endif
