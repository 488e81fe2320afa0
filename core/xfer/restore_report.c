/*
 * restore_report.c - the per-identity summary of save and restore, and the
 * exit status it implies; see restore.h.
 *
 * Text: one line per identity on stdout,
 *   NAME: ACTION KEY [from MATCHED] (HIT, SIZE, N layers, N files, S s)[: REASON]
 * ("N layers" for a layered entry only, docs/delta-saves.md)
 * where KEY is the key save writes (save_key, with its run part) for save,
 * and the Dockerfile-derived key for restore.
 * JSON: one document, {"command", "provider", "identities": [...]}; "key" is
 * always the Dockerfile-derived key, "save_key" the key save writes.
 *
 * With the layer cache (x->layers), text adds a line per source, or the
 * save line (`bkcache restore` then prints the build arguments as one line,
 * core/cli/ci_export.c; `bkcache build` adds them to the command itself); JSON adds "layers": after
 * restore {"key", "matched_key", "hit", "build_args": [...], "sources": [{"target", "matched_key",
 * "hit", "blobs_fetched", "blobs_present", "bytes_fetched", "reason"}]}, after save
 * {"key", "save_key", "action", "reason", "blobs_uploaded", "blobs_skipped",
 * "bytes_uploaded"}; the text line names the save key, as for the mounts.
 */
#include "core/xfer/restore.h"

#include "core/util/format.h"
#include "core/util/strbuf.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_text(FILE *f, const struct bk_xfer_item *it, int save)
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
    if (it->layers)
        bk_strbuf_addf(&sb, "%u layer%s, ", it->layers, it->layers == 1 ? "" : "s");
    if (it->files)
        bk_strbuf_addf(&sb, "%llu files, ", (unsigned long long)it->files);
    bk_strbuf_addf(&sb, "%.2fs)", it->seconds);
    if (it->reason)
        bk_strbuf_addf(&sb, ": %s", it->reason);
    fprintf(f, "%s\n", sb.buf);
    bk_strbuf_release(&sb);
}

static void add_str_or_null(cJSON *o, const char *name, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static void print_layers_text(FILE *f, const struct bk_layers *l)
{
    char size[32];

    if (l->saved) {
        bk_format_size(l->bytes_uploaded, size, sizeof(size));
        fprintf(f, "layers: %s %s (%u blobs uploaded, %s, %u already stored)%s%s\n", l->action,
                l->save_key, l->blobs_uploaded, size, l->blobs_skipped, l->save_reason ? ": " : "",
                l->save_reason ? l->save_reason : "");
        return;
    }
    for (size_t i = 0; i < l->nsources; i++) {
        const struct bk_layers_source *src = &l->sources[i];
        int found = src->matched_key != NULL;
        bk_format_size(src->bytes_fetched, size, sizeof(size));
        fprintf(f, "layers %s: %s %s", src->target,
                found ? (l->lookup_only ? "found" : "restored") : "miss",
                found ? src->matched_key : (src->key ? src->key : src->restore.v[0]));
        if (found && !l->lookup_only)
            fprintf(f, " (%s hit, %u blobs fetched, %s, %u present)", src->hit, src->blobs_fetched,
                    size, src->blobs_present);
        fprintf(f, "%s%s\n", src->reason ? ": " : "", src->reason ? src->reason : "");
    }
}

static cJSON *layers_json(const struct bk_layers *l)
{
    cJSON *o = cJSON_CreateObject(), *args, *srcs;

    cJSON_AddStringToObject(o, "key", l->key);
    if (l->saved) {
        cJSON_AddStringToObject(o, "save_key", l->save_key);
        cJSON_AddStringToObject(o, "action", l->action);
        add_str_or_null(o, "reason", l->save_reason);
        cJSON_AddNumberToObject(o, "blobs_uploaded", l->blobs_uploaded);
        cJSON_AddNumberToObject(o, "blobs_skipped", l->blobs_skipped);
        cJSON_AddNumberToObject(o, "bytes_uploaded", (double)l->bytes_uploaded);
        return o;
    }
    add_str_or_null(o, "matched_key", l->sources[0].matched_key);
    cJSON_AddStringToObject(o, "hit", l->sources[0].hit);
    args = cJSON_AddArrayToObject(o, "build_args");
    for (size_t i = 0; i < l->build_args.n; i++)
        cJSON_AddItemToArray(args, cJSON_CreateString(l->build_args.v[i]));
    srcs = cJSON_AddArrayToObject(o, "sources");
    for (size_t i = 0; i < l->nsources; i++) {
        const struct bk_layers_source *src = &l->sources[i];
        cJSON *so = cJSON_CreateObject();
        cJSON_AddStringToObject(so, "target", src->target);
        add_str_or_null(so, "matched_key", src->matched_key);
        cJSON_AddStringToObject(so, "hit", src->hit);
        cJSON_AddNumberToObject(so, "blobs_fetched", src->blobs_fetched);
        cJSON_AddNumberToObject(so, "blobs_present", src->blobs_present);
        cJSON_AddNumberToObject(so, "bytes_fetched", (double)src->bytes_fetched);
        add_str_or_null(so, "reason", src->reason);
        cJSON_AddItemToArray(srcs, so);
    }
    return o;
}

static void print_json(FILE *f, const struct bk_xfer *x, const char *command)
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
        cJSON_AddNumberToObject(o, "entry_layers", it->layers);
        cJSON_AddNumberToObject(o, "seconds", (double)(long)(it->seconds * 1000) / 1000.0);
        add_str_or_null(o, "digest", it->digest);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddItemToObject(doc, "identities", arr);
    if (x->layers)
        cJSON_AddItemToObject(doc, "layers", layers_json(x->layers));
    text = cJSON_Print(doc);
    fprintf(f, "%s\n", text);
    cJSON_free(text);
    cJSON_Delete(doc);
}

void bk_xfer_fprint(FILE *f, const struct bk_xfer *x, const char *command, int json)
{
    if (json) {
        print_json(f, x, command);
        return;
    }
    for (size_t i = 0; i < x->n; i++)
        print_text(f, &x->items[i], strcmp(command, "save") == 0);
    if (x->layers)
        print_layers_text(f, x->layers);
}

void bk_xfer_print(const struct bk_xfer *x, const char *command, int json)
{
    bk_xfer_fprint(stdout, x, command, json);
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
    if (x->layers && fail_on_error) {
        for (size_t i = 0; i < x->layers->nsources; i++)
            if (x->layers->sources[i].failed)
                return 1;
        if (x->layers->save_failed)
            return 1;
    }
    if (x->layers && fail_on_cache_miss && !x->layers->saved &&
        strcmp(x->layers->sources[0].hit, "exact") != 0)
        return 1;
    return 0;
}
