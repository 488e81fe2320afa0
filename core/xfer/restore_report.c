/*
 * restore_report.c - the per-identity summary of save and restore, and the
 * exit status it implies; see restore.h.
 *
 * Text: one line per identity on stdout,
 *   NAME: ACTION KEY [from MATCHED] (HIT, SIZE, N files, S s)[: REASON]
 * where KEY is the key save writes (save_key, with its run part) for save,
 * and the Dockerfile-derived key for restore.
 * JSON: one document, {"command", "provider", "identities": [...]}; "key" is
 * always the Dockerfile-derived key, "save_key" the key save writes.
 */
#include "core/xfer/restore.h"

#include "core/util/format.h"
#include "core/util/strbuf.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_text(const struct bk_xfer_item *it, int save)
{
    const char *key = save && it->save_key ? it->save_key : it->key;
    char size[32];
    struct bk_strbuf sb = BK_STRBUF_INIT;

    bk_strbuf_addf(&sb, "%s: %s %s", it->identity->name, it->action, key);
    if (!save && it->matched_key && strcmp(it->matched_key, it->key) != 0)
        bk_strbuf_addf(&sb, " from %s", it->matched_key);
    bk_strbuf_adds(&sb, " (");
    if (it->hit == BK_HIT_EXACT || it->hit == BK_HIT_PARTIAL)
        bk_strbuf_addf(&sb, "%s hit, ", bk_hit_name(it->hit));
    else if (it->hit == BK_HIT_MISS && strcmp(it->action, "miss") != 0)
        bk_strbuf_adds(&sb, "miss, ");
    if (it->bytes) {
        bk_format_size(it->bytes, size, sizeof(size));
        bk_strbuf_addf(&sb, "%s, ", size);
    }
    if (it->files)
        bk_strbuf_addf(&sb, "%llu files, ", (unsigned long long)it->files);
    bk_strbuf_addf(&sb, "%.2fs)", it->seconds);
    if (it->reason)
        bk_strbuf_addf(&sb, ": %s", it->reason);
    puts(sb.buf);
    bk_strbuf_release(&sb);
}

static void add_str_or_null(cJSON *o, const char *name, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static void print_json(const struct bk_xfer *x, const char *command)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    char *text;

    cJSON_AddStringToObject(doc, "command", command);
    add_str_or_null(doc, "provider", x->store ? bk_store_name(x->store) : NULL);
    for (size_t i = 0; i < x->n; i++) {
        const struct bk_xfer_item *it = &x->items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", it->identity->name);
        cJSON_AddStringToObject(o, "key", it->key);
        add_str_or_null(o, "save_key", it->save_key);
        add_str_or_null(o, "matched_key", it->matched_key);
        add_str_or_null(o, "hit", bk_hit_name(it->hit));
        cJSON_AddStringToObject(o, "action", it->action ? it->action : "");
        add_str_or_null(o, "reason", it->reason);
        cJSON_AddNumberToObject(o, "bytes", (double)it->bytes);
        cJSON_AddNumberToObject(o, "files", (double)it->files);
        cJSON_AddNumberToObject(o, "seconds", (double)(long)(it->seconds * 1000) / 1000.0);
        add_str_or_null(o, "digest", it->digest);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddItemToObject(doc, "identities", arr);
    text = cJSON_Print(doc);
    puts(text);
    cJSON_free(text);
    cJSON_Delete(doc);
}

void bk_xfer_print(const struct bk_xfer *x, const char *command, int json)
{
    if (json) {
        print_json(x, command);
        return;
    }
    for (size_t i = 0; i < x->n; i++)
        print_text(&x->items[i], strcmp(command, "save") == 0);
}

int bk_xfer_exit_status(const struct bk_xfer *x, int fail_on_cache_miss, int fail_on_error)
{
    for (size_t i = 0; i < x->n; i++) {
        const struct bk_xfer_item *it = &x->items[i];
        if (fail_on_error && it->failed)
            return 1;
        if (fail_on_cache_miss && it->hit != BK_HIT_EXACT)
            return 1;
    }
    return 0;
}
