/*
 * json.c - JSON files and typed field readers; see json.h.
 */
#include "core/util/json.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <cJSON.h>

int bk_json_read_file(const char *path, void **out)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    int rc = bk_strbuf_read_file(&sb, path);

    *out = NULL;
    if (rc < 0)
        return rc;
    *out = cJSON_Parse(sb.buf);
    bk_strbuf_release(&sb);
    return *out ? BK_OK : bk_error_set(BK_ECORRUPT, "%s: not valid JSON", path);
}

const char *bk_json_str(const void *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive((const cJSON *)obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
