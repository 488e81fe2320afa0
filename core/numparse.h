/*
 * numparse.h - strict parsing of whole numbers from option and environment
 * values, with one error wording for every caller.
 */
#ifndef BK_NUMPARSE_H
#define BK_NUMPARSE_H

/* Parse all of `v` as a decimal integer in [lo, hi] into *out. Otherwise
 * BK_EINVAL with "<what>: expected a number from LO to HI, got 'V'". */
int bk_parse_long(const char *what, const char *v, long lo, long hi, long *out);

#endif
