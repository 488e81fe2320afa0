/*
 * gitlab_common.c - the pieces every GitLab store file shares; see
 * gitlab_common.h: SHA-256 helpers, and the mapping between cache keys and
 * the package registry's names and versions (pure functions, unit-tested).
 */
#include "providers/gitlab_common.h"

#include "core/util/error.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VERSION_MAX 200  /* a key up to this long is its own package version */
#define READABLE_MAX 120 /* the readable part of a hashed version */
#define HASH_HEX 24

static int portable_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '-';
}

int gitlab_valid_package_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!portable_char(*s) && *s != '+')
            return 0;
    return 1;
}

static int portable_version(const char *s, size_t n)
{
    if (n == 0 || n > VERSION_MAX)
        return 0;
    if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!portable_char(s[i]))
            return 0;
        if (s[i] == '.' && i + 1 < n && s[i + 1] == '.')
            return 0;
    }
    return 1;
}

char *gitlab_key_to_version(const char *key)
{
    size_t n = strlen(key), keep = 0;
    char hex[65];

    if (portable_version(key, n))
        return bk_xstrdup(key);
    /* longest portable prefix: stop at the first bad character or "..", then
     * trim back to an alphanumeric end */
    while (keep < n && keep < READABLE_MAX && portable_char(key[keep]) &&
           !(key[keep] == '.' && key[keep + 1] == '.'))
        keep++;
    while (keep > 0 && !isalnum((unsigned char)key[keep - 1]))
        keep--;
    if (keep > 0 && !isalnum((unsigned char)key[0]))
        keep = 0;
    bk_sha256_hex(key, n, hex);
    return bk_xasprintf("%.*s%sh%.*s", (int)keep, key, keep ? "." : "", HASH_HEX, hex);
}

char *gitlab_version_key_part(const char *version, int *hashed)
{
    size_t n = strlen(version);
    size_t tail = 1 + HASH_HEX; /* "h" + hex */
    int h = 0;

    if (n >= tail) {
        const char *t = version + n - tail;
        h = t[0] == 'h' && (t == version || t[-1] == '.');
        for (size_t i = 1; h && i < tail; i++)
            h = isxdigit((unsigned char)t[i]) && !isupper((unsigned char)t[i]);
    }
    if (hashed)
        *hashed = h;
    if (!h)
        return bk_xstrdup(version);
    n -= tail;
    return bk_xstrndup(version, n ? n - 1 : 0);
}

char *gitlab_package_for_key(const char *key)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (const char *p = key; *p && *p != '-'; p++)
        bk_strbuf_addch(&sb, portable_char(*p) || *p == '+' ? *p : '_');
    if (sb.len == 0)
        bk_strbuf_adds(&sb, "bkcache");
    return bk_strbuf_detach(&sb);
}
