/*
 * bake.c - a bake file's builds; see bake.h.
 */
#include "core/buildspec/bake.h"

#include "core/buildspec/compose.h"
#include "core/buildspec/interpolate.h"
#include "core/buildspec/json_tree.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const default_files[] = {
    "docker-compose.yml",        "docker-compose.yaml", "docker-bake.json",
    "docker-bake.override.json", "docker-bake.hcl",     "docker-bake.override.hcl",
};

static const char *env_default(const char *name)
{
    return getenv(name);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int is_compose_file(const char *f)
{
    return ends_with(f, ".yml") || ends_with(f, ".yaml");
}

static void default_file_list(const struct bk_bake_opts *o, struct bk_strvec *files)
{
    for (size_t i = 0; o->files && i < o->files->n; i++)
        bk_strvec_push(files, o->files->v[i]);
    for (size_t i = 0; !files->n && i < sizeof(default_files) / sizeof(default_files[0]); i++)
        if (access(default_files[i], R_OK) == 0)
            bk_strvec_push(files, default_files[i]);
}

/* ---- the builtin JSON reader ---- */

struct def {
    cJSON *doc; /* merged {"variable", "group", "target"} */
    const char *(*getenv_fn)(const char *name);
    struct bk_vars_lookup vars;
};

static const char *var_get(const char *name, void *arg)
{
    struct def *d = arg;
    const char *v = d->getenv_fn(name);
    const cJSON *var;

    if (v)
        return v;
    var = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d->doc, "variable"),
                                           name);
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(var, "default"));
}

/* The target with its inherits applied (new object), or NULL. */
static cJSON *resolved_target(struct def *d, const char *name, int depth)
{
    const cJSON *t =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d->doc, "target"), name);
    const cJSON *inh, *e;
    cJSON *out;

    if (!cJSON_IsObject(t) || depth > 16)
        return NULL;
    out = cJSON_CreateObject();
    inh = cJSON_GetObjectItemCaseSensitive(t, "inherits");
    cJSON_ArrayForEach(e, inh)
    {
        cJSON *base = cJSON_IsString(e) ? resolved_target(d, e->valuestring, depth + 1) : NULL;
        if (base) {
            bk_json_merge(out, base);
            cJSON_Delete(base);
        }
    }
    bk_json_merge(out, t);
    cJSON_DeleteItemFromObjectCaseSensitive(out, "inherits");
    return out;
}

/* Expand group and target names into `out` (targets, each once). */
static void expand(struct def *d, const char *name, struct bk_strvec *out,
                   struct bk_strvec *missing, int depth)
{
    const cJSON *g =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d->doc, "group"), name);
    const cJSON *e;

    if (depth > 16)
        return;
    if (cJSON_IsObject(g)) {
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(g, "targets"))
        {
            if (cJSON_IsString(e))
                expand(d, e->valuestring, out, missing, depth + 1);
        }
        return;
    }
    if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d->doc, "target"),
                                         name)) {
        if (bk_strvec_find(out, name) < 0)
            bk_strvec_push(out, name);
        return;
    }
    bk_strvec_push(missing, name);
}

/* --set PATTERN.KEY=VALUE on the targets of `def`. */
static void apply_set(cJSON *targets, const char *set)
{
    const char *dot = strchr(set, '.'), *eq = strchr(set, '=');
    cJSON *t;

    if (!dot || !eq || eq < dot)
        return;
    char *pattern = bk_xstrndup(set, (size_t)(dot - set));
    char *key = bk_xstrndup(dot + 1, (size_t)(eq - dot - 1));
    const char *val = eq + 1;
    cJSON_ArrayForEach(t, targets)
    {
        if (fnmatch(pattern, t->string, 0) != 0)
            continue;
        if (strncmp(key, "args.", 5) == 0) {
            cJSON *args = cJSON_GetObjectItemCaseSensitive(t, "args");
            if (!args)
                args = cJSON_AddObjectToObject(t, "args");
            cJSON_DeleteItemFromObjectCaseSensitive(args, key + 5);
            cJSON_AddStringToObject(args, key + 5, val);
        } else if (strcmp(key, "platform") == 0 || strcmp(key, "cache-from") == 0 ||
                   strcmp(key, "cache-to") == 0) {
            struct bk_strvec items = BK_STRVEC_INIT;
            const char *field = strcmp(key, "platform") == 0 ? "platforms" : key;
            cJSON *arr = cJSON_CreateArray();
            if (strcmp(key, "platform") == 0)
                bk_buildspec_push_split(&items, val);
            else
                bk_strvec_push(&items, val);
            for (size_t i = 0; i < items.n; i++)
                cJSON_AddItemToArray(arr, cJSON_CreateString(items.v[i]));
            cJSON_DeleteItemFromObjectCaseSensitive(t, field);
            cJSON_AddItemToObject(t, field, arr);
            bk_strvec_clear(&items);
        } else if (strcmp(key, "target") == 0 || strcmp(key, "dockerfile") == 0 ||
                   strcmp(key, "context") == 0) {
            cJSON_DeleteItemFromObjectCaseSensitive(t, key);
            cJSON_AddStringToObject(t, key, val);
        }
    }
    free(pattern);
    free(key);
}

