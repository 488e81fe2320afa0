/*
 * cmd_prune.c - `bkcache prune --max-size SIZE --max-age AGE --keep N
 * --keep-per-key N`.
 *
 * --keep-per-key keeps the N newest runs of each key (bk_prune_select_runs);
 * an entry goes when it breaks that rule or the other limits.
 * Removes store entries, least recently used first; the exact rule for how
 * the three limits combine is bk_prune_select() (core/store/store.h): an
 * entry stays only when it is within all of them. Without any limit it
 * removes nothing. Prints one line per removed entry (--json: a document
 * {"removed": [...], "kept": N, "freed": BYTES}). Exit 1 when the store
 * cannot list or delete; a failed removal is reported and the rest go on.
 *
 * Then the blobs (core/layers/layers_prune.c): those that no remaining
 * index references (layer caches' indexes and mount caches' layered
 * entries, read through a read-only store so reading is not a use) and
 * that are older than $BKCACHE_BLOB_GRACE seconds (default 3600: a save
 * uploads its blobs before its index) go too, so the blobs only the
 * entries just removed referenced go in the same run; one line "blobs: N
 * removed, SIZE freed" (--json: "blobs_removed", "blobs_freed"). An index
 * that cannot be read stops the blob removal (a warning, exit 1). The
 * limits above apply to entries only (an index counts with its own size).
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
#include <time.h>

static int64_t blob_grace(void)
{
    const char *v = getenv("BKCACHE_BLOB_GRACE");
    return v && *v ? strtoll(v, NULL, 10) : 3600;
}

/* Remove unreferenced blobs; adds its counts to `doc` (JSON) or prints them.
 * The indexes are read through a read-only store, so reading is no use. */
static int prune_blobs(const struct bk_options *o, struct bk_store *s, cJSON *doc, int json)
{
    struct bk_store *reader = NULL;
    size_t removed = 0;
    uint64_t freed = 0;
    char size[32];
    int rc;

    if (bk_store_open_cli(o, 1, 1, &reader) < 0) {
        bk_debug("prune: no read-only store (%s): indexes are read as uses", bk_error_msg());
        reader = NULL;
    }
    rc = bk_layers_prune_blobs(s, reader, (int64_t)time(NULL), blob_grace(), 0, &removed, &freed);
    bk_store_close(reader);

    if (rc < 0)
        bk_warn("warning: blobs not pruned: %s", bk_error_msg());
    if (json) {
        cJSON_AddNumberToObject(doc, "blobs_removed", (double)removed);
        cJSON_AddNumberToObject(doc, "blobs_freed", (double)freed);
    } else if (removed) {
        bk_format_size(freed, size, sizeof(size));
        printf("blobs: %zu removed, %s freed\n", removed, size);
    }
    return rc < 0;
}

static int prune_entries(const struct bk_options *opts, struct bk_store *s,
                         struct bk_provider_entry *v, size_t n, const unsigned char *remove,
                         int json)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "removed");
    uint64_t freed = 0;
    size_t kept = 0;
    int failed = 0;
    char size[32], used[32];

    for (size_t i = 0; i < n; i++) {
        if (!remove[i]) {
            kept++;
            continue;
        }
        if (bk_store_remove(s, &v[i]) < 0) {
            bk_warn("warning: cannot remove %s: %s", v[i].key, bk_error_msg());
            failed = 1;
            kept++;
            continue;
        }
        freed += v[i].size;
        bk_format_size(v[i].size, size, sizeof(size));
        bk_format_time(v[i].last_used ? v[i].last_used : v[i].created, used, sizeof(used));
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "key", v[i].key);
            cJSON_AddNumberToObject(o, "size", (double)v[i].size);
            cJSON_AddStringToObject(o, "last_used", used);
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("removed %s (%s, last used %s)\n", v[i].key, size, used);
        }
    }
    if (!json) {
        bk_format_size(freed, size, sizeof(size));
        printf("pruned: %zu removed, %zu kept, %s freed\n", n - kept, kept, size);
    }
    failed |= prune_blobs(opts, s, doc, json);
    if (json) {
        char *text;
        cJSON_AddNumberToObject(doc, "kept", (double)kept);
        cJSON_AddNumberToObject(doc, "freed", (double)freed);
        text = cJSON_Print(doc);
        puts(text);
        cJSON_free(text);
    }
    cJSON_Delete(doc);
    return failed;
}

int bk_cmd_prune(struct bk_options *o)
{
    struct bk_prune_limits lim = {o->max_size, o->max_age, o->keep};
    struct bk_store *s = NULL;
    struct bk_provider_entry *v = NULL;
    unsigned char *remove;
    size_t n = 0;
    int rc;

    if (o->args.n)
        return bk_error("prune: unexpected argument '%s'", o->args.v[0]), 2;
    if (!lim.max_size && !lim.max_age && lim.keep < 0 && o->keep_per_key < 0)
        bk_info("prune: no --max-size, --max-age, --keep or --keep-per-key given: nothing to "
                "remove");
    rc = bk_store_open_cli(o, 0, 1, &s);
    if (rc == BK_EINVAL)
        return bk_error("%s", bk_error_msg()), 2;
    if (rc == BK_OK && !(bk_store_caps(s) & BK_CAP_DELETE))
        rc = bk_error_set(BK_ERR, "provider %s cannot delete entries", bk_store_name(s));
    if (rc == BK_OK)
        rc = bk_store_list(s, &v, &n);
    if (rc < 0) {
        bk_error("prune: %s", bk_error_msg());
        bk_store_close(s);
        return 1;
    }
    n = bk_store_drop_blob_entries(v, n); /* blobs go by reference, below */
    remove = bk_xcalloc(n + 1, 1);
    bk_prune_select(v, n, (int64_t)time(NULL), &lim, remove);
    bk_prune_select_runs(v, n, o->keep_per_key, remove);
    rc = prune_entries(o, s, v, n, remove, o->json);
    free(remove);
    bk_store_entries_free(v, n);
    bk_store_close(s);
    return rc ? 1 : 0;
}
