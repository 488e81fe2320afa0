/*
 * runmount.c - `RUN --mount` values: CSV split, fields, validation; see
 * runmount.h.
 */
#include "core/dockerfile/runmount.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"
#include "core/util/strvec.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *bk_sharing_name(enum bk_sharing s)
{
    switch (s) {
    case BK_SHARING_PRIVATE: return "private";
    case BK_SHARING_LOCKED: return "locked";
    default: return "shared";
    }
}

const char *bk_mount_type_name(enum bk_mount_type t)
{
    static const char *const names[] = {"bind", "cache", "tmpfs", "secret", "ssh"};
    return names[t];
}

/* ---- CSV (one record, as BuildKit's csvvalue parser) -------------------- */

static int csv_error(int column, const char *what)
{
    return bk_error_set(BK_EINVAL,
                        "failed to parse csv mounts: parse error on line 1, column %d: %s", column,
                        what);
}

static int csv_fields(const char *value, struct bk_strvec *out)
{
    size_t len = strlen(value), pos = 0;
    struct bk_strbuf f = BK_STRBUF_INIT;

    if (len && value[len - 1] == '\n')
        len -= (len > 1 && value[len - 2] == '\r') ? 2 : 1;
    if (len == 0)
        return bk_error_set(BK_EINVAL, "failed to parse csv mounts: EOF");
    for (;;) {
        if (pos >= len || value[pos] != '"') {
            const char *c = memchr(value + pos, ',', len - pos);
            size_t end = c ? (size_t)(c - value) : len;
            const char *q = memchr(value + pos, '"', end - pos);
            if (q) {
                bk_strvec_clear(out);
                return csv_error((int)(q - value) + 1, "bare \" in non-quoted-field");
            }
            bk_strvec_push_nodup(out, bk_xstrndup(value + pos, end - pos));
            if (!c)
                break;
            pos = end + 1;
            continue;
        }
        /* quoted field: ends at `"` followed by `,` or the end; `""` is a quote */
        pos++;
        bk_strbuf_reset(&f);
        for (;;) {
            const char *q = memchr(value + pos, '"', len - pos);
            if (!q) {
                bk_strbuf_release(&f);
                bk_strvec_clear(out);
                return csv_error((int)pos + 1, "extraneous or missing \" in quoted-field");
            }
            bk_strbuf_add(&f, value + pos, (size_t)(q - value) - pos);
            pos = (size_t)(q - value) + 1;
            if (pos < len && value[pos] == '"') {
                bk_strbuf_addch(&f, '"');
                pos++;
                continue;
            }
            if (pos < len && value[pos] == ',') {
                bk_strvec_push(out, f.buf);
                pos++;
                break;
            }
            if (pos >= len) {
                bk_strvec_push(out, f.buf);
                bk_strbuf_release(&f);
                return BK_OK;
            }
            bk_strbuf_release(&f);
            bk_strvec_clear(out);
            return csv_error((int)pos, "extraneous or missing \" in quoted-field");
        }
    }
    bk_strbuf_release(&f);
    return BK_OK;
}

/* ---- value parsers (Go strconv / go-units semantics) --------------------- */

