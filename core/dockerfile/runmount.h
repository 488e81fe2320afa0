/*
 * runmount.h - one `RUN --mount=VALUE` flag, read the way BuildKit reads it.
 *
 * BuildKit evaluates a mount in two phases (spec sections 2.2 to 2.5):
 *
 *  1. parse time, in every stage, with no variables: VALUE is split as one
 *     CSV record and only `from` is read; a `$` in `from` (anywhere but as
 *     its last character) is an error for every mount type. The literal
 *     `from` values build the stage graph. -> bk_runmount_parse_from()
 *  2. dispatch time, only in stages the build runs: every value is expanded
 *     with the stage's variables, then keys and values are validated
 *     (type, sharing, mode in octal, uid/gid in decimal, ...).
 *     -> bk_runmount_parse()
 *
 * The cache-specific derivations (default id = path.Clean(target as
 * written), mount path joined to the working directory, the mkdir base
 * layer) are in bk_runmount_cache_id() and bk_runmount_mount_path().
 *
 * Errors are BK_EINVAL with BuildKit's wording ("unexpected key 'x' in
 * 'x=1'", "invalid value 99a for mode", ...); callers prefix FILE:LINE.
 * A struct bk_runmount owns its strings; release with bk_runmount_release().
 */
#ifndef BK_RUNMOUNT_H
#define BK_RUNMOUNT_H

#include "core/dockerfile/shell_lex.h"

#include <stdint.h>

enum bk_mount_type { BK_MOUNT_BIND, BK_MOUNT_CACHE, BK_MOUNT_TMPFS, BK_MOUNT_SECRET, BK_MOUNT_SSH };

enum bk_sharing { BK_SHARING_SHARED, BK_SHARING_PRIVATE, BK_SHARING_LOCKED };

struct bk_runmount {
    enum bk_mount_type type; /* bind when `type` is absent */
    char *from;              /* NULL when absent */
    char *source;            /* NULL when absent */
    char *target;            /* NULL when absent */
    char *id;                /* explicit id, NULL when absent */
    char *env;               /* secret env=, NULL when absent */
    enum bk_sharing sharing; /* shared by default */
    int readonly;            /* after the per-type default */
    int required;
    int has_uid, has_gid, has_mode;
    uint32_t uid, gid, mode; /* 0, 0, 0755 unless given */
    int64_t size;            /* tmpfs size= in bytes, 0 when absent */
};

/* Names for messages and JSON: "shared", "private", "locked"; "cache", ... */
const char *bk_sharing_name(enum bk_sharing s);
const char *bk_mount_type_name(enum bk_mount_type t);

/*
 * Parse time. Split `value` and return the literal `from` in *from_out (NULL
 * when absent; caller frees). Errors: CSV errors, `$` in from.
 */
int bk_runmount_parse_from(const char *value, char **from_out);

/*
 * Dispatch time. Expand every value with `vars` and `escape` (see
 * shell_lex.h) and validate. On error `out` holds nothing to free.
 */
int bk_runmount_parse(const char *value, char escape, const struct bk_vars *vars,
                      struct bk_runmount *out);

void bk_runmount_release(struct bk_runmount *m);

/* The cache id without namespace: the explicit id, else path.Clean(target
 * as written) ("." when there is no target). Caller frees. */
char *bk_runmount_cache_id(const struct bk_runmount *m);

/*
 * The mount point as BuildKit mounts it: an absolute target as written
 * (not cleaned), a relative one joined to `workdir` and cleaned. "/" is an
 * error ("invalid mount target \"/\""). *out is caller-owned.
 */
int bk_runmount_mount_path(const struct bk_runmount *m, const char *workdir, char **out);

/* 1 when BuildKit seeds the cache with a mkdir(uid,gid,mode) base layer:
 * uid, gid or mode given (even at its default) and no source. */
int bk_runmount_has_base(const struct bk_runmount *m);

/* Go's path.Clean. Caller frees. */
char *bk_path_clean(const char *p);

#endif
