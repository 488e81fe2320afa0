/*
 * builder_files.h - the file chores of the builder mountio: preparing a
 * build context, checking archives before they are sent, reading the
 * helper's reports from the exported output, cleaning up.
 *
 * Kept apart from core/mountio_builder.c so that file is about the batch
 * logic only. Every function returns BK_OK or a negative bk_status with a
 * message naming the path at fault.
 */
#ifndef BK_BUILDER_FILES_H
#define BK_BUILDER_FILES_H

#include "core/archive.h"

#include <stddef.h>
#include <stdint.h>

/* A report written by bkcache-helper (see helper/main.c), or what an
 * archive's manifest announces. */
struct bk_bfiles_report {
    char status[16];   /* "ok", "skipped", "empty", "error" */
    char message[512]; /* "error": what the helper said */
    char digest[BK_DIGEST_HEX + 1];
    uint64_t files, entries, bytes, archive_bytes;
};

/* Put `src` into dir/name: a hard link when possible, else a copy. */
int bk_bfiles_place(const char *src, const char *dir, const char *name);

/* Move `src` to `dst`: rename(2), else copy and unlink. */
int bk_bfiles_move(const char *src, const char *dst);

/* Write `len` bytes to `path` (created or truncated). */
int bk_bfiles_write(const char *path, const char *data, size_t len);

/* rm -rf `path`, never following symlinks. Errors are ignored. */
void bk_bfiles_remove_tree(const char *path);

/* `size`-1 random hex digits (size >= 2). */
void bk_bfiles_nonce(char *buf, size_t size);

/* Decode the whole archive at `path` (zstd frame checksums must hold) and
 * read its manifest into `out` (digest, counts, archive size). BK_ECORRUPT
 * when the archive is damaged. */
int bk_bfiles_check_archive(const char *path, struct bk_bfiles_report *out);

/* Read a helper report. BK_ERR when missing or malformed. */
int bk_bfiles_read_report(const char *path, struct bk_bfiles_report *out);

/* The helper to send: `given`, else $BKCACHE_HELPER, else bkcache-helper
 * in the running program's directory. BK_ENOTFOUND when it is missing. */
int bk_bfiles_find_helper(const char *given, char **out);

#endif
