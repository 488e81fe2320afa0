/*
 * error.h - status codes and the last-error message.
 *
 * core/util/ is the bottom layer: errors (this file), logging with secret
 * masking (log.h), growable strings and string vectors (strbuf.h, strvec.h),
 * strict number, size and duration parsing (numparse.h), whole and atomic file
 * writes, copies and removals, held temporary directories (fileio.h), JSON
 * files and fields (json.h), SHA-256 in hex (sha256.h), and human-readable
 * times and sizes (format.h). It includes nothing else of bkcache.
 *
 * Every bkcache function that can fail returns an int: 0 (BK_OK) on success,
 * a negative bk_status on failure. Before returning a failure it records a
 * one-line, human-readable message with bk_error_set(); the caller that
 * finally reports the failure (normally the CLI) prints bk_error_msg().
 *
 * Messages follow git's wording rules: lowercase, no full stop, and they name
 * the file, line or key at fault first ("Dockerfile:12: unknown flag: mout").
 * The message is per thread, so transfer threads do not clobber each other.
 *
 * Expected outcomes have their own codes so that callers can branch on them
 * without parsing text: a cache miss is BK_ENOTFOUND, a retryable network
 * problem BK_ETRANSIENT, a policy refusal BK_ESKIPPED. Everything else is
 * BK_ERR (or BK_EINVAL when the user's input is at fault; the CLI exits 2).
 */
#ifndef BK_ERROR_H
#define BK_ERROR_H

enum bk_status {
    BK_OK = 0,
    BK_ERR = -1,        /* generic failure; message says what */
    BK_EINVAL = -2,     /* bad user input: Dockerfile, option, key, archive */
    BK_ENOTFOUND = -3,  /* no such entry / file; a cache miss */
    BK_ETRANSIENT = -4, /* network hiccup, 5xx, 429: worth retrying */
    BK_ETIMEOUT = -5,   /* an operation ran out of time (transient too) */
    BK_EDENIED = -6,    /* authentication or permission refused */
    BK_ESKIPPED = -7,   /* refused by policy: key exists, quota; not an error */
    BK_EEXISTS = -8,    /* the entry already exists */
    BK_ECORRUPT = -9,   /* data failed verification (digest, checksum, format) */
};

/* Record the message for the failure about to be returned. Returns `code`
 * so that `return bk_error_set(BK_EINVAL, "...")` reads naturally. */
int bk_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "<prefix>: ", keeping the code. Used to
 * add context on the way up ("restore go-build: <lower-level message>"). */
int bk_error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The current thread's last message; "" when none. Borrowed, valid until the
 * next bk_error_set on this thread. */
const char *bk_error_msg(void);

/* Forget the current message. */
void bk_error_clear(void);

/* A short stable name for a code: "not-found", "transient", ... */
const char *bk_status_name(int code);

/* True for codes worth retrying (BK_ETRANSIENT, BK_ETIMEOUT). */
int bk_status_retryable(int code);

/* A server's requested delay (Retry-After) for the failure being returned,
 * in milliseconds; core's retry loop waits at least this long. Cleared by
 * bk_error_set(). -1 when none was given. */
void bk_error_set_retry_after(long ms);
long bk_error_retry_after_ms(void);

#endif
