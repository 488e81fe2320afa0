/*
 * store_file.c - atomic small-file writes for the store's own files (the
 * local store's sidecars, the state file); see store.h.
 */
#include "core/store.h"

#include "core/strbuf.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir =
        slash ? bk_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : bk_xstrdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int bk_store_write_file_atomic(const char *path, const void *data, size_t len)
{
    char *tmp = bk_xasprintf("%s.tmp-XXXXXX", path);
    const char *p = data;
    int fd = mkstemp(tmp);
    int rc = BK_OK;

    if (fd < 0) {
        rc = bk_error_set(BK_ERR, "%s: cannot write: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    while (len > 0 && rc == BK_OK) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = bk_error_set(BK_ERR, "%s: write: %s", tmp, strerror(errno));
        else {
            p += n;
            len -= (size_t)n;
        }
    }
    if (rc == BK_OK && fsync(fd) != 0)
        rc = bk_error_set(BK_ERR, "%s: fsync: %s", tmp, strerror(errno));
    close(fd);
    if (rc == BK_OK && rename(tmp, path) != 0)
        rc = bk_error_set(BK_ERR, "%s: rename: %s", path, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    else
        fsync_parent(path);
    free(tmp);
    return rc;
}

int bk_store_read_json(const char *path, void **out)
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

int bk_store_mkdir_p(const char *path)
{
    char *p = bk_xstrdup(path);
    int rc = BK_OK;

    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            rc = bk_error_set(errno == EACCES ? BK_EDENIED : BK_ERR, "%s: cannot create: %s", p,
                              strerror(errno));
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}
