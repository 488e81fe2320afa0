/*
 * shell_lex.c - BuildKit's word expansion; see shell_lex.h.
 *
 * The structure follows BuildKit's lexer (frontend/dockerfile/shell) so that
 * corner cases come out the same: one scanner over the word, a "process
 * until stop character" loop that calls out for `$`, `'` and `"`, and a
 * `raw escapes` mode (escape characters kept) used for the pattern parts of
 * `${N#p}`, `${N%p}` and `${N/p/r}`.
 */
#include "core/dockerfile/shell_lex.h"

#include "core/dockerfile/dockerfile.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

#define LEX_EOF (-1)

/* ---- variable store ---------------------------------------------------- */

static size_t vars_hash(const char *s)
{
    size_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot holding `name`, or the empty slot where it would go. */
static size_t vars_slot(const struct bk_vars *vars, const char *name)
{
    size_t mask = vars->nslots - 1, i = vars_hash(name) & mask;
    while (vars->slots[i] && strcmp(vars->names[vars->slots[i] - 1], name) != 0)
        i = (i + 1) & mask;
    return i;
}

static long vars_find(const struct bk_vars *vars, const char *name)
{
    if (!vars->nslots)
        return -1;
    size_t e = vars->slots[vars_slot(vars, name)];
    return e ? (long)e - 1 : -1;
}

static void vars_reindex(struct bk_vars *vars)
{
    free(vars->slots);
    vars->nslots = 16;
    while (vars->nslots <= 2 * (vars->n + 1))
        vars->nslots *= 2;
    vars->slots = bk_xcalloc(vars->nslots, sizeof(size_t));
    for (size_t i = 0; i < vars->n; i++)
        vars->slots[vars_slot(vars, vars->names[i])] = i + 1;
}

const char *bk_vars_get(const struct bk_vars *vars, const char *name)
{
    long i = vars ? vars_find(vars, name) : -1;
    return i < 0 ? NULL : vars->values[i];
}

void bk_vars_set(struct bk_vars *vars, const char *name, const char *value)
{
    long i = vars_find(vars, name);
    if (i >= 0) {
        free(vars->values[i]);
        vars->values[i] = bk_xstrdup(value);
        return;
    }
    if (vars->n == vars->alloc) {
        vars->alloc = vars->alloc ? vars->alloc * 2 : 16;
        vars->names = bk_xrealloc(vars->names, vars->alloc * sizeof(char *));
        vars->values = bk_xrealloc(vars->values, vars->alloc * sizeof(char *));
    }
    vars->names[vars->n] = bk_xstrdup(name);
    vars->values[vars->n] = bk_xstrdup(value);
    vars->n++;
    if (2 * vars->n >= vars->nslots)
        vars_reindex(vars);
    else
        vars->slots[vars_slot(vars, name)] = vars->n;
}

void bk_vars_copy(struct bk_vars *dst, const struct bk_vars *src)
{
    bk_vars_release(dst);
    for (size_t i = 0; i < src->n; i++)
        bk_vars_set(dst, src->names[i], src->values[i]);
}

void bk_vars_release(struct bk_vars *vars)
{
    for (size_t i = 0; i < vars->n; i++) {
        free(vars->names[i]);
        free(vars->values[i]);
    }
    free(vars->names);
    free(vars->values);
    free(vars->slots);
    memset(vars, 0, sizeof(*vars));
}

/* ---- scanner ----------------------------------------------------------- */

struct lexer {
    const char *s;
    size_t len, pos;
    int esc;
    const struct bk_vars *vars;
    struct bk_strbuf err; /* first error message, without the "failed to process" part */
    size_t budget;        /* pattern steps left (BK_SHELL_MAX_STEPS at the start) */
};

/* A word that outgrows BK_SHELL_MAX_LEN, or patterns that take more than
 * BK_SHELL_MAX_STEPS, stop the expansion: ARGs that double at each level
 * would otherwise take minutes and all the memory there is. */
static int over_limits(struct lexer *lx, const struct bk_strbuf *out)
{
    if (out->len > BK_SHELL_MAX_LEN) {
        bk_strbuf_reset(&lx->err);
        bk_strbuf_addf(&lx->err, "the expansion is longer than %u bytes", BK_SHELL_MAX_LEN);
        return BK_EINVAL;
    }
    if (lx->budget == 0) {
        bk_strbuf_reset(&lx->err);
        bk_strbuf_addf(&lx->err, "the patterns take more than %u steps to expand",
                       BK_SHELL_MAX_STEPS);
        return BK_EINVAL;
    }
    return BK_OK;
}

static int peek(const struct lexer *lx)
{
    return lx->pos < lx->len ? (unsigned char)lx->s[lx->pos] : LEX_EOF;
}

static int next(struct lexer *lx)
{
    return lx->pos < lx->len ? (unsigned char)lx->s[lx->pos++] : LEX_EOF;
}

static int fail(struct lexer *lx, const char *msg)
{
    if (lx->err.len == 0)
        bk_strbuf_adds(&lx->err, msg);
    return BK_EINVAL;
}

/* Go's string(rune) of a scanner character: EOF prints as U+FFFD. */
static void add_rune(struct bk_strbuf *sb, int ch)
{
    if (ch == LEX_EOF)
        bk_strbuf_adds(sb, "\xef\xbf\xbd");
    else
        bk_strbuf_addch(sb, (char)ch);
}

static int is_name_char(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch >= 0x80;
}

static int is_special_param(int ch)
{
    return ch && strchr("@*#?-$!0", ch) != NULL;
}

static void read_name(struct lexer *lx, struct bk_strbuf *name)
{
    while (peek(lx) != LEX_EOF) {
        int ch = peek(lx);
        if (name->len == 0 && ch >= '0' && ch <= '9') {
            while (peek(lx) >= '0' && peek(lx) <= '9')
                bk_strbuf_addch(name, (char)next(lx));
            return;
        }
        if (name->len == 0 && is_special_param(ch)) {
            bk_strbuf_addch(name, (char)next(lx));
            return;
        }
        if (!is_name_char(ch))
            break;
        bk_strbuf_addch(name, (char)next(lx));
    }
}

static int process_until(struct lexer *lx, int stop, int raw, struct bk_strbuf *out);

/* ---- glob patterns for ${N#p} ${N%p} ${N/p/r} ---------------------------- */

enum { PAT_LIT, PAT_ANY, PAT_STAR };

struct pattern {
    unsigned char *kind;
    char *lit;
    size_t n;
    size_t *budget; /* steps left; matching fails once it reaches 0 */
};

static int pattern_compile(const char *p, struct pattern *out, struct bk_strbuf *err)
{
    size_t len = strlen(p);
    out->kind = bk_xmalloc(len + 1);
    out->lit = bk_xmalloc(len + 1);
    out->n = 0;
    out->budget = NULL;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '*' || c == '?') {
            out->kind[out->n] = c == '*' ? PAT_STAR : PAT_ANY;
            out->lit[out->n++] = 0;
            continue;
        }
        if (c == '\\') {
            if (p[i + 1] == '}' || p[i + 1] == '/')
                continue; /* the next char is then taken as a literal */
            i++;
            if (p[i] != '*' && p[i] != '?' && p[i] != '\\') {
                bk_strbuf_addf(err, "invalid pattern (%s) in substitution: invalid escape '\\", p);
                add_rune(err, p[i] ? (unsigned char)p[i] : LEX_EOF);
                bk_strbuf_addch(err, '\'');
                free(out->kind);
                free(out->lit);
                return BK_EINVAL;
            }
            c = p[i];
        }
        out->kind[out->n] = PAT_LIT;
        out->lit[out->n++] = c;
    }
    return BK_OK;
}