int bk_bake_load(const struct bk_bake_opts *o, cJSON **out, struct bk_buildspec_list *diag)
{
    struct def d = {0};
    struct bk_strvec files = BK_STRVEC_INIT, names = BK_STRVEC_INIT, missing = BK_STRVEC_INIT;
    cJSON *targets;
    int rc = BK_OK;

    *out = NULL;
    d.getenv_fn = o->getenv_fn ? o->getenv_fn : env_default;
    d.vars.get = var_get;
    d.vars.arg = &d;
    d.doc = cJSON_CreateObject();
    default_file_list(o, &files);
    if (!files.n)
        rc = bk_error_set(BK_EINVAL, "no bake file (docker-bake.json, docker-bake.hcl, "
                                     "docker-compose.yml)");
    for (size_t i = 0; rc == BK_OK && i < files.n; i++) {
        struct bk_strbuf text = BK_STRBUF_INIT;
        cJSON *doc;
        if (bk_strbuf_read_file(&text, files.v[i]) != BK_OK)
            rc = bk_error_set(BK_EINVAL, "%s: cannot read the bake file", files.v[i]);
        else if (!(doc = cJSON_Parse(text.buf)))
            rc = bk_error_set(BK_EINVAL, "%s: %s", files.v[i],
                              ends_with(files.v[i], ".hcl")
                                  ? "an HCL bake file needs `docker buildx bake` (not found); "
                                    "bkcache reads JSON bake files by itself"
                                  : "not a JSON bake file");
        else {
            bk_json_merge(d.doc, doc);
            cJSON_Delete(doc);
        }
        bk_strbuf_release(&text);
    }
    if (rc == BK_OK) {
        if (o->targets && o->targets->n)
            for (size_t i = 0; i < o->targets->n; i++)
                expand(&d, o->targets->v[i], &names, &missing, 0);
        else if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d.doc, "group"),
                                                  "default") ||
                 cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d.doc, "target"),
                                                  "default"))
            expand(&d, "default", &names, &missing, 0);
        else
            bk_strvec_pushf(&diag->errors, "%s: no target named and no \"default\" group",
                            files.v[0]);
        for (size_t i = 0; i < missing.n; i++)
            bk_strvec_pushf(&diag->errors, "%s: target %s: no such target or group", files.v[0],
                            missing.v[i]);
        *out = cJSON_CreateObject();
        targets = cJSON_AddObjectToObject(*out, "target");
        for (size_t i = 0; i < names.n; i++) {
            cJSON *t = resolved_target(&d, names.v[i], 0);
            if (t && bk_json_interpolate(t, &d.vars) != BK_OK) {
                bk_strvec_pushf(&diag->errors, "%s: target %s: %s", files.v[0], names.v[i],
                                bk_error_msg());
                cJSON_Delete(t);
                continue;
            }
            if (t)
                cJSON_AddItemToObject(targets, names.v[i], t);
        }
        for (size_t i = 0; o->set && i < o->set->n; i++)
            apply_set(targets, o->set->v[i]);
    }
    cJSON_Delete(d.doc);
    bk_strvec_clear(&files);
    bk_strvec_clear(&names);
    bk_strvec_clear(&missing);
    return rc;
}

/* ---- resolved definition -> build specs ---- */

void bk_bake_specs(const cJSON *def, const char *origin, const struct bk_bake_opts *o,
                   struct bk_buildspec_list *out)
{
    const cJSON *t;
    (void)o;

    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(def, "target"))
    {
        const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "context"));
        const char *df = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "dockerfile"));
        const char *inl =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "dockerfile-inline"));
        const cJSON *a;
        struct bk_buildspec *s =
            bk_buildspec_list_add_file(out, t->string, origin, "target", NULL, ctx, df, inl);

        if (!s)
            continue;
        bk_buildspec_set(&s->target,
                         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "target")));
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(t, "args"))
        {
            if (cJSON_IsString(a))
                bk_buildspec_set_arg(&s->build_args, a->string, a->valuestring);
        }
        bk_json_push_strings(&s->platforms, cJSON_GetObjectItemCaseSensitive(t, "platforms"));
        bk_json_push_strings(&s->cache_from, cJSON_GetObjectItemCaseSensitive(t, "cache-from"));
        bk_json_push_strings(&s->cache_to, cJSON_GetObjectItemCaseSensitive(t, "cache-to"));
    }
}

