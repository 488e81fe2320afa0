/*
 * dockerfile_text.c - byte-level text helpers for the Dockerfile parser.
 *
 * BuildKit is written in Go, so "white space" and "character" there mean Go's
 * unicode.IsSpace and utf8.DecodeRune. To split and trim lines exactly as
 * BuildKit does (an NBSP at the start of a line is trimmed, an invalid UTF-8
 * byte decodes to U+FFFD), the parser uses these helpers instead of <ctype.h>.
 * Also here: the small owned-string list the parser builds its nodes from.
 */
#include "core/dockerfile/dockerfile_int.h"

#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

void bk_df__list_push(struct bk_df_list *l, const char *s, size_t n)
{
    if (l->n == l->alloc) {
        l->alloc = l->alloc ? l->alloc * 2 : 4;
        l->v = bk_xrealloc(l->v, l->alloc * sizeof(*l->v));
        l->lens = bk_xrealloc(l->lens, l->alloc * sizeof(*l->lens));
    }
    l->v[l->n] = bk_xstrndup(s, n);
    l->lens[l->n] = n;
    l->n++;
}

void bk_df__list_free(struct bk_df_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    free(l->lens);
    memset(l, 0, sizeof(*l));
}

size_t bk_df__utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char c = p[0];
    uint32_t r, min;
    size_t w;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        w = 2, r = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        w = 3, r = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        w = 4, r = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (n < w) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < w; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        r = (r << 6) | (p[i] & 0x3F);
    }
    if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = r;
    return w;
}

void bk_df__utf8_encode(struct bk_strbuf *sb, uint32_t cp)
{
    char b[4];
    size_t n;

    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    bk_strbuf_add(sb, b, n);
}

int bk_df__is_space(uint32_t cp)
{
    switch (cp) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return 1;
    default: return cp >= 0x2000 && cp <= 0x200A;
    }
}

size_t bk_df__space_at(const char *p, size_t n)
{
    uint32_t cp;
    size_t w;

    if (n == 0)
        return 0;
    w = bk_df__utf8_decode((const unsigned char *)p, n, &cp);
    return bk_df__is_space(cp) ? w : 0;
}

void bk_df__trim_space(const char **s, size_t *n)
{
    size_t w;

    while ((w = bk_df__space_at(*s, *n)) > 0)
        *s += w, *n -= w;
    /* Trailing: step back over whole UTF-8 sequences (at most 4 bytes). */
    while (*n > 0) {
        size_t back = 1;
        while (back < 4 && back < *n && ((unsigned char)(*s)[*n - back] & 0xC0) == 0x80)
            back++;
        /* Go's DecodeLastRune: anything but one whole space rune stops. */
        if (bk_df__space_at(*s + *n - back, back) != back)
            break;
        *n -= back;
    }
}