static void pattern_free(struct pattern *p)
{
    free(p->kind);
    free(p->lit);
}

static size_t rune_len(const char *s, size_t i, size_t len)
{
    unsigned char c = (unsigned char)s[i];
    size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return i + n > len ? len - i : n;
}

/*
 * Backtracking match of p[ti..] against s[si..len], trying stars longest
 * first (greedy) or shortest first, as a regular expression engine with
 * leftmost-first semantics does. `to_end`: the match must end at len.
 * Returns the end offset of the first match found, or -1.
 */
static long pattern_match(const struct pattern *p, size_t ti, const char *s, size_t len, size_t si,
                          int greedy, int to_end)
{
    if (*p->budget == 0)
        return -1;
    --*p->budget;
    if (ti == p->n)
        return (!to_end || si == len) ? (long)si : -1;
    switch (p->kind[ti]) {
    case PAT_LIT:
        if (si < len && s[si] == p->lit[ti])
            return pattern_match(p, ti + 1, s, len, si + 1, greedy, to_end);
        return -1;
    case PAT_ANY:
        if (si < len && s[si] != '\n')
            return pattern_match(p, ti + 1, s, len, si + rune_len(s, si, len), greedy, to_end);
        return -1;
    default: {
        size_t lim = si;
        while (lim < len && s[lim] != '\n')
            lim++;
        if (greedy) {
            for (size_t k = lim + 1; k-- > si;) {
                long r = pattern_match(p, ti + 1, s, len, k, greedy, to_end);
                if (r >= 0)
                    return r;
            }
        } else {
            for (size_t k = si; k <= lim; k++) {
                long r = pattern_match(p, ti + 1, s, len, k, greedy, to_end);
                if (r >= 0)
                    return r;
            }
        }
        return -1;
    }
    }
}

