/*
 * dockerfile_heredoc.c - find the heredoc openers (<<EOF) on an instruction line.
 *
 * BuildKit splits the joined line into shell words with its shell lexer
 * (frontend/dockerfile/shell/lex.go) keeping quotes, escapes and unset
 * variables as written, then tests each word against
 * ^(\d*)<<(-?)\s*([^<]*)$. The part after << is lexed again, with and without
 * quote removal: it must be exactly one word; the unquoted form is the name,
 * and if the two forms differ in quote count the body is not expanded.
 *
 * This file reimplements the parts of that lexer the detection depends on:
 * single and double quotes, the backslash escape (always '\' here, whatever
 * the escape directive says, as in BuildKit), $NAME / ${NAME...} references
 * (kept verbatim because no variable is set), and "<<" followed by blanks,
 * which the lexer glues to the next word (so `<<  EOF` is one opener while
 * `<<- EOF` is not). Quirks kept on purpose:
 *   - an unbalanced quote or a bad ${...} makes the whole line yield no
 *     words, so no heredoc is found and the would-be body lines are parsed
 *     as instructions;
 *   - a ${NAME<op>word} reference discards what the current word held
 *     before it (BuildKit's lexer shares one word buffer with the nested
 *     scan), so `<<${X:-EOF}` is not an opener;
 *   - the text of a $ reference is re-split at white space.
 */
#include "core/dockerfile/dockerfile_int.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define LEX_EOF (-1)

struct words {
    struct bk_strbuf buf;
    struct bk_df_list list;
    int in_word;
};

struct lexer {
    const char *s;
    size_t n;
    size_t pos;
    int raw_quotes;
    int raw_escapes;
    struct words *top; /* the line's word list; nested scans clear its buffer */
};

static long peek_w(const struct lexer *lx, size_t *w)
{
    uint32_t cp;

    if (lx->pos >= lx->n) {
        *w = 0;
        return LEX_EOF;
    }
    *w = bk_df__utf8_decode((const unsigned char *)lx->s + lx->pos, lx->n - lx->pos, &cp);
    return (long)cp;
}

static long peek(const struct lexer *lx)
{
    size_t w;
    return peek_w(lx, &w);
}

static long next(struct lexer *lx)
{
    size_t w;
    long ch = peek_w(lx, &w);
    lx->pos += w;
    return ch;
}

static void add_cp(struct bk_strbuf *sb, long ch)
{
    bk_df__utf8_encode(sb, (uint32_t)ch);
}

static void words_add_raw_char(struct words *w, long ch)
{
    if (!w)
        return;
    add_cp(&w->buf, ch);
    w->in_word = 1;
}

static void words_add_char(struct words *w, long ch)
{
    if (!w)
        return;
    if (bk_df__is_space((uint32_t)ch)) {
        if (w->in_word && w->buf.len != 0) {
            bk_df__list_push(&w->list, w->buf.buf, w->buf.len);
            bk_strbuf_reset(&w->buf);
            w->in_word = 0;
        }
        return;
    }
    words_add_raw_char(w, ch);
}

static void words_add_string(struct words *w, const struct bk_strbuf *s)
{
    size_t pos = 0;

    while (w && pos < s->len) {
        uint32_t cp;
        pos += bk_df__utf8_decode((const unsigned char *)s->buf + pos, s->len - pos, &cp);
        words_add_char(w, (long)cp);
    }
}

static void words_add_raw_string(struct words *w, const struct bk_strbuf *s)
{
    if (!w)
        return;
    bk_strbuf_add(&w->buf, s->buf, s->len);
    w->in_word = 1;
}

static int stop_on(struct lexer *lx, long stop, int raw_escapes, struct bk_strbuf *result,
                   struct words *words);

static int single_quote(struct lexer *lx, struct bk_strbuf *out)
{
    long ch = next(lx);

    if (lx->raw_quotes)
        add_cp(out, ch);
    for (;;) {
        ch = next(lx);
        if (ch == LEX_EOF)
            return bk_error_set(BK_EINVAL, "unexpected end of statement while looking for "
                                           "matching single-quote");
        if (ch == '\'') {
            if (lx->raw_quotes)
                add_cp(out, ch);
            return BK_OK;
        }
        add_cp(out, ch);
    }
}

