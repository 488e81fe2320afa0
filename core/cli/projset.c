/*
 * projset.c - load several builds and merge their caches; see projset.h.
 */
#include "core/cli/projset.h"

#include "core/buildspec/bake.h"
#include "core/buildspec/compose.h"
#include "core/builder/builder.h"
#include "core/plan/keys.h"
#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the resolvers' runner ---- */

static int read_all(int fd, void *arg)
{
    struct bk_strbuf *out = arg;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        bk_strbuf_add(out, buf, (size_t)n);
    return n < 0 ? BK_ERR : BK_OK;
}

static int run_resolver(const struct bk_strvec *argv, struct bk_strbuf *out, struct bk_strbuf *err,
                        int *status, void *arg)
{
    struct bk_build_sink sink = {read_all, out};
    (void)arg;
    bk_debug("resolver: %s %s %s", argv->v[0], argv->n > 1 ? argv->v[1] : "",
             argv->n > 2 ? argv->v[2] : "");
    return bk_builder__exec_sink(argv, NULL, &sink, err, status);
}

void bk_projset_runner(const struct bk_options *o, struct bk_spec_runner *r)
{
    const char *mode = getenv("BKCACHE_RESOLVER");
    memset(r, 0, sizeof(*r));
    r->run = run_resolver;
    r->docker = o->docker;
    r->mode = mode && *mode ? mode : "auto";
}

/* ---- reading the specs ---- */

static int read_specs(const struct bk_options *o, struct bk_projset *s)
{
    struct bk_spec_runner runner;

    bk_projset_runner(o, &runner);
    if (o->compose.n) {
        struct bk_compose_opts co = {&o->compose, &o->services, NULL, NULL,
                                     NULL,        NULL,         NULL, &runner};
        s->state_name = bk_xstrdup(o->compose.v[0]);
        s->state_target = bk_strvec_join(&o->services, ",");
        return bk_compose_read(&co, &s->specs);
    }
    if (o->bake.n) {
        struct bk_bake_opts bo = {&o->bake, &o->bake_targets, NULL, NULL, &runner};
        s->state_name = bk_xstrdup(o->bake.v[0]);
        s->state_target = bk_strvec_join(&o->bake_targets, ",");
        return bk_bake_read(&bo, &s->specs);
    }
    return BK_OK;
}

/* ---- loading the builds ---- */

static void add_build(struct bk_projset *s, const struct bk_buildspec *spec, const char *platform,
                      unsigned flags, const struct bk_options *o)
{
    struct bk_projset_build *b;
    int rc;

    s->builds = bk_xrealloc(s->builds, (s->nbuilds + 1) * sizeof(*s->builds));
    b = &s->builds[s->nbuilds++];
    memset(b, 0, sizeof(*b));
    b->spec = spec;
    b->platform = platform;
    b->label = platform && spec->platforms.n > 1 ? bk_xasprintf("%s %s", spec->name, platform)
                                                 : bk_xstrdup(spec->name);
    rc = bk_project_load_spec(o, spec, platform, flags, &b->project);
    if (rc && spec->unit)
        bk_strvec_pushf(&s->errors, "%s: %s %s: %s", spec->origin, spec->unit, spec->name,
                        bk_error_msg());
    else if (rc)
        bk_strvec_push(&s->errors, bk_error_msg());
}

/* ---- merging the caches ---- */

static int mergeable(const struct bk_buildplan *plan, const struct bk_identity *id)
{
    return !(id->first_use < plan->nuses && plan->uses[id->first_use].from_stage >= 0);
}

/* `key` with its name part `old` replaced by `name`; `prefix` starts it. */
static char *renamed_key(const char *key, const char *prefix, const char *old, const char *name)
{
    size_t pl = strlen(prefix), ol = strlen(old);
    if (strncmp(key, prefix, pl) != 0 || key[pl] != '-' || strncmp(key + pl + 1, old, ol) != 0)
        return bk_xstrdup(key);
    return bk_xasprintf("%s-%s%s", prefix, name, key + pl + 1 + ol);
}

