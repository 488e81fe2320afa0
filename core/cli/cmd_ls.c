/*
 * cmd_ls.c - `bkcache ls`: the store's entries, newest first.
 *
 * Text: a table KEY SIZE OWN SHARED CREATED LAST-USED (UTC); --json: an
 * array of {key, kind, size, own, shared, created, last_used} with RFC 3339
 * times (null when the store does not know). SIZE is the entry's own
 * stored bytes: a plain archive's, or a layered entry's small index. OWN
 * and SHARED count the blobs an index references (bk_entry_refs_share):
 * those only this entry references, and those other entries reference
 * too; a plain archive's OWN is its size, its SHARED 0. kind is "archive",
 * "layered" (a mount cache's index) or "layers" (a layer cache's index).
 * An index that cannot be read shows "?" (JSON: null and "error") with a
 * warning; it does not fail ls. --key-prefix keeps the keys that start with
 * it (OWN and SHARED still count every entry). Opens the store read-only;
 * exit 1 when the store cannot be opened or listed.
 */
#include "core/cli/cli.h"
#include "core/layers/layers.h"
#include "core/util/format.h"
#include "core/util/log.h"
#include "core/store/store.h"
#include "core/util/strbuf.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int newest_first(const void *a, const void *b)
{
    const struct bk_provider_entry *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? 1 : -1;
    return strcmp(x->key, y->key);
}

static void add_time(cJSON *o, const char *name, int64_t t)
{
    char buf[32];
    if (t <= 0) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    bk_format_time(t, buf, sizeof(buf));
    cJSON_AddStringToObject(o, name, buf);
}

static const char *const kind_names[] = {
    [BK_ENTRY_ARCHIVE] = "archive",
    [BK_ENTRY_LAYERED] = "layered",
    [BK_ENTRY_LAYER_CACHE] = "layers",
};

static int wanted(const struct bk_provider_entry *e, const char *prefix)
{
    return !prefix || strncmp(e->key, prefix, strlen(prefix)) == 0;
}

static void print_json(const struct bk_provider_entry *v, const struct bk_entry_refs *r, size_t n,
                       const char *prefix)
{
    cJSON *arr = cJSON_CreateArray();
    char *text;

    for (size_t i = 0; i < n; i++) {
        cJSON *o;
        if (!wanted(&v[i], prefix))
            continue;
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", v[i].key);
        if (r[i].error) {
            cJSON_AddNullToObject(o, "kind");
            cJSON_AddNumberToObject(o, "size", (double)v[i].size);
            cJSON_AddNullToObject(o, "own");
            cJSON_AddNullToObject(o, "shared");
            cJSON_AddStringToObject(o, "error", r[i].error);
        } else {
            cJSON_AddStringToObject(o, "kind", kind_names[r[i].kind]);
            cJSON_AddNumberToObject(o, "size", (double)v[i].size);
            cJSON_AddNumberToObject(o, "own", (double)r[i].own);
            cJSON_AddNumberToObject(o, "shared", (double)r[i].shared);
        }
        add_time(o, "created", v[i].created);
        add_time(o, "last_used", v[i].last_used);
        cJSON_AddItemToArray(arr, o);
    }
    text = cJSON_Print(arr);
    puts(text);
    cJSON_free(text);
    cJSON_Delete(arr);
}

static void print_table(const struct bk_provider_entry *v, const struct bk_entry_refs *r, size_t n,
                        const char *prefix)
{
    size_t width = 3;
    char size[32], own[32], shared[32], created[32], used[32];

    for (size_t i = 0; i < n; i++)
        if (wanted(&v[i], prefix) && strlen(v[i].key) > width)
            width = strlen(v[i].key);
    printf("%-*s  %10s  %10s  %10s  %-20s  %s\n", (int)width, "KEY", "SIZE", "OWN", "SHARED",
           "CREATED", "LAST USED");
    for (size_t i = 0; i < n; i++) {
        if (!wanted(&v[i], prefix))
            continue;
        bk_format_size(v[i].size, size, sizeof(size));
        if (r[i].error) {
            snprintf(own, sizeof(own), "?");
            snprintf(shared, sizeof(shared), "?");
        } else {
            bk_format_size(r[i].own, own, sizeof(own));
            bk_format_size(r[i].shared, shared, sizeof(shared));
        }
        bk_format_time(v[i].created, created, sizeof(created));
        bk_format_time(v[i].last_used, used, sizeof(used));
        printf("%-*s  %10s  %10s  %10s  %-20s  %s\n", (int)width, v[i].key, size, own, shared,
               created, used);
    }
}

int bk_cmd_ls(struct bk_options *o)
{
    struct bk_store *s = NULL;
    struct bk_provider_entry *v = NULL;
    struct bk_entry_refs *refs = NULL;
    size_t n = 0;
    int rc;

    if (o->args.n)
        return bk_error("ls: unexpected argument '%s'", o->args.v[0]), 2;
    rc = bk_store_open_cli(o, 1, 1, &s);
    if (rc == BK_EINVAL)
        return bk_error("%s", bk_error_msg()), 2;
    if (rc == BK_OK)
        rc = bk_store_list(s, &v, &n);
    if (rc < 0) {
        bk_error("ls: %s", bk_error_msg());
        bk_store_close(s);
        return 1;
    }
    n = bk_store_drop_blob_entries(v, n); /* blobs are parts of other entries, not caches */
    qsort(v, n, sizeof(*v), newest_first);
    bk_entry_refs_read(s, v, n, &refs); /* an unreadable index is shown as such */
    bk_entry_refs_share(v, refs, n);
    for (size_t i = 0; i < n; i++)
        if (refs[i].error && wanted(&v[i], o->key_prefix))
            bk_warn("warning: ls: cannot read an index: %s", refs[i].error);
    if (o->json)
        print_json(v, refs, n, o->key_prefix);
    else
        print_table(v, refs, n, o->key_prefix);
    bk_entry_refs_free(refs, n);
    bk_store_entries_free(v, n);
    bk_store_close(s);
    return 0;
}
