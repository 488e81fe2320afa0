/*
 * local_blobs.c - the local store's content-addressed blobs.
 *
 * Layout: DIR/blobs/sha256/<hex> holds the blob whose digest is
 * "sha256:<hex>"; DIR/blobs/sha256/.tmp-* are writes in progress. A put
 * stages the data under a temporary name (a hard link when the file is on
 * the store's file system, else a copy; on disk before the rename) and
 * renames it into place, so a reader sees the whole blob or none. Two
 * savers of one digest write the same bytes; the last rename wins. Blobs
 * need no lock: the name is the content, and prune only removes blobs that
 * no index references (core decides which, see core/layers/).
 */
#include "providers/local_common.h"

#include "core/util/fileio.h"
#include "core/util/strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* DIR/blobs/sha256/<hex> for "sha256:<hex>"; caller frees. */
static char *blob_path(const struct local_store *ls, const char *digest)
{
    return bk_xasprintf("%s/%s", ls->blobs, digest + strlen("sha256:"));
}

int local_blob_stat(struct bk_provider *p, const char *digest, uint64_t *size_out)
{
    struct local_store *ls = (struct local_store *)p;
    char *path = blob_path(ls, digest);
    struct stat st;
    int rc = BK_OK;

    if (stat(path, &st) != 0)
        rc = errno == ENOENT ? bk_error_set(BK_ENOTFOUND, "%s: no such blob", path)
                             : bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    else
        *size_out = (uint64_t)st.st_size;
    free(path);
    return rc;
}

int local_blob_open_local(struct bk_provider *p, const char *digest, int *fd_out)
{
    struct local_store *ls = (struct local_store *)p;
    char *path = blob_path(ls, digest);
    int rc = BK_OK;

    *fd_out = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd_out < 0)
        rc = errno == ENOENT ? bk_error_set(BK_ENOTFOUND, "%s: no such blob", path)
                             : bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    free(path);
    return rc;
}

int local_blob_get(struct bk_provider *p, const char *digest, int fd)
{
    struct local_store *ls = (struct local_store *)p;
    char *path = blob_path(ls, digest);
    int in = open(path, O_RDONLY | O_CLOEXEC), rc;

    if (in < 0) {
        rc = errno == ENOENT ? bk_error_set(BK_ENOTFOUND, "%s: no such blob", path)
                             : bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    } else {
        rc = bk_file_copy_fd(in, fd, path);
        close(in);
    }
    free(path);
    return rc;
}

int local_blob_put(struct bk_provider *p, const char *digest, int fd, uint64_t size)
{
    struct local_store *ls = (struct local_store *)p;
    char *path, *prefix, *tmp = NULL;
    int rc;

    (void)size;
    if (ls->read_only)
        return bk_error_set(BK_EDENIED, "%s: the store is open read-only", ls->root);
    if ((rc = bk_mkdir_p(ls->blobs)) < 0)
        return rc;
    path = blob_path(ls, digest);
    prefix = bk_xasprintf("%s/.tmp-%.16s-", ls->blobs, digest + strlen("sha256:"));
    rc = bk_file_stage_fd(fd, prefix, 1, &tmp);
    if (rc == BK_OK && rename(tmp, path) != 0)
        rc = bk_error_set(BK_ERR, "%s: rename: %s", path, strerror(errno));
    if (tmp) /* rename() leaves both names when they were links to one file already */
        unlink(tmp);
    free(tmp);
    free(prefix);
    free(path);
    return rc;
}

static int is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

int local_blob_list(struct bk_provider *p, bk_blob_cb cb, void *payload)
{
    struct local_store *ls = (struct local_store *)p;
    DIR *d = opendir(ls->blobs);
    struct dirent *de;
    int rc = BK_OK;

    if (!d)
        return errno == ENOENT ? BK_OK : bk_error_set(BK_ERR, "%s: %s", ls->blobs, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        struct bk_provider_blob b = {0};
        struct stat st;
        char digest[80];

        if (!is_hex64(de->d_name) || fstatat(dirfd(d), de->d_name, &st, 0) != 0)
            continue;
        snprintf(digest, sizeof(digest), "sha256:%s", de->d_name);
        b.digest = digest;
        b.size = (uint64_t)st.st_size;
        b.created = (int64_t)st.st_mtime;
        if (cb(&b, payload))
            break;
    }
    closedir(d);
    return rc;
}

int local_blob_remove(struct bk_provider *p, const char *digest)
{
    struct local_store *ls = (struct local_store *)p;
    char *path = blob_path(ls, digest);
    int rc = BK_OK;

    if (ls->read_only)
        rc = bk_error_set(BK_EDENIED, "%s: the store is open read-only", ls->root);
    else if (unlink(path) != 0)
        rc = errno == ENOENT ? bk_error_set(BK_ENOTFOUND, "%s: no such blob", path)
                             : bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    free(path);
    return rc;
}
