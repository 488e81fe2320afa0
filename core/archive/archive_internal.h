/*
 * archive_internal.h - pieces shared by the archive_*.c files; not an API.
 *
 * The archive code is split by job:
 *   archive_digest.c    the canonical entry list and its SHA-256 (pack, unpack
 *                       and bk_archive_digest_dir all feed the same function),
 *                       and the sorted tree walk
 *   archive_manifest.c  writing and strictly parsing .bkcache/manifest.json
 *   archive_zstd.c      zstd compression/decompression as libarchive callbacks
 *   archive_pack.c      bk_archive_pack
 *   archive_unpack.c    bk_archive_unpack(_layers), bk_archive_read_manifest
 *   archive_swap.c      temporary directories, the swap, recursive removal
 *   archive_writers.c   the threads that create unpack's small files
 *   archive_base.c      the base record (.bkcache-base) of a layered unpack,
 *                       which a delta pack reads
 *
 * This code depends only on error/log/strbuf/strvec from core plus libarchive,
 * libzstd and libcrypto, so the in-build helper can link it statically.
 *
 * Canonical order: paths are compared component by component (as if '/' were
 * the smallest byte), which is the order of a depth-first walk that visits
 * each directory's children sorted by name with strcmp.
 */
#ifndef BK_ARCHIVE_INTERNAL_H
#define BK_ARCHIVE_INTERNAL_H

#include "core/archive/archive.h"
#include "core/util/fileio.h"
#include "core/util/strbuf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct archive;
struct evp_md_ctx_st;

/* One entry type letter per kind, as written into the canonical list. */
enum bk_archive_type {
    BK_AT_FILE = 'f',
    BK_AT_DIR = 'd',
    BK_AT_SYMLINK = 'l',
    BK_AT_HARDLINK = 'h',
    BK_AT_CHAR = 'c',
    BK_AT_BLOCK = 'b',
    BK_AT_FIFO = 'p',
};

/* What the canonical list records about one entry. */
struct bk_archive_rec {
    const char *path; /* relative, no leading "./", no trailing '/' */
    int type;         /* enum bk_archive_type */
    unsigned mode;    /* permission bits and suid/sgid/sticky (07777) */
    uint64_t uid, gid;
    uint64_t size; /* regular files; 0 otherwise */
    int64_t mtime_sec;
    long mtime_nsec;
    uint64_t rdev;                /* devices only */
    const unsigned char *content; /* 32-byte SHA-256 of a file's bytes, else NULL */
    const char *target;           /* symlink or hardlink target, else NULL */
};

/* The running digest over the canonical list, with the counts. When
 * `lines` is set, every line hashed is also appended to it (the base
 * record's member lines). */
struct bk_archive_digest {
    struct evp_md_ctx_st *md;
    uint64_t files, entries, bytes;
    struct bk_strbuf *lines;
};

void bk_archive__digest_init(struct bk_archive_digest *d);
void bk_archive__digest_add(struct bk_archive_digest *d, const struct bk_archive_rec *r);
/* Append r's canonical line (what digest_add hashes) to out. */
void bk_archive__digest_line(const struct bk_archive_rec *r, struct bk_strbuf *out);
/* Writes the lowercase hex digest into `hex` (BK_DIGEST_HEX + 1) and frees. */
void bk_archive__digest_final(struct bk_archive_digest *d, char *hex);
void bk_archive__digest_release(struct bk_archive_digest *d);

/* Compare two relative paths in canonical order (see above). */
int bk_archive__path_cmp(const char *a, const char *b);
/* The same for paths given with their lengths (not NUL-terminated). */
int bk_archive__path_cmp_n(const char *a, size_t alen, const char *b, size_t blen);

/* The base record (archive_base.c; format there and in archive.h). The
 * writer streams into DIR/.bkcache-base.tmp; commit renames it into place,
 * abort removes it (NULL is fine). */
struct bk_archive_base_writer;
int bk_archive__base_open(const char *dir, const char *tree, const struct bk_archive_layer *layers,
                          size_t n, struct bk_archive_base_writer **out);
int bk_archive__base_add(struct bk_archive_base_writer *w, const char *lines, size_t len);
int bk_archive__base_commit(struct bk_archive_base_writer *w);
void bk_archive__base_abort(struct bk_archive_base_writer *w);

/* Layers as JSON, `[{"digest":"sha256:<hex>","size":N,"tree":"<hex>"},...]`
 * (the base record, the pack reports), and parsed from the command-line
 * form `sha256:<hex>:SIZE:<tree hex>,...` (BK_EINVAL naming the layer). */
void bk_archive__layers_json(const struct bk_archive_layer *l, size_t n, struct bk_strbuf *out);
int bk_archive__layers_parse(const char *s, struct bk_archive_layer *out, size_t max, size_t *n);