static int dollar(struct lexer *lx, struct bk_strbuf *out);

static int double_quote(struct lexer *lx, struct bk_strbuf *out)
{
    long ch = next(lx);

    if (lx->raw_quotes)
        add_cp(out, ch);
    for (;;) {
        switch (peek(lx)) {
        case LEX_EOF:
            return bk_error_set(BK_EINVAL, "unexpected end of statement while looking for "
                                           "matching double-quote");
        case '"':
            ch = next(lx);
            if (lx->raw_quotes)
                add_cp(out, ch);
            return BK_OK;
        case '$': {
            int rc = dollar(lx, out);
            if (rc < 0)
                return rc;
            break;
        }
        default:
            ch = next(lx);
            if (ch == '\\') {
                long p = peek(lx);
                if (lx->raw_escapes)
                    add_cp(out, ch);
                if (p == LEX_EOF)
                    continue;
                if (p == '"' || p == '$' || p == '\\')
                    ch = next(lx);
            }
            add_cp(out, ch);
        }
    }
}

/* Go's unicode.IsLetter || unicode.IsDigit, exact for ASCII and Latin-1;
 * above that, every rune outside the common punctuation and symbol blocks
 * counts as a letter (U+FFFD, an invalid byte, does not). */
static int is_letter_or_digit(long ch)
{
    if (ch < 0x80)
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (ch < 0xC0)
        return ch == 0xAA || ch == 0xB5 || ch == 0xBA;
    if (ch == 0xD7 || ch == 0xF7 || ch == 0xFFFD)
        return 0;
    return !((ch >= 0x2000 && ch <= 0x2BFF) || (ch >= 0x3000 && ch <= 0x303F) ||
             (ch >= 0xE000 && ch <= 0xF8FF) || (ch >= 0xFE00 && ch <= 0xFE6F) ||
             (ch >= 0xFF00 && ch <= 0xFF0F) || (ch >= 0xFFF0 && ch <= 0xFFFF));
}

static void read_name(struct lexer *lx, struct bk_strbuf *name)
{
    while (peek(lx) != LEX_EOF) {
        long ch = peek(lx);
        if (name->len == 0 && ch >= '0' && ch <= '9') {
            while (peek(lx) >= '0' && peek(lx) <= '9')
                add_cp(name, next(lx));
            return;
        }
        if (name->len == 0 && ch > 0 && ch < 0x80 && strchr("@*#?-$!0", (int)ch)) {
            add_cp(name, next(lx));
            return;
        }
        if (!is_letter_or_digit(ch) && ch != '_')
            return;
        add_cp(name, next(lx));
    }
}

/* $NAME or ${...}: with no variable set, BuildKit keeps the text as written
 * (normalised: ${a//b/c} prints as ${a/b/c}). */
