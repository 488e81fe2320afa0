/*
 * strvec.c - NULL-terminated string vectors; see strvec.h.
 */
#include "core/util/strvec.h"

#include "core/util/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bk_strvec_empty[] = {NULL};

void bk_strvec_push_nodup(struct bk_strvec *sv, char *s)
{
    if (sv->n + 2 > sv->alloc) {
        size_t cap = sv->alloc ? sv->alloc * 2 : 8;
        char **nv =
            sv->alloc ? bk_xrealloc(sv->v, cap * sizeof(*nv)) : bk_xmalloc(cap * sizeof(*nv));
        sv->v = nv;
        sv->alloc = cap;
    }
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
}

void bk_strvec_push(struct bk_strvec *sv, const char *s)
{
    bk_strvec_push_nodup(sv, bk_xstrdup(s));
}

void bk_strvec_pushf(struct bk_strvec *sv, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    s = bk_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bk_strvec_push_nodup(sv, s);
}

void bk_strvec_clear(struct bk_strvec *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    if (sv->alloc)
        free(sv->v);
    sv->v = (char **)bk_strvec_empty;
    sv->n = 0;
    sv->alloc = 0;
}

char *bk_strvec_join(const struct bk_strvec *sv, const char *sep)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (size_t i = 0; i < sv->n; i++) {
        if (i)
            bk_strbuf_adds(&sb, sep);
        bk_strbuf_adds(&sb, sv->v[i]);
    }
    return bk_strbuf_detach(&sb);
}

long bk_strvec_find(const struct bk_strvec *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return (long)i;
    return -1;
}
