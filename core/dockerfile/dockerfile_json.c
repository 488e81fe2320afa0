/*
 * dockerfile_json.c - the exec-form reader: a JSON array of strings.
 *
 * BuildKit hands the argument text to Go's encoding/json, so this follows
 * Go's rules rather than a general-purpose JSON library's:
 *   - the whole text must be one valid JSON value (only space, tab, CR and LF
 *     around it); anything else means "not JSON" and the line is shell form;
 *   - validity is checked before types, so `[1, "a"` is shell form while
 *     `[1]` is the hard error "arrays must be comprised of strings only";
 *   - nesting deeper than 10000 is invalid JSON (Go's limit);
 *   - in strings, invalid UTF-8 bytes and lone surrogates become U+FFFD, and
 *     \u0000 is kept as a NUL byte (callers use the lengths).
 */
#include "core/dockerfile/dockerfile_int.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <string.h>

#define JSON_MAX_DEPTH 10000

struct jreader {
    const unsigned char *p;
    size_t n;
    size_t i;
};

static void skip_ws(struct jreader *r)
{
    while (r->i < r->n &&
           (r->p[r->i] == ' ' || r->p[r->i] == '\t' || r->p[r->i] == '\n' || r->p[r->i] == '\r'))
        r->i++;
}

static int hex4(const unsigned char *p, size_t avail)
{
    int v = 0;

    if (avail < 4)
        return -1;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* A string at r->i (on the opening quote). Decodes into `out` when non-NULL.
 * Returns 1 on success, 0 on invalid JSON. */
static int read_string(struct jreader *r, struct bk_strbuf *out)
{
    r->i++;
    while (r->i < r->n) {
        unsigned char c = r->p[r->i];
        if (c == '"') {
            r->i++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            unsigned char e;
            if (r->i + 1 >= r->n)
                return 0;
            e = r->p[r->i + 1];
            r->i += 2;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                if (out)
                    bk_strbuf_addch(out, (char)e);
                break;
            case 'b':
                if (out)
                    bk_strbuf_addch(out, '\b');
                break;
            case 'f':
                if (out)
                    bk_strbuf_addch(out, '\f');
                break;
            case 'n':
                if (out)
                    bk_strbuf_addch(out, '\n');
                break;
            case 'r':
                if (out)
                    bk_strbuf_addch(out, '\r');
                break;
            case 't':
                if (out)
                    bk_strbuf_addch(out, '\t');
                break;
            case 'u': {
                int u = hex4(r->p + r->i, r->n - r->i);
                uint32_t cp;
                if (u < 0)
                    return 0;
                r->i += 4;
                cp = (uint32_t)u;
                if (cp >= 0xD800 && cp < 0xE000) {
                    int lo = -1;
                    if (r->i + 1 < r->n && r->p[r->i] == '\\' && r->p[r->i + 1] == 'u')
                        lo = hex4(r->p + r->i + 2, r->n - r->i - 2);
                    if (cp < 0xDC00 && lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                        r->i += 6;
                    } else {
                        cp = 0xFFFD;
                    }
                }
                if (out)
                    bk_df__utf8_encode(out, cp);
                break;
            }
            default: return 0;
            }
            continue;
        }
        if (c < 0x80) {
            if (out)
                bk_strbuf_addch(out, (char)c);
            r->i++;
        } else {
            uint32_t cp;
            size_t w = bk_df__utf8_decode(r->p + r->i, r->n - r->i, &cp);
            if (out) {
                if (cp == 0xFFFD && w == 1)
                    bk_df__utf8_encode(out, cp);
                else
                    bk_strbuf_add(out, r->p + r->i, w);
            }
            r->i += w;
        }
    }
    return 0;
}

static int read_digits(struct jreader *r)
{
    size_t start = r->i;
    while (r->i < r->n && r->p[r->i] >= '0' && r->p[r->i] <= '9')
        r->i++;
    return r->i > start;
}

