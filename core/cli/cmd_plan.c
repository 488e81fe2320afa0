/*
 * cmd_plan.c - `bkcache plan`: the dry run.
 *
 * Shows, per cache identity: its first mount (stage, line, target), key and
 * restore keys; the provider and where the caches would be read from and
 * written to; and, when the store answers, what restore would fetch (exact
 * or partial hit and which key, or a miss) and what save would do: upload
 * under which key (the key plus this run's part, and where the part came
 * from), or skip because an immutable store holds that key already, or
 * upload unless unchanged since the restore recorded in the state file;
 * and how many runs of the key it would keep. It opens the
 * store read-only, creates no mountio, writes nothing and starts no build.
 * --json prints the same as one document.
 *
 * With --layers: the layer cache's key and restore keys, what restore would
 * take per source (hit, blobs and bytes, how many not on this machine yet)
 * and, when the build has exported its cache, how many blobs and bytes save
 * would upload ("layers" in --json).
 */
#include "core/cli/cli.h"
#include "core/cli/project.h"
#include "core/util/format.h"
#include "core/util/log.h"
#include "core/cli/projset.h"
#include "core/cli/restore_cli.h"
#include "core/xfer/state.h"
#include "core/util/strbuf.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct plan_row {
    const char *restore; /* "exact", "partial", "miss", "unknown" */
    char *matched_key;
    uint64_t bytes;
    char *restore_note; /* a failed lookup's message */
    char *save;         /* what save would do */
};

static void plan_one(struct bk_xfer_cli *c, const struct bk_state *st,
                     const struct bk_xfer_item *it, struct plan_row *r)
{
    struct bk_lookup q = {
        .key = it->save_key,
        .restore_keys = it->restore_keys,
        .nrestore = it->nrestore,
        .identity = it->identity->descriptor,
    };
    const struct bk_state_entry *se = bk_state_find(st, it->identity->name);
    struct bk_provider_entry e;
    int rc;

    memset(r, 0, sizeof(*r));
    r->restore = "unknown";
    if (!c->x.store) {
        r->restore_note = bk_xasprintf("store unavailable: %s", c->store_error);
        r->save = bk_xasprintf("upload %s (the store is unavailable now)", it->key);
        return;
    }
    rc = bk_store_lookup(c->x.store, &q, &e);
    if (rc == BK_ENOTFOUND) {
        r->restore = "miss";
    } else if (rc < 0) {
        r->restore_note = bk_xasprintf("lookup failed: %s", bk_error_msg());
    } else {
        r->restore = bk_key_same_cache(it->key, e.key) ? "exact" : "partial";
        r->matched_key = bk_xstrdup(e.key);
        r->bytes = bk_xfer_entry_bytes(c->x.store, &e, NULL, NULL); /* an index: its layers' */
        bk_provider_entry_release(&e);
    }
    if (r->matched_key && strcmp(r->matched_key, it->save_key) == 0 &&
        (bk_store_caps(c->x.store) & BK_CAP_IMMUTABLE_KEYS))
        r->save = bk_xasprintf("skip: the store already holds %s and its keys are immutable",
                               it->save_key);
    else if (bk_state_same_store(se, c->x.store_id) && se->key && strcmp(se->key, it->key) == 0 &&
             se->matched_key && se->digest && bk_key_same_cache(it->key, se->matched_key))
        r->save = bk_xasprintf("upload %s unless its digest is still %.12s (restored from %s)",
                               it->save_key, se->digest, se->matched_key);
    else
        r->save = bk_xasprintf("upload %s", it->save_key);
}

/* What happens to older runs of a key after a save, for this store. */
static char *runs_note(const struct bk_xfer_cli *c)
{
    const unsigned need = BK_CAP_LIST | BK_CAP_DELETE;

    if (!c->x.store)
        return bk_xstrdup("unknown (the store is unavailable)");
    if (c->x.keep_runs <= 0)
        return bk_xstrdup("all kept (--keep-per-key 0)");
    if ((bk_store_caps(c->x.store) & need) != need)
        return bk_xasprintf("all kept: %s cannot delete; its own expiry removes old ones",
                            bk_store_name(c->x.store));
    return bk_xasprintf("the newest %ld of each key kept after a save", c->x.keep_runs);
}

/* The builds that mount item `it`'s cache (several builds only), or NULL. */
static const struct bk_strvec *builds_of(const struct bk_xfer_cli *c, const struct bk_xfer_item *it)
{
    for (size_t i = 0; c->set->many && i < c->set->ncaches; i++)
        if (&c->set->caches[i].identity == it->identity)
            return &c->set->caches[i].builds;
    return NULL;
}

