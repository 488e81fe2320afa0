/*
 * interpolate.c - compose variable interpolation and .env files; see
 * interpolate.h.
 */
#include "core/buildspec/interpolate.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int name_char(char c, int first)
{
    return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

/* The end of the ${...} starting at p (just after "${"), honouring nested
 * braces; NULL when unterminated. */
static const char *brace_end(const char *p)
{
    int depth = 1;
    for (; *p; p++) {
        if (*p == '$' && p[1] == '{') {
            depth++;
            p++;
        } else if (*p == '}' && --depth == 0)
            return p;
    }
    return NULL;
}

static int expand(const char *in, size_t len, const struct bk_vars_lookup *vars,
                  struct bk_strbuf *out, int depth);

/* ${...}: body is what is between the braces. */
static int braced(const char *body, size_t len, const struct bk_vars_lookup *vars,
                  struct bk_strbuf *out, int depth)
{
    size_t n = 0;
    char *name;
    const char *val, *op, *rest;
    int colon, rc = BK_OK;

    while (n < len && name_char(body[n], n == 0))
        n++;
    if (n == 0)
        return bk_error_set(BK_EINVAL, "invalid interpolation format: ${%.*s}", (int)len, body);
    name = bk_xstrndup(body, n);
    val = vars->get(name, vars->arg);
    if (n == len) {
        bk_strbuf_adds(out, val ? val : "");
        free(name);
        return BK_OK;
    }
    op = body + n;
    colon = *op == ':';
    if (colon)
        op++;
    rest = op + 1;
    len -= (size_t)(rest - body);
    switch (*op) {
    case '-':
        if (val && (!colon || *val))
            bk_strbuf_adds(out, val);
        else
            rc = expand(rest, len, vars, out, depth + 1);
        break;
    case '+':
        if (val && (!colon || *val))
            rc = expand(rest, len, vars, out, depth + 1);
        break;
    case '?':
        if (val && (!colon || *val)) {
            bk_strbuf_adds(out, val);
        } else {
            struct bk_strbuf msg = BK_STRBUF_INIT;
            expand(rest, len, vars, &msg, depth + 1);
            rc = bk_error_set(BK_EINVAL, "required variable %s is missing a value%s%s", name,
                              msg.len ? ": " : "", msg.buf);
            bk_strbuf_release(&msg);
        }
        break;
    default:
        rc = bk_error_set(BK_EINVAL, "invalid interpolation format: ${%.*s}",
                          (int)(len + (size_t)(rest - body)), body);
    }
    free(name);
    return rc;
}

static int expand(const char *in, size_t len, const struct bk_vars_lookup *vars,
                  struct bk_strbuf *out, int depth)
{
    const char *p = in, *end = in + len;

    if (depth > 16)
        return bk_error_set(BK_EINVAL, "interpolation nested too deeply");
    while (p < end) {
        if (*p != '$' || p + 1 >= end) {
            bk_strbuf_addch(out, *p++);
            continue;
        }
        if (p[1] == '$') {
            bk_strbuf_addch(out, '$');
            p += 2;
        } else if (p[1] == '{') {
            const char *close = brace_end(p + 2);
            int rc;
            if (!close || close >= end)
                return bk_error_set(BK_EINVAL,
                                    "invalid interpolation format: unterminated ${ in "
                                    "'%.*s'",
                                    (int)len, in);
            rc = braced(p + 2, (size_t)(close - p - 2), vars, out, depth);
            if (rc)
                return rc;
            p = close + 1;
        } else if (name_char(p[1], 1)) {
            const char *q = p + 1;
            char *name;
            const char *val;
            while (q < end && name_char(*q, 0))
                q++;
            name = bk_xstrndup(p + 1, (size_t)(q - p - 1));
            val = vars->get(name, vars->arg);
            bk_strbuf_adds(out, val ? val : "");
            free(name);
            p = q;
        } else {
            bk_strbuf_addch(out, *p++);
        }
    }
    return BK_OK;
}

int bk_interpolate(const char *in, const struct bk_vars_lookup *vars, char **out)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    int rc = expand(in, strlen(in), vars, &sb, 0);

    *out = NULL;
    if (rc) {
        bk_strbuf_release(&sb);
        return rc;
    }
    *out = bk_strbuf_detach(&sb);
    return BK_OK;
}

/* ---- .env ---- */

static char *dotenv_value(const char *v)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    const char *e;

    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '\'' && (e = strchr(v + 1, '\'')))
        return bk_xstrndup(v + 1, (size_t)(e - v - 1));
    if (*v == '"') {
        for (v++; *v && *v != '"'; v++) {
            if (*v == '\\' && v[1]) {
                v++;
                bk_strbuf_addch(&sb, *v == 'n' ? '\n' : *v == 't' ? '\t' : *v);
            } else
                bk_strbuf_addch(&sb, *v);
        }
        return bk_strbuf_detach(&sb);
    }
    e = strstr(v, " #");
    if (!e)
        e = v + strlen(v);
    while (e > v && isspace((unsigned char)e[-1]))
        e--;
    return bk_xstrndup(v, (size_t)(e - v));
}

int bk_dotenv_read(const char *path, int optional, struct bk_strvec *out)
{
    struct bk_strbuf text = BK_STRBUF_INIT;
    char *line, *save = NULL;

    int rc = bk_strbuf_read_file(&text, path);

    if (rc) {
        bk_strbuf_release(&text);
        if (optional && rc == BK_ENOTFOUND)
            return BK_OK;
        return bk_error_wrap(BK_EINVAL, "env file");
    }
    for (line = strtok_r(text.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq, *k, *ke, *val;
        line[strcspn(line, "\r")] = '\0';
        k = line;
        while (isspace((unsigned char)*k))
            k++;
        if (!*k || *k == '#')
            continue;
        if (strncmp(k, "export ", 7) == 0)
            k += 7;
        eq = strchr(k, '=');
        if (!eq)
            continue;
        ke = eq;
        while (ke > k && isspace((unsigned char)ke[-1]))
            ke--;
        val = dotenv_value(eq + 1);
        bk_strvec_pushf(out, "%.*s=%s", (int)(ke - k), k, val);
        free(val);
    }
    bk_strbuf_release(&text);
    return BK_OK;
}