/* ${N#p} ${N##p}: drop the shortest (longest) matching prefix. */
static void trim_prefix(const struct pattern *p, const char *v, int greedy, struct bk_strbuf *out)
{
    long end = pattern_match(p, 0, v, strlen(v), 0, greedy, 0);
    bk_strbuf_adds(out, end >= 0 ? v + end : v);
}

/* ${N%p} ${N%%p}: drop the shortest (longest) matching suffix. */
static void trim_suffix(const struct pattern *p, const char *v, int greedy, struct bk_strbuf *out)
{
    size_t len = strlen(v), cut = len;
    if (greedy) {
        for (size_t k = 0; k <= len; k++)
            if (pattern_match(p, 0, v, len, k, 1, 1) >= 0) {
                cut = k;
                break;
            }
    } else {
        for (size_t k = len + 1; k-- > 0;)
            if (pattern_match(p, 0, v, len, k, 0, 1) >= 0) {
                cut = k;
                break;
            }
    }
    bk_strbuf_add(out, v, cut);
}

/* ${N/p/r} ${N//p/r}: replace the first (every) leftmost greedy match. */
static void replace(const struct pattern *p, const char *v, const char *repl, int all,
                    struct bk_strbuf *out)
{
    size_t len = strlen(v), pos = 0;
    long last_end = -1;

    while (pos <= len && out->len <= BK_SHELL_MAX_LEN && *p->budget) {
        long st = -1, en = -1;
        for (size_t k = pos; k <= len; k++) {
            en = pattern_match(p, 0, v, len, k, 1, 0);
            if (en >= 0) {
                st = (long)k;
                break;
            }
        }
        if (st < 0)
            break;
        if (en == st && st == last_end) {
            /* an empty match right after the previous match is ignored */
            if ((size_t)st >= len)
                break;
            size_t n = rune_len(v, (size_t)st, len);
            bk_strbuf_add(out, v + pos, (size_t)st + n - pos);
            pos = (size_t)st + n;
            continue;
        }
        bk_strbuf_add(out, v + pos, (size_t)st - pos);
        bk_strbuf_adds(out, repl);
        last_end = en;
        pos = (size_t)en;
        if (!all)
            break;
        if (en == st) {
            if ((size_t)st >= len) {
                pos = len + 1;
                break;
            }
            size_t n = rune_len(v, (size_t)st, len);
            bk_strbuf_add(out, v + st, n);
            pos = (size_t)st + n;
        }
    }
    if (pos <= len)
        bk_strbuf_adds(out, v + pos);
}

/* ---- ${...} ------------------------------------------------------------ */

static int apply_pattern(struct lexer *lx, int op, const char *word, const char *value,
                         struct bk_strbuf *out)
{
    struct pattern p;
    int greedy = 0;

    if (word[0] == op) {
        greedy = 1;
        word++;
    }
    if (pattern_compile(word, &p, &lx->err))
        return BK_EINVAL;
    p.budget = &lx->budget;
    if (op == '%')
        trim_suffix(&p, value, greedy, out);
    else
        trim_prefix(&p, value, greedy, out);
    pattern_free(&p);
    return BK_OK;
}