/* A record read back: its layers, tree, and member lines text.buf[lines..]. */
struct bk_archive_base {
    char tree[BK_DIGEST_HEX + 1];
    struct bk_archive_layer layers[BK_ARCHIVE_MAX_LAYERS];
    size_t nlayers;
    struct bk_strbuf text;
    size_t lines; /* offset of the first member line */
};
/* BK_OK; BK_ENOTFOUND when there is no record; BK_ECORRUPT when it is not a
 * usable one (damaged, another format, lines that do not hash to its tree). */
int bk_archive__base_read(const char *path, struct bk_archive_base *b);
void bk_archive__base_release(struct bk_archive_base *b);
/* One member line at p (< end): its bytes (newline included) and path. */
struct bk_archive_base_line {
    const char *line, *path;
    size_t len, path_len;
};
int bk_archive__base_line(const char *p, const char *end, struct bk_archive_base_line *out);

/* Whiteouts: a delta's member that removes its path from the layers below:
 * a regular file, size 0, mode 0, with this xattr (never restored). */
#define BK_ARCHIVE_WHITEOUT_XATTR "bkcache.whiteout"

/* One entry of a scanned tree, in canonical order. */
struct bk_archive_node {
    char *path;
    struct bk_archive_rec rec; /* rec.path == path; rec.content -> hash */
    unsigned char hash[32];
    dev_t dev;
    ino_t ino;
    unsigned long nlink;
    int64_t ctime_sec;
    long ctime_nsec;
    char *target; /* owned */
};

struct bk_archive_tree {
    struct bk_archive_node *v;
    size_t n, alloc;
    char digest[BK_DIGEST_HEX + 1];
    uint64_t files, entries, bytes;
};

/* The streaming walk (archive_walk.c): entries one at a time, in canonical
 * order, lstat only (symlinks are not followed). Hardlinked files after the
 * first (in canonical order) become BK_AT_HARDLINK entries pointing at it.
 * Sockets are skipped with a warning. Memory: the sorted names of the
 * directories on the current path, plus one record per multiply-linked file. */
struct bk_archive_walk_frame;
struct bk_archive_walk {
    struct bk_strbuf full; /* the current entry's full path */
    size_t root_len;
    struct bk_archive_walk_frame *stack;
    size_t depth, alloc;
    void *links;                 /* tsearch tree of multiply-linked files */
    struct bk_archive_node node; /* the current entry */
};

int bk_archive__walk_open(const char *dir, struct bk_archive_walk *w);
/* 1 with *out set to the next entry (valid until the next call; the caller
 * may steal path and target by zeroing them), 0 at the end, or an error. */
int bk_archive__walk_next(struct bk_archive_walk *w, struct bk_archive_node **out);
void bk_archive__walk_close(struct bk_archive_walk *w);

/* The whole walk of `dir` collected into t; digest and counts left empty. */
int bk_archive__tree_walk(const char *dir, struct bk_archive_tree *t);
/* tree_walk, then hash every regular file and compute digest and counts. */
int bk_archive__tree_scan(const char *dir, struct bk_archive_tree *t);
void bk_archive__tree_release(struct bk_archive_tree *t);

/* Feed n zero bytes to a SHA-256 context (holes of sparse files). */
void bk_archive__hash_zeros(struct evp_md_ctx_st *md, uint64_t n);
/* SHA-256 of the file at `path` (opened O_NOFOLLOW); size must match. */
int bk_archive__hash_file(const char *path, uint64_t size, unsigned char out[32]);

/* Manifest JSON (archive_manifest.c). add_json_string writes a quoted,
 * escaped JSON string, or null for NULL. */
void bk_archive__add_json_string(struct bk_strbuf *out, const char *s);
void bk_archive__manifest_write(const struct bk_archive_manifest *m, struct bk_strbuf *out);
int bk_archive__manifest_parse(const char *json, size_t len, struct bk_archive_manifest *out);
/* RFC 3339 UTC from SOURCE_DATE_EPOCH when set, else now; *sec_out gets the
 * seconds (the manifest member's mtime). Caller frees. */
char *bk_archive__created_now(int64_t *sec_out);

/* The head: manifest frame + skippable padding (archive_head.c). The head's
 * size depends only on `width`, the padded JSON length, which
 * head_json_width derives from the manifest's strings. */
size_t bk_archive__head_json_width(const struct bk_archive_manifest *m);
int bk_archive__head_render(const struct bk_archive_manifest *m, int64_t mtime, size_t width,
                            struct bk_strbuf *out);

struct bk_zstd_writer;
struct bk_zstd_reader;
/* Tests: 1 makes the writer use its own workers and frames (as with a
 * libzstd without threads) even when libzstd has threads. */
extern int bk_archive__zstd_own_frames;
/* Tests: 1 starts no frame worker, as when none can start (the own frames
 * are then compressed on the compression thread: the same bytes). */
