/*
 * json_tree.c - merge, interpolate and read cJSON trees; see json_tree.h.
 */
#include "core/buildspec/json_tree.h"

#include "core/util/error.h"

#include <stdlib.h>

void bk_json_merge(cJSON *base, const cJSON *over)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, over)
    {
        cJSON *have = cJSON_GetObjectItemCaseSensitive(base, e->string);
        if (have && cJSON_IsObject(have) && cJSON_IsObject(e))
            bk_json_merge(have, e);
        else if (have)
            cJSON_ReplaceItemInObjectCaseSensitive(base, e->string, cJSON_Duplicate(e, 1));
        else
            cJSON_AddItemToObject(base, e->string, cJSON_Duplicate(e, 1));
    }
}

int bk_json_interpolate(cJSON *node, const struct bk_vars_lookup *vars)
{
    if (cJSON_IsString(node)) {
        char *out;
        int rc = bk_interpolate(node->valuestring, vars, &out);
        if (rc == BK_OK) {
            cJSON_SetValuestring(node, out);
            free(out);
        }
        return rc;
    }
    for (cJSON *c = node->child; c; c = c->next) {
        int rc = bk_json_interpolate(c, vars);
        if (rc)
            return rc;
    }
    return BK_OK;
}

void bk_json_push_strings(struct bk_strvec *out, const cJSON *node)
{
    const cJSON *e;
    if (cJSON_IsString(node))
        bk_strvec_push(out, node->valuestring);
    cJSON_ArrayForEach(e, node)
    {
        if (cJSON_IsString(e))
            bk_strvec_push(out, e->valuestring);
    }
}
