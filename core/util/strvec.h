/*
 * strvec.h - a NULL-terminated, growable array of owned strings.
 *
 * Used for argv vectors, build args and key lists. `v` is always a valid
 * NULL-terminated array (never NULL after BK_STRVEC_INIT), so it can be passed
 * straight to execvp().
 */
#ifndef BK_STRVEC_H
#define BK_STRVEC_H

#include <stddef.h>

struct bk_strvec {
    char **v;
    size_t n;
    size_t alloc;
};

extern const char *bk_strvec_empty[];
#define BK_STRVEC_INIT                                                                             \
    {                                                                                              \
        (char **)bk_strvec_empty, 0, 0                                                             \
    }

void bk_strvec_push(struct bk_strvec *sv, const char *s);
void bk_strvec_pushf(struct bk_strvec *sv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bk_strvec_push_nodup(struct bk_strvec *sv, char *s); /* takes ownership */
void bk_strvec_clear(struct bk_strvec *sv);
/* Join with `sep`; caller frees. */
char *bk_strvec_join(const struct bk_strvec *sv, const char *sep);
/* Index of the first element equal to s, or -1. */
long bk_strvec_find(const struct bk_strvec *sv, const char *s);

#endif
