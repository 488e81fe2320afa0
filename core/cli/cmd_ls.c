/*
 * cmd_ls.c - `bkcache ls`: the store's entries, newest first.
 *
 * Text: a table KEY SIZE CREATED LAST-USED (UTC); --json: an array of
 * {key, size, created, last_used} with RFC 3339 times (null when the store
 * does not know). --key-prefix keeps the keys that start with it. Opens the
 * store read-only; exit 1 when the store cannot be opened or listed.
 */
#include "core/cli/cli.h"
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

static void print_json(const struct bk_provider_entry *v, size_t n, const char *prefix)
{
    cJSON *arr = cJSON_CreateArray();
    char *text;

    for (size_t i = 0; i < n; i++) {
        cJSON *o;
        if (prefix && strncmp(v[i].key, prefix, strlen(prefix)) != 0)
            continue;
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", v[i].key);
        cJSON_AddNumberToObject(o, "size", (double)v[i].size);
        add_time(o, "created", v[i].created);
        add_time(o, "last_used", v[i].last_used);
        cJSON_AddItemToArray(arr, o);
    }
    text = cJSON_Print(arr);
    puts(text);
    cJSON_free(text);
    cJSON_Delete(arr);
}

static void print_table(const struct bk_provider_entry *v, size_t n, const char *prefix)
{
    size_t width = 3;
    char size[32], created[32], used[32];

    for (size_t i = 0; i < n; i++)
        if (strlen(v[i].key) > width)
            width = strlen(v[i].key);
    printf("%-*s  %10s  %-20s  %s\n", (int)width, "KEY", "SIZE", "CREATED", "LAST USED");
    for (size_t i = 0; i < n; i++) {
        if (prefix && strncmp(v[i].key, prefix, strlen(prefix)) != 0)
            continue;
        bk_format_size(v[i].size, size, sizeof(size));
        bk_format_time(v[i].created, created, sizeof(created));
        bk_format_time(v[i].last_used, used, sizeof(used));
        printf("%-*s  %10s  %-20s  %s\n", (int)width, v[i].key, size, created, used);
    }
}

int bk_cmd_ls(struct bk_options *o)
{
    struct bk_store *s = NULL;
    struct bk_provider_entry *v = NULL;
    size_t n = 0;
    int rc;

    if (o->args.n)
        return bk_error("ls: unexpected argument '%s'", o->args.v[0]), 2;
    rc = bk_store_open_cli(o, 1, &s);
    if (rc == BK_EINVAL)
        return bk_error("%s", bk_error_msg()), 2;
    if (rc == BK_OK)
        rc = bk_store_list(s, &v, &n);
    if (rc < 0) {
        bk_error("ls: %s", bk_error_msg());
        bk_store_close(s);
        return 1;
    }
    n = bk_store_drop_blob_entries(v, n); /* blobs are parts of layer caches, not caches */
    qsort(v, n, sizeof(*v), newest_first);
    if (o->json)
        print_json(v, n, o->key_prefix);
    else
        print_table(v, n, o->key_prefix);
    bk_store_entries_free(v, n);
    bk_store_close(s);
    return 0;
}
