/*
 * cmd_key.c - `bkcache key`: one entry per distinct cache identity (cache
 * id + uid + gid + mode + from) with its key, the key a save would write
 * (the key plus this run's part, and which variable gave the part) and the
 * restore keys. --json prints a JSON array of {"name", "cache_id", "key",
 * "save_key", "run_part", "run_source", "restore_keys"}; without it, a
 * readable list. See docs/keys.md for what goes into a key.
 *
 * With --compose or --bake the entries are the merged caches of all the
 * builds (core/cli/projset.h), each with the builds that mount it
 * ("builds" in JSON).
 */
#include "core/cli/cli.h"
#include "core/cli/projset.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

static void print_json(const struct bk_projset *set)
{
    printf("[");
    for (size_t i = 0; i < set->ncaches; i++) {
        const struct bk_projset_cache *c = &set->caches[i];
        cJSON *o = cJSON_CreateObject();
        cJSON *rk;
        char *s;

        cJSON_AddStringToObject(o, "name", c->identity.name);
        cJSON_AddStringToObject(o, "cache_id", c->identity.cache_id);
        cJSON_AddStringToObject(o, "key", c->key);
        cJSON_AddStringToObject(o, "save_key", c->save_key);
        cJSON_AddStringToObject(o, "run_part", set->run ? set->run->text : "");
        cJSON_AddStringToObject(o, "run_source", set->run ? set->run->source : "");
        rk = cJSON_AddArrayToObject(o, "restore_keys");
        for (size_t r = 0; r < c->restore_keys.n; r++)
            cJSON_AddItemToArray(rk, cJSON_CreateString(c->restore_keys.v[r]));
        if (set->many) {
            cJSON *b = cJSON_AddArrayToObject(o, "builds");
            for (size_t k = 0; k < c->builds.n; k++)
                cJSON_AddItemToArray(b, cJSON_CreateString(c->builds.v[k]));
        }
        s = cJSON_PrintUnformatted(o);
        printf("%s\n  %s", i ? "," : "", s);
        free(s);
        cJSON_Delete(o);
    }
    printf("%s]\n", set->ncaches ? "\n" : "");
}

static void print_text(const struct bk_projset *set)
{
    if (set->ncaches == 0 && !set->many) {
        const struct bk_buildplan *plan = set->builds[0].project->plan;
        printf("no cache mounts in the build of stage %s\n", plan->stages[plan->target].label);
        return;
    }
    if (set->ncaches == 0)
        printf("no cache mounts in these builds\n");
    for (size_t i = 0; i < set->ncaches; i++) {
        const struct bk_projset_cache *c = &set->caches[i];
        printf("%s%s  (cache id %s)\n  key:     %s\n  saves:   %s\n", i ? "\n" : "",
               c->identity.name, c->identity.cache_id, c->key, c->save_key);
        for (size_t r = 0; r < c->restore_keys.n; r++)
            printf("  restore: %s\n", c->restore_keys.v[r]);
        if (set->many) {
            char *b = bk_strvec_join(&c->builds, ", ");
            printf("  builds:  %s\n", b);
            free(b);
        }
    }
    if (set->run)
        printf("\nrun part %s: from %s\n", set->run->text, set->run->source);
}

int bk_cmd_key(struct bk_options *o)
{
    struct bk_projset *set;
    int rc = bk_projset_load(o, NULL, BK_PROJECT_KEYS, &set);
    size_t bad;

    if (rc)
        return bk_project_report_error(rc);
    bad = bk_projset_report(set);
    if (o->json)
        print_json(set);
    else
        print_text(set);
    bk_projset_free(set);
    return bad ? 2 : 0;
}
