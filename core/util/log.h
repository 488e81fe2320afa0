/*
 * log.h - messages to stderr, one verbosity level, secret masking.
 *
 * stdout carries results only (tables, JSON); everything a person reads while
 * bkcache works goes to stderr through these functions.
 *
 * Verbosity is one integer, as in zstd's CLI: 0 silent, 1 errors, 2 warnings
 * and results (default), 3 progress, 4 debug. -q and -v step it.
 *
 * Secrets (tokens, signed URLs' signatures) are registered once with
 * bk_log_add_secret(); every message is scrubbed of them before it is
 * written, so a provider can log a URL or a header without leaking a token.
 * A URL's userinfo is masked too, wherever it appears in a message: the
 * password of "http://user:SECRET@host/" prints as "http://user:***@host/",
 * and a userinfo without ':' (a token as user name) by "***" as a whole.
 */
#ifndef BK_LOG_H
#define BK_LOG_H

#include <stddef.h>

enum bk_log_level {
    BK_LOG_ERROR = 1,
    BK_LOG_WARN = 2,
    BK_LOG_INFO = 2,
    BK_LOG_PROGRESS = 3,
    BK_LOG_DEBUG = 4,
};

extern int bk_log_verbosity;

void bk_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define bk_error(...) bk_log(BK_LOG_ERROR, __VA_ARGS__)
#define bk_warn(...) bk_log(BK_LOG_WARN, __VA_ARGS__)
#define bk_info(...) bk_log(BK_LOG_INFO, __VA_ARGS__)
#define bk_progress(...) bk_log(BK_LOG_PROGRESS, __VA_ARGS__)
#define bk_debug(...) bk_log(BK_LOG_DEBUG, __VA_ARGS__)

/* Never print `secret` (length >= 4) again: every later message has it
 * replaced by "***". The string is copied. Thread-safe. */
void bk_log_add_secret(const char *secret);

/* Copy `in` into `out` (size `outsz`, always NUL-terminated) with every
 * registered secret, and every URL's password, replaced by "***". */
char *bk_log_redact(const char *in, char *out, size_t outsz);

/* Drop all registered secrets (tests). */
void bk_log_clear_secrets(void);

#endif
