/*
 * fileio.c - small file helpers; see fileio.h: whole writes, atomic
 * small-file writes (the local store's sidecars, the state file), mkdir -p,
 * and the two ways of moving an archive file from one name to another: a
 * hard link (no data copied) and a copy.
 */
#include "core/util/fileio.h"

#include "core/util/error.h"

#include "core/util/log.h"

#include "core/util/strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
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

int bk_write_all(int fd, const void *buf, size_t n, int64_t off)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
        if (off >= 0)
            off += w;
    }
    return 0;
}

int bk_file_write_atomic(const char *path, const void *data, size_t len)
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

int bk_mkdir_p(const char *path)
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

int bk_file_link_temp(int fd, const char *prefix, char **tmp_out)
{
    char src[64];

    *tmp_out = NULL;
    snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned char r[6];
        char *tmp;
        if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
            return bk_error_set(BK_ERR, "getrandom: %s", strerror(errno));
        tmp =
            bk_xasprintf("%s%02x%02x%02x%02x%02x%02x", prefix, r[0], r[1], r[2], r[3], r[4], r[5]);
        if (linkat(AT_FDCWD, src, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0) {
            *tmp_out = tmp;
            return BK_OK;
        }
        int err = errno;
        free(tmp);
        if (err != EEXIST)
            return bk_error_set(BK_ERR, "%s: cannot link: %s", prefix, strerror(err));
    }
    return bk_error_set(BK_ERR, "%s: cannot link: no free temporary name", prefix);
}

int bk_file_copy_fd(int in, int out, const char *what)
{
    char buf[1 << 16];
    loff_t off = 0;

    /* copy_file_range first: in-kernel, and a reflink on file systems that can */
    for (;;) {
        ssize_t n = copy_file_range(in, &off, out, NULL, 1 << 30, 0);
        if (n == 0)
            return BK_OK;
        if (n > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return bk_error_set(errno == ENOSPC ? BK_ESKIPPED : BK_ERR, "%s: copy: %s", what,
                                strerror(errno));
        break;
    }
    for (;;) {
        ssize_t n = pread(in, buf, sizeof(buf), off);
        if (n == 0)
            return BK_OK;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return bk_error_set(BK_ERR, "%s: read: %s", what, strerror(errno));
        }
        if (bk_write_all(out, buf, (size_t)n, -1) < 0)
            return bk_error_set(errno == ENOSPC ? BK_ESKIPPED : BK_ERR, "%s: write: %s", what,
                                strerror(errno));
        off += n;
    }
}

int bk_file_stage_fd(int fd, const char *prefix, int durable, char **tmp_out)
{
    int out = -1, rc = bk_file_link_temp(fd, prefix, tmp_out);

    if (rc == BK_OK) {
        if (durable && fsync(fd) != 0) {
            rc = bk_error_set(BK_ERR, "%s: fsync: %s", *tmp_out, strerror(errno));
            unlink(*tmp_out);
            free(*tmp_out);
            *tmp_out = NULL;
        }
        return rc;
    }
    bk_debug("%s; copying instead", bk_error_msg());
    bk_error_clear();
    *tmp_out = bk_xasprintf("%sXXXXXX", prefix);
    out = mkstemp(*tmp_out);
    if (out < 0)
        rc = bk_error_set(BK_ERR, "%s: cannot create a temporary file: %s", *tmp_out,
                          strerror(errno));
    else
        rc = bk_file_copy_fd(fd, out, *tmp_out);
    if (rc == BK_OK && durable && fsync(out) != 0)
        rc = bk_error_set(BK_ERR, "%s: fsync: %s", *tmp_out, strerror(errno));
    if (out >= 0)
        close(out);
    if (rc < 0) {
        if (out >= 0)
            unlink(*tmp_out);
        free(*tmp_out);
        *tmp_out = NULL;
    }
    return rc;
}

int bk_rm_rf_at(int dfd, const char *name, const char *shown)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? BK_OK : bk_error_set(BK_ERR, "%s: %s", shown, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
            return bk_error_set(BK_ERR, "%s: cannot remove: %s", shown, strerror(errno));
        return BK_OK;
    }
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES && fchmodat(dfd, name, 0700, 0) == 0)
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bk_error_set(BK_ERR, "%s: cannot open: %s", shown, strerror(errno));
    if ((st.st_mode & 0700) != 0700)
        fchmod(fd, st.st_mode | 0700);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return bk_error_set(BK_ERR, "%s: cannot read: %s", shown, strerror(errno));
    }
    int rc = BK_OK;
    struct dirent *de;
    while (rc == BK_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = bk_rm_rf_at(dirfd(d), de->d_name, shown);
    }
    closedir(d);
    if (rc == BK_OK && unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = bk_error_set(BK_ERR, "%s: cannot remove: %s", shown, strerror(errno));
    return rc;
}

void bk_remove_tree(const char *path)
{
    /* Callers clean up on their way out of a failure: keep its message (and
     * Retry-After) for them, whatever the removal meets. */
    char *kept = bk_xstrdup(bk_error_msg());
    long retry_after = bk_error_retry_after_ms();

    bk_rm_rf_at(AT_FDCWD, path, path);
    bk_error_set(BK_ERR, "%s", kept);
    bk_error_set_retry_after(retry_after);
    free(kept);
}

int bk_mkdtemp_held(char *tmpl, int *lock_fd)
{
    size_t n = strlen(tmpl);

    *lock_fd = -1;
    for (int attempt = 0; attempt < 100; attempt++) {
        memcpy(tmpl + n - 6, "XXXXXX", 6);
        if (!mkdtemp(tmpl))
            return bk_error_set(BK_ERR, "%s: cannot create a temporary directory: %s", tmpl,
                                strerror(errno));
        *lock_fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*lock_fd >= 0 && flock(*lock_fd, LOCK_EX | LOCK_NB) == 0)
            return BK_OK;
        /* A cleaner took it for a leftover in the moment between mkdtemp and
         * flock, and removes it: try another name. */
        if (*lock_fd >= 0)
            close(*lock_fd);
        *lock_fd = -1;
        if (errno != EWOULDBLOCK && errno != ENOENT)
            return bk_error_set(BK_ERR, "%s: cannot lock: %s", tmpl, strerror(errno));
    }
    return bk_error_set(BK_ERR, "%s: cannot create a temporary directory", tmpl);
}

int bk_remove_abandoned(const char *parent, const char *prefix)
{
    size_t plen = strlen(prefix);
    int dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC), removed = 0;
    DIR *d = dfd < 0 ? NULL : fdopendir(dup(dfd));
    struct dirent *de;

    while (d && (de = readdir(d)) != NULL) {
        int fd;
        if (strncmp(de->d_name, prefix, plen) != 0)
            continue;
        fd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;                            /* not a directory: not one of ours */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) { /* no living process holds it */
            char *shown = bk_xasprintf("%s/%s", parent, de->d_name);
            if (bk_rm_rf_at(dfd, de->d_name, shown) == BK_OK) {
                bk_debug("removed %s, left by a run that was stopped", shown);
                removed++;
            } else {
                bk_warn("warning: %s", bk_error_msg());
            }
            free(shown);
        }
        close(fd);
    }
    if (d)
        closedir(d);
    if (dfd >= 0)
        close(dfd);
    return removed;
}
