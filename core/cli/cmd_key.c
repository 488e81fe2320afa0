/*
 * cmd_key.c - `bkcache key`: one entry per distinct cache identity (cache
 * id + uid + gid + mode + from) with its key, the key a save would write
 * (the key plus this run's part, and which variable gave the part) and the
 * restore keys. --json prints a JSON array of {"name", "cache_id", "key",
 * "save_key", "run_part", "run_source", "restore_keys"}; without it, a
 * readable list. See docs/keys.md for what goes into a key.
 */
#include "core/cli/cli.h"
#include "core/cli/project.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

static void print_json(const struct bk_project *p)
{
    printf("[");
    for (size_t i = 0; i < p->keys->n; i++) {
        const struct bk_cache_key *k = &p->keys->keys[i];
        cJSON *o = cJSON_CreateObject();
        cJSON *rk;
        char *s;

        cJSON_AddStringToObject(o, "name", k->identity->name);
        cJSON_AddStringToObject(o, "cache_id", k->identity->cache_id);
        cJSON_AddStringToObject(o, "key", k->key);
        cJSON_AddStringToObject(o, "save_key", k->save_key);
        cJSON_AddStringToObject(o, "run_part", p->run.text);
        cJSON_AddStringToObject(o, "run_source", p->run.source);
        rk = cJSON_AddArrayToObject(o, "restore_keys");
        for (size_t r = 0; r < k->restore_keys.n; r++)
            cJSON_AddItemToArray(rk, cJSON_CreateString(k->restore_keys.v[r]));
        s = cJSON_PrintUnformatted(o);
        printf("%s\n  %s", i ? "," : "", s);
        free(s);
        cJSON_Delete(o);
    }
    printf("%s]\n", p->keys->n ? "\n" : "");
}

static void print_text(const struct bk_project *p)
{
    if (p->keys->n == 0) {
        printf("no cache mounts in the build of stage %s\n",
               p->plan->stages[p->plan->target].label);
        return;
    }
    for (size_t i = 0; i < p->keys->n; i++) {
        const struct bk_cache_key *k = &p->keys->keys[i];
        printf("%s%s  (cache id %s)\n  key:     %s\n  saves:   %s\n", i ? "\n" : "",
               k->identity->name, k->identity->cache_id, k->key, k->save_key);
        for (size_t r = 0; r < k->restore_keys.n; r++)
            printf("  restore: %s\n", k->restore_keys.v[r]);
    }
    printf("\nrun part %s: from %s\n", p->run.text, p->run.source);
}

int bk_cmd_key(struct bk_options *o)
{
    struct bk_project *p;
    int rc = bk_project_load(o, BK_PROJECT_KEYS, &p);

    if (rc)
        return bk_project_report_error(rc);
    if (o->json)
        print_json(p);
    else
        print_text(p);
    bk_project_free(p);
    return 0;
}