/* ---- docker buildx bake --print ---- */

/* Run --print for `targets` (NULL: the default). BK_OK with *def; BK_ENOTFOUND
 * when buildx is not there; BK_EINVAL with bake's message otherwise. */
static int print_def(const struct bk_bake_opts *o, const struct bk_strvec *targets, cJSON **def)
{
    const struct bk_spec_runner *r = o->runner;
    struct bk_strvec argv = BK_STRVEC_INIT;
    struct bk_strbuf out = BK_STRBUF_INIT, err = BK_STRBUF_INIT;
    int status = 0, rc;

    *def = NULL;
    bk_strvec_push(&argv, r->docker ? r->docker : "docker");
    bk_strvec_push(&argv, "buildx");
    bk_strvec_push(&argv, "bake");
    for (size_t i = 0; o->files && i < o->files->n; i++)
        bk_strvec_pushf(&argv, "--file=%s", o->files->v[i]);
    for (size_t i = 0; o->set && i < o->set->n; i++)
        bk_strvec_pushf(&argv, "--set=%s", o->set->v[i]);
    bk_strvec_push(&argv, "--print");
    for (size_t i = 0; targets && i < targets->n; i++)
        bk_strvec_push(&argv, targets->v[i]);
    rc = r->run(&argv, &out, &err, &status, r->arg);
    if (rc == BK_OK && status == 0) {
        *def = cJSON_Parse(out.buf);
        if (!*def)
            rc = bk_error_set(BK_ERR, "docker buildx bake --print printed no JSON");
    } else if (rc == BK_OK) {
        const char *line = strstr(err.buf, "ERROR: ");
        char *msg = bk_spec_first_line(line ? line : err.buf);
        rc = bk_error_set(BK_EINVAL, "%s", msg);
        free(msg);
    }
    bk_strvec_clear(&argv);
    bk_strbuf_release(&out);
    bk_strbuf_release(&err);
    return rc;
}

/* The resolver's definition; an unknown target fails the whole --print, so
 * then each target is asked alone and the unknown ones become errors. */
static int resolve(const struct bk_bake_opts *o, const char *origin, cJSON **def,
                   struct bk_buildspec_list *out)
{
    int rc = print_def(o, o->targets, def);

    if (rc != BK_EINVAL || !o->targets || o->targets->n < 2 ||
        !strstr(bk_error_msg(), "failed to find target"))
        return rc;
    *def = cJSON_CreateObject();
    cJSON *all = cJSON_AddObjectToObject(*def, "target");
    for (size_t i = 0; i < o->targets->n; i++) {
        struct bk_strvec one = BK_STRVEC_INIT;
        cJSON *d = NULL, *t;
        bk_strvec_push(&one, o->targets->v[i]);
        if (print_def(o, &one, &d) == BK_OK) {
            cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(d, "target"))
            {
                if (!cJSON_GetObjectItemCaseSensitive(all, t->string))
                    cJSON_AddItemToObject(all, t->string, cJSON_Duplicate(t, 1));
            }
        } else {
            bk_strvec_pushf(&out->errors, "%s: target %s: %s", origin, o->targets->v[i],
                            bk_error_msg());
        }
        cJSON_Delete(d);
        bk_strvec_clear(&one);
    }
    return BK_OK;
}

int bk_bake_read(const struct bk_bake_opts *o, struct bk_buildspec_list *out)
{
    struct bk_strvec files = BK_STRVEC_INIT;
    const char *mode = o->runner && o->runner->mode ? o->runner->mode : "auto";
    cJSON *def = NULL;
    char *origin;
    int rc = BK_ENOTFOUND;

    default_file_list(o, &files);
    origin = bk_xstrdup(files.n ? files.v[0] : "docker-bake.hcl");
    if (bk_spec_runner_has(o->runner, "buildx"))
        rc = resolve(o, origin, &def, out);
    else if (strcmp(mode, "docker") == 0)
        rc = bk_error_set(BK_EINVAL, "docker buildx is not available ($BKCACHE_RESOLVER=docker)");
    if (rc == BK_ENOTFOUND && files.n && is_compose_file(files.v[0])) {
        /* a compose file used as a bake file: its services are the targets */
        struct bk_compose_opts co = {&files, o->targets, NULL,         NULL,
                                     NULL,   NULL,       o->getenv_fn, NULL};
        rc = bk_compose_read(&co, out);
    } else if (rc == BK_ENOTFOUND) {
        rc = bk_bake_load(o, &def, out);
    }
    if (rc == BK_OK && def)
        bk_bake_specs(def, origin, o, out);
    cJSON_Delete(def);
    free(origin);
    bk_strvec_clear(&files);
    return rc;
}
