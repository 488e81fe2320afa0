/*
 * error.c - per-thread last-error message; see error.h.
 */
#include "core/util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define BK_ERROR_MAX 1024

static _Thread_local char g_msg[BK_ERROR_MAX];
static _Thread_local long g_retry_after_ms = -1;

int bk_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof(g_msg), fmt, ap);
    va_end(ap);
    g_retry_after_ms = -1;
    return code;
}

void bk_error_set_retry_after(long ms)
{
    g_retry_after_ms = ms;
}

long bk_error_retry_after_ms(void)
{
    return g_retry_after_ms;
}

int bk_error_wrap(int code, const char *fmt, ...)
{
    char prefix[BK_ERROR_MAX];
    char old[BK_ERROR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof(old));
    if (old[0])
        snprintf(g_msg, sizeof(g_msg), "%s: %s", prefix, old);
    else
        snprintf(g_msg, sizeof(g_msg), "%s", prefix);
    return code;
}

const char *bk_error_msg(void)
{
    return g_msg;
}

void bk_error_clear(void)
{
    g_msg[0] = '\0';
}

const char *bk_status_name(int code)
{
    switch (code) {
    case BK_OK: return "ok";
    case BK_EINVAL: return "invalid";
    case BK_ENOTFOUND: return "not-found";
    case BK_ETRANSIENT: return "transient";
    case BK_ETIMEOUT: return "timeout";
    case BK_EDENIED: return "denied";
    case BK_ESKIPPED: return "skipped";
    case BK_EEXISTS: return "exists";
    case BK_ECORRUPT: return "corrupt";
    default: return "error";
    }
}

int bk_status_retryable(int code)
{
    return code == BK_ETRANSIENT || code == BK_ETIMEOUT;
}
