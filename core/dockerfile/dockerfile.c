/*
 * dockerfile.c - physical lines to logical instructions; see dockerfile.h.
 *
 * This is the line loop of BuildKit's parser.Parse, step for step, because
 * its order of checks decides many edge cases:
 *
 *   1. Lines are cut after each "\n" (the "\n" stays with the line). A line
 *      of more than 65535 bytes stops the scan, as Go's bufio.Scanner does;
 *      the error is reported after the loop, so a file whose first line is
 *      too long reports "file with no instructions", as BuildKit does.
 *   2. The first line loses a UTF-8 byte-order mark. Every line loses its
 *      trailing "\r" and "\n" bytes; the first line of an instruction also
 *      loses its leading white space (Go's unicode.IsSpace).
 *   3. While no other line has been seen, "#name=value" lines with the names
 *      syntax, escape or check are directives; anything else ends that phase.
 *   4. A line starting with "#" (after white space) is a comment and dropped.
 *   5. A line ending in the escape character (plus blanks), not preceded by
 *      another escape character, continues: the character is cut and the next
 *      line is appended with no separator. Comment lines and blank lines
 *      inside a continuation are skipped (blank ones raise a warning).
 *   6. The joined line becomes a node (dockerfile_args.c). A RUN/COPY/ADD in
 *      shell form (also under ONBUILD) whose line contains "<<" reads one
 *      heredoc body per opener (dockerfile_heredoc.c), raw, up to a line equal
 *      to the name (leading tabs ignored for <<-); the node's end line covers
 *      the bodies.
 *
 * Error lines: a directive error names its own line, an instruction error
 * the instruction's first line, "file with no instructions" the last line.
 */
#include "core/dockerfile/dockerfile.h"

#include "core/dockerfile/dockerfile_int.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LINE 65535 /* bufio.MaxScanTokenSize - 1 */

struct scanner {
    const char *data;
    size_t len;
    size_t pos;
    int too_long;
};

struct directives {
    int done;
    int seen_syntax, seen_escape, seen_check;
};

/* Next physical line, "\n" included when present. 0 at the end or when a
 * line is too long (then s->too_long is set and scanning stops for good). */
static int scan(struct scanner *s, const char **line, size_t *n)
{
    const char *p, *nl;
    size_t left;

    if (s->too_long || s->pos >= s->len)
        return 0;
    p = s->data + s->pos;
    left = s->len - s->pos;
    nl = memchr(p, '\n', left < MAX_LINE + 1 ? left : MAX_LINE + 1);
    if (!nl && left > MAX_LINE) {
        s->too_long = 1;
        return 0;
    }
    *line = p;
    *n = nl ? (size_t)(nl - p) + 1 : left;
    s->pos += *n;
    return 1;
}

static void trim_newline(const char *s, size_t *n)
{
    while (*n > 0 && (s[*n - 1] == '\n' || s[*n - 1] == '\r'))
        (*n)--;
}

static void trim_leading_space(const char **s, size_t *n)
{
    size_t w;
    while ((w = bk_df__space_at(*s, *n)) > 0)
        *s += w, *n -= w;
}

static int is_comment(const char *s, size_t n)
{
    trim_leading_space(&s, &n);
    return n > 0 && s[0] == '#';
}

static int re_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* One possible parser directive (tok is left-trimmed, no line end).
 * Returns 1 for a directive, 0 for none, BK_EINVAL on a bad one. */
