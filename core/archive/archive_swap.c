/*
 * archive_swap.c - where unpack writes, and how the result replaces the target.
 *
 * Unpack never writes into the target directly. It makes a temporary
 * directory next to it (".NAME.bkcache-XXXXXX" in the same parent, so a
 * rename cannot cross file systems), fills and verifies it, then swaps it in:
 * renameat2(RENAME_EXCHANGE) when the target exists (one atomic step; the old
 * contents end up in the temporary name and are removed afterwards), a plain
 * rename when it does not. Where RENAME_EXCHANGE is unsupported, the old
 * directory is renamed aside first (a short window without the target).
 *
 * A mount point cannot be renamed, so "inside" mode (replace_contents) puts
 * the temporary directory inside the target (".bkcache-unpack-XXXXXX"),
 * and after verification removes every other entry and moves the new ones
 * up. The root keeps its own owner and mode. That last step is not atomic.
 *
 * The temporary path is built from realpath() of the parent so that no
 * component of it is a symlink (libarchive's symlink check covers the whole
 * path). The new root gets the old target's mode (and owner, as root), or
 * 0777 & ~umask for a new target.
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"
#include "core/util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bk_archive__path_is_safe(const char *p)
{
    if (!*p || *p == '/')
        return 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        if (!slash)
            return 1;
        p = slash + 1;
    }
}

static int rm_rf_at(int dfd, const char *name, const char *shown)
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
        rc = rm_rf_at(dirfd(d), de->d_name, shown);
    }
    closedir(d);
    if (rc == BK_OK && unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = bk_error_set(BK_ERR, "%s: cannot remove: %s", shown, strerror(errno));
    return rc;
}

int bk_archive__rm_rf(const char *path)
{
    return rm_rf_at(AT_FDCWD, path, path);
}

int bk_archive__mktemp_for(const char *dir, int inside, char **out)
{
    char real[PATH_MAX];
    char *copy = bk_xstrdup(dir), *base, *parent;
    int rc = BK_OK;

    *out = NULL;
    while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
        copy[strlen(copy) - 1] = '\0';
    if (inside) {
        if (mkdir(copy, 0777) != 0 && errno != EEXIST)
            rc = bk_error_set(BK_ERR, "%s: cannot create: %s", dir, strerror(errno));
        else if (!realpath(copy, real))
            rc = bk_error_set(BK_ERR, "%s: %s", dir, strerror(errno));
        else
            *out = bk_xasprintf("%s/.bkcache-unpack-XXXXXX", real);
    } else {
        char *c1 = bk_xstrdup(copy), *c2 = bk_xstrdup(copy);
        parent = dirname(c1);
        base = basename(c2);
        if (strcmp(base, "/") == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
            rc = bk_error_set(BK_EINVAL,
                              "%s: cannot unpack into this path (give a named "
                              "directory)",
                              dir);
        else if (!realpath(parent, real))
            rc = bk_error_set(BK_ERR, "%s: %s", parent, strerror(errno));
        else
            *out = bk_xasprintf("%s/.%s.bkcache-XXXXXX", strcmp(real, "/") ? real : "", base);
        free(c1);
        free(c2);
    }
    free(copy);
    if (rc == BK_OK && !mkdtemp(*out)) {
        rc = bk_error_set(BK_ERR, "%s: cannot create a temporary directory: %s", *out,
                          strerror(errno));
        free(*out);
        *out = NULL;
    }
    return rc;
}

static void set_root_attrs(const char *tmp, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (geteuid() == 0 && chown(tmp, st.st_uid, st.st_gid) != 0)
            bk_warn("%s: cannot set the owner: %s", dir, strerror(errno));
        chmod(tmp, st.st_mode & 07777);
    } else {
        mode_t um = umask(0);
        umask(um);
        chmod(tmp, 0777 & ~um);
    }
}

static int move_up(const char *tmp, const char *dir)
{
    const char *tbase = strrchr(tmp, '/') + 1;
    int rc = BK_OK;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return bk_error_set(BK_ERR, "%s: cannot open: %s", dir, strerror(errno));
    DIR *d = fdopendir(dup(dfd));
    struct dirent *de;
    while (d && rc == BK_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, tbase))
            rc = rm_rf_at(dfd, de->d_name, dir);
    }
    if (d)
        closedir(d);
    DIR *t = rc == BK_OK ? opendir(tmp) : NULL;
    if (rc == BK_OK && !t)
        rc = bk_error_set(BK_ERR, "%s: cannot read: %s", tmp, strerror(errno));
    while (t && rc == BK_OK && (de = readdir(t)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (renameat(dirfd(t), de->d_name, dfd, de->d_name) != 0)
            rc = bk_error_set(BK_ERR, "%s/%s: cannot move into place: %s", dir, de->d_name,
                              strerror(errno));
    }
    if (t)
        closedir(t);
    close(dfd);
    if (rc == BK_OK && rmdir(tmp) != 0)
        rc = bk_error_set(BK_ERR, "%s: cannot remove: %s", tmp, strerror(errno));
    return rc;
}

int bk_archive__swap_in(const char *tmp, const char *dir, int inside)
{
    struct stat st;
    if (inside)
        return move_up(tmp, dir);
    set_root_attrs(tmp, dir);
    if (lstat(dir, &st) != 0) {
        if (errno != ENOENT)
            return bk_error_set(BK_ERR, "%s: %s", dir, strerror(errno));
        if (rename(tmp, dir) != 0)
            return bk_error_set(BK_ERR, "%s: cannot move into place: %s", dir, strerror(errno));
        return BK_OK;
    }
    if (!S_ISDIR(st.st_mode))
        return bk_error_set(BK_EINVAL, "%s: exists and is not a directory", dir);
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        /* tmp now holds the old contents; the target is already complete */
        if (bk_archive__rm_rf(tmp))
            bk_warn("%s", bk_error_msg());
        return BK_OK;
    }
    if (errno != EINVAL && errno != ENOSYS)
        return bk_error_set(BK_ERR, "%s: cannot swap in the new contents: %s", dir,
                            strerror(errno));
    char *old = bk_xasprintf("%s.old", tmp);
    int rc = BK_OK;
    if (rename(dir, old) != 0)
        rc = bk_error_set(BK_ERR, "%s: cannot move aside: %s", dir, strerror(errno));
    else if (rename(tmp, dir) != 0) {
        rc = bk_error_set(BK_ERR, "%s: cannot move into place: %s", dir, strerror(errno));
        rename(old, dir);
    } else {
        rc = bk_archive__rm_rf(old);
    }
    free(old);
    return rc;
}
