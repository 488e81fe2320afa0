/*
 * store_int.h - what store.c shares with store_blob.c: the retry loop every
 * operation runs through, the statistics counter and the secret scrubber.
 * Internal to core/store/.
 */
#ifndef BK_STORE_INT_H
#define BK_STORE_INT_H

#include "core/store/store.h"

typedef int (*bk_store__attempt_fn)(struct bk_store *s, void *ctx);

/* Run fn with retries and backoff, timing and counting it as `op` on `what`;
 * the message of a failure is scrubbed of secrets. Safe on several threads. */
int bk_store__run_op(struct bk_store *s, enum bk_store_op op, const char *what,
                     bk_store__attempt_fn fn, void *ctx);

/* Add `bytes` moved (and a failure, when `failed`) to op's statistics. */
void bk_store__count(struct bk_store *s, enum bk_store_op op, uint64_t bytes, int failed);

/* Give the open file `fd` (the store's own, read in place) the name `path`:
 * a hard link when both are on one file system (no data moves), else a
 * copy, through a temporary name next to `path`. Does not close fd. */
int bk_store__place_fd(int fd, const char *path);

/* Scrub registered secrets from the current error message. */
void bk_store__redact_error(void);

#endif
