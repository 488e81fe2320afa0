/*
 * layers_prune.c - remove the blobs that no index references; see layers.h.
 *
 * The referenced set is read from every index the store still holds
 * (bk_entry_refs_read): each layer cache's index (a key with the
 * "-.layers-" name part) and each mount cache's layered entry (an ordinary
 * key whose content is a bkcache index, core/store/store_index.h). Run
 * after prune's policy removed entries, the blobs only those referenced
 * are unreferenced here. A blob younger than the grace period stays even
 * when unreferenced: a save uploads its blobs before its index, so a blob
 * may be seconds away from being referenced. An index that cannot be read
 * stops the prune (nothing is removed), since its blobs would look
 * unreferenced.
 */
#include "core/layers/layers.h"

#include "core/util/error.h"
#include "core/util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every digest named by an index in the store (a layer cache's or a mount
 * cache's), sorted. */
static int referenced(struct bk_store *s, struct bk_strvec *out)
{
    struct bk_provider_entry *v = NULL;
    struct bk_entry_refs *refs = NULL;
    size_t n = 0;
    int rc = bk_store_list(s, &v, &n);

    if (rc < 0)
        return rc;
    n = bk_store_drop_blob_entries(v, n);
    rc = bk_entry_refs_read(s, v, n, &refs);
    for (size_t i = 0; i < n && rc == BK_OK; i++)
        for (size_t b = 0; b < refs[i].n; b++)
            bk_strvec_push(out, refs[i].blobs[b].digest);
    bk_entry_refs_free(refs, n);
    bk_store_entries_free(v, n);
    qsort(out->v, out->n, sizeof(char *), cmp_str);
    return rc;
}

int bk_layers_prune_blobs(struct bk_store *s, struct bk_store *reader, int64_t now, int64_t grace,
                          int dry_run, size_t *removed, uint64_t *bytes)
{
    struct bk_strvec refs = BK_STRVEC_INIT;
    struct bk_store_blob *blobs = NULL;
    size_t nblobs = 0;
    int rc;

    *removed = 0;
    *bytes = 0;
    rc = referenced(reader ? reader : s, &refs);
    if (rc == BK_OK)
        rc = bk_store_blob_list(s, &blobs, &nblobs);
    for (size_t i = 0; i < nblobs && rc == BK_OK; i++) {
        const char *d = blobs[i].digest;
        if (bsearch(&d, refs.v, refs.n, sizeof(char *), cmp_str))
            continue;
        if (blobs[i].created && now - blobs[i].created < grace)
            continue;
        if (!dry_run) {
            int r = bk_store_blob_remove(s, d);
            if (r == BK_ENOTFOUND)
                continue;
            if (r < 0) {
                rc = r;
                break;
            }
        }
        bk_debug("prune: blob %s (%llu bytes) is referenced by no index", d,
                 (unsigned long long)blobs[i].size);
        (*removed)++;
        *bytes += blobs[i].size;
    }
    bk_store_blobs_free(blobs, nblobs);
    bk_strvec_clear(&refs);
    return rc;
}
