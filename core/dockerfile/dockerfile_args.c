/*
 * dockerfile_args.c - one logical line to one node, as BuildKit splits it.
 *
 * Steps (BuildKit's split_command.go and line_parsers.go):
 *   1. Trim the line (Go white space), cut the keyword at the first run of
 *      space, tab, \v, \f or \r; the keyword is matched lowercased.
 *   2. Read leading `--flag` words with shell-like rules: quotes removed, the
 *      escape character makes the next byte literal, a bare `--` ends the
 *      flags. Bytes are copied as Latin-1 characters, so non-ASCII bytes come
 *      out re-encoded (é, C3 A9, becomes C3 83 C2 A9) - a BuildKit quirk kept
 *      on purpose, since cache ids derived from flags depend on it.
 *   3. Split the rest by the instruction's rule (see the fixture README):
 *      JSON-or-text, JSON-or-words, words, key/value triples, quote-aware
 *      words, rest of line, HEALTHCHECK's type + command, ONBUILD's nested
 *      node, and for an unknown keyword one empty argument.
 */
#include "core/dockerfile/dockerfile_int.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

enum phase { IN_SPACES, IN_WORD, IN_QUOTE };

/* Go's unicode.IsSpace(rune(b)) for a single byte read as Latin-1. */
static int latin1_space(unsigned char b)
{
    return b == ' ' || (b >= '\t' && b <= '\r') || b == 0x85 || b == 0xA0;
}

/* The separator set of BuildKit's reWhitespace: [\t\v\f\r ]. */
static int split_space(unsigned char b)
{
    return b == ' ' || b == '\t' || b == '\v' || b == '\f' || b == '\r';
}

static void add_latin1(struct bk_strbuf *sb, unsigned char b)
{
    if (b < 0x80) {
        bk_strbuf_addch(sb, (char)b);
    } else {
        bk_strbuf_addch(sb, (char)(0xC0 | (b >> 6)));
        bk_strbuf_addch(sb, (char)(0x80 | (b & 0x3F)));
    }
}

static int is_dashdash(const struct bk_strbuf *w)
{
    return w->len == 2 && w->buf[0] == '-' && w->buf[1] == '-';
}

/* extractBuilderFlags: flags into `flags`, the text after them into *rest. */
static void extract_flags(const char *line, size_t n, char esc, struct bk_df_list *flags,
                          const char **rest, size_t *rest_len)
{
    struct bk_strbuf word = BK_STRBUF_INIT;
    enum phase phase = IN_SPACES;
    unsigned char quote = 0, ch = 0;
    int blank_ok = 0;

    *rest = line + n;
    *rest_len = 0;
    for (size_t pos = 0; pos <= n; pos++) {
        if (pos != n)
            ch = (unsigned char)line[pos];
        if (phase == IN_SPACES) {
            if (pos == n)
                break;
            if (latin1_space(ch))
                continue;
            if (ch != '-' || pos + 1 == n || line[pos + 1] != '-') {
                *rest = line + pos, *rest_len = n - pos;
                break;
            }
            phase = IN_WORD;
        }
        if (pos == n) {
            if (!is_dashdash(&word) && (blank_ok || word.len > 0))
                bk_df__list_push(flags, word.buf, word.len);
            break;
        }
        if (phase == IN_WORD) {
            if (latin1_space(ch)) {
                phase = IN_SPACES;
                if (is_dashdash(&word)) {
                    *rest = line + pos, *rest_len = n - pos;
                    break;
                }
                if (blank_ok || word.len > 0)
                    bk_df__list_push(flags, word.buf, word.len);
                bk_strbuf_reset(&word);
                blank_ok = 0;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = ch, blank_ok = 1, phase = IN_QUOTE;
                continue;
            }
            if (ch == (unsigned char)esc) {
                if (pos + 1 == n)
                    continue;
                ch = (unsigned char)line[++pos];
            }
            add_latin1(&word, ch);
            continue;
        }
        /* IN_QUOTE */
        if (ch == quote) {
            phase = IN_WORD;
            continue;
        }
        if (ch == (unsigned char)esc) {
            if (pos + 1 == n) {
                phase = IN_WORD;
                continue;
            }
            ch = (unsigned char)line[++pos];
        }
        add_latin1(&word, ch);
    }
    bk_strbuf_release(&word);
}

/* Append the rune at p (width w, code point cp) the way Go's WriteRune does:
 * an invalid byte becomes U+FFFD. */
static void add_rune(struct bk_strbuf *sb, const char *p, size_t w, uint32_t cp)
{
    if (cp == 0xFFFD && w == 1)
        bk_df__utf8_encode(sb, cp);
    else
        bk_strbuf_add(sb, p, w);
}