static void print_text(struct bk_xfer_cli *c, const struct plan_row *rows, const char *runs)
{
    char size[32];

    printf("provider: %s%s%s\n", c->x.store ? bk_store_name(c->x.store) : "unavailable",
           c->store_error ? ": " : "", c->store_error ? c->store_error : "");
    printf("caches:   %s\n", c->mountio_desc);
    printf("state:    %s\n", c->state_path);
    printf("run part: %s (from %s)\n", c->set->run ? c->set->run->text : "-",
           c->set->run ? c->set->run->source : "-");
    printf("runs:     %s\n", runs);
    for (size_t b = 0; c->set->many && b < c->set->nbuilds; b++) {
        const struct bk_projset_build *pb = &c->set->builds[b];
        printf("%s %s: %s%s%s%s%s\n", b ? "         " : "builds:  ", pb->label,
               pb->spec->dockerfile ? pb->spec->dockerfile : "dockerfile_inline",
               pb->spec->target ? " --target " : "", pb->spec->target ? pb->spec->target : "",
               pb->project ? "" : " (", pb->project ? "" : "not loaded)");
    }
    for (size_t i = 0; i < c->x.n; i++) {
        const struct bk_xfer_item *it = &c->x.items[i];
        const struct plan_row *r = &rows[i];
        const struct bk_strvec *builds = builds_of(c, it);
        printf("\n%s\n", it->identity->name);
        if (builds) {
            char *j = bk_strvec_join(builds, ", ");
            printf("  builds:       %s\n", j);
            free(j);
        }
        printf("  cache:        %s\n", it->identity->descriptor ? it->identity->descriptor : "-");
        if (it->use)
            printf("  first use:    %s line %d, target %s\n", it->use->stage_label, it->use->line,
                   it->use->target);
        printf("  key:          %s\n", it->key);
        printf("  saves as:     %s\n", it->save_key);
        for (size_t k = 0; k < it->nrestore; k++)
            printf("  %s %s\n", k ? "             " : "restore keys:", it->restore_keys[k]);
        if (r->restore_note)
            printf("  restore:      unknown (%s)\n", r->restore_note);
        else if (r->matched_key) {
            bk_format_size(r->bytes, size, sizeof(size));
            printf("  restore:      %s hit %s (%s)\n", r->restore, r->matched_key, size);
        } else
            printf("  restore:      miss\n");
        printf("  save:         %s\n", r->save);
    }
}

static void print_layers_text(const struct bk_layers *l, const struct bk_layers_plan *p)
{
    const struct bk_layers_source *own = &l->sources[0];
    char size[32], fetch[32];

    printf("\nlayer cache (target %s)\n", own->target);
    printf("  key:          %s\n", l->key);
    for (size_t k = 0; k < own->restore.n; k++)
        printf("  %s %s\n", k ? "             " : "restore keys:", own->restore.v[k]);
    for (size_t i = 0; i < p->n; i++) {
        const struct bk_layers_plan_source *ps = &p->src[i];
        printf("  restore from %s: ", ps->target);
        if (ps->note)
            printf("unknown (%s)\n", ps->note);
        else if (!ps->matched_key)
            printf("miss\n");
        else {
            bk_format_size(ps->bytes, size, sizeof(size));
            bk_format_size(ps->fetch_bytes, fetch, sizeof(fetch));
            printf("%s hit %s (%u blobs, %s; fetch %u, %s)\n", ps->hit, ps->matched_key, ps->blobs,
                   size, ps->fetch, fetch);
        }
    }
    if (p->exported) {
        bk_format_size(p->up_bytes, size, sizeof(size));
        printf("  save:         upload %u of %u blobs (%s), then the index %s\n", p->up_blobs,
               p->up_total, size, l->save_key);
    } else {
        printf("  save:         %s\n", p->save_note);
    }
}

static cJSON *layers_json(const struct bk_layers *l, const struct bk_layers_plan *p)
{
    cJSON *o = cJSON_CreateObject(), *rk = cJSON_AddArrayToObject(o, "restore_keys");
    cJSON *srcs = cJSON_AddArrayToObject(o, "sources"), *save;

    cJSON_AddStringToObject(o, "key", l->key);
    for (size_t k = 0; k < l->sources[0].restore.n; k++)
        cJSON_AddItemToArray(rk, cJSON_CreateString(l->sources[0].restore.v[k]));
    for (size_t i = 0; i < p->n; i++) {
        const struct bk_layers_plan_source *ps = &p->src[i];
        cJSON *so = cJSON_CreateObject();
        cJSON_AddStringToObject(so, "target", ps->target);
        cJSON_AddStringToObject(so, "hit", ps->hit);
        if (ps->matched_key)
            cJSON_AddStringToObject(so, "matched_key", ps->matched_key);
        else
            cJSON_AddNullToObject(so, "matched_key");
        cJSON_AddNumberToObject(so, "blobs", ps->blobs);
        cJSON_AddNumberToObject(so, "bytes", (double)ps->bytes);
        cJSON_AddNumberToObject(so, "blobs_to_fetch", ps->fetch);
        cJSON_AddNumberToObject(so, "bytes_to_fetch", (double)ps->fetch_bytes);
        cJSON_AddItemToArray(srcs, so);
    }
    save = cJSON_AddObjectToObject(o, "save");
    cJSON_AddBoolToObject(save, "exported", p->exported);
    cJSON_AddNumberToObject(save, "blobs", p->up_total);
    cJSON_AddNumberToObject(save, "blobs_to_upload", p->up_blobs);
    cJSON_AddNumberToObject(save, "bytes_to_upload", (double)p->up_bytes);
    return o;
}

