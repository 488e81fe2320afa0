/*
 * builder_files.h - the file chores of the builder mountio: preparing a
 * build context, checking archives before they are sent, reading the
 * build's exported output (reports and archives), cleaning up.
 *
 * Kept apart from core/builder/mountio_builder.c so that file is about the batch
 * logic only. Every function returns BK_OK or a negative bk_status with a
 * message naming the path at fault.
 */
#ifndef BK_BUILDER_FILES_H
#define BK_BUILDER_FILES_H

#include "core/archive/archive.h"

#include <stddef.h>
#include <stdint.h>

/* A report written by bkcache-helper (see helper/main.c), or what an
 * archive's manifest announces. */
struct bk_bfiles_report {
    char status[16];   /* "ok", "skipped", "empty", "error" */
    char message[512]; /* "error": what the helper said */
    char code[16];     /* "error": its bk_status name ("corrupt": the archive is at fault) */
    char digest[BK_DIGEST_HEX + 1];
    uint64_t files, entries, bytes, archive_bytes;
    /* pack, when it wrote a delta: "delta":true, the tree below ("parent")
     * and its stored layers, bottom first ("layers") */
    int delta;
    char parent[BK_DIGEST_HEX + 1];
    struct bk_archive_layer layers[BK_ARCHIVE_MAX_LAYERS - 1];
    size_t nlayers;
};

/* Put `src` into dir/name: a hard link when possible, else a copy. */
int bk_bfiles_place(const char *src, const char *dir, const char *name);

/* Write `len` bytes to `path` (created or truncated). */
int bk_bfiles_write(const char *path, const char *data, size_t len);

/* `size`-1 random hex digits (size >= 2). */
void bk_bfiles_nonce(char *buf, size_t size);

/* Check the archive at `path` before it is sent to a builder: its zstd
 * frames must tile the file, whole and with their checksum flag
 * (bk_bfiles_check_frames), and its manifest must be readable; `out` gets
 * the manifest (digest, counts, archive size). BK_ECORRUPT when it is cut,
 * misframed or has no manifest, BK_ENOTFOUND when it is missing. Nothing
 * is decompressed here: the helper's unpack verifies every frame's
 * checksum, and the content digest, before it swaps anything into a cache,
 * so a damaged frame fails that cache inside the build instead. */
int bk_bfiles_check_archive(const char *path, struct bk_bfiles_report *out);

/* Read the manifest of the archive open on `fd` (from offset 0) into `out`
 * (digest, counts, archive size); `path` names it in errors. BK_ECORRUPT
 * when it cannot be read. The zstd frames after it are not checked. */
int bk_bfiles_read_manifest(int fd, const char *path, struct bk_bfiles_report *out);

/* The frames of the archive open on `fd` must tile the file exactly, each
 * whole (header, blocks, checksum field) and each zstd frame with its
 * checksum flag set: a cut or misframed archive fails with BK_ECORRUPT.
 * Only block headers are read (no decompression), so the checksums
 * themselves are not verified. *size_out gets the file's size. */
int bk_bfiles_check_frames(int fd, const char *path, uint64_t *size_out);

/* Parse a helper report (one JSON object; see helper/main.c); `what` names
 * it in errors. BK_ERR when malformed (a delta's parent and layers too). */
int bk_bfiles_parse_report(const char *text, const char *what, struct bk_bfiles_report *out);

/* ---- the exported output of a transfer build (core/builder/builder_export.c) ---- */

/* One cache of the batch, by its index k in the generated Dockerfile. */
struct bk_bfiles_export_item {
    const char *archive_path; /* in: where archive k goes (save), or NULL (restore) */
    int hash;                 /* in: take archive_sha256 as the archive is written (a layer
                                 blob is named by it; a plain archive needs none) */
    /* out: */
    int have_report;                 /* .bkcache/out/<k>.json was in the stream */
    struct bk_bfiles_report report;  /* ...and said this */
    int archive_status;              /* BK_OK: <k>.tar.zst written to archive_path, its
                                        frames whole (bk_bfiles_check_frames) and its
                                        manifest read; BK_ENOTFOUND: not in the stream;
                                        else why it is unusable (the file is removed) */
    char archive_error[512];         /* the message for archive_status */
    char archive_sha256[65];         /* BK_OK and `hash`: SHA-256 (hex) of the file,
                                        hashed as it was written (a save's layer blob
                                        needs no second pass over it); else "" */
    struct bk_bfiles_report archive; /* BK_OK: its manifest and size */
};

/* Read the tar stream a transfer build exported (`-o type=tar,dest=-`) from
 * `fd` to its end. BK_OK when the stream was whole (per-item outcomes in
 * items[]), BK_ECORRUPT when it is damaged or cut short. */
int bk_bfiles_read_export(int fd, struct bk_bfiles_export_item *items, size_t n);

/* The helper to send: `given`, else $BKCACHE_HELPER, else bkcache-helper
 * in the running program's directory. BK_ENOTFOUND when it is missing. */
int bk_bfiles_find_helper(const char *given, char **out);

#endif
