/*
 * numparse.c - strict whole-number parsing; see numparse.h.
 */
#include "core/util/numparse.h"

#include "core/util/error.h"

#include <stdint.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

int bk_parse_long(const char *what, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return bk_error_set(BK_EINVAL, "%s: expected a number from %ld to %ld, got '%s'", what, lo,
                            hi, v);
    *out = n;
    return BK_OK;
}

int bk_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return bk_error_set(BK_EINVAL, "invalid size: '%s'", s);
    uint64_t mul = 1;
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K':
        mul = 1ull << 10;
        end++;
        break;
    case 'M':
        mul = 1ull << 20;
        end++;
        break;
    case 'G':
        mul = 1ull << 30;
        end++;
        break;
    case 'T':
        mul = 1ull << 40;
        end++;
        break;
    default: return bk_error_set(BK_EINVAL, "invalid size: '%s' (use K, M, G or T)", s);
    }
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end)
        return bk_error_set(BK_EINVAL, "invalid size: '%s'", s);
    if (mul > 1 && v > UINT64_MAX / mul)
        return bk_error_set(BK_EINVAL, "size too large: '%s'", s);
    *out = (uint64_t)v * mul;
    return BK_OK;
}

int bk_parse_duration(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return bk_error_set(BK_EINVAL, "invalid duration: '%s'", s);
    int64_t mul = 1;
    switch (*end) {
    case '\0':
    case 's': break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    case 'w': mul = 7 * 86400; break;
    default: return bk_error_set(BK_EINVAL, "invalid duration: '%s' (use s, m, h, d or w)", s);
    }
    if (*end && end[1])
        return bk_error_set(BK_EINVAL, "invalid duration: '%s'", s);
    *out = (int64_t)v * mul;
    return BK_OK;
}