static char *unique_name(const struct bk_projset *s, const char *name, const char *label)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    bk_strbuf_addf(&sb, "%s-", name);
    for (const char *p = label; *p; p++)
        bk_strbuf_addch(&sb, (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                     (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'
                                 ? *p
                                 : '-');
    for (size_t i = 0; i < s->ncaches; i++)
        if (strcmp(s->caches[i].identity.name, sb.buf) == 0)
            bk_strbuf_addf(&sb, "-%zu", s->ncaches);
    return bk_strbuf_detach(&sb);
}

static void add_cache(struct bk_projset *s, size_t bi, const struct bk_cache_key *k,
                      const char *prefix)
{
    const struct bk_projset_build *b = &s->builds[bi];
    const struct bk_buildplan *plan = b->project->plan;
    const struct bk_identity *id = k->identity;
    struct bk_projset_cache *c;

    for (size_t i = 0; i < s->ncaches; i++) {
        c = &s->caches[i];
        if (strcmp(c->identity.descriptor, id->descriptor) == 0 && mergeable(plan, id) &&
            mergeable(s->builds[c->build].project->plan, &c->identity)) {
            if (bk_strvec_find(&c->builds, b->label) < 0)
                bk_strvec_push(&c->builds, b->label);
            if (bk_strvec_find(&c->member_keys, k->key) < 0)
                bk_strvec_push(&c->member_keys, k->key);
            return;
        }
    }
    s->caches = bk_xrealloc(s->caches, (s->ncaches + 1) * sizeof(*s->caches));
    c = &s->caches[s->ncaches];
    memset(c, 0, sizeof(*c));
    c->identity = *id;
    c->use = id->first_use < plan->nuses ? &plan->uses[id->first_use] : NULL;
    c->build = bi;
    c->builds = c->member_keys = c->restore_keys = (struct bk_strvec)BK_STRVEC_INIT;
    bk_strvec_push(&c->builds, b->label);
    for (size_t i = 0; i < s->ncaches; i++) {
        if (strcmp(s->caches[i].identity.name, id->name) == 0) {
            /* another identity under the same name: this one takes the build's name too */
            char *name = unique_name(s, id->name, b->label);
            c->key = renamed_key(k->key, prefix, id->name, name);
            c->save_key = renamed_key(k->save_key, prefix, id->name, name);
            for (size_t r = 0; r < k->restore_keys.n; r++)
                bk_strvec_push_nodup(&c->restore_keys,
                                     renamed_key(k->restore_keys.v[r], prefix, id->name, name));
            bk_strvec_push(&c->member_keys, c->key);
            c->identity.name = c->own_name = name;
            s->ncaches++;
            return;
        }
    }
    c->key = bk_xstrdup(k->key);
    c->save_key = bk_xstrdup(k->save_key);
    for (size_t r = 0; r < k->restore_keys.n; r++)
        bk_strvec_push(&c->restore_keys, k->restore_keys.v[r]);
    bk_strvec_push(&c->member_keys, k->key);
    s->ncaches++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A cache mounted by builds whose keys differ: one key over all of them,
 * its save key and restore keys made as keys.c makes them. */
static void combine_keys(struct bk_projset_cache *c, const struct bk_run_part *run)
{
    struct bk_strbuf dfs = BK_STRBUF_INIT, all = BK_STRBUF_INIT;
    char df_hex[65], all_hex[65], *start;
    size_t len = strlen(c->key);

    if (c->member_keys.n < 2 || len < 32)
        return;
    qsort(c->member_keys.v, c->member_keys.n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < c->member_keys.n; i++) {
        const char *k = c->member_keys.v[i];
        size_t n = strlen(k);
        if (n >= 32)
            bk_strbuf_addf(&dfs, "%.16s\n", k + n - 32);
        bk_strbuf_addf(&all, "%s\n", k);
    }
    bk_sha256_hex(dfs.buf, dfs.len, df_hex);
    bk_sha256_hex(all.buf, all.len, all_hex);
    start = bk_xstrndup(c->key, len - 32);
    free(c->key);
    c->key = bk_xasprintf("%s%.16s%.16s", start, df_hex, all_hex);
    free(c->save_key);
    bk_strvec_clear(&c->restore_keys);
    if (run && run->text[0]) {
        c->save_key = bk_xasprintf("%s-%s", c->key, run->text);
        bk_strvec_push(&c->restore_keys, c->key);
    } else {
        c->save_key = bk_xstrdup(c->key);
    }
    bk_strvec_pushf(&c->restore_keys, "%s%.16s", start, df_hex);
    bk_strvec_push(&c->restore_keys, start);
    free(start);
    bk_strbuf_release(&dfs);
    bk_strbuf_release(&all);
}

int bk_projset_load(const struct bk_options *o, struct bk_buildspec_list *specs, unsigned flags,
                    struct bk_projset **out)
{
    struct bk_projset *s = bk_xcalloc(1, sizeof(*s));
    const char *prefix = o->key_prefix ? o->key_prefix : "bkcache";
    int rc = BK_OK;

    *out = NULL;
    s->specs = (struct bk_buildspec_list)BK_BUILDSPEC_LIST_INIT;
    s->errors = (struct bk_strvec)BK_STRVEC_INIT;
    if (specs) {
        s->specs = *specs;
        *specs = (struct bk_buildspec_list)BK_BUILDSPEC_LIST_INIT;
        s->many = 1;
        if (s->specs.n) {
            s->state_name = bk_xstrdup(s->specs.v[0].dockerfile ? s->specs.v[0].dockerfile
                                                                : s->specs.v[0].origin);
            s->state_target =
                s->specs.n == 1 && s->specs.v[0].target ? bk_xstrdup(s->specs.v[0].target) : NULL;
        }
    } else if (o->compose.n || o->bake.n) {
        s->many = 1;
        rc = read_specs(o, s);
    } else {
        /* the Dockerfile options: one build, loaded as it always was */
        struct bk_projset_build *b = s->builds = bk_xcalloc(1, sizeof(*s->builds));
        struct bk_buildspec *spec = bk_buildspec_list_add(&s->specs, "build", "command line");
        s->nbuilds = 1;
        b->spec = spec;
        b->platform = o->platform;
        b->label = bk_xstrdup("build");
        s->state_name = bk_xstrdup(o->file);
        s->state_target = o->target ? bk_xstrdup(o->target) : NULL;
        rc = bk_project_load(o, flags, &b->project);
    }
    if (rc) {
        bk_projset_free(s);
        return rc;
    }
    for (size_t i = 0; i < s->specs.errors.n; i++)
        bk_strvec_push(&s->errors, s->specs.errors.v[i]);
    for (size_t i = 0; s->many && i < s->specs.n; i++) {
        const struct bk_buildspec *spec = &s->specs.v[i];
        if (!spec->platforms.n)
            add_build(s, spec, NULL, flags, o);
        for (size_t p = 0; p < spec->platforms.n; p++)
            add_build(s, spec, spec->platforms.v[p], flags, o);
    }
    for (size_t b = 0; (flags & BK_PROJECT_KEYS) && b < s->nbuilds; b++) {
        const struct bk_keyset *ks = s->builds[b].project ? s->builds[b].project->keys : NULL;
        for (size_t i = 0; ks && i < ks->n; i++)
            add_cache(s, b, &ks->keys[i], prefix);
    }
    for (size_t b = 0; b < s->nbuilds && !s->run; b++)
        if (s->builds[b].project && (flags & BK_PROJECT_KEYS))
            s->run = &s->builds[b].project->run;
    for (size_t i = 0; i < s->ncaches; i++) {
        struct bk_projset_cache *c = &s->caches[i];
        combine_keys(c, s->run);
        if (s->run && s->run->text[0] && s->nbuilds > 1) {
            /* one run part for the whole set (the clock's differs between builds) */
            free(c->save_key);
            c->save_key = bk_xasprintf("%s-%s", c->key, s->run->text);
        }
    }
    *out = s;
    return BK_OK;
}

void bk_projset_free(struct bk_projset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncaches; i++) {
        struct bk_projset_cache *c = &s->caches[i];
        free(c->own_name);
        free(c->key);
        free(c->save_key);
        bk_strvec_clear(&c->restore_keys);
        bk_strvec_clear(&c->builds);
        bk_strvec_clear(&c->member_keys);
    }
    free(s->caches);
    for (size_t i = 0; i < s->nbuilds; i++) {
        bk_project_free(s->builds[i].project);
        free(s->builds[i].label);
    }
    free(s->builds);
    bk_buildspec_list_free(&s->specs);
    bk_strvec_clear(&s->errors);
    free(s->state_name);
    free(s->state_target);
    free(s);
}

size_t bk_projset_report(const struct bk_projset *s)
{
    for (size_t i = 0; i < s->specs.warnings.n; i++)
        bk_warn("warning: %s", s->specs.warnings.v[i]);
    for (size_t i = 0; i < s->errors.n; i++)
        bk_error("%s", s->errors.v[i]);
    return s->errors.n;
}