/* parseWords: quote-aware words; quotes and escapes are kept in the word. */
static void parse_words(const char *s, size_t n, char esc, struct bk_df_list *out)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    enum phase phase = IN_SPACES;
    uint32_t quote = 0, ch = 0;
    size_t w = 0;
    int blank_ok = 0;
    const unsigned char *u = (const unsigned char *)s;

    for (size_t pos = 0; pos <= n; pos += w) {
        if (pos != n)
            w = bk_df__utf8_decode(u + pos, n - pos, &ch);
        if (phase == IN_SPACES) {
            if (pos == n)
                break;
            if (bk_df__is_space(ch))
                continue;
            phase = IN_WORD;
        }
        if (pos == n) {
            if (blank_ok || sb.len > 0)
                bk_df__list_push(out, sb.buf, sb.len);
            break;
        }
        if (phase == IN_WORD) {
            if (bk_df__is_space(ch)) {
                phase = IN_SPACES;
                if (blank_ok || sb.len > 0)
                    bk_df__list_push(out, sb.buf, sb.len);
                bk_strbuf_reset(&sb);
                blank_ok = 0;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = ch, blank_ok = 1, phase = IN_QUOTE;
            }
            if (ch == (uint32_t)(unsigned char)esc) {
                if (pos + w == n)
                    continue;
                add_rune(&sb, s + pos, w, ch);
                pos += w;
                w = bk_df__utf8_decode(u + pos, n - pos, &ch);
            }
            add_rune(&sb, s + pos, w, ch);
            continue;
        }
        /* IN_QUOTE */
        if (ch == quote)
            phase = IN_WORD;
        if (ch == (uint32_t)(unsigned char)esc && quote != '\'') {
            if (pos + w == n) {
                phase = IN_WORD;
                continue;
            }
            add_rune(&sb, s + pos, w, ch);
            pos += w;
            w = bk_df__utf8_decode(u + pos, n - pos, &ch);
        }
        add_rune(&sb, s + pos, w, ch);
    }
    bk_strbuf_release(&sb);
}

/* reWhitespace.Split(s, limit) for limit -1 (all) or 2. */
static void split_ws(const char *s, size_t n, int limit, struct bk_df_list *out)
{
    size_t start = 0, i = 0;

    while (i < n) {
        if (split_space((unsigned char)s[i]) && (limit < 0 || out->n + 1 < (size_t)limit)) {
            size_t j = i;
            while (j < n && split_space((unsigned char)s[j]))
                j++;
            bk_df__list_push(out, s + start, i - start);
            start = i = j;
        } else {
            i++;
        }
    }
    bk_df__list_push(out, s + start, n - start);
}

static void push_triple(struct bk_df_list *args, const char *k, size_t kn, const char *v, size_t vn,
                        const char *sep)
{
    bk_df__list_push(args, k, kn);
    bk_df__list_push(args, v, vn);
    bk_df__list_push(args, sep, strlen(sep));
}

/* parseNameVal (ENV, LABEL). */
static int parse_name_val(const char *rest, size_t n, char esc, const char *key,
                          struct bk_df_list *args)
{
    struct bk_df_list words = {0};
    int rc = BK_OK;

    parse_words(rest, n, esc, &words);
    if (words.n == 0)
        goto done;
    if (!memchr(words.v[0], '=', words.lens[0])) {
        struct bk_df_list parts = {0};
        split_ws(rest, n, 2, &parts);
        if (parts.n < 2)
            rc = bk_error_set(BK_EINVAL, "%s must have two arguments", key);
        else
            push_triple(args, parts.v[0], parts.lens[0], parts.v[1], parts.lens[1], "");
        bk_df__list_free(&parts);
        goto done;
    }
    for (size_t i = 0; i < words.n; i++) {
        const char *eq = memchr(words.v[i], '=', words.lens[i]);
        if (!eq) {
            struct bk_strbuf q = BK_STRBUF_INIT;
            bk_df__quote(&q, words.v[i], words.lens[i]);
            rc = bk_error_set(BK_EINVAL,
                              "Syntax error - can't find = in %s. Must be of the form: name=value",
                              q.buf);
            bk_strbuf_release(&q);
            goto done;
        }
        push_triple(args, words.v[i], (size_t)(eq - words.v[i]), eq + 1,
                    words.lens[i] - (size_t)(eq - words.v[i]) - 1, "=");
    }
done:
    bk_df__list_free(&words);
    return rc;
}

/* parseMaybeJSON (to_list == 0) and parseMaybeJSONToList (to_list == 1). */
static int parse_maybe_json(const char *rest, size_t n, int to_list, struct bk_df_list *args,
                            int *json)
{
    int rc;

    if (n == 0)
        return BK_OK;
    rc = bk_df__parse_json_array(rest, n, args);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *json = 1;
        return BK_OK;
    }
    if (to_list)
        split_ws(rest, n, -1, args);
    else
        bk_df__list_push(args, rest, n);
    return BK_OK;
}

