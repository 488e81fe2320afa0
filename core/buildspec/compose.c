/*
 * compose.c - a compose project's builds; see compose.h.
 *
 * Builtin path: each file is read (yaml_json.c), its services' `build:`
 * normalised to the long syntax with args as a mapping, the files merged
 * in order, `extends` applied, every string of each service interpolated
 * (interpolate.c) and the services outside the active profiles dropped.
 * The result has the shape of `docker compose config --format json`, so
 * bk_compose_specs() reads both.
 */
#include "core/buildspec/compose.h"

#include "core/buildspec/interpolate.h"
#include "core/buildspec/json_tree.h"
#include "core/buildspec/yaml_json.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const default_names[] = {"compose.yaml", "compose.yml", "docker-compose.yaml",
                                            "docker-compose.yml"};

static const char *env_default(const char *name)
{
    return getenv(name);
}

static const char *(*getenv_of(const struct bk_compose_opts *o))(const char *)
{
    return o->getenv_fn ? o->getenv_fn : env_default;
}

char *bk_compose_default_file(const char *dir)
{
    for (size_t i = 0; i < sizeof(default_names) / sizeof(default_names[0]); i++) {
        char *p = bk_buildspec_join(dir, default_names[i]);
        if (access(p, R_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

static char *dir_of(const char *path)
{
    char *copy = bk_xstrdup(path), *d = bk_xstrdup(dirname(copy));
    free(copy);
    return d;
}

/* ---- variables: the environment first, then the .env files ---- */

struct env {
    const char *(*getenv_fn)(const char *name);
    struct bk_strvec dotenv; /* "K=V" */
};

static const char *env_get(const char *name, void *arg)
{
    struct env *e = arg;
    const char *v = e->getenv_fn(name);
    size_t n = strlen(name);

    if (v)
        return v;
    for (size_t i = e->dotenv.n; i-- > 0;)
        if (strncmp(e->dotenv.v[i], name, n) == 0 && e->dotenv.v[i][n] == '=')
            return e->dotenv.v[i] + n + 1;
    return NULL;
}

/* ---- normalising and merging services ---- */

/* build: "dir" -> {"context": "dir"}; args: ["K=V", "K"] -> {"K": "V", "K": null} */
static void normalise_build(cJSON *svc)
{
    cJSON *b = cJSON_GetObjectItemCaseSensitive(svc, "build"), *args;

    if (cJSON_IsString(b)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "context", b->valuestring);
        cJSON_ReplaceItemInObjectCaseSensitive(svc, "build", o);
        b = o;
    }
    args = cJSON_GetObjectItemCaseSensitive(b, "args");
    if (cJSON_IsArray(args)) {
        cJSON *o = cJSON_CreateObject(), *e;
        cJSON_ArrayForEach(e, args)
        {
            const char *s = cJSON_GetStringValue(e), *eq;
            if (!s)
                continue;
            eq = strchr(s, '=');
            if (eq) {
                char *k = bk_xstrndup(s, (size_t)(eq - s));
                cJSON_DeleteItemFromObjectCaseSensitive(o, k);
                cJSON_AddStringToObject(o, k, eq + 1);
                free(k);
            } else {
                cJSON_DeleteItemFromObjectCaseSensitive(o, s);
                cJSON_AddNullToObject(o, s);
            }
        }
        cJSON_ReplaceItemInObjectCaseSensitive(b, "args", o);
    }
}

static int read_file(const char *path, cJSON **out)
{
    struct bk_strbuf text = BK_STRBUF_INIT;
    int rc = bk_strbuf_read_file(&text, path);

    if (rc)
        rc = bk_error_set(BK_EINVAL, "%s: cannot read the compose file", path);
    else
        rc = bk_yaml_to_json(path, text.buf, text.len, out);
    bk_strbuf_release(&text);
    if (rc == BK_OK) {
        cJSON *services = cJSON_GetObjectItemCaseSensitive(*out, "services"), *s;
        cJSON_ArrayForEach(s, services) if (cJSON_IsObject(s)) normalise_build(s);
    }
    return rc;
}

struct project {
    cJSON *doc;     /* merged files */
    char *first;    /* the first file, for messages */
    char *dir;      /* the project directory */
    struct env env; /* variables */
    struct bk_vars_lookup vars;
    struct bk_buildspec_list *diag;
};

/* Resolve service `name`'s extends into a new object (caller deletes);
 * NULL with a diagnostic when it cannot be. */
static cJSON *resolved_service(struct project *p, const cJSON *services, const char *name,
                               int depth)
{
    const cJSON *svc = cJSON_GetObjectItemCaseSensitive(services, name);
    const cJSON *ext;
    cJSON *base = NULL, *out;
    const char *from_name = NULL, *from_file = NULL;

    if (!cJSON_IsObject(svc) || depth > 16)
        return NULL;
    ext = cJSON_GetObjectItemCaseSensitive(svc, "extends");
    if (cJSON_IsString(ext))
        from_name = ext->valuestring;
    else if (cJSON_IsObject(ext)) {
        from_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ext, "service"));
        from_file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ext, "file"));
    }
    if (from_name && from_file) {
        char *path = bk_buildspec_join(p->dir, from_file);
        cJSON *other = NULL;
        if (read_file(path, &other) == BK_OK)
            base = resolved_service(p, cJSON_GetObjectItemCaseSensitive(other, "services"),
                                    from_name, depth + 1);
        else
            bk_strvec_pushf(&p->diag->errors, "%s: service %s: extends: %s", p->first, name,
                            bk_error_msg());
        cJSON_Delete(other);
        free(path);
        if (!base)
            return NULL;
    } else if (from_name) {
        base = resolved_service(p, services, from_name, depth + 1);
        if (!base) {
            bk_strvec_pushf(&p->diag->errors, "%s: service %s: extends unknown service %s",
                            p->first, name, from_name);
            return NULL;
        }
    }
    out = base ? base : cJSON_CreateObject();
    bk_json_merge(out, svc);
    cJSON_DeleteItemFromObjectCaseSensitive(out, "extends");
    return out;
}

