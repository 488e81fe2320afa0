/*
 * numparse.c - strict whole-number parsing; see numparse.h.
 */
#include "core/numparse.h"

#include "core/error.h"

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
