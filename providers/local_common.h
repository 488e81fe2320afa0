/*
 * local_common.h - what the local store's files share: the instance struct
 * (local.c creates it) and the blob slots (local_blobs.c).
 *
 * Blobs live at DIR/blobs/sha256/<hex>, beside DIR/entries/, one file per
 * digest, shared by every key of the store; see local_blobs.c.
 */
#ifndef BK_LOCAL_COMMON_H
#define BK_LOCAL_COMMON_H

#include "providers/provider.h"

struct local_store {
    struct bk_provider base;
    char *root;
    char *entries; /* root/entries */
    char *blobs;   /* root/blobs/sha256 */
    int read_only;
};

int local_blob_stat(struct bk_provider *p, const char *digest, uint64_t *size_out);
int local_blob_get(struct bk_provider *p, const char *digest, int fd);
int local_blob_open_local(struct bk_provider *p, const char *digest, int *fd_out);
int local_blob_put(struct bk_provider *p, const char *digest, int fd, uint64_t size);
int local_blob_list(struct bk_provider *p, bk_blob_cb cb, void *payload);
int local_blob_remove(struct bk_provider *p, const char *digest);

#endif