static int profile_active(const cJSON *svc, const struct bk_strvec *active, int named)
{
    const cJSON *profiles = cJSON_GetObjectItemCaseSensitive(svc, "profiles"), *e;

    if (named || !cJSON_IsArray(profiles) || cJSON_GetArraySize(profiles) == 0)
        return 1;
    cJSON_ArrayForEach(e, profiles)
    {
        const char *s = cJSON_GetStringValue(e);
        if (s && (bk_strvec_find(active, s) >= 0 || bk_strvec_find(active, "*") >= 0))
            return 1;
    }
    return 0;
}

int bk_compose_load(const struct bk_compose_opts *o, cJSON **project, char **project_dir,
                    struct bk_buildspec_list *diag)
{
    struct project p = {0};
    struct bk_strvec files = BK_STRVEC_INIT, active = BK_STRVEC_INIT;
    const char *cf = getenv_of(o)("COMPOSE_FILE");
    cJSON *services, *out_services, *s;
    int rc = BK_OK;

    *project = NULL;
    *project_dir = NULL;
    p.env.getenv_fn = getenv_of(o);
    p.env.dotenv = (struct bk_strvec)BK_STRVEC_INIT;
    p.diag = diag;
    p.vars.get = env_get;
    p.vars.arg = &p.env;
    for (size_t i = 0; o->files && i < o->files->n; i++)
        bk_strvec_push(&files, o->files->v[i]);
    if (!files.n && cf && *cf) {
        const char *sep = getenv_of(o)("COMPOSE_PATH_SEPARATOR");
        char *copy = bk_xstrdup(cf), *save = NULL;
        for (char *t = strtok_r(copy, sep && *sep ? sep : ":", &save); t;
             t = strtok_r(NULL, sep && *sep ? sep : ":", &save))
            bk_strvec_push(&files, t);
        free(copy);
    }
    if (!files.n) {
        char *f = bk_compose_default_file(o->project_dir);
        if (!f) {
            bk_strvec_clear(&files);
            return bk_error_set(BK_EINVAL,
                                "%s: no compose file (compose.yaml, compose.yml, "
                                "docker-compose.yaml, docker-compose.yml)",
                                o->project_dir ? o->project_dir : ".");
        }
        bk_strvec_push_nodup(&files, f);
        /* the override file that goes with the default name */
        f = bk_xstrdup(files.v[0]);
        char *dot = strrchr(f, '.');
        char *ov = bk_xasprintf("%.*s.override%s", (int)(dot - f), f, dot);
        if (access(ov, R_OK) == 0)
            bk_strvec_push(&files, ov);
        free(ov);
        free(f);
    }
    p.first = bk_xstrdup(files.v[0]);
    p.dir = o->project_dir ? bk_xstrdup(o->project_dir) : dir_of(files.v[0]);
    if (o->env_files && o->env_files->n) {
        for (size_t i = 0; rc == BK_OK && i < o->env_files->n; i++)
            rc = bk_dotenv_read(o->env_files->v[i], 0, &p.env.dotenv);
    } else {
        char *dotenv = bk_buildspec_join(p.dir, ".env");
        rc = bk_dotenv_read(dotenv, 1, &p.env.dotenv);
        free(dotenv);
    }
    for (size_t i = 0; rc == BK_OK && i < files.n; i++) {
        cJSON *doc = NULL;
        rc = read_file(files.v[i], &doc);
        if (rc == BK_OK && !p.doc)
            p.doc = doc;
        else if (rc == BK_OK) {
            bk_json_merge(p.doc, doc);
            cJSON_Delete(doc);
        }
    }
    if (rc == BK_OK && cJSON_GetObjectItemCaseSensitive(p.doc, "include"))
        bk_strvec_pushf(&diag->warnings,
                        "%s: include: is read only by docker compose; the "
                        "included files' services are not read",
                        p.first);
    for (size_t i = 0; o->profiles && i < o->profiles->n; i++)
        bk_strvec_push(&active, o->profiles->v[i]);
    if (getenv_of(o)("COMPOSE_PROFILES"))
        bk_buildspec_push_split(&active, getenv_of(o)("COMPOSE_PROFILES"));
    services = rc == BK_OK ? cJSON_GetObjectItemCaseSensitive(p.doc, "services") : NULL;
    *project = cJSON_CreateObject();
    out_services = cJSON_AddObjectToObject(*project, "services");
    cJSON_ArrayForEach(s, services)
    {
        int named = o->services && bk_strvec_find(o->services, s->string) >= 0;
        cJSON *r;
        if (o->services && o->services->n && !named)
            continue;
        r = resolved_service(&p, services, s->string, 0);
        if (!r)
            continue;
        if (bk_json_interpolate(r, &p.vars) != BK_OK) {
            bk_strvec_pushf(&diag->errors, "%s: service %s: %s", p.first, s->string,
                            bk_error_msg());
            cJSON_Delete(r);
            continue;
        }
        if (!profile_active(r, &active, named)) {
            cJSON_Delete(r);
            continue;
        }
        cJSON_AddItemToObject(out_services, s->string, r);
    }
    if (rc == BK_OK)
        *project_dir = bk_xstrdup(p.dir);
    else {
        cJSON_Delete(*project);
        *project = NULL;
    }
    cJSON_Delete(p.doc);
    free(p.first);
    free(p.dir);
    bk_strvec_clear(&p.env.dotenv);
    bk_strvec_clear(&files);
    bk_strvec_clear(&active);
    return rc;
}

