/*
 * cmd_mounts.c - `bkcache mounts`: every cache-mount use in the target's
 * closure, in build order (stages in file order, RUNs in order, mounts in
 * order). --json prints a JSON array with one object per use:
 *
 *   {"stage", "line", "id", "cache_id", "target", "sharing", "readonly",
 *    "uid", "gid", "mode", "from", "source", "name"}
 *
 * where target is the absolute, cleaned mount path, mode is an octal
 * string ("0755"), from/source are null when absent, and name is the
 * file-system-safe name of the use's cache identity. Without --json, a
 * table. Nothing reaches stdout unless the whole plan resolved.
 */
#include "core/cli/cli.h"
#include "core/cli/project.h"
#include "core/cli/projset.h"
#include "core/dockerfile/runmount.h"
#include "core/util/strbuf.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *use_json(const struct bk_buildplan *plan, const struct bk_mount_use *u)
{
    cJSON *o = cJSON_CreateObject();
    char mode[16];
    char *target = bk_path_clean(u->target);

    snprintf(mode, sizeof(mode), "%04o", u->mode);
    cJSON_AddStringToObject(o, "stage", u->stage_label);
    cJSON_AddNumberToObject(o, "line", u->line);
    cJSON_AddStringToObject(o, "id", u->id);
    cJSON_AddStringToObject(o, "cache_id", u->cache_id);
    cJSON_AddStringToObject(o, "target", target);
    cJSON_AddStringToObject(o, "sharing", bk_sharing_name(u->sharing));
    cJSON_AddBoolToObject(o, "readonly", u->readonly);
    cJSON_AddNumberToObject(o, "uid", u->uid);
    cJSON_AddNumberToObject(o, "gid", u->gid);
    cJSON_AddStringToObject(o, "mode", mode);
    if (u->from)
        cJSON_AddStringToObject(o, "from", u->from);
    else
        cJSON_AddNullToObject(o, "from");
    if (u->source)
        cJSON_AddStringToObject(o, "source", u->source);
    else
        cJSON_AddNullToObject(o, "source");
    cJSON_AddStringToObject(o, "name", plan->identities[u->identity].name);
    free(target);
    return o;
}

/* One array over every build; with several builds each use names its build. */
static void print_json(const struct bk_projset *set)
{
    size_t n = 0;

    printf("[");
    for (size_t b = 0; b < set->nbuilds; b++) {
        const struct bk_buildplan *plan =
            set->builds[b].project ? set->builds[b].project->plan : NULL;
        for (size_t i = 0; plan && i < plan->nuses; i++) {
            cJSON *o = use_json(plan, &plan->uses[i]);
            char *s;
            if (set->many)
                cJSON_AddStringToObject(o, "build", set->builds[b].label);
            s = cJSON_PrintUnformatted(o);
            printf("%s\n  %s", n++ ? "," : "", s);
            free(s);
            cJSON_Delete(o);
        }
    }
    printf("%s]\n", n ? "\n" : "");
}

static int col_width(const struct bk_buildplan *plan, int which, int min)
{
    int w = min;
    for (size_t i = 0; i < plan->nuses; i++) {
        const struct bk_mount_use *u = &plan->uses[i];
        const char *s = which == 0   ? u->stage_label
                        : which == 1 ? plan->identities[u->identity].name
                                     : u->target;
        if ((int)strlen(s) > w)
            w = (int)strlen(s);
    }
    return w;
}

static void print_table(const struct bk_buildplan *plan)
{
    int ws, wn, wt;

    if (plan->nuses == 0) {
        printf("no cache mounts in the build of stage %s\n", plan->stages[plan->target].label);
        return;
    }
    ws = col_width(plan, 0, 5);
    wn = col_width(plan, 1, 4);
    wt = col_width(plan, 2, 6);
    printf("%-*s %5s  %-*s %-*s %-7s %-3s %-15s %s\n", ws, "STAGE", "LINE", wn, "NAME", wt,
           "TARGET", "SHARING", "RO", "UID:GID MODE", "CACHE ID");
    for (size_t i = 0; i < plan->nuses; i++) {
        const struct bk_mount_use *u = &plan->uses[i];
        char *target = bk_path_clean(u->target);
        char own[40];
        snprintf(own, sizeof(own), "%u:%u %04o", u->uid, u->gid, u->mode);
        printf("%-*s %5d  %-*s %-*s %-7s %-3s %-15s %s", ws, u->stage_label, u->line, wn,
               plan->identities[u->identity].name, wt, target, bk_sharing_name(u->sharing),
               u->readonly ? "yes" : "no", own, u->cache_id);
        if (u->from)
            printf(" from=%s", u->from);
        if (u->source)
            printf(" source=%s", u->source);
        printf("\n");
        free(target);
    }
}

int bk_cmd_mounts(struct bk_options *o)
{
    struct bk_projset *set;
    int rc = bk_projset_load(o, NULL, 0, &set);
    size_t bad;

    if (rc)
        return bk_project_report_error(rc);
    bad = bk_projset_report(set);
    if (o->json) {
        print_json(set);
    } else {
        for (size_t b = 0; b < set->nbuilds; b++) {
            const struct bk_projset_build *pb = &set->builds[b];
            if (!pb->project)
                continue;
            if (set->many)
                printf("%s== %s (%s)\n", b ? "\n" : "", pb->label, pb->spec->origin);
            print_table(pb->project->plan);
        }
    }
    bk_projset_free(set);
    return bad ? 2 : 0;
}
