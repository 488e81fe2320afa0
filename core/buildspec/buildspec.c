/*
 * buildspec.c - build specs and their list; see buildspec.h.
 */
#include "core/buildspec/buildspec.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void bk_buildspec_init(struct bk_buildspec *s)
{
    memset(s, 0, sizeof(*s));
    s->build_args = (struct bk_strvec)BK_STRVEC_INIT;
    s->platforms = (struct bk_strvec)BK_STRVEC_INIT;
    s->cache_from = (struct bk_strvec)BK_STRVEC_INIT;
    s->cache_to = (struct bk_strvec)BK_STRVEC_INIT;
}

void bk_buildspec_release(struct bk_buildspec *s)
{
    free(s->name);
    free(s->origin);
    free(s->context);
    free(s->dockerfile);
    free(s->dockerfile_inline);
    free(s->target);
    free(s->builder);
    bk_strvec_clear(&s->build_args);
    bk_strvec_clear(&s->platforms);
    bk_strvec_clear(&s->cache_from);
    bk_strvec_clear(&s->cache_to);
    bk_buildspec_init(s);
}

static void copy_vec(struct bk_strvec *dst, const struct bk_strvec *src)
{
    for (size_t i = 0; i < src->n; i++)
        bk_strvec_push(dst, src->v[i]);
}

void bk_buildspec_copy(struct bk_buildspec *dst, const struct bk_buildspec *src)
{
    bk_buildspec_init(dst);
    bk_buildspec_set(&dst->name, src->name);
    bk_buildspec_set(&dst->origin, src->origin);
    dst->unit = src->unit;
    bk_buildspec_set(&dst->context, src->context);
    bk_buildspec_set(&dst->dockerfile, src->dockerfile);
    bk_buildspec_set(&dst->dockerfile_inline, src->dockerfile_inline);
    bk_buildspec_set(&dst->target, src->target);
    bk_buildspec_set(&dst->builder, src->builder);
    copy_vec(&dst->build_args, &src->build_args);
    copy_vec(&dst->platforms, &src->platforms);
    copy_vec(&dst->cache_from, &src->cache_from);
    copy_vec(&dst->cache_to, &src->cache_to);
}

int bk_spec_runner_has(const struct bk_spec_runner *r, const char *plugin)
{
    struct bk_strvec argv = BK_STRVEC_INIT;
    struct bk_strbuf out = BK_STRBUF_INIT, err = BK_STRBUF_INIT;
    int status = 1, rc;

    if (!r || (r->mode && strcmp(r->mode, "builtin") == 0))
        return 0;
    bk_strvec_push(&argv, r->docker ? r->docker : "docker");
    bk_strvec_push(&argv, plugin);
    bk_strvec_push(&argv, "version");
    rc = r->run(&argv, &out, &err, &status, r->arg);
    bk_strvec_clear(&argv);
    bk_strbuf_release(&out);
    bk_strbuf_release(&err);
    return rc == BK_OK && status == 0;
}

char *bk_spec_first_line(const char *text)
{
    const char *p = text;
    while (*p == '\n' || *p == ' ')
        p++;
    if (strncmp(p, "ERROR: ", 7) == 0)
        p += 7;
    return bk_xstrndup(p, strcspn(p, "\n"));
}

struct bk_buildspec *bk_buildspec_list_add(struct bk_buildspec_list *l, const char *name,
                                           const char *origin)
{
    struct bk_buildspec *s;

    if (l->n == l->alloc) {
        l->alloc = l->alloc ? 2 * l->alloc : 4;
        l->v = bk_xrealloc(l->v, l->alloc * sizeof(*l->v));
    }
    s = &l->v[l->n++];
    bk_buildspec_init(s);
    bk_buildspec_set(&s->name, name);
    bk_buildspec_set(&s->origin, origin);
    return s;
}

struct bk_buildspec *bk_buildspec_list_add_file(struct bk_buildspec_list *l, const char *name,
                                                const char *origin, const char *unit,
                                                const char *dir, const char *context,
                                                const char *dockerfile, const char *inline_text)
{
    struct bk_buildspec *s;

    if (!context)
        context = ".";
    if (bk_buildspec_remote_context(context)) {
        bk_strvec_pushf(&l->warnings,
                        "%s: %s %s: the build context '%s' is not a local directory: its cache "
                        "mounts are not restored or saved",
                        origin, unit, name, context);
        return NULL;
    }
    s = bk_buildspec_list_add(l, name, origin);
    s->unit = unit;
    s->context = bk_buildspec_join(dir, context);
    if (inline_text)
        bk_buildspec_set(&s->dockerfile_inline, inline_text);
    else
        s->dockerfile = bk_buildspec_join(s->context, dockerfile ? dockerfile : "Dockerfile");
    return s;
}

void bk_buildspec_list_remove(struct bk_buildspec_list *l, size_t i)
{
    bk_buildspec_release(&l->v[i]);
    memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
    l->n--;
}

void bk_buildspec_list_free(struct bk_buildspec_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        bk_buildspec_release(&l->v[i]);
    free(l->v);
    bk_strvec_clear(&l->errors);
    bk_strvec_clear(&l->warnings);
    memset(l, 0, sizeof(*l));
    l->errors = (struct bk_strvec)BK_STRVEC_INIT;
    l->warnings = (struct bk_strvec)BK_STRVEC_INIT;
}

void bk_buildspec_set(char **field, const char *value)
{
    char *copy = value ? bk_xstrdup(value) : NULL;
    free(*field);
    *field = copy;
}

void bk_buildspec_set_arg(struct bk_strvec *args, const char *name, const char *value)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < args->n; i++) {
        if (strncmp(args->v[i], name, n) == 0 && args->v[i][n] == '=') {
            free(args->v[i]);
            args->v[i] = bk_xasprintf("%s=%s", name, value);
            return;
        }
    }
    bk_strvec_pushf(args, "%s=%s", name, value);
}

void bk_buildspec_push_split(struct bk_strvec *out, const char *list)
{
    const char *p = list;

    while (p && *p) {
        const char *end = strchr(p, ',');
        const char *e = end ? end : p + strlen(p);
        const char *b = p;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b)
            bk_strvec_push_nodup(out, bk_xstrndup(b, (size_t)(e - b)));
        p = end ? end + 1 : NULL;
    }
}

char *bk_buildspec_join(const char *dir, const char *path)
{
    size_t n;

    if (!dir || !*dir || strcmp(dir, ".") == 0 || path[0] == '/')
        return bk_xstrdup(path);
    n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return bk_xasprintf("%.*s/%s", (int)n, dir, path);
}

int bk_buildspec_remote_context(const char *c)
{
    static const char *const prefixes[] = {
        "http://",     "https://",        "git://",        "git@",    "ssh://",
        "github.com/", "docker-image://", "oci-layout://", "target:",
    };

    if (!c)
        return 0;
    if (strcmp(c, "-") == 0)
        return 1;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(c, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}