/* ---- resolved project -> build specs ---- */

static void service_spec(const char *name, const cJSON *build, const char *origin, const char *dir,
                         const struct bk_compose_opts *o, struct bk_buildspec_list *out)
{
    const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(build, "context"));
    const char *df = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(build, "dockerfile"));
    const char *inl =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(build, "dockerfile_inline"));
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(build, "args"), *a;
    struct bk_buildspec *s =
        bk_buildspec_list_add_file(out, name, origin, "service", dir, ctx, df, inl);

    if (!s)
        return;
    bk_buildspec_set(&s->target,
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(build, "target")));
    cJSON_ArrayForEach(a, args)
    {
        const char *v = cJSON_GetStringValue(a);
        if (!v)
            v = getenv_of(o)(a->string); /* `K:` with no value: the variable, if set */
        if (v)
            bk_buildspec_set_arg(&s->build_args, a->string, v);
    }
    for (size_t i = 0; o->build_args && i < o->build_args->n; i++) {
        const char *eq = strchr(o->build_args->v[i], '=');
        if (eq) {
            char *k = bk_xstrndup(o->build_args->v[i], (size_t)(eq - o->build_args->v[i]));
            bk_buildspec_set_arg(&s->build_args, k, eq + 1);
            free(k);
        }
    }
    bk_json_push_strings(&s->platforms, cJSON_GetObjectItemCaseSensitive(build, "platforms"));
    bk_json_push_strings(&s->cache_from, cJSON_GetObjectItemCaseSensitive(build, "cache_from"));
    bk_json_push_strings(&s->cache_to, cJSON_GetObjectItemCaseSensitive(build, "cache_to"));
}

/* 1 when a message about service `name` is already in `errors` (the
 * builtin reader says why a service is missing: a failed extends, ...). */