static int read_number(struct jreader *r)
{
    if (r->p[r->i] == '-')
        r->i++;
    if (r->i >= r->n)
        return 0;
    if (r->p[r->i] == '0')
        r->i++;
    else if (!read_digits(r))
        return 0;
    if (r->i < r->n && r->p[r->i] == '.') {
        r->i++;
        if (!read_digits(r))
            return 0;
    }
    if (r->i < r->n && (r->p[r->i] == 'e' || r->p[r->i] == 'E')) {
        r->i++;
        if (r->i < r->n && (r->p[r->i] == '+' || r->p[r->i] == '-'))
            r->i++;
        if (!read_digits(r))
            return 0;
    }
    return 1;
}

static int read_literal(struct jreader *r, const char *word)
{
    size_t n = strlen(word);
    if (r->n - r->i < n || memcmp(r->p + r->i, word, n) != 0)
        return 0;
    r->i += n;
    return 1;
}

/* Skip one JSON value (validating it). Returns 1 if valid, 0 if not. */
static int skip_value(struct jreader *r, int depth)
{
    skip_ws(r);
    if (r->i >= r->n)
        return 0;
    switch (r->p[r->i]) {
    case '"': return read_string(r, NULL);
    case '[':
    case '{': {
        unsigned char close = r->p[r->i] == '[' ? ']' : '}';
        int object = close == '}';
        if (depth >= JSON_MAX_DEPTH)
            return 0;
        r->i++;
        skip_ws(r);
        if (r->i < r->n && r->p[r->i] == close) {
            r->i++;
            return 1;
        }
        for (;;) {
            if (object) {
                skip_ws(r);
                if (r->i >= r->n || r->p[r->i] != '"' || !read_string(r, NULL))
                    return 0;
                skip_ws(r);
                if (r->i >= r->n || r->p[r->i] != ':')
                    return 0;
                r->i++;
            }
            if (!skip_value(r, depth + 1))
                return 0;
            skip_ws(r);
            if (r->i >= r->n)
                return 0;
            if (r->p[r->i] == close) {
                r->i++;
                return 1;
            }
            if (r->p[r->i] != ',')
                return 0;
            r->i++;
        }
    }
    case 't': return read_literal(r, "true");
    case 'f': return read_literal(r, "false");
    case 'n': return read_literal(r, "null");
    default:
        if (r->p[r->i] == '-' || (r->p[r->i] >= '0' && r->p[r->i] <= '9'))
            return read_number(r);
        return 0;
    }
}

int bk_df__parse_json_array(const char *text, size_t len, struct bk_df_list *out)
{
    struct jreader r = {(const unsigned char *)text, len, 0};
    struct bk_strbuf sb = BK_STRBUF_INIT;
    size_t w;

    /* strings.TrimLeftFunc(rest, unicode.IsSpace), then it must start with '['. */
    while ((w = bk_df__space_at(text + r.i, len - r.i)) > 0)
        r.i += w;
    if (r.i >= len || text[r.i] != '[')
        return 0;
    {
        struct jreader check = r;
        if (!skip_value(&check, 0))
            return 0;
        skip_ws(&check);
        if (check.i != check.n)
            return 0;
    }
    /* Valid JSON array: now collect the elements, refusing non-strings. */
    r.i++;
    skip_ws(&r);
    if (r.p[r.i] == ']')
        return 1;
    for (;;) {
        skip_ws(&r);
        if (r.p[r.i] != '"') {
            bk_strbuf_release(&sb);
            bk_df__list_free(out);
            return bk_error_set(BK_EINVAL, "when using JSON array syntax, arrays must be "
                                           "comprised of strings only");
        }
        bk_strbuf_reset(&sb);
        read_string(&r, &sb);
        bk_df__list_push(out, sb.buf, sb.len);
        skip_ws(&r);
        if (r.p[r.i] == ']')
            break;
        r.i++; /* ',' */
    }
    bk_strbuf_release(&sb);
    return 1;
}
