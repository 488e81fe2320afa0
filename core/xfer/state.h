/*
 * state.h - the state file that carries what restore did over to save.
 *
 * restore and save run as separate steps of one CI job. restore records,
 * per cache identity (by its name), the key it looked for, the key that
 * matched, the hit kind and the content digest of what it put in place;
 * save reads it back to skip uploading a cache that has not changed.
 *
 * Where: --state FILE, else a file in $RUNNER_TEMP, $AGENT_TEMPDIRECTORY,
 * $TMPDIR or /tmp (the first set) named bkcache-state-<hash>.json, where
 * the hash covers the absolute Dockerfile path and the target, so restore
 * and save of one build agree without being told, and two builds in one
 * job do not collide.
 *
 * Format (JSON): {"version": 1, "identities": {"<name>": {"key": ...,
 * "matched_key": ... or null, "hit": "exact"|"partial"|"miss",
 * "digest": ... or null, "store": ...}}}. Written atomically (temporary
 * file + rename). "store" is the identity of the store restore read
 * (bk_store_identity_cli: provider and a hash of its location); save trusts
 * an entry only for that same store, so a save into another store uploads.
 * An entry without it (written before it existed) matches no store.
 *
 * Ownership: struct bk_state owns its entries; bk_state_release() frees them.
 */
#ifndef BK_STATE_H
#define BK_STATE_H

#include <stddef.h>

struct bk_state_entry {
    char *name;        /* identity name */
    char *key;         /* the key restore looked for */
    char *matched_key; /* the key it restored, or NULL on a miss */
    char *hit;         /* "exact", "partial", "miss" */
    char *digest;      /* content digest of the restored tree, or NULL */
    char *store;       /* identity of the store it came from, or NULL */
};

struct bk_state {
    struct bk_state_entry *v;
    size_t n;
};

#define BK_STATE_INIT                                                                              \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* The default state file path for a Dockerfile and target (NULL: the last
 * stage). `getenv` may be NULL. Caller frees. */
char *bk_state_default_path(const char *dockerfile, const char *target,
                            const char *(*getenv_fn)(const char *name));

/* Load `path` into `st` (emptied first). A missing or empty file is an
 * empty state (BK_OK); a malformed one is BK_ECORRUPT naming the file; a
 * symlink or a non-regular file is BK_EINVAL (never followed). */
int bk_state_load(const char *path, struct bk_state *st);

/* Write `st` to `path` atomically (a rename: a symlink there is replaced,
 * never followed). Refuses (BK_EINVAL) when `path` is a symlink, not a
 * regular file, or a non-empty file that is not a state file: --state
 * pointed at the wrong file must not destroy it. */
int bk_state_save(const char *path, const struct bk_state *st);

const struct bk_state_entry *bk_state_find(const struct bk_state *st, const char *name);

/* Add or replace the entry for `name`; NULL strings are stored as NULL. */
void bk_state_set(struct bk_state *st, const char *name, const char *key, const char *matched_key,
                  const char *hit, const char *digest);

/* Record the store of `name`'s entry (added first when missing). */
void bk_state_set_store(struct bk_state *st, const char *name, const char *store);

/* 1 when `e` was recorded for the store `store` (both non-NULL, equal). */
int bk_state_same_store(const struct bk_state_entry *e, const char *store);

void bk_state_release(struct bk_state *st);

#endif
