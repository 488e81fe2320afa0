/*
 * archive_swap.c - where unpack writes, how the result replaces the target,
 * and how an interrupted restore is recognised and repaired.
 *
 * Unpack never writes into the target directly. It makes a temporary
 * directory next to it (".NAME.bkcache-XXXXXX" in the same parent, so a
 * rename cannot cross file systems), fills and verifies it, then swaps it in:
 * renameat2(RENAME_EXCHANGE) when the target exists (one atomic step; the old
 * contents end up in the temporary name and are removed afterwards), a plain
 * rename when it does not. The base record (archive_base.c) is written into
 * the temporary directory before the swap, so it moves in with the tree it
 * describes, and an old one leaves with the old tree. Where RENAME_EXCHANGE is unsupported, the old
 * directory is renamed aside first (a short window without the target).
 *
 * A mount point cannot be renamed, so "inside" mode (replace_contents) works
 * inside the target, with names that are bkcache's own (BK_ARCHIVE_OWN_PREFIX,
 * never packed, never accepted from an archive):
 *   1. write the marker BK_ARCHIVE_UNFINISHED before anything else changes;
 *   2. unpack into ".bkcache-unpack-XXXXXX" and verify;
 *   3. move every other entry into ".bkcache-old-XXXXXX" (the old base
 *      record too), move the new entries up (with the new base record, if
 *      the unpack wrote one), remove the marker, then remove the old entries.
 * A failure in step 2 removes the temporary directory and the marker: the
 * target is as it was. A process killed anywhere between the marker's
 * creation and its removal leaves the marker, so whoever looks next knows
 * that the contents may be a mix (bk_archive_unfinished) and empties them
 * (bk_archive_empty_contents). The root keeps its own owner and mode.
 *
 * Every temporary directory is created with bk_mkdtemp_held (an flock held
 * while in use), so the leftovers of a killed run are told apart from the
 * directories of a run still going, and removed (bk_archive_clean_leftovers).
 *
 * The temporary path is built from realpath() of the parent so that no
 * component of it is a symlink (libarchive's symlink check covers the whole
 * path). The new root gets the old target's mode (and owner, as root), or
 * 0777 & ~umask for a new target.
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
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

int bk_archive__rm_rf(const char *path)
{
    return bk_rm_rf_at(AT_FDCWD, path, path);
}

#define UNPACK_PREFIX BK_ARCHIVE_OWN_PREFIX "unpack-"
#define OLD_PREFIX BK_ARCHIVE_OWN_PREFIX "old-"

int bk_archive_is_own_name(const char *name)
{
    return strncmp(name, BK_ARCHIVE_OWN_PREFIX, strlen(BK_ARCHIVE_OWN_PREFIX)) == 0;
}

/* `dir` without trailing slashes, its real parent and its base name. */
static int split_target(const char *dir, char **parent_real, char **base)
{
    char real[PATH_MAX];
    char *copy = bk_xstrdup(dir), *c1, *c2;
    int rc = BK_OK;

    *parent_real = *base = NULL;
    while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
        copy[strlen(copy) - 1] = '\0';
    c1 = bk_xstrdup(copy);
    c2 = bk_xstrdup(copy);
    if (strcmp(basename(c2), "/") == 0 || strcmp(basename(c2), ".") == 0 ||
        strcmp(basename(c2), "..") == 0)
        rc = bk_error_set(BK_EINVAL, "%s: cannot unpack into this path (give a named directory)",
                          dir);
    else if (!realpath(dirname(c1), real))
        rc = bk_error_set(BK_ERR, "%s: %s", dir, strerror(errno));
    else {
        *parent_real = bk_xstrdup(real);
        *base = bk_xstrdup(basename(c2));
    }
    free(c1);
    free(c2);
    free(copy);
    return rc;
}

int bk_archive__mktemp_for(const char *dir, int inside, char **out, int *lock_fd)
{
    char real[PATH_MAX];
    int rc = BK_OK;

    *out = NULL;
    *lock_fd = -1;
    if (inside) {
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return bk_error_set(BK_ERR, "%s: cannot create: %s", dir, strerror(errno));
        if (!realpath(dir, real))
            return bk_error_set(BK_ERR, "%s: %s", dir, strerror(errno));
        *out = bk_xasprintf("%s/" UNPACK_PREFIX "XXXXXX", real);
    } else {
        char *parent, *base;
        rc = split_target(dir, &parent, &base);
        if (rc == BK_OK)
            *out = bk_xasprintf("%s/.%s.bkcache-XXXXXX", strcmp(parent, "/") ? parent : "", base);
        free(parent);
        free(base);
    }
    if (rc == BK_OK)
        rc = bk_mkdtemp_held(*out, lock_fd);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

int bk_archive_clean_leftovers(const char *dir, int inside)
{
    char *parent, *base, *prefix;
    int n;

    if (inside)
        return bk_remove_abandoned(dir, UNPACK_PREFIX) + bk_remove_abandoned(dir, OLD_PREFIX);
    if (split_target(dir, &parent, &base)) {
        bk_error_clear();
        return 0;
    }
    prefix = bk_xasprintf(".%s.bkcache-", base);
    n = bk_remove_abandoned(parent, prefix);
    free(prefix);
    free(parent);
    free(base);
    return n;
}

int bk_archive_unfinished(const char *dir)
{
    char *mark = bk_xasprintf("%s/" BK_ARCHIVE_UNFINISHED, dir);
    struct stat st;
    int rc = lstat(mark, &st) == 0;

    if (!rc && errno != ENOENT && errno != ENOTDIR)
        rc = bk_error_set(BK_ERR, "%s: %s", mark, strerror(errno));
    free(mark);
    return rc;
}

int bk_archive_empty_contents(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = BK_OK;
    DIR *d;
    struct dirent *de;

    if (dfd < 0)
        return errno == ENOENT ? BK_OK
                               : bk_error_set(BK_ERR, "%s: cannot open: %s", dir, strerror(errno));
    d = fdopendir(dup(dfd));
    while (d && rc == BK_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
            strcmp(de->d_name, BK_ARCHIVE_UNFINISHED))
            rc = bk_rm_rf_at(dfd, de->d_name, dir);
    }
    if (d)
        closedir(d);
    if (rc == BK_OK && unlinkat(dfd, BK_ARCHIVE_UNFINISHED, 0) != 0 && errno != ENOENT)
        rc = bk_error_set(BK_ERR, "%s/%s: cannot remove: %s", dir, BK_ARCHIVE_UNFINISHED,
                          strerror(errno));
    close(dfd);
    return rc;
}

