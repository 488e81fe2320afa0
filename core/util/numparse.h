/*
 * numparse.h - strict parsing of whole numbers, sizes and durations from
 * option and environment values, with one error wording for every caller.
 */
#ifndef BK_NUMPARSE_H
#define BK_NUMPARSE_H

#include <stdint.h>

/* Parse all of `v` as a decimal integer in [lo, hi] into *out. Otherwise
 * BK_EINVAL with "<what>: expected a number from LO to HI, got 'V'". */
int bk_parse_long(const char *what, const char *v, long lo, long hi, long *out);

/* Parse "10G", "500M", "1024" (bytes; K/M/G/T are powers of 1024, an
 * optional "iB"/"B" may follow). */
int bk_parse_size(const char *s, uint64_t *out);
/* Parse "30d", "12h", "90m", "45s", "2w", "3600" (seconds). */
int bk_parse_duration(const char *s, int64_t *out);

#endif