static int dollar(struct lexer *lx, struct bk_strbuf *out)
{
    struct bk_strbuf name = BK_STRBUF_INIT, word = BK_STRBUF_INIT, word2 = BK_STRBUF_INIT;
    struct bk_strbuf chs = BK_STRBUF_INIT;
    int rc = BK_OK;
    long ch;

    next(lx);
    if (peek(lx) != '{') {
        read_name(lx, &name);
        bk_strbuf_addch(out, '$');
        bk_strbuf_add(out, name.buf, name.len);
        goto done;
    }
    next(lx);
    ch = peek(lx);
    if (ch == LEX_EOF) {
        rc = bk_error_set(BK_EINVAL, "syntax error: missing '}'");
        goto done;
    }
    if (ch == '{' || ch == '}' || ch == ':') {
        rc = bk_error_set(BK_EINVAL, "syntax error: bad substitution");
        goto done;
    }
    read_name(lx, &name);
    ch = next(lx);
    if (ch == '}') {
        bk_strbuf_addf(out, "${%s}", name.buf);
        goto done;
    }
    if (ch == LEX_EOF) {
        rc = bk_error_set(BK_EINVAL, "unsupported modifier in substitution");
        goto done;
    }
    add_cp(&chs, ch);
    if (ch == ':' || ch == '+' || ch == '-' || ch == '?' || ch == '#' || ch == '%') {
        int null_is_unset = ch == ':';
        if (null_is_unset) {
            ch = next(lx);
            if (ch == LEX_EOF) {
                rc = bk_error_set(BK_EINVAL, "syntax error: missing '}'");
                goto done;
            }
            add_cp(&chs, ch);
        }
        if (null_is_unset && (ch == '#' || ch == '%')) {
            rc = bk_error_set(BK_EINVAL, "unsupported modifier (%s) in substitution", chs.buf);
            goto done;
        }
        rc = stop_on(lx, '}', ch == '#' || ch == '%', &word, NULL);
        if (rc == BK_OK)
            bk_strbuf_addf(out, "${%s%s%s}", name.buf, chs.buf, word.buf);
        goto done;
    }
    if (ch == '/') {
        if (peek(lx) == '/')
            next(lx);
        rc = stop_on(lx, '/', 1, &word, NULL);
        if (rc == BK_OK)
            rc = stop_on(lx, '}', 1, &word2, NULL);
        if (rc == BK_OK)
            bk_strbuf_addf(out, "${%s/%s/%s}", name.buf, word.buf, word2.buf);
        goto done;
    }
    rc = bk_error_set(BK_EINVAL, "unsupported modifier (%s) in substitution", chs.buf);
done:
    bk_strbuf_release(&name);
    bk_strbuf_release(&word);
    bk_strbuf_release(&word2);
    bk_strbuf_release(&chs);
    return rc;
}

static void possible_heredoc(struct lexer *lx, struct bk_strbuf *out)
{
    long ch;

    next(lx);
    if (peek(lx) != '<') {
        bk_strbuf_addch(out, '<');
        return;
    }
    next(lx);
    bk_strbuf_adds(out, "<<");
    while ((ch = peek(lx)) == '\t' || ch == '\r' || ch == ' ')
        add_cp(out, next(lx));
}

static int stop_on(struct lexer *lx, long stop, int raw_escapes, struct bk_strbuf *result,
                   struct words *words)
{
    struct bk_strbuf tmp = BK_STRBUF_INIT;
    int saved = lx->raw_escapes, rc = BK_OK;

    if (lx->top)
        bk_strbuf_reset(&lx->top->buf);
    lx->raw_escapes = raw_escapes;
    while (peek(lx) != LEX_EOF) {
        long ch = peek(lx);
        if (stop != LEX_EOF && ch == stop) {
            next(lx);
            goto out;
        }
        if (ch == '$' || ch == '<' || ch == '\'' || ch == '"') {
            bk_strbuf_reset(&tmp);
            if (ch == '$')
                rc = dollar(lx, &tmp);
            else if (ch == '<')
                possible_heredoc(lx, &tmp);
            else if (ch == '\'')
                rc = single_quote(lx, &tmp);
            else
                rc = double_quote(lx, &tmp);
            if (rc < 0)
                goto out;
            bk_strbuf_add(result, tmp.buf, tmp.len);
            if (ch == '$')
                words_add_string(words, &tmp);
            else
                words_add_raw_string(words, &tmp);
            continue;
        }
        ch = next(lx);
        if (ch == '\\') {
            if (lx->raw_escapes) {
                words_add_raw_char(words, ch);
                add_cp(result, ch);
            }
            ch = next(lx);
            if (ch == LEX_EOF)
                break;
            words_add_raw_char(words, ch);
        } else {
            words_add_char(words, ch);
        }
        add_cp(result, ch);
    }
    if (stop != LEX_EOF)
        rc = bk_error_set(BK_EINVAL, "unexpected end of statement while looking for matching %c",
                          (int)stop);
out:
    lx->raw_escapes = saved;
    bk_strbuf_release(&tmp);
    return rc;
}

/* ProcessWords: the shell words of s[0..n). */
static int lex_words(const char *s, size_t n, int raw_quotes, int raw_escapes,
                     struct bk_df_list *out)
{
    struct words w = {BK_STRBUF_INIT, {0}, 0};
    struct bk_strbuf result = BK_STRBUF_INIT;
    struct lexer lx = {s, n, 0, raw_quotes, raw_escapes, &w};
    int rc = stop_on(&lx, LEX_EOF, raw_escapes, &result, &w);

