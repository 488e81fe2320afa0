/*
 * fileio.h - small file helpers every part uses.
 *
 * Writing a whole buffer (bk_write_all), replacing a small file atomically
 * (the local store's sidecars, the state file), mkdir -p, and the two ways
 * of giving an archive file a second name: a hard link (no data copied)
 * and a copy; rm -rf, and temporary directories whose leftovers the next
 * run can recognise and remove. Errors follow core/util/error.h: 0 or a negative status with
 * a one-line message.
 */
#ifndef BK_FILEIO_H
#define BK_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write all `n` bytes, retrying EINTR and short writes: at the file offset
 * with write(2) when `off` < 0, else at `off` with pwrite(2). Returns 0, or
 * -1 with errno set (no message: callers word it with the file's name). */
int bk_write_all(int fd, const void *buf, size_t n, int64_t off);

/* Write `len` bytes to `path` atomically: a temporary file in the same
 * directory (named PATH.tmp-XXXXXX), fsync, rename, fsync of the directory. */
int bk_file_write_atomic(const char *path, const void *data, size_t len);

/* Give the open regular file `fd` a new name, PREFIX followed by random hex
 * characters, without copying its data (a hard link through /proc/self/fd).
 * *tmp_out gets the name (caller frees). Fails (BK_ERR) when `fd` is on
 * another file system than PREFIX, when hard links are not allowed there, or
 * without /proc: callers then copy with bk_file_copy_fd(). Both names share
 * the data: neither may be written afterwards. */
int bk_file_link_temp(int fd, const char *prefix, char **tmp_out);

/* Append everything in `in` (from offset 0) to `out`; `what` names the file
 * in messages. ENOSPC is BK_ESKIPPED (a full store refuses, it does not fail). */
int bk_file_copy_fd(int in, int out, const char *what);

/* The open regular file `fd` under a new name PREFIX + random characters
 * (*tmp_out, caller frees): a hard link when it can (bk_file_link_temp),
 * else a copy. With `durable`, the data is on disk (fsync) before it
 * returns. On failure nothing is left behind and *tmp_out is NULL. */
int bk_file_stage_fd(int fd, const char *prefix, int durable, char **tmp_out);

/* mkdir -p: create `path` and its missing parents. */
int bk_mkdir_p(const char *path);

/* rm -rf for cleanup paths: bk_rm_rf_at(AT_FDCWD, path, path) that reports
 * nothing and leaves the caller's error message as it was; what cannot be
 * removed is left (best effort). */
void bk_remove_tree(const char *path);

/* Remove `name` (relative to the directory `dfd`, or a path with AT_FDCWD)
 * recursively, never following a symlink; a missing name is fine. `shown`
 * names it in messages. Directories without write or search permission
 * are opened up first. */
int bk_rm_rf_at(int dfd, const char *name, const char *shown);

/*
 * Temporary directories that outlive a killed run. bk_mkdtemp_held()
 * creates the directory `tmpl` (a mkdtemp template, filled in) and holds
 * an flock(2) on it through *lock_fd for as long as that stays open; the
 * kernel drops the lock when the process dies, however it dies. So
 * bk_remove_abandoned() can tell a leftover from a directory in use: it
 * removes every directory in `parent` whose name starts with `prefix` and
 * that nobody holds, and returns how many it removed.
 */
int bk_mkdtemp_held(char *tmpl, int *lock_fd);
int bk_remove_abandoned(const char *parent, const char *prefix);

#endif
