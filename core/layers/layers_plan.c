/*
 * layers_plan.c - what restore and save would do with the layer cache, for
 * `bkcache plan`; see layers.h. Reads the store (lookups, the small index
 * entries, a stat per blob save would upload) and the working directory;
 * writes nothing there (indexes are read through a temporary directory).
 */
#include "core/layers/layers.h"

#include "core/plan/keys.h"

#include "core/util/error.h"
#include "core/util/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_entry(struct bk_store *s, const struct bk_provider_entry *e, const char *tmp,
                      struct bk_layer_index *ix)
{
    char *path = bk_xasprintf("%s/index", tmp);
    int rc = bk_layers__read_entry(s, e, path, ix);

    free(path);
    return rc;
}

static void plan_source(const struct bk_layers_source *src, struct bk_store *s, const char *tmp,
                        struct bk_layers_plan_source *out)
{
    struct bk_lookup q = {.key = src->key ? src->key : src->restore.v[0],
                          .restore_keys = (const char *const *)src->restore.v,
                          .nrestore = src->restore.n,
                          .identity = BK_LAYERS_SCHEMA};
    struct bk_provider_entry e;
    struct bk_layer_index ix;
    int rc = bk_store_lookup(s, &q, &e);

    out->target = src->target;
    out->hit = "miss";
    if (rc < 0) {
        if (rc != BK_ENOTFOUND)
            out->note = bk_xasprintf("lookup failed: %s", bk_error_msg());
        return;
    }
    out->matched_key = bk_xstrdup(e.key);
    out->hit = src->key && bk_key_same_cache(src->key, e.key) ? "exact" : "partial";
    if (read_entry(s, &e, tmp, &ix) == BK_OK) {
        for (size_t i = 0; i < ix.n; i++) {
            char *path = bk_xasprintf("%s/blobs/sha256/%s", src->dir, ix.blobs[i].digest + 7);
            struct stat st;
            out->blobs++;
            out->bytes += ix.blobs[i].size;
            if (stat(path, &st) != 0 || (uint64_t)st.st_size != ix.blobs[i].size) {
                out->fetch++;
                out->fetch_bytes += ix.blobs[i].size;
            }
            free(path);
        }
        bk_layer_index_release(&ix);
    } else {
        out->note = bk_xasprintf("index unreadable: %s", bk_error_msg());
    }
    bk_provider_entry_release(&e);
}

int bk_layers_plan(const struct bk_layers *l, struct bk_store *s, struct bk_layers_plan *out)
{
    char tmpl[] = "/tmp/bkcache-plan-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    struct bk_layer_index ix;

    memset(out, 0, sizeof(*out));
    out->src = bk_xcalloc(l->nsources, sizeof(*out->src));
    out->n = l->nsources;
    if (!tmp)
        return bk_error_set(BK_ERR, "cannot create a temporary directory");
    for (size_t i = 0; s && i < l->nsources; i++)
        plan_source(&l->sources[i], s, tmp, &out->src[i]);
    bk_remove_tree(tmp);
    if (bk_layer_index_read_dir(l->dest, &ix) != BK_OK) {
        out->save_note = bk_xasprintf("nothing to save until the build exports to %s", l->dest);
        return BK_OK;
    }
    out->exported = 1;
    for (size_t i = 0; s && i < ix.n; i++) {
        out->up_total++;
        if (bk_store_blob_stat(s, ix.blobs[i].digest, NULL) == BK_ENOTFOUND) {
            out->up_blobs++;
            out->up_bytes += ix.blobs[i].size;
        }
    }
    bk_layer_index_release(&ix);
    return BK_OK;
}

void bk_layers_plan_release(struct bk_layers_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->src[i].matched_key);
        free(p->src[i].note);
    }
    free(p->src);
    free(p->save_note);
    memset(p, 0, sizeof(*p));
}