static int parse_directive(struct bk_dockerfile *df, struct directives *d, const char *tok,
                           size_t n)
{
    size_t i = 1, name_start, name_len, v, e;
    char name[8] = "";
    int *seen;

    if (d->done)
        return 0;
    if (n == 0 || tok[0] != '#')
        goto stop;
    {
        const char *p = tok + 1;
        size_t rem = n - 1;
        trim_leading_space(&p, &rem);
        i = (size_t)(p - tok);
    }
    name_start = i;
    if (i >= n || !is_alpha(tok[i]))
        goto stop;
    while (i < n && (is_alpha(tok[i]) || (tok[i] >= '0' && tok[i] <= '9')))
        i++;
    name_len = i - name_start;
    while (i < n && re_space(tok[i]))
        i++;
    if (i >= n || tok[i] != '=')
        goto stop;
    i++;
    if (i >= n)
        goto stop;
    /* \s*(.+?)\s*$ : the value keeps at least one byte. */
    v = i;
    while (v < n - 1 && re_space(tok[v]))
        v++;
    e = n;
    while (e > v + 1 && re_space(tok[e - 1]))
        e--;
    if (name_len > 6)
        goto stop;
    for (size_t k = 0; k < name_len; k++)
        name[k] = (char)(tok[name_start + k] | 0x20);
    if (!strcmp(name, "syntax"))
        seen = &d->seen_syntax;
    else if (!strcmp(name, "escape"))
        seen = &d->seen_escape;
    else if (!strcmp(name, "check"))
        seen = &d->seen_check;
    else
        goto stop;
    if (*seen)
        return bk_error_set(BK_EINVAL, "only one %s parser directive can be used", name);
    *seen = 1;
    if (seen == &d->seen_escape) {
        if (e - v != 1 || (tok[v] != '\\' && tok[v] != '`')) {
            char *val = bk_xstrndup(tok + v, e - v);
            int rc =
                bk_error_set(BK_EINVAL, "invalid escape token '%s' does not match ` or \\", val);
            free(val);
            return rc;
        }
        df->escape = tok[v];
    } else if (seen == &d->seen_syntax) {
        df->syntax = bk_xstrndup(tok + v, e - v);
    } else {
        df->check = bk_xstrndup(tok + v, e - v);
    }
    return 1;
stop:
    d->done = 1;
    return 0;
}

/* Cut a line continuation. Returns 1 (and shortens *n) if the line continues. */
static int cut_continuation(const char *s, size_t *n, char esc)
{
    size_t e = *n;

    while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (e == 0 || s[e - 1] != esc)
        return 0;
    if (e >= 2 && s[e - 2] == esc)
        return 0;
    *n = e - 1;
    return 1;
}

static int can_contain_heredoc(const struct bk_df_node *node)
{
    if (!strcmp(node->keyword, "onbuild") && node->sub)
        node = node->sub;
    if (strcmp(node->keyword, "run") && strcmp(node->keyword, "copy") &&
        strcmp(node->keyword, "add"))
        return 0;
    return !node->json;
}

static int read_heredoc_bodies(struct scanner *sc, struct bk_df_node *node, int *cur)
{
    for (size_t i = 0; i < node->nheredocs; i++) {
        struct bk_df_heredoc *h = &node->heredocs[i];
        struct bk_strbuf content = BK_STRBUF_INIT;
        const char *raw;
        size_t rn;
        int terminated = 0;

        while (scan(sc, &raw, &rn)) {
            const char *t = raw;
            size_t tn = rn;
            (*cur)++;
            trim_newline(t, &tn);
            if (h->chomp)
                while (tn > 0 && t[0] == '\t')
                    t++, tn--;
            if (tn == h->name_len && memcmp(t, h->name, tn) == 0) {
                terminated = 1;
                break;
            }
            bk_strbuf_add(&content, raw, rn);
        }
        h->content_len = content.len;
        h->content = bk_strbuf_detach(&content);
        if (!terminated)
            return bk_error_set(BK_EINVAL, "unterminated heredoc");
    }
    return BK_OK;
}

static struct bk_df_node *new_node(struct bk_dockerfile *df, size_t *alloc)
{
    if (df->nnodes == *alloc) {
        *alloc = *alloc ? *alloc * 2 : 16;
        df->nodes = bk_xrealloc(df->nodes, *alloc * sizeof(*df->nodes));
    }
    memset(&df->nodes[df->nnodes], 0, sizeof(df->nodes[0]));
    return &df->nodes[df->nnodes];
}

static void add_warning(struct bk_dockerfile *df, char *msg)
{
    df->warnings = bk_xrealloc(df->warnings, (df->nwarnings + 1) * sizeof(*df->warnings));
    df->warnings[df->nwarnings++] = msg;
}

static int fail(struct bk_dockerfile *df, int line, int rc)
{
    return bk_error_wrap(rc, "%s:%d", df->filename, line > 0 ? line : 1);
}

/* Finish the instruction whose first line is in `buf` (`continues` if that
 * line ended with a continuation), then append its node. */