static int parse_health(const char *rest, size_t n, struct bk_df_list *args, int *json)
{
    size_t sep = 0, next;

    while (sep < n && !latin1_space((unsigned char)rest[sep]))
        sep++;
    next = sep;
    while (next < n && latin1_space((unsigned char)rest[next]))
        next++;
    if (sep == 0)
        return BK_OK;
    bk_df__list_push(args, rest, sep);
    return parse_maybe_json(rest + next, n - next, 0, args, json);
}

static int dispatch(const char *kw, const char *rest, size_t n, char esc, int depth,
                    struct bk_df_node *node, struct bk_df_list *args)
{
    if (!strcmp(kw, "run") || !strcmp(kw, "cmd") || !strcmp(kw, "entrypoint") ||
        !strcmp(kw, "shell"))
        return parse_maybe_json(rest, n, 0, args, &node->json);
    if (!strcmp(kw, "add") || !strcmp(kw, "copy") || !strcmp(kw, "volume"))
        return parse_maybe_json(rest, n, 1, args, &node->json);
    if (!strcmp(kw, "from") || !strcmp(kw, "expose")) {
        if (n > 0)
            split_ws(rest, n, -1, args);
        return BK_OK;
    }
    if (!strcmp(kw, "env"))
        return parse_name_val(rest, n, esc, "ENV", args);
    if (!strcmp(kw, "label"))
        return parse_name_val(rest, n, esc, "LABEL", args);
    if (!strcmp(kw, "arg")) {
        parse_words(rest, n, esc, args);
        return BK_OK;
    }
    if (!strcmp(kw, "maintainer") || !strcmp(kw, "user") || !strcmp(kw, "workdir") ||
        !strcmp(kw, "stopsignal")) {
        if (n > 0)
            bk_df__list_push(args, rest, n);
        return BK_OK;
    }
    if (!strcmp(kw, "healthcheck"))
        return parse_health(rest, n, args, &node->json);
    if (!strcmp(kw, "onbuild")) {
        if (n == 0)
            return BK_OK;
        if (depth >= BK_DF_MAX_ONBUILD_DEPTH)
            return bk_error_set(BK_EINVAL, "ONBUILD triggers nested more than %d deep",
                                BK_DF_MAX_ONBUILD_DEPTH);
        node->sub = bk_xcalloc(1, sizeof(*node->sub));
        return bk_df__parse_line(rest, n, esc, depth + 1, node->sub);
    }
    bk_df__list_push(args, "", 0); /* unknown instruction: kept, rejected later */
    return BK_OK;
}

int bk_df__parse_line(const char *line, size_t len, char escape, int depth, struct bk_df_node *node)
{
    struct bk_df_list flags = {0}, args = {0};
    const char *t = line, *rest = "";
    size_t tn = len, kn = 0, rest_len = 0;
    int rc;

    node->original = bk_xstrndup(line, len);
    bk_df__trim_space(&t, &tn);
    while (kn < tn && !split_space((unsigned char)t[kn]))
        kn++;
    {
        /* A NUL byte makes the keyword unknown to BuildKit; as U+FFFD it
         * also stays unknown to strcmp() in C. */
        struct bk_strbuf kw = BK_STRBUF_INIT, clean = BK_STRBUF_INIT;
        bk_df__lower(&kw, t, kn);
        for (size_t i = 0; i < kw.len; i++)
            if (kw.buf[i] == '\0')
                bk_strbuf_adds(&clean, "\xEF\xBF\xBD");
            else
                bk_strbuf_addch(&clean, kw.buf[i]);
        bk_strbuf_release(&kw);
        node->keyword = bk_strbuf_detach(&clean);
    }
    if (kn < tn) {
        size_t j = kn;
        while (j < tn && split_space((unsigned char)t[j]))
            j++;
        extract_flags(t + j, tn - j, escape, &flags, &rest, &rest_len);
        bk_df__trim_space(&rest, &rest_len);
    }
    node->rest = bk_xstrndup(rest, rest_len);
    rc = dispatch(node->keyword, rest, rest_len, escape, depth, node, &args);
    node->flags = flags.v, node->flaglens = flags.lens, node->nflags = flags.n;
    node->args = args.v, node->arglens = args.lens, node->nargs = args.n;
    return rc;
}

void bk_df__node_release(struct bk_df_node *node)
{
    if (!node)
        return;
    free(node->keyword);
    free(node->original);
    free(node->rest);
    for (size_t i = 0; i < node->nflags; i++)
        free(node->flags[i]);
    free(node->flags);
    free(node->flaglens);
    for (size_t i = 0; i < node->nargs; i++)
        free(node->args[i]);
    free(node->args);
    free(node->arglens);
    if (node->sub) {
        bk_df__node_release(node->sub);
        free(node->sub);
    }
    for (size_t i = 0; i < node->nheredocs; i++) {
        free(node->heredocs[i].name);
        free(node->heredocs[i].content);
    }
    free(node->heredocs);
    memset(node, 0, sizeof(*node));
}