static int mentioned(const struct bk_strvec *errors, const char *name)
{
    char *needle = bk_xasprintf("service %s:", name);
    int found = 0;
    for (size_t k = 0; k < errors->n && !found; k++)
        found = strstr(errors->v[k], needle) != NULL;
    free(needle);
    return found;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void bk_compose_specs(const cJSON *project, const char *origin, const char *dir,
                      const struct bk_compose_opts *o, struct bk_buildspec_list *out)
{
    const cJSON *services = cJSON_GetObjectItemCaseSensitive(project, "services"), *s;
    struct bk_strvec names = BK_STRVEC_INIT;

    if (o->services && o->services->n) {
        for (size_t i = 0; i < o->services->n; i++)
            bk_strvec_push(&names, o->services->v[i]);
    } else {
        cJSON_ArrayForEach(s, services) bk_strvec_push(&names, s->string);
        qsort(names.v, names.n, sizeof(*names.v), cmp_names);
    }
    for (size_t i = 0; i < names.n; i++) {
        const cJSON *svc = cJSON_GetObjectItemCaseSensitive(services, names.v[i]);
        const cJSON *build = cJSON_GetObjectItemCaseSensitive(svc, "build");
        int named = o->services && o->services->n;

        if (!svc) {
            if (named && !mentioned(&out->errors, names.v[i]))
                bk_strvec_pushf(&out->errors, "%s: service %s: no such service", origin,
                                names.v[i]);
            continue;
        }
        if (!cJSON_IsObject(build)) {
            if (named)
                bk_strvec_pushf(&out->errors,
                                "%s: service %s: no build: section (it only "
                                "runs an image)",
                                origin, names.v[i]);
            continue;
        }
        service_spec(names.v[i], build, origin, dir, o, out);
    }
    bk_strvec_clear(&names);
}

/* ---- docker compose config ---- */

/* compose config prints "$$" for a literal "$" (its output is meant to be
 * read again); the build gets "$". */
static void unescape_dollars(cJSON *node)
{
    if (cJSON_IsString(node) && strstr(node->valuestring, "$$")) {
        char *v = node->valuestring, *w = v;
        for (const char *r = v; *r; r++) {
            *w++ = *r;
            if (r[0] == '$' && r[1] == '$')
                r++;
        }
        *w = '\0';
    }
    for (cJSON *c = node->child; c; c = c->next)
        unescape_dollars(c);
}

/* 1 when the resolver answered (project set, or an error set in *rc);
 * 0 when it is not there and the builtin reader must do. */
static int run_resolver(const struct bk_compose_opts *o, cJSON **project, int *rc)
{
    const struct bk_spec_runner *r = o->runner;
    struct bk_strvec argv = BK_STRVEC_INIT;
    struct bk_strbuf out = BK_STRBUF_INIT, err = BK_STRBUF_INIT;
    int status = 0, ran;

    *project = NULL;
    *rc = BK_OK;
    if (!bk_spec_runner_has(r, "compose")) {
        if (!r || !r->mode || strcmp(r->mode, "docker") != 0)
            return 0;
        *rc = bk_error_set(BK_EINVAL, "docker compose is not available ($BKCACHE_RESOLVER=docker)");
        return 1;
    }
    bk_strvec_push(&argv, r->docker ? r->docker : "docker");
    bk_strvec_push(&argv, "compose");
    if (o->project_dir)
        bk_strvec_pushf(&argv, "--project-directory=%s", o->project_dir);
    for (size_t i = 0; o->files && i < o->files->n; i++)
        bk_strvec_pushf(&argv, "--file=%s", o->files->v[i]);
    for (size_t i = 0; o->profiles && i < o->profiles->n; i++)
        bk_strvec_pushf(&argv, "--profile=%s", o->profiles->v[i]);
    for (size_t i = 0; o->env_files && i < o->env_files->n; i++)
        bk_strvec_pushf(&argv, "--env-file=%s", o->env_files->v[i]);
    bk_strvec_push(&argv, "config");
    bk_strvec_push(&argv, "--format");
    bk_strvec_push(&argv, "json");
    for (size_t i = 0; o->services && i < o->services->n; i++)
        bk_strvec_push(&argv, o->services->v[i]);
    ran = r->run(&argv, &out, &err, &status, r->arg);
    if (ran == BK_OK && status == 0) {
        *project = cJSON_Parse(out.buf);
        if (!*project)
            *rc = bk_error_set(BK_ERR, "docker compose config printed no JSON");
        else
            unescape_dollars(*project);
    } else {
        /* compose refuses the project: its message is the truth */
        char *line = bk_spec_first_line(err.buf);
        *rc = bk_error_set(BK_EINVAL, "docker compose config: %s", line);
        free(line);
    }
    ran = 1;
    bk_strvec_clear(&argv);
    bk_strbuf_release(&out);
    bk_strbuf_release(&err);
    return ran;
}

int bk_compose_read(const struct bk_compose_opts *o, struct bk_buildspec_list *out)
{
    cJSON *project = NULL;
    char *dir = NULL, *origin;
    int rc;

    if (o->files && o->files->n)
        origin = bk_xstrdup(o->files->v[0]);
    else if (!(origin = bk_compose_default_file(o->project_dir)))
        origin = bk_xstrdup("compose.yaml");
    if (run_resolver(o, &project, &rc)) {
        if (rc == BK_OK)
            dir = bk_xstrdup(o->project_dir ? o->project_dir : ".");
    } else {
        rc = bk_compose_load(o, &project, &dir, out);
    }
    if (rc == BK_OK)
        bk_compose_specs(project, origin, dir, o, out);
    cJSON_Delete(project);
    free(dir);
    free(origin);
    return rc;
}
