/*
 * keys.h - cache keys that follow the Dockerfile.
 *
 * key = <prefix>-<name>-<platform slug>-<hash>, where hash is 32 hex digits
 * of SHA-256 (two halves, below) over a versioned serialization of: the
 * key-schema version, the identity descriptor, the platform, the parsed
 * instructions (not raw text) of every stage that uses the identity and of
 * the stages those depend on, the contents of --key-file globs, and each
 * --key-extra string. docs/keys.md explains the design.
 *
 * The 32 hex digits are two halves: the first 16 hash the Dockerfile part
 * alone (schema, identity, platform, instructions), the last 16 the whole
 * serialization (with key files and extras). restore_keys, most specific
 * first, are "<prefix>-<name>-<slug>-<first 16>" (same Dockerfile, other
 * lockfiles) and "<prefix>-<name>-<slug>-" (any earlier cache of this
 * identity). Every key is at most 512 characters of [A-Za-z0-9._-] (the
 * strictest provider's rules).
 *
 * Saves write "<key>-<run part>" (save_key; runid.h), so a cache that keeps
 * changing under one key is stored again on every run, even on a store that
 * never overwrites a key. With a run part, "<key>" heads restore_keys: a
 * restore takes the newest run of the same key before falling back to
 * other lockfiles and other Dockerfiles. Whatever run saved it, an entry
 * "<key>" or "<key>-<run>" is the same cache (bk_key_same_cache()), an
 * exact hit.
 */
#ifndef BK_KEYS_H
#define BK_KEYS_H

#include "core/plan/buildplan.h"
#include "core/util/strbuf.h"

#define BK_KEY_MAX 512

struct bk_key_opts {
    const char *prefix;                /* --key-prefix; NULL: "bkcache" */
    const struct bk_strvec *key_files; /* --key-file globs; may be NULL */
    const struct bk_strvec *key_extra; /* --key-extra strings; may be NULL */
    const char *base_dir;              /* globs are relative to this; NULL: cwd */
    const char *run_part;              /* runid.h; NULL: saves write the key itself */
};

struct bk_cache_key {
    const struct bk_identity *identity; /* borrowed from the plan */
    char *key;                          /* the Dockerfile-derived key */
    char *save_key; /* what a save writes: "<key>-<run part>", or the key without one */
    struct bk_strvec restore_keys;
};

struct bk_keyset {
    struct bk_cache_key *keys; /* one per plan identity, same order */
    size_t n;
};

int bk_keys_compute(const struct bk_buildplan *plan, const struct bk_key_opts *opts,
                    struct bk_keyset **out);
void bk_keyset_free(struct bk_keyset *ks);

/*
 * The layer cache (the instruction cache BuildKit exports) of the build of
 * plan's target: key "<prefix>-.layers-<target>-<slug>-<32 hex>", hashed
 * like an identity's key over every stage of the target's closure (schema
 * "bkcache-layers v1", the target's label, the platform, the stages'
 * digests, then key files and extras); restore keys "...-<first 16>" and
 * "<prefix>-.layers-<target>-<slug>-". With a run part, save_key and the
 * restore keys are formed as an identity's (the key itself heads them). The name part starts with
 * '.', which no cache mount's name can, so the two kinds of keys never meet. out->identity is NULL;
 * release with bk_cache_key_release().
 */
int bk_keys_layers(const struct bk_buildplan *plan, const struct bk_key_opts *opts,
                   struct bk_cache_key *out);
void bk_cache_key_release(struct bk_cache_key *k);

/* "<prefix>-.layers-<target>-<slug>-": the restore key that finds the
 * newest layer cache of another target (--layers-from). Caller frees. */
char *bk_keys_layers_prefix(const struct bk_buildplan *plan, const struct bk_key_opts *opts,
                            const char *target);

/* 0 when `key` obeys the key rules, else BK_EINVAL naming the key and rule. */
int bk_key_validate(const char *key);

/* 1 when `stored` is `key` or "<key>-<run part>": the same cache, saved by any run. */
int bk_key_same_cache(const char *key, const char *stored);

/* 0 when `prefix` can start a key: 1 to 128 characters of [A-Za-z0-9._-]. */
int bk_key_prefix_validate(const char *prefix);

/*
 * The canonical serialization hashed for identity `i` of `plan` (see
 * docs/keys.md), appended to `out`. The Dockerfile part ends with the line
 * "end-dockerfile\n"; the --key-file and --key-extra part follows. Used by
 * bk_keys_compute() and by tests.
 */
int bk_keys_serialize(const struct bk_buildplan *plan, size_t i, const struct bk_key_opts *opts,
                      struct bk_strbuf *out);

#endif