static int parse_bool(const char *v, int *out)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(v, t[i]) == 0)
            return *out = 1, 0;
        if (strcmp(v, f[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static int parse_uint32(const char *v, int base, uint32_t *out)
{
    uint64_t n = 0;
    if (!*v)
        return -1;
    for (const char *p = v; *p; p++) {
        int d = *p - '0';
        if (*p < '0' || *p > '9' || d >= base)
            return -1;
        n = n * (uint64_t)base + (uint64_t)d;
        if (n > UINT32_MAX)
            return -1;
    }
    *out = (uint32_t)n;
    return 0;
}

/* go-units RAMInBytes: "64m", "1.5GiB", "100" (binary multipliers). */
static int parse_ram(const char *v, int64_t *out)
{
    char *end;
    double n;
    int64_t mul = 1;

    errno = 0;
    n = strtod(v, &end);
    if (end == v || errno || n < 0 || !isdigit((unsigned char)v[0]))
        return -1;
    if (*end) {
        const char *units = "kmgtp";
        const char *u = strchr(units, tolower((unsigned char)*end));
        if (!u)
            return -1;
        for (const char *k = units; k <= u; k++)
            mul *= 1024;
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'b' || *end == 'B')
            end++;
        if (*end)
            return -1;
    }
    *out = (int64_t)(n * (double)mul);
    return 0;
}

/* ---- parse time ---------------------------------------------------------- */

int bk_runmount_parse_from(const char *value, char **from_out)
{
    struct bk_strvec fields = BK_STRVEC_INIT;
    int rc = csv_fields(value, &fields);

    *from_out = NULL;
    if (rc)
        return rc;
    for (size_t i = 0; i < fields.n; i++) {
        char *eq = strchr(fields.v[i], '=');
        if (!eq || (size_t)(eq - fields.v[i]) != 4 || strncasecmp(fields.v[i], "from", 4) != 0)
            continue;
        const char *dollar = strchr(eq + 1, '$');
        if (dollar && dollar[1]) {
            free(*from_out);
            *from_out = NULL;
            bk_strvec_clear(&fields);
            return bk_error_set(BK_EINVAL, "'from' doesn't support variable expansion, define "
                                           "alias stage instead");
        }
        free(*from_out);
        *from_out = bk_xstrdup(eq + 1);
    }
    bk_strvec_clear(&fields);
    return BK_OK;
}

/* ---- dispatch time ------------------------------------------------------- */

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = bk_xstrdup(v);
}

static int bad_type_key(const char *key, const struct bk_runmount *m)
{
    return bk_error_set(BK_EINVAL, "unexpected key '%s' for mount type '%s'", key,
                        bk_mount_type_name(m->type));
}

static int apply_bare(const char *field, struct bk_runmount *m, int *ro_auto)
{
    char *key = bk_xstrdup(field);
    int rc = BK_OK;

    for (char *p = key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!strcmp(key, "readonly") || !strcmp(key, "ro")) {
        m->readonly = 1;
        *ro_auto = 0;
    } else if (!strcmp(key, "readwrite") || !strcmp(key, "rw")) {
        m->readonly = 0;
        *ro_auto = 0;
    } else if (!strcmp(key, "required")) {
        if (m->type == BK_MOUNT_SECRET || m->type == BK_MOUNT_SSH)
            m->required = 1;
        else
            rc = bad_type_key(key, m);
    } else {
        rc = bk_error_set(BK_EINVAL, "invalid field '%s' must be a key=value pair", field);
    }
    free(key);
    return rc;
}

static int apply_field(const char *key, const char *value, const char *field, struct bk_runmount *m,
                       int *ro_auto)
{
    int b;

    if (!strcmp(key, "type")) {
        static const char *const types[] = {"bind", "cache", "tmpfs", "secret", "ssh"};
        for (int t = 0; t < 5; t++)
            if (!strcasecmp(value, types[t])) {
                m->type = (enum bk_mount_type)t;
                return BK_OK;
            }
        return bk_error_set(BK_EINVAL, "unsupported mount type \"%s\"", value);
    }
    if (!strcmp(key, "from"))
        set_str(&m->from, value);
    else if (!strcmp(key, "source") || !strcmp(key, "src"))
        set_str(&m->source, value);
    else if (!strcmp(key, "target") || !strcmp(key, "dst") || !strcmp(key, "destination"))
        set_str(&m->target, value);
    else if (!strcmp(key, "readonly") || !strcmp(key, "ro") || !strcmp(key, "readwrite") ||
             !strcmp(key, "rw")) {
        if (parse_bool(value, &b))
            return bk_error_set(BK_EINVAL, "invalid value for %s: %s", key, value);
        m->readonly = (!strcmp(key, "readonly") || !strcmp(key, "ro")) ? b : !b;
        *ro_auto = 0;
    } else if (!strcmp(key, "required")) {
        if (m->type != BK_MOUNT_SECRET && m->type != BK_MOUNT_SSH)
            return bad_type_key(key, m);
        if (parse_bool(value, &m->required))
            return bk_error_set(BK_EINVAL, "invalid value for %s: %s", key, value);
    } else if (!strcmp(key, "size")) {
        if (m->type != BK_MOUNT_TMPFS)
            return bad_type_key(key, m);
        if (parse_ram(value, &m->size))
            return bk_error_set(BK_EINVAL, "invalid value for %s: %s", key, value);
    } else if (!strcmp(key, "id"))
        set_str(&m->id, value);
    else if (!strcmp(key, "sharing")) {
        if (!strcasecmp(value, "shared"))
            m->sharing = BK_SHARING_SHARED;
        else if (!strcasecmp(value, "private"))
            m->sharing = BK_SHARING_PRIVATE;
        else if (!strcasecmp(value, "locked"))
            m->sharing = BK_SHARING_LOCKED;
        else
            return bk_error_set(BK_EINVAL, "unsupported sharing value \"%s\"", value);
    } else if (!strcmp(key, "mode")) {
        if (parse_uint32(value, 8, &m->mode))
            return bk_error_set(BK_EINVAL, "invalid value %s for mode", value);
        m->has_mode = 1;
    } else if (!strcmp(key, "uid")) {
        if (parse_uint32(value, 10, &m->uid))
            return bk_error_set(BK_EINVAL, "invalid value %s for uid", value);
        m->has_uid = 1;
    } else if (!strcmp(key, "gid")) {
        if (parse_uint32(value, 10, &m->gid))
            return bk_error_set(BK_EINVAL, "invalid value %s for gid", value);
        m->has_gid = 1;
    } else if (!strcmp(key, "env"))
        set_str(&m->env, value);
    else
        return bk_error_set(BK_EINVAL, "unexpected key '%s' in '%s'", key, field);
    return BK_OK;
}

static int validate(struct bk_runmount *m, int sharing_set, int ro_auto)
{
    int file_info =
        m->type == BK_MOUNT_SECRET || m->type == BK_MOUNT_SSH || m->type == BK_MOUNT_CACHE;
    const char *tn = bk_mount_type_name(m->type);

    if (!file_info && m->has_mode)
        return bk_error_set(BK_EINVAL, "mode not allowed for \"%s\" type mounts", tn);
    if (!file_info && m->has_uid)
        return bk_error_set(BK_EINVAL, "uid not allowed for \"%s\" type mounts", tn);
    if (!file_info && m->has_gid)
        return bk_error_set(BK_EINVAL, "gid not allowed for \"%s\" type mounts", tn);
    if (ro_auto)
        m->readonly = !(m->type == BK_MOUNT_CACHE || m->type == BK_MOUNT_TMPFS);
    if (m->type == BK_MOUNT_SECRET) {
        if (m->from)
            return bk_error_set(BK_EINVAL, "secret mount should not have a from");
        if (sharing_set)
            return bk_error_set(BK_EINVAL, "secret mount should not define sharing");
        if (!(m->source && *m->source) && !(m->target && *m->target) && !(m->id && *m->id))
            return bk_error_set(BK_EINVAL, "invalid secret mount. one of source, target required");
        if (m->source && *m->source && m->id && *m->id)
            return bk_error_set(BK_EINVAL, "both source and id can't be set");
    }
    if (sharing_set && m->type != BK_MOUNT_CACHE)
        return bk_error_set(BK_EINVAL, "invalid cache sharing set for %s mount", tn);
    return BK_OK;
}

int bk_runmount_parse(const char *value, char escape, const struct bk_vars *vars,
                      struct bk_runmount *out)
{
    struct bk_strvec fields = BK_STRVEC_INIT;
    int rc, ro_auto = 1, sharing_set = 0;

    memset(out, 0, sizeof(*out));
    out->mode = 0755;
    rc = csv_fields(value, &fields);
    for (size_t i = 0; rc == BK_OK && i < fields.n; i++) {
        const char *field = fields.v[i];
        const char *eq = strchr(field, '=');
        char *key, *expanded = NULL;

        if (!eq) {
            rc = apply_bare(field, out, &ro_auto);
            continue;
        }
        key = bk_xstrndup(field, (size_t)(eq - field));
        for (char *p = key; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        rc = bk_shell_expand(eq + 1, escape, vars, &expanded);
        if (rc == BK_OK) {
            rc = apply_field(key, expanded, field, out, &ro_auto);
            if (!strcmp(key, "sharing"))
                sharing_set = 1;
        }
        free(expanded);
        free(key);
    }
    bk_strvec_clear(&fields);
    if (rc == BK_OK)
        rc = validate(out, sharing_set, ro_auto);
    if (rc)
        bk_runmount_release(out);
    return rc;
}

void bk_runmount_release(struct bk_runmount *m)
{
    free(m->from);
    free(m->source);
    free(m->target);
    free(m->id);
    free(m->env);
    memset(m, 0, sizeof(*m));
}

/* ---- paths -------------------------------------------------------------- */

char *bk_path_clean(const char *p)
{
    size_t n = strlen(p);
    int rooted = n > 0 && p[0] == '/';
    char *out = bk_xmalloc(n + 2);
    size_t w = 0, r = 0, dotdot = 0;

    if (n == 0) {
        strcpy(out, ".");
        return out;
    }
    if (rooted) {
        out[w++] = '/';
        r = 1;
        dotdot = 1;
    }
    while (r < n) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            while (r < n && p[r] != '/')
                out[w++] = p[r++];
        }
    }
    if (w == 0)
        out[w++] = '.';
    out[w] = '\0';
    return out;
}