static void add_str(cJSON *o, const char *name, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static void print_json(struct bk_xfer_cli *c, const struct plan_row *rows, const char *runs,
                       const struct bk_layers_plan *lp)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr;
    char *text;

    add_str(doc, "provider", c->x.store ? bk_store_name(c->x.store) : NULL);
    add_str(doc, "store_error", c->store_error);
    add_str(doc, "caches", c->mountio_desc);
    add_str(doc, "state", c->state_path);
    add_str(doc, "run_part", c->set->run ? c->set->run->text : NULL);
    add_str(doc, "run_source", c->set->run ? c->set->run->source : NULL);
    add_str(doc, "runs", runs);
    if (c->set->many) {
        cJSON *builds = cJSON_AddArrayToObject(doc, "builds");
        for (size_t b = 0; b < c->set->nbuilds; b++) {
            const struct bk_projset_build *pb = &c->set->builds[b];
            cJSON *o = cJSON_CreateObject(), *args = cJSON_CreateArray();
            add_str(o, "name", pb->label);
            add_str(o, "origin", pb->spec->origin);
            add_str(o, "context", pb->spec->context);
            add_str(o, "dockerfile", pb->spec->dockerfile);
            add_str(o, "target", pb->spec->target);
            add_str(o, "platform", pb->platform);
            for (size_t k = 0; k < pb->spec->build_args.n; k++)
                cJSON_AddItemToArray(args, cJSON_CreateString(pb->spec->build_args.v[k]));
            cJSON_AddItemToObject(o, "build_args", args);
            cJSON_AddBoolToObject(o, "loaded", pb->project != NULL);
            cJSON_AddItemToArray(builds, o);
        }
    }
    arr = cJSON_AddArrayToObject(doc, "identities");
    for (size_t i = 0; i < c->x.n; i++) {
        const struct bk_xfer_item *it = &c->x.items[i];
        const struct plan_row *r = &rows[i];
        cJSON *o = cJSON_CreateObject(), *rk = cJSON_CreateArray(), *use;
        add_str(o, "name", it->identity->name);
        add_str(o, "cache", it->identity->descriptor);
        if (builds_of(c, it)) {
            cJSON *b = cJSON_AddArrayToObject(o, "builds");
            for (size_t k = 0; k < builds_of(c, it)->n; k++)
                cJSON_AddItemToArray(b, cJSON_CreateString(builds_of(c, it)->v[k]));
        }
        if (it->use) {
            use = cJSON_AddObjectToObject(o, "first_use");
            add_str(use, "stage", it->use->stage_label);
            cJSON_AddNumberToObject(use, "line", it->use->line);
            add_str(use, "target", it->use->target);
        }
        add_str(o, "key", it->key);
        add_str(o, "save_key", it->save_key);
        for (size_t k = 0; k < it->nrestore; k++)
            cJSON_AddItemToArray(rk, cJSON_CreateString(it->restore_keys[k]));
        cJSON_AddItemToObject(o, "restore_keys", rk);
        add_str(o, "restore", r->restore);
        add_str(o, "matched_key", r->matched_key);
        cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
        add_str(o, "restore_note", r->restore_note);
        add_str(o, "save", r->save);
        cJSON_AddItemToArray(arr, o);
    }
    if (c->x.layers)
        cJSON_AddItemToObject(doc, "layers", layers_json(c->x.layers, lp));
    text = cJSON_Print(doc);
    puts(text);
    cJSON_free(text);
    cJSON_Delete(doc);
}

int bk_cmd_plan(struct bk_options *o)
{
    struct bk_xfer_cli c;
    struct bk_state st = BK_STATE_INIT;
    struct plan_row *rows;
    struct bk_layers_plan lp = {0};
    char *runs;
    int rc = bk_xfer_cli_open(o, BK_XFER_CLI_PLAN, NULL, &c);

    if (rc) {
        bk_xfer_cli_close(&c);
        return rc;
    }
    if (bk_state_load(c.state_path, &st) < 0)
        bk_warn("warning: %s", bk_error_msg());
    rows = bk_xcalloc(c.x.n + 1, sizeof(*rows));
    for (size_t i = 0; i < c.x.n; i++)
        plan_one(&c, &st, &c.x.items[i], &rows[i]);
    runs = runs_note(&c);
    if (c.x.layers && bk_layers_plan(c.x.layers, c.x.store, &lp) < 0)
        bk_warn("warning: layer cache: %s", bk_error_msg());
    if (o->json) {
        print_json(&c, rows, runs, &lp);
    } else {
        print_text(&c, rows, runs);
        if (c.x.layers)
            print_layers_text(c.x.layers, &lp);
    }
    bk_layers_plan_release(&lp);
    free(runs);
    for (size_t i = 0; i < c.x.n; i++) {
        free(rows[i].matched_key);
        free(rows[i].restore_note);
        free(rows[i].save);
    }
    free(rows);
    bk_state_release(&st);
    rc = c.bad_input ? 2 : 0;
    bk_xfer_cli_close(&c);
    return rc;
}
