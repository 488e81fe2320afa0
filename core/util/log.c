/*
 * log.c - stderr messages with verbosity and secret masking; see log.h.
 *
 * Each message is formatted into a buffer, scrubbed of registered secrets
 * and written with one write(2), so lines from concurrent threads do not
 * interleave.
 */
#include "core/util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BK_LOG_LINE_MAX 4096
#define BK_MAX_SECRETS 16

int bk_log_verbosity = 2;

static pthread_mutex_t g_secret_lock = PTHREAD_MUTEX_INITIALIZER;
static char *g_secrets[BK_MAX_SECRETS];
static size_t g_nsecrets;

void bk_log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&g_secret_lock);
    for (size_t i = 0; i < g_nsecrets; i++) {
        if (strcmp(g_secrets[i], secret) == 0) {
            pthread_mutex_unlock(&g_secret_lock);
            return;
        }
    }
    if (g_nsecrets < BK_MAX_SECRETS) {
        char *copy = strdup(secret);
        if (copy)
            g_secrets[g_nsecrets++] = copy;
    }
    pthread_mutex_unlock(&g_secret_lock);
}

void bk_log_clear_secrets(void)
{
    pthread_mutex_lock(&g_secret_lock);
    for (size_t i = 0; i < g_nsecrets; i++)
        free(g_secrets[i]);
    g_nsecrets = 0;
    pthread_mutex_unlock(&g_secret_lock);
}

/* At "://": the length of a URL's userinfo ("user:password" before '@'),
 * 0 when the URL has none. */
static size_t userinfo_len(const char *p)
{
    size_t n = strcspn(p, "/?#@ \t\r\n\"'<>");
    return p[n] == '@' ? n : 0;
}

char *bk_log_redact(const char *in, char *out, size_t outsz)
{
    size_t o = 0;

    if (outsz == 0)
        return out;
    pthread_mutex_lock(&g_secret_lock);
    while (*in && o + 1 < outsz) {
        size_t hit = 0;
        for (size_t i = 0; i < g_nsecrets; i++) {
            size_t n = strlen(g_secrets[i]);
            if (strncmp(in, g_secrets[i], n) == 0) {
                hit = n;
                break;
            }
        }
        size_t user = 0;
        if (!hit && strncmp(in, "://", 3) == 0 && (user = userinfo_len(in + 3)) > 0) {
            /* a password in a URL: keep the user name, mask the rest */
            const char *colon = memchr(in + 3, ':', user);
            size_t keep = 3 + (colon ? (size_t)(colon - in - 3) + 1 : 0);
            for (size_t k = 0; k < keep && o + 1 < outsz; k++)
                out[o++] = in[k];
            in += 3 + user;
            hit = 1;
        }
        if (hit) {
            for (const char *m = "***"; *m && o + 1 < outsz; m++)
                out[o++] = *m;
            if (user == 0)
                in += hit;
        } else {
            out[o++] = *in++;
        }
    }
    pthread_mutex_unlock(&g_secret_lock);
    out[o] = '\0';
    return out;
}

void bk_log(int level, const char *fmt, ...)
{
    char raw[BK_LOG_LINE_MAX];
    char line[BK_LOG_LINE_MAX + 16];
    const char *prefix = level <= BK_LOG_ERROR ? "bkcache: " : "";
    va_list ap;
    size_t n;

    if (level > bk_log_verbosity)
        return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    n = strlen(prefix);
    memcpy(line, prefix, n);
    bk_log_redact(raw, line + n, sizeof(line) - n - 1);
    n = strlen(line);
    if (n == 0 || line[n - 1] != '\n')
        line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}