/* "/" + a + "/" + b, without printf (this runs once per mount). */
static char *join3(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = bk_xmalloc(la + lb + 3);
    p[0] = '/';
    memcpy(p + 1, a, la);
    p[la + 1] = '/';
    memcpy(p + la + 2, b, lb + 1);
    return p;
}

char *bk_runmount_cache_id(const struct bk_runmount *m)
{
    if (m->id && *m->id)
        return bk_xstrdup(m->id);
    return bk_path_clean(m->target ? m->target : "");
}

int bk_runmount_mount_path(const struct bk_runmount *m, const char *workdir, char **out)
{
    const char *t = m->target ? m->target : "";
    char *clean = bk_path_clean(t);
    char *path;

    if (clean[0] == '/') {
        path = bk_xstrdup(t);
    } else {
        char *joined = join3(workdir ? workdir : "/", t);
        path = bk_path_clean(joined);
        free(joined);
    }
    free(clean);
    if (strcmp(path, "/") == 0) {
        free(path);
        *out = NULL;
        return bk_error_set(BK_EINVAL, "invalid mount target \"/\"");
    }
    *out = path;
    return BK_OK;
}

int bk_runmount_has_base(const struct bk_runmount *m)
{
    char *src, *clean;
    int no_source;

    if (!(m->has_uid || m->has_gid || m->has_mode))
        return 0;
    if (!m->source || !*m->source)
        return 1;
    src = join3("", m->source);
    clean = bk_path_clean(src);
    no_source = strcmp(clean, "/") == 0;
    free(src);
    free(clean);
    return no_source;
}