    if (rc == BK_OK && w.buf.len > 0)
        bk_df__list_push(&w.list, w.buf.buf, w.buf.len);
    bk_strbuf_release(&w.buf);
    bk_strbuf_release(&result);
    if (rc < 0) {
        bk_df__list_free(&w.list);
        return rc;
    }
    *out = w.list;
    return BK_OK;
}

static size_t count_quotes(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == '\'' || s[i] == '"';
    return c;
}

static int fail_process(const char *rest, size_t n)
{
    struct bk_strbuf q = BK_STRBUF_INIT;
    char *src = bk_xstrndup(rest, n);
    char *inner = bk_xstrdup(bk_error_msg());
    int rc;

    bk_go_quote(&q, src);
    rc = bk_error_set(BK_EINVAL, "failed to process %s: %s", q.buf, inner);
    free(inner);
    free(src);
    bk_strbuf_release(&q);
    return rc;
}

/* ParseHeredoc on one word: 1 and *out filled for an opener, 0 if not one. */
static int parse_opener(const char *word, size_t n, struct bk_df_heredoc *out)
{
    struct bk_df_list plain = {0}, raw = {0};
    size_t i = 0, digits;
    long fd = -1;
    int chomp = 0, rc;
    const char *rest;
    size_t rest_len;

    while (i < n && word[i] >= '0' && word[i] <= '9')
        i++;
    digits = i;
    if (n - i < 2 || word[i] != '<' || word[i + 1] != '<')
        return 0;
    i += 2;
    if (i < n && word[i] == '-')
        chomp = 1, i++;
    while (i < n && (word[i] == ' ' || word[i] == '\t' || word[i] == '\n' || word[i] == '\f' ||
                     word[i] == '\r'))
        i++;
    rest = word + i, rest_len = n - i;
    if (memchr(rest, '<', rest_len) || rest_len == 0)
        return 0;
    if (digits > 0) {
        fd = 0;
        for (size_t k = 0; k < digits; k++)
            fd = fd > (INT_MAX - 9) / 10 ? INT_MAX : fd * 10 + (word[k] - '0');
    }
    if (lex_words(rest, rest_len, 0, 0, &plain) < 0)
        return fail_process(rest, rest_len);
    if (plain.n != 1) {
        bk_df__list_free(&plain);
        return 0;
    }
    if (lex_words(rest, rest_len, 1, 0, &raw) < 0) {
        bk_df__list_free(&plain);
        return fail_process(rest, rest_len);
    }
    if (raw.n != plain.n) {
        char *r = bk_xstrndup(rest, rest_len);
        rc = bk_error_set(BK_EINVAL, "internal lexing of heredoc produced inconsistent results: %s",
                          r);
        free(r);
        bk_df__list_free(&plain);
        bk_df__list_free(&raw);
        return rc;
    }
    out->name = plain.v[0];
    out->name_len = plain.lens[0];
    plain.v[0] = bk_xstrdup("");
    out->content = NULL;
    out->expand = count_quotes(out->name, plain.lens[0]) == count_quotes(raw.v[0], raw.lens[0]);
    out->chomp = chomp;
    out->fd = (int)fd;
    bk_df__list_free(&plain);
    bk_df__list_free(&raw);
    return 1;
}

int bk_df__find_heredocs(const char *line, size_t len, struct bk_df_heredoc **out, size_t *n)
{
    struct bk_df_list words = {0};
    int rc = BK_OK;

    *out = NULL;
    *n = 0;
    if (lex_words(line, len, 1, 1, &words) < 0) {
        bk_error_clear();
        return BK_OK; /* BuildKit ignores the lexer's error: no heredocs */
    }
    for (size_t i = 0; i < words.n; i++) {
        struct bk_df_heredoc h;
        int r = parse_opener(words.v[i], words.lens[i], &h);
        if (r < 0) {
            rc = r;
            break;
        }
        if (r == 1) {
            *out = bk_xrealloc(*out, (*n + 1) * sizeof(**out));
            (*out)[(*n)++] = h;
        }
    }
    bk_df__list_free(&words);
    if (rc < 0) {
        for (size_t i = 0; i < *n; i++)
            free((*out)[i].name);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