static int process_modifier(struct lexer *lx, const char *name, int op, int null_unset,
                            const char *ops, struct bk_strbuf *out)
{
    struct bk_strbuf word = BK_STRBUF_INIT;
    const char *value = bk_vars_get(lx->vars, name);
    int raw = op == '#' || op == '%';
    int unset = !value || (null_unset && !*value);
    int rc = BK_OK;

    if (null_unset && raw) {
        bk_strbuf_addf(&lx->err, "unsupported modifier (%s) in substitution", ops);
        return BK_EINVAL;
    }
    if (process_until(lx, '}', raw, &word)) {
        if (peek(lx) == LEX_EOF) {
            bk_strbuf_reset(&lx->err);
            fail(lx, "syntax error: missing '}'");
        }
        bk_strbuf_release(&word);
        return BK_EINVAL;
    }
    switch (op) {
    case '-': bk_strbuf_adds(out, unset ? word.buf : value); break;
    case '+': bk_strbuf_adds(out, unset ? "" : word.buf); break;
    case '?':
        if (!value || (null_unset && !*value)) {
            const char *msg = word.len ? word.buf
                              : !value ? "is not allowed to be unset"
                                       : "is not allowed to be empty";
            bk_strbuf_addf(&lx->err, "%s: %s", name, msg);
            rc = BK_EINVAL;
        } else {
            bk_strbuf_adds(out, value);
        }
        break;
    case '#':
    case '%': rc = apply_pattern(lx, op, word.buf, value ? value : "", out); break;
    default:
        bk_strbuf_addf(&lx->err, "unsupported modifier (%s) in substitution", ops);
        rc = BK_EINVAL;
    }
    bk_strbuf_release(&word);
    return rc;
}

static int process_replace(struct lexer *lx, const char *name, struct bk_strbuf *out)
{
    struct bk_strbuf pat = BK_STRBUF_INIT, repl = BK_STRBUF_INIT;
    struct pattern p;
    const char *value = bk_vars_get(lx->vars, name);
    int all = 0, rc = BK_EINVAL;

    if (peek(lx) == '/') {
        all = 1;
        next(lx);
    }
    if (process_until(lx, '/', 1, &pat)) {
        if (peek(lx) == LEX_EOF) {
            bk_strbuf_reset(&lx->err);
            fail(lx, "syntax error: missing '/' in ${}");
        }
        goto done;
    }
    if (process_until(lx, '}', 1, &repl)) {
        if (peek(lx) == LEX_EOF) {
            bk_strbuf_reset(&lx->err);
            fail(lx, "syntax error: missing '}'");
        }
        goto done;
    }
    if (pattern_compile(pat.buf, &p, &lx->err))
        goto done;
    p.budget = &lx->budget;
    replace(&p, value ? value : "", repl.buf, all, out);
    pattern_free(&p);
    rc = BK_OK;
done:
    bk_strbuf_release(&pat);
    bk_strbuf_release(&repl);
    return rc;
}

static int process_dollar(struct lexer *lx, struct bk_strbuf *out)
{
    struct bk_strbuf name = BK_STRBUF_INIT;
    char ops[8];
    int ch, rc = BK_OK, null_unset = 0;

    next(lx); /* '$' */
    if (peek(lx) != '{') {
        read_name(lx, &name);
        if (name.len == 0) {
            bk_strbuf_addch(out, '$');
        } else {
            const char *v = bk_vars_get(lx->vars, name.buf);
            bk_strbuf_adds(out, v ? v : "");
        }
        bk_strbuf_release(&name);
        return over_limits(lx, out);
    }
    next(lx); /* '{' */
    ch = peek(lx);
    if (ch == LEX_EOF)
        return fail(lx, "syntax error: missing '}'");
    if (ch == '{' || ch == '}' || ch == ':')
        return fail(lx, "syntax error: bad substitution");
    read_name(lx, &name);
    ch = next(lx);
    ops[0] = (char)ch;
    ops[1] = '\0';
    if (ch == LEX_EOF)
        strcpy(ops, "\xef\xbf\xbd");
    switch (ch) {
    case '}': {
        const char *v = bk_vars_get(lx->vars, name.buf);
        bk_strbuf_adds(out, v ? v : "");
        break;
    }
    case ':':
        null_unset = 1;
        ch = next(lx);
        if (ch == LEX_EOF)
            strcat(ops, "\xef\xbf\xbd");
        else
            ops[1] = (char)ch, ops[2] = '\0';
        rc = process_modifier(lx, name.buf, ch, null_unset, ops, out);
        break;
    case '+':
    case '-':
    case '?':
    case '#':
    case '%': rc = process_modifier(lx, name.buf, ch, 0, ops, out); break;
    case '/': rc = process_replace(lx, name.buf, out); break;
    default:
        bk_strbuf_addf(&lx->err, "unsupported modifier (%s) in substitution", ops);
        rc = BK_EINVAL;
    }
    bk_strbuf_release(&name);
    return rc ? rc : over_limits(lx, out);
}