extern int bk_archive__zstd_no_workers;
/* write_behind: start the kernel's writeback of the output every few MiB
 * (bk_pack_opts.write_behind). own_frames: always the own workers' frames,
 * whose bytes depend on neither the number of workers nor libzstd's
 * threads (bk_pack_opts.reproducible). */
int bk_archive__zstd_writer_open(struct archive *a, int fd, int level, int threads,
                                 int write_behind, int own_frames, struct bk_zstd_writer **out);
/* After archive_write_close: NULL when every byte was compressed and written,
 * else the message (libarchive 3.6 ignores the close callback's status, so
 * the caller must ask). Finishes the stream if the close did not. */
const char *bk_archive__zstd_writer_error(struct bk_zstd_writer *w);
uint64_t bk_archive__zstd_writer_bytes(const struct bk_zstd_writer *w);
void bk_archive__zstd_writer_free(struct bk_zstd_writer *w);
/* hash: take the SHA-256 of every byte read from `fd` (for
 * bk_archive__zstd_reader_sha256). */
int bk_archive__zstd_reader_open(struct archive *a, int fd, int hash, struct bk_zstd_reader **out);
/* Move decompression to its own thread (a bounded ring of buffers), reading
 * ahead of the caller; before this the reader reads only as needed. Errors
 * keep their messages. reader_free stops and joins the thread. */
int bk_archive__zstd_reader_start(struct bk_zstd_reader *r);
/* Read and check the rest of the stream after the tar's end: every frame must
 * be complete with a valid checksum. Trailing bytes are decompressed and must
 * be zero (tar padding). */
int bk_archive__zstd_reader_drain(struct bk_zstd_reader *r);
uint64_t bk_archive__zstd_reader_bytes(const struct bk_zstd_reader *r); /* compressed, read */
/* After a drain, for a reader opened with hash: the SHA-256 (hex) of the
 * whole stream as read. Once. */
int bk_archive__zstd_reader_sha256(struct bk_zstd_reader *r, char hex[BK_DIGEST_HEX + 1]);
const char *bk_archive__zstd_reader_error(const struct bk_zstd_reader *r);
void bk_archive__zstd_reader_free(struct bk_zstd_reader *r);

/* Directories (archive_swap.c). */
/* Remove `path` recursively without following symlinks; ENOENT is fine. */
int bk_archive__rm_rf(const char *path);
/* Create a fresh temporary directory for unpacking into `dir`: a sibling
 * (".NAME.bkcache-XXXXXX") or, with `inside`, a hidden child
 * (".bkcache-unpack-XXXXXX"), held (bk_mkdtemp_held) through *lock_fd until
 * the caller closes it. Caller frees *out. */
int bk_archive__mktemp_for(const char *dir, int inside, char **out, int *lock_fd);
/* Make `tmp` become `dir`: atomically exchange when `dir` exists, then remove
 * the old contents. With `inside`, move tmp's entries up into dir instead,
 * removing the marker once done (archive_swap.c). o->checkpoint ("swap") is
 * called once the target has started to change (o may be NULL). */
int bk_archive__swap_in(const char *tmp, const char *dir, int inside,
                        const struct bk_unpack_opts *o);
/* Create (set) or remove the BK_ARCHIVE_UNFINISHED marker in `dir`. */
int bk_archive__mark_unfinished(const char *dir, int set);

/* The pool of file-creating threads (archive_writers.c). start returns NULL
 * when no thread could be started (unpack then writes every file itself);
 * set_owner: fchown each file to its member's uid/gid. submit takes `path`
 * (malloc'd, created with O_EXCL | O_NOFOLLOW) and `data` (malloc'd, size
 * bytes), and may wait for room; times are atime, mtime. wait returns once
 * every submitted file is written; finish stops, joins and frees the pool
 * (NULL is fine). Each returns the pool's first error, message included. */
struct bk_writers;
struct timespec;
struct bk_writers *bk_archive__writers_start(int set_owner);
int bk_archive__writers_submit(struct bk_writers *p, char *path, void *data, size_t size,
                               mode_t mode, uid_t uid, gid_t gid, const struct timespec times[2]);
int bk_archive__writers_wait(struct bk_writers *p);
int bk_archive__writers_finish(struct bk_writers *p);

/* Path checks for unpack: relative, no empty, "." or ".." components. */
int bk_archive__path_is_safe(const char *p);

double bk_archive__now(void);
/* Fill st (when not NULL) from a manifest's digest and counts; seconds since
 * t0 (bk_archive__now). */
void bk_archive__stats_fill(struct bk_archive_stats *st, const struct bk_archive_manifest *m,
                            uint64_t archive_bytes, double t0);

/* The result of pack/unpack for the CLI (archive_report.c): one line on
 * stderr, or with `json` one object on stdout. command: "packed"/"unpacked". */
void bk_archive__report(const char *command, const char *dir, const char *archive,
                        const struct bk_archive_stats *st, int json);

#endif