int bk_archive__mark_unfinished(const char *dir, int set)
{
    char *mark = bk_xasprintf("%s/" BK_ARCHIVE_UNFINISHED, dir);
    static const char text[] = "bkcache: a restore into this cache started and did not finish;\n"
                               "the next bkcache restore replaces the contents.\n";
    int rc = BK_OK;

    if (set) {
        int fd = open(mark, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || bk_write_all(fd, text, sizeof(text) - 1, -1) != 0)
            rc = bk_error_set(BK_ERR, "%s: %s", mark, strerror(errno));
        if (fd >= 0)
            close(fd);
    } else if (unlink(mark) != 0 && errno != ENOENT) {
        rc = bk_error_set(BK_ERR, "%s: cannot remove: %s", mark, strerror(errno));
    }
    free(mark);
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

/* Move every entry of directory `from` (an fd) into `to`, except bkcache's
 * own names when `skip_own` (but the base record: it describes the old
 * contents, so it leaves with them); `checkpoint` is called after the first
 * move. */
static int move_entries(int from, int to, const char *shown, int skip_own,
                        const struct bk_unpack_opts *o)
{
    DIR *d = fdopendir(dup(from));
    struct dirent *de;
    int rc = d ? BK_OK : bk_error_set(BK_ERR, "%s: cannot read: %s", shown, strerror(errno)),
        first = 1;

    while (d && rc == BK_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            (skip_own && bk_archive_is_own_name(de->d_name) &&
             strcmp(de->d_name, BK_ARCHIVE_BASE_RECORD) != 0))
            continue;
        if (renameat(from, de->d_name, to, de->d_name) != 0)
            rc = bk_error_set(BK_ERR, "%s/%s: cannot move: %s", shown, de->d_name, strerror(errno));
        else if (first && o && o->checkpoint.fn)
            o->checkpoint.fn("swap", o->checkpoint.arg);
        first = 0;
    }
    if (d)
        closedir(d);
    return rc;
}

/* Step 3 of inside mode (see the top of the file): the marker is already
 * there; it stays when anything fails, since the contents may be a mix. */
static int move_up(const char *tmp, const char *dir, const struct bk_unpack_opts *o)
{
    char *old = bk_xasprintf("%s/" OLD_PREFIX "XXXXXX", dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), ofd = -1, lock = -1;
    int rc = dfd < 0 || tfd < 0
                 ? bk_error_set(BK_ERR, "%s: cannot open: %s", dfd < 0 ? dir : tmp, strerror(errno))
                 : bk_mkdtemp_held(old, &lock);

    if (rc == BK_OK && (ofd = open(old, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = bk_error_set(BK_ERR, "%s: cannot open: %s", old, strerror(errno));
    if (rc == BK_OK)
        rc = move_entries(dfd, ofd, dir, 1, NULL);
    if (rc == BK_OK)
        rc = move_entries(tfd, dfd, tmp, 0, o);
    if (rc == BK_OK && rmdir(tmp) != 0)
        rc = bk_error_set(BK_ERR, "%s: cannot remove: %s", tmp, strerror(errno));
    if (rc == BK_OK)
        rc = bk_archive__mark_unfinished(dir, 0);
    if (rc == BK_OK && bk_archive__rm_rf(old)) /* the swap is complete: only a leftover */
        bk_warn("warning: %s", bk_error_msg());
    if (ofd >= 0)
        close(ofd);
    if (lock >= 0)
        close(lock);
    if (tfd >= 0)
        close(tfd);
    if (dfd >= 0)
        close(dfd);
    free(old);
    return rc;
}

int bk_archive__swap_in(const char *tmp, const char *dir, int inside,
                        const struct bk_unpack_opts *o)
{
    struct stat st;
    if (inside)
        return move_up(tmp, dir, o);
    if (o && o->checkpoint.fn)
        o->checkpoint.fn("swap", o->checkpoint.arg);
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