/* ---- quotes and the main loop ------------------------------------------ */

static int process_single_quote(struct lexer *lx, struct bk_strbuf *out)
{
    next(lx);
    for (;;) {
        int ch = next(lx);
        if (ch == LEX_EOF)
            return fail(lx, "unexpected end of statement while looking for matching single-quote");
        if (ch == '\'')
            return BK_OK;
        bk_strbuf_addch(out, (char)ch);
    }
}

static int process_double_quote(struct lexer *lx, int raw, struct bk_strbuf *out)
{
    next(lx);
    for (;;) {
        int ch = peek(lx);
        if (ch == LEX_EOF)
            return fail(lx, "unexpected end of statement while looking for matching double-quote");
        if (ch == '"') {
            next(lx);
            return BK_OK;
        }
        if (ch == '$') {
            if (process_dollar(lx, out))
                return BK_EINVAL;
            continue;
        }
        ch = next(lx);
        if (ch == lx->esc) {
            int nx = peek(lx);
            if (raw)
                bk_strbuf_addch(out, (char)ch);
            if (nx == LEX_EOF)
                continue;
            if (nx == '"' || nx == '$' || nx == lx->esc)
                ch = next(lx);
        }
        bk_strbuf_addch(out, (char)ch);
    }
}

/* Process until `stop` (consumed) or the end of the word (stop LEX_EOF). */
static int process_until(struct lexer *lx, int stop, int raw, struct bk_strbuf *out)
{
    while (peek(lx) != LEX_EOF) {
        int ch = peek(lx);
        int rc = BK_OK;

        if (stop != LEX_EOF && ch == stop) {
            next(lx);
            return BK_OK;
        }
        if (ch == '$')
            rc = process_dollar(lx, out);
        else if (ch == '\'')
            rc = process_single_quote(lx, out);
        else if (ch == '"')
            rc = process_double_quote(lx, raw, out);
        else {
            ch = next(lx);
            if (ch == lx->esc) {
                if (raw)
                    bk_strbuf_addch(out, (char)ch);
                ch = next(lx);
                if (ch == LEX_EOF)
                    break;
            }
            bk_strbuf_addch(out, (char)ch);
        }
        if (rc)
            return rc;
    }
    if (stop != LEX_EOF) {
        bk_strbuf_reset(&lx->err);
        bk_strbuf_adds(&lx->err, "unexpected end of statement while looking for matching ");
        bk_strbuf_addch(&lx->err, (char)stop);
        return BK_EINVAL;
    }
    return BK_OK;
}

int bk_shell_expand(const char *word, char escape, const struct bk_vars *vars, char **out)
{
    struct lexer lx = {word,           strlen(word),      0, (unsigned char)escape, vars,
                       BK_STRBUF_INIT, BK_SHELL_MAX_STEPS};
    struct bk_strbuf res = BK_STRBUF_INIT;

    *out = NULL;
    if (process_until(&lx, LEX_EOF, 0, &res)) {
        struct bk_strbuf msg = BK_STRBUF_INIT;
        bk_strbuf_adds(&msg, "failed to process ");
        bk_go_quote(&msg, word);
        bk_error_set(BK_EINVAL, "%s: %s", msg.buf, lx.err.buf);
        bk_strbuf_release(&msg);
        bk_strbuf_release(&lx.err);
        bk_strbuf_release(&res);
        return BK_EINVAL;
    }
    bk_strbuf_release(&lx.err);
    *out = bk_strbuf_detach(&res);
    return BK_OK;
}