static int parse_instruction(struct bk_dockerfile *df, struct scanner *sc, struct bk_strbuf *buf,
                             int continues, size_t *alloc, int *cur)
{
    int start = *cur, empty_cont = 0, rc;
    struct bk_df_node *node;
    const char *raw;
    size_t rn;

    while (continues && scan(sc, &raw, &rn)) {
        const char *t = raw;
        size_t tn = rn, ln;
        (*cur)++;
        trim_newline(t, &tn);
        if (is_comment(t, tn))
            continue;
        {
            const char *l = t;
            ln = tn;
            trim_leading_space(&l, &ln);
        }
        if (ln == 0) {
            empty_cont = 1;
            continue;
        }
        continues = cut_continuation(t, &tn, df->escape);
        bk_strbuf_add(buf, t, tn);
    }
    if (empty_cont)
        add_warning(df, bk_xasprintf("%s:%d: empty continuation line found in: %s", df->filename,
                                     *cur, buf->buf));
    node = new_node(df, alloc);
    rc = bk_df__parse_line(buf->buf, buf->len, df->escape, 0, node);
    if (rc == BK_OK && can_contain_heredoc(node) && memmem(buf->buf, buf->len, "<<", 2)) {
        rc = bk_df__find_heredocs(buf->buf, buf->len, &node->heredocs, &node->nheredocs);
        if (rc == BK_OK)
            rc = read_heredoc_bodies(sc, node, cur);
    }
    if (rc < 0) {
        bk_df__node_release(node);
        return fail(df, start, rc);
    }
    node->start_line = start;
    node->end_line = *cur;
    for (struct bk_df_node *sub = node->sub; sub; sub = sub->sub)
        sub->start_line = start, sub->end_line = *cur;
    df->nnodes++;
    return BK_OK;
}

int bk_dockerfile_parse(const char *data, size_t len, const char *filename,
                        struct bk_dockerfile **out)
{
    struct bk_dockerfile *df = bk_xcalloc(1, sizeof(*df));
    struct scanner sc = {data, len, 0, 0};
    struct directives d = {0};
    struct bk_strbuf buf = BK_STRBUF_INIT;
    size_t alloc = 0, rn;
    const char *raw;
    int cur = 0, continues, rc = BK_OK;

    *out = NULL;
    df->filename = bk_xstrdup(filename ? filename : "Dockerfile");
    df->escape = '\\';
    while (scan(&sc, &raw, &rn)) {
        const char *tok = raw;
        size_t tn = rn;
        if (cur == 0 && tn >= 3 && memcmp(tok, "\xEF\xBB\xBF", 3) == 0)
            tok += 3, tn -= 3;
        trim_newline(tok, &tn);
        trim_leading_space(&tok, &tn);
        rc = parse_directive(df, &d, tok, tn);
        if (rc < 0) {
            rc = fail(df, cur + 1, rc);
            goto out;
        }
        if (is_comment(tok, tn))
            tn = 0;
        cur++;
        continues = cut_continuation(tok, &tn, df->escape);
        if (!continues && tn == 0)
            continue;
        bk_strbuf_reset(&buf);
        bk_strbuf_add(&buf, tok, tn);
        rc = parse_instruction(df, &sc, &buf, continues, &alloc, &cur);
        if (rc < 0)
            goto out;
    }
    if (df->nnodes == 0) {
        rc = bk_error_set(BK_EINVAL, "%s:%d: file with no instructions", df->filename,
                          cur > 0 ? cur : 1);
        goto out;
    }
    if (sc.too_long) {
        rc = bk_error_set(BK_EINVAL, "%s:%d: dockerfile line greater than max allowed size of %d",
                          df->filename, cur + 1, MAX_LINE);
        goto out;
    }
    df->start_line = df->nodes[0].start_line;
    df->end_line = df->nodes[df->nnodes - 1].end_line;
out:
    bk_strbuf_release(&buf);
    if (rc < 0) {
        bk_dockerfile_free(df);
        return rc;
    }
    *out = df;
    return BK_OK;
}

int bk_dockerfile_parse_file(const char *path, struct bk_dockerfile **out)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    int rc;

    *out = NULL;
    rc = bk_strbuf_read_file(&sb, path);
    if (rc < 0)
        return rc;
    rc = bk_dockerfile_parse(sb.buf, sb.len, strcmp(path, "-") ? path : "<stdin>", out);
    bk_strbuf_release(&sb);
    return rc;
}

void bk_dockerfile_free(struct bk_dockerfile *df)
{
    if (!df)
        return;
    for (size_t i = 0; i < df->nnodes; i++)
        bk_df__node_release(&df->nodes[i]);
    free(df->nodes);
    for (size_t i = 0; i < df->nwarnings; i++)
        free(df->warnings[i]);
    free(df->warnings);
    free(df->filename);
    free(df->syntax);
    free(df->check);
    free(df);
}
