/*
 * archive_unpack.c - bk_archive_unpack_layers, bk_archive_unpack (one
 * layer) and bk_archive_read_manifest.
 *
 * A stack of layers (archive.h) is unpacked in one pass: each layer has its
 * own zstd reader and tar reader, and the members are merged in canonical
 * order (next_winner): the highest layer holding a path wins, the lower
 * layers' members with that path are skipped unread, and a winning whiteout
 * writes nothing. Everything below then applies to the merged stream, with
 * the top layer's manifest as "the manifest"; what can be checked per layer
 * (safe, unreserved paths in order; whiteouts only in deltas) is checked on
 * every member of every layer, skipped ones too. One archive is the stack
 * of one, at the same speed: the merge costs a comparison per member.
 *
 * Unpack reads the zstd stream (archive_zstd.c), requires the manifest as
 * the first member, then extracts every other member with libarchive's
 * write_disk into a fresh temporary directory (archive_swap.c), hashing file
 * contents on the way and feeding the same canonical digest as pack. Small
 * plain files (no xattrs, no set-id bits, not sparse) are read and hashed
 * here but created by a pool of threads (archive_writers.c), so that many
 * small files are created on every CPU; everything else, and the
 * directories' times and modes at the end, stay with write_disk. Only
 * when the whole stream has been read (tar end, then the rest of the zstd
 * stream with its checksums) and the digest and counts equal the manifest's
 * (and expect_digest, when given) is the result swapped in. On any failure
 * the temporary directory is removed and the target is untouched.
 *
 * With a record, the member lines are also streamed into the base record
 * (archive_base.c) inside the temporary directory, committed only once the
 * tree is verified, so the swap moves it in with the tree. And each layer's
 * bytes are hashed as they are read (on its reading thread): its size and
 * SHA-256 must be the record's before anything is swapped in, so a restore
 * needs no separate pass over a stored layer to trust it.
 *
 * In replace_contents mode the target carries bkcache's "unfinished" marker
 * from before the temporary directory is made until the swap is complete
 * (archive_swap.c); a failure before the swap removes both.
 *
 * Checks made here (libarchive's SECURE_NODOTDOT is kept as a backstop):
 *   - member paths are relative, with no empty, "." or ".." component;
 *   - members are in strictly increasing canonical order, so there are no
 *     duplicates (a later member cannot replace an earlier file by a symlink);
 *   - every member's parent is the root or an earlier directory member, so
 *     nothing is written through a symlink (the temporary directory is new,
 *     so it holds only what this unpack created);
 *   - nothing is named .bkcache or .bkcache/... after the first member, and
 *     nothing starts with ".bkcache-" (bkcache's own names in a cache);
 *   - a hardlink names an earlier member that is a regular file reached
 *     through real directories inside the temporary directory, and has no data;
 *   - only user.* xattrs are restored (no security.capability from a store);
 *   - device nodes and FIFOs are skipped with a warning unless allow_special;
 *     sockets and unknown types are refused.
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"
#include "core/util/sha256.h"
#include "core/util/log.h"
#include "core/util/strvec.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST_MAX (1u << 20)
#define ZERO_BUF (1u << 16)
#define POOL_MAX_FILE (1u << 20) /* larger files are written by write_disk */

/* One layer's stream and its current member (the merge's head). */
struct layer {
    struct archive *in;
    struct bk_zstd_reader *zr;
    struct bk_archive_manifest m;
    struct archive_entry *e; /* NULL: the layer's tar has ended */
    char *path;              /* e's path, trailing '/' removed */
    char *prev;              /* the member before e in this layer */
    int whiteout;            /* e is a whiteout */
};

struct unpack_ctx {
    const struct bk_unpack_opts *opts;
    struct archive *in, *disk; /* in, zr: the layer whose member is being written */
    struct bk_zstd_reader *zr;
    struct layer *layers;
    size_t n;
    struct bk_archive_base_writer *base; /* the record being written, or NULL */
    struct bk_strbuf lines;              /* its member lines not yet written */
    char *tmp;
    struct bk_archive_digest d;
    EVP_MD_CTX *file_md;
    char *prev;
    struct bk_strvec dirs; /* directory members that are ancestors of the next one */
    struct bk_strbuf full, link;
    uint64_t skipped;
    struct bk_writers *pool;             /* NULL: write_disk creates every file */
    time_t start;                        /* atime of members without one, as write_disk */
    const struct bk_archive_manifest *m; /* the counts no member may exceed */
    int tmp_lock;                        /* held while c->tmp exists (bk_mkdtemp_held) */
    int marked;                          /* inside mode: the target carries the marker */
    int swapping;                        /* the target has started to change */
};

/* A bomb (more members, files or bytes than the manifest announced) is
 * stopped before the member that would exceed a count is written, not after
 * the whole stream has filled the disk. */
static int check_within_manifest(const struct unpack_ctx *c, const struct bk_archive_rec *rec)
{
    const struct bk_archive_manifest *m = c->m;
    int file = rec->type == BK_AT_FILE;

    if (c->d.entries + 1 > m->entries || (file && c->d.files + 1 > m->files) ||
        (file && rec->size > m->bytes - c->d.bytes))
        return bk_error_set(BK_ECORRUPT,
                            "member '%s': the archive holds more than its manifest says "
                            "(%llu files, %llu entries, %llu bytes)",
                            rec->path, (unsigned long long)m->files, (unsigned long long)m->entries,
                            (unsigned long long)m->bytes);
    return BK_OK;
}

static int read_fail_of(struct archive *in, struct bk_zstd_reader *zr, const char *what)
{
    const char *zmsg = bk_archive__zstd_reader_error(zr);
    return bk_error_set(BK_ECORRUPT, "%s: %s", what,
                        zmsg                       ? zmsg
                        : archive_error_string(in) ? archive_error_string(in)
                                                   : "unreadable archive");
}

static int read_fail(struct unpack_ctx *c, const char *what)
{
    return read_fail_of(c->in, c->zr, what);
}

/* hash: take the stream's SHA-256 as it is read (a stored layer's bytes
 * are checked against its digest: check_layer_bytes). */
static int open_stream(struct unpack_ctx *c, int in_fd, int hash)
{
    c->in = archive_read_new();
    archive_read_support_format_tar(c->in);
    return bk_archive__zstd_reader_open(c->in, in_fd, hash, &c->zr);
}

/* Every error about one layer of a stack names it; one archive's do not. */
static int layer_error(const struct unpack_ctx *c, size_t i, int rc)
{
    if (rc && c->n > 1) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", bk_error_msg());
        bk_error_set(rc, "layer %zu: %s", i, msg);
    }
    return rc;
}

static int read_manifest_member(struct unpack_ctx *c, struct bk_archive_manifest *m)
{
    struct archive_entry *e;
    struct bk_strbuf json = BK_STRBUF_INIT;
    char buf[16384];
    int r = archive_read_next_header(c->in, &e);

    if (r == ARCHIVE_EOF)
        return bk_error_set(BK_ECORRUPT, "not a bkcache archive (empty tar)");
    if (r < ARCHIVE_WARN)
        return read_fail(c, "not a bkcache archive");
    if (strcmp(archive_entry_pathname(e) ? archive_entry_pathname(e) : "",
               BK_ARCHIVE_MANIFEST_PATH) != 0 ||
        archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) ||
        archive_entry_size(e) > MANIFEST_MAX)
        return bk_error_set(BK_ECORRUPT, "not a bkcache archive (the first member is not %s)",
                            BK_ARCHIVE_MANIFEST_PATH);
    for (;;) {
        la_ssize_t n = archive_read_data(c->in, buf, sizeof(buf));
        if (n < 0) {
            bk_strbuf_release(&json);
            return read_fail(c, BK_ARCHIVE_MANIFEST_PATH);
        }
        if (n == 0)
            break;
        bk_strbuf_add(&json, buf, (size_t)n);
    }
    r = bk_archive__manifest_parse(json.buf, json.len, m);
    bk_strbuf_release(&json);
    return r;
}

/* Is `rel` a regular file inside tmp, reached through real directories? */
static int inside_regular(const char *tmp, const char *rel)
{
    int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *copy = bk_xstrdup(rel), *p = copy, *slash;
    int ok = 0;
    while (fd >= 0 && (slash = strchr(p, '/')) != NULL) {
        *slash = '\0';
        int nfd = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = nfd;
        p = slash + 1;
    }
    struct stat st;
    if (fd >= 0 && fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
        ok = 1;
    if (fd >= 0)
        close(fd);
    free(copy);
    return ok;
}

static void keep_user_xattrs(struct archive_entry *e)
{
    const char *name;
    const void *val;
    size_t size;
    struct bk_strvec names = BK_STRVEC_INIT;
    struct bk_strbuf vals = BK_STRBUF_INIT;
    size_t *sizes = NULL, n = 0;

    if (archive_entry_xattr_reset(e) == 0)
        return;
    while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK) {
        if (strncmp(name, "user.", 5) != 0) {
            bk_warn("member '%s': dropping xattr %s (only user.* are restored)",
                    archive_entry_pathname(e), name);
            continue;
        }
        bk_strvec_push(&names, name);
        sizes = bk_xrealloc(sizes, (n + 1) * sizeof(*sizes));
        sizes[n++] = size;
        bk_strbuf_add(&vals, val, size);
    }
    archive_entry_xattr_clear(e);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        archive_entry_xattr_add_entry(e, names.v[i], vals.buf + off, sizes[i]);
        off += sizes[i];
    }
    free(sizes);
    bk_strvec_clear(&names);
    bk_strbuf_release(&vals);
}

static void hash_zeros(EVP_MD_CTX *md, uint64_t n)
{
    static const unsigned char k_zero[ZERO_BUF];
    while (n > 0) {
        size_t k = n < ZERO_BUF ? (size_t)n : ZERO_BUF;
        EVP_DigestUpdate(md, k_zero, k);
        n -= k;
    }
}

/* Read a file member's data, hash it into out, and write it through
 * write_disk, or with `buf` (size bytes) copy it there, holes zeroed. */
static int copy_file_data(struct unpack_ctx *c, const char *path, uint64_t size,
                          unsigned char out[32], unsigned char *buf)
{
    const void *data;
    size_t len;
    la_int64_t off;
    uint64_t pos = 0;

    if (!EVP_DigestInit_ex(c->file_md, EVP_sha256(), NULL))
        abort();
    for (;;) {
        int r = archive_read_data_block(c->in, &data, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return read_fail(c, path);
        if (off < 0 || (uint64_t)off < pos || (uint64_t)off + len > size)
            return bk_error_set(BK_ECORRUPT, "member '%s': data outside the file's size", path);
        hash_zeros(c->file_md, (uint64_t)off - pos);
        EVP_DigestUpdate(c->file_md, data, len);
        if (buf) {
            memset(buf + pos, 0, (size_t)((uint64_t)off - pos));
            memcpy(buf + off, data, len);
        } else if (archive_write_data_block(c->disk, data, len, off) < ARCHIVE_WARN) {
            return bk_error_set(BK_ERR, "member '%s': %s", path, archive_error_string(c->disk));
        }
        pos = (uint64_t)off + len;
    }
    hash_zeros(c->file_md, size - pos);
    if (buf)
        memset(buf + pos, 0, (size_t)(size - pos));
    EVP_DigestFinal_ex(c->file_md, out, NULL);
    return BK_OK;
}

static int entry_type(struct archive_entry *e)
{
    if (archive_entry_hardlink(e))
        return BK_AT_HARDLINK;
    switch (archive_entry_filetype(e)) {
    case AE_IFREG: return BK_AT_FILE;
    case AE_IFDIR: return BK_AT_DIR;
    case AE_IFLNK: return BK_AT_SYMLINK;
    case AE_IFCHR: return BK_AT_CHAR;
    case AE_IFBLK: return BK_AT_BLOCK;
    case AE_IFIFO: return BK_AT_FIFO;
    default: return 0;
    }
}

/* The parent of every member must be the root or a directory member seen
 * before it. As members come in canonical (depth-first) order, the candidate
 * parents form a stack. A symlink is never pushed, so nothing is ever
 * written through one, at no syscall cost per member. */
static int check_parent(struct unpack_ctx *c, const char *path, int is_dir)
{
    const char *slash = strrchr(path, '/');
    size_t plen = slash ? (size_t)(slash - path) : 0;
    while (c->dirs.n > 0) {
        const char *top = c->dirs.v[c->dirs.n - 1];
        size_t tl = strlen(top);
        if (strncmp(path, top, tl) == 0 && path[tl] == '/')
            break;
        free(c->dirs.v[--c->dirs.n]);
        c->dirs.v[c->dirs.n] = NULL;
    }
    if (plen > 0 && (c->dirs.n == 0 || strlen(c->dirs.v[c->dirs.n - 1]) != plen))
        return bk_error_set(BK_ECORRUPT,
                            "member '%s': its parent is not a directory member before it", path);
    if (is_dir)
        bk_strvec_push(&c->dirs, path);
    return BK_OK;
}

static int check_path(const char *prev, const char *path)
{
    if (!bk_archive__path_is_safe(path))
        return bk_error_set(BK_ECORRUPT, "member '%s': unsafe path (absolute, empty or with '..')",
                            path);
    if (strcmp(path, ".bkcache") == 0 || strncmp(path, ".bkcache/", 9) == 0 ||
        bk_archive_is_own_name(path))
        return bk_error_set(BK_ECORRUPT, "member '%s': reserved name", path);
    if (prev && bk_archive__path_cmp(prev, path) >= 0)
        return bk_error_set(BK_ECORRUPT, "member '%s': duplicate or out of order (after '%s')",
                            path, prev);
    return BK_OK;
}

/* Can the pool create this member? Plain small files only: write_disk keeps
 * what needs its care (xattrs, set-id bits after chown, sparse layout). */
static int for_pool(const struct unpack_ctx *c, struct archive_entry *e,
                    const struct bk_archive_rec *rec)
{
    return c->pool && rec->type == BK_AT_FILE && rec->size <= POOL_MAX_FILE &&
           (rec->mode & 07000) == 0 && archive_entry_xattr_count(e) == 0 &&
           archive_entry_sparse_count(e) == 0;
}

/* Read and hash the member's data here, then hand the file to the pool,
 * with the times write_disk would give it. */
static int pool_file(struct unpack_ctx *c, struct archive_entry *e,
                     const struct bk_archive_rec *rec, unsigned char hash[32])
{
    unsigned char *buf = bk_xmalloc(rec->size ? (size_t)rec->size : 1);
    struct timespec times[2] = {{c->start, 0}, {c->start, 0}};
    int rc = copy_file_data(c, rec->path, rec->size, hash, buf);
    if (rc) {
        free(buf);
        return rc;
    }
    if (archive_entry_atime_is_set(e)) {
        times[0].tv_sec = archive_entry_atime(e);
        times[0].tv_nsec = archive_entry_atime_nsec(e);
    }
    if (archive_entry_mtime_is_set(e)) {
        times[1].tv_sec = archive_entry_mtime(e);
        times[1].tv_nsec = archive_entry_mtime_nsec(e);
    }
    return bk_archive__writers_submit(c->pool, bk_xasprintf("%s/%s", c->tmp, rec->path), buf,
                                      (size_t)rec->size, (mode_t)rec->mode, (uid_t)rec->uid,
                                      (gid_t)rec->gid, times);
}

static int unpack_entry(struct unpack_ctx *c, struct archive_entry *e)
{
    char *path = bk_xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
    struct bk_archive_rec rec;
    unsigned char hash[32];
    char *target = NULL;
    int rc;

    memset(&rec, 0, sizeof(rec));
    for (size_t n = strlen(path); n > 1 && path[n - 1] == '/'; n--)
        path[n - 1] = '\0';
    rc = check_path(c->prev, path);
    if (rc)
        goto out;
    free(c->prev);
    c->prev = bk_xstrdup(path);

    rec.path = path;
    rec.type = entry_type(e);
    rc = check_parent(c, path, rec.type == BK_AT_DIR);
    if (rc)
        goto out;
    rec.mode = (unsigned)archive_entry_perm(e) & 07777u;
    rec.uid = (uint64_t)archive_entry_uid(e);
    rec.gid = (uint64_t)archive_entry_gid(e);
    rec.mtime_sec = archive_entry_mtime(e);
    rec.mtime_nsec = archive_entry_mtime_nsec(e);
    if (rec.type == 0) {
        rc = bk_error_set(BK_ECORRUPT, "member '%s': unsupported entry type", path);
        goto out;
    }
    if (rec.type == BK_AT_FILE)
        rec.size = (uint64_t)archive_entry_size(e);
    if (rec.type == BK_AT_CHAR || rec.type == BK_AT_BLOCK)
        rec.rdev = (uint64_t)archive_entry_rdev(e);
    rc = check_within_manifest(c, &rec);
    if (rc)
        goto out;
    if (rec.type == BK_AT_SYMLINK)
        rec.target = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
    if (rec.type == BK_AT_HARDLINK) {
        target = bk_xstrdup(archive_entry_hardlink(e));
        rec.target = target;
        /* The file linked to may still be queued in the pool. */
        if (c->pool && (rc = bk_archive__writers_wait(c->pool)) != BK_OK)
            goto out;
        if (!bk_archive__path_is_safe(target) || bk_archive__path_cmp(target, path) >= 0 ||
            (archive_entry_size_is_set(e) && archive_entry_size(e) != 0) ||
            !inside_regular(c->tmp, target)) {
            rc = bk_error_set(BK_ECORRUPT, "member '%s': hardlink to '%s' is not allowed", path,
                              target);
            goto out;
        }
        bk_strbuf_reset(&c->link);
        bk_strbuf_addf(&c->link, "%s/%s", c->tmp, target);
        archive_entry_set_hardlink(e, c->link.buf);
    }
    if ((rec.type == BK_AT_CHAR || rec.type == BK_AT_BLOCK || rec.type == BK_AT_FIFO) &&
        !c->opts->allow_special) {
        bk_warn("member '%s': skipping a %s (use --allow-special to create it)", path,
                rec.type == BK_AT_FIFO ? "FIFO" : "device node");
        c->skipped++;
        bk_archive__digest_add(&c->d, &rec);
        goto out;
    }
    keep_user_xattrs(e);
    if (for_pool(c, e, &rec)) {
        rc = pool_file(c, e, &rec, hash);
        if (rc == BK_OK) {
            rec.content = hash;
            bk_archive__digest_add(&c->d, &rec);
        }
        goto out;
    }
    bk_strbuf_reset(&c->full);
    bk_strbuf_addf(&c->full, "%s/%s", c->tmp, path);
    archive_entry_set_pathname(e, c->full.buf);
    int r = archive_write_header(c->disk, e);
    if (r < ARCHIVE_WARN) {
        rc = bk_error_set(BK_ECORRUPT, "member '%s': %s", path, archive_error_string(c->disk));
        goto out;
    }
    if (r == ARCHIVE_WARN)
        bk_warn("member '%s': %s", path, archive_error_string(c->disk));
    if (rec.type == BK_AT_FILE) {
        rc = copy_file_data(c, path, rec.size, hash, NULL);
        rec.content = hash;
        if (rc)
            goto out;
    }
    if (archive_write_finish_entry(c->disk) < ARCHIVE_WARN) {
        rc = bk_error_set(BK_ERR, "member '%s': %s", path, archive_error_string(c->disk));
        goto out;
    }
    bk_archive__digest_add(&c->d, &rec);
out:
    if (rc == BK_OK && c->opts->checkpoint.fn && c->d.entries == (c->m->entries + 1) / 2) {
        if (c->pool) /* half the members really on disk */
            rc = bk_archive__writers_wait(c->pool);
        c->opts->checkpoint.fn("unpack", c->opts->checkpoint.arg);
    }
    free(target);
    free(path);
    return rc;
}

static int verify(struct unpack_ctx *c, const struct bk_archive_manifest *m, char *hex)
{
    uint64_t files = c->d.files, entries = c->d.entries, bytes = c->d.bytes;
    bk_archive__digest_final(&c->d, hex);
    if (strcmp(hex, m->digest) != 0)
        return bk_error_set(BK_ECORRUPT,
                            "digest mismatch: the manifest says sha256:%s, the contents are "
                            "sha256:%s",
                            m->digest, hex);
    if (files != m->files || entries != m->entries || bytes != m->bytes)
        return bk_error_set(BK_ECORRUPT,
                            "counts mismatch: the manifest says %llu files, %llu "
                            "entries, %llu bytes; the archive holds %llu, %llu, %llu",
                            (unsigned long long)m->files, (unsigned long long)m->entries,
                            (unsigned long long)m->bytes, (unsigned long long)files,
                            (unsigned long long)entries, (unsigned long long)bytes);
    return BK_OK;
}

static int check_expected(const struct bk_unpack_opts *o, const struct bk_archive_manifest *m)
{
    if (!o->expect_digest)
        return BK_OK;
    const char *want = o->expect_digest;
    if (strncmp(want, "sha256:", 7) == 0)
        want += 7;
    if (strcmp(want, m->digest) != 0)
        return bk_error_set(BK_ECORRUPT,
                            "digest mismatch: expected sha256:%s, the archive is "
                            "sha256:%s",
                            want, m->digest);
    return BK_OK;
}

static int disk_flags(const struct bk_unpack_opts *o)
{
    /* No ARCHIVE_EXTRACT_SECURE_SYMLINKS: check_parent() is stricter for
     * this format and costs no syscalls, where libarchive's check lstats
     * every component of every member's absolute path. No
     * ARCHIVE_EXTRACT_SPARSE either: it makes libarchive scan every block
     * for zeros and write(2) 4 KiB at a time (500k calls for 2 GiB); the
     * holes that pack recorded (pax sparse entries) are still restored,
     * as libarchive seeks over the gaps between data blocks. */
    int f = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_XATTR |
            ARCHIVE_EXTRACT_SECURE_NODOTDOT;
    if (o->keep_owner || geteuid() == 0)
        f |= ARCHIVE_EXTRACT_OWNER;
    return f;
}

/* Is the member a whiteout (a delta's removal of its path)? */
static int is_whiteout(struct archive_entry *e)
{
    const char *name;
    const void *val;
    size_t size;
    if (archive_entry_xattr_reset(e) == 0)
        return 0;
    while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK)
        if (strcmp(name, BK_ARCHIVE_WHITEOUT_XATTR) == 0)
            return 1;
    return 0;
}

/* Read layer i's next member header into L->e (NULL at the tar's end) and
 * check what can be checked on one layer alone: a safe, unreserved path in
 * strictly increasing order, and whiteouts only in deltas, empty. */
static int advance(struct unpack_ctx *c, size_t i)
{
    struct layer *L = &c->layers[i];
    struct archive_entry *e;
    int r, rc;

    free(L->prev);
    L->prev = L->path;
    L->path = NULL;
    L->e = NULL;
    r = archive_read_next_header(L->in, &e);
    if (r == ARCHIVE_EOF)
        return BK_OK;
    if (r < ARCHIVE_WARN) {
        char *where =
            bk_xasprintf("after member '%s'", L->prev ? L->prev : BK_ARCHIVE_MANIFEST_PATH);
        rc = read_fail_of(L->in, L->zr, where);
        free(where);
        return layer_error(c, i, rc);
    }
    L->path = bk_xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
    for (size_t n = strlen(L->path); n > 1 && L->path[n - 1] == '/'; n--)
        L->path[n - 1] = '\0';
    rc = check_path(L->prev, L->path);
    L->whiteout = is_whiteout(e);
    if (rc == BK_OK && L->whiteout &&
        (i == 0 || archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) ||
         archive_entry_size(e) != 0))
        rc = bk_error_set(BK_ECORRUPT, "member '%s': a whiteout %s", L->path,
                          i == 0 ? "in a full archive" : "that is not an empty file");
    L->e = e;
    return layer_error(c, i, rc);
}

/* The next member of the merged stream: the smallest path among the
 * layers' heads, from the highest layer that holds it; the same path in
 * lower layers is skipped. A whiteout winner is consumed here and writes
 * nothing. Returns 1 with *w set, 0 at the end, or an error. */
static int next_winner(struct unpack_ctx *c, size_t *w)
{
    for (;;) {
        size_t best = c->n;
        int below = 0, rc;
        for (size_t i = 0; i < c->n; i++)
            if (c->layers[i].e && (best == c->n || bk_archive__path_cmp(c->layers[i].path,
                                                                        c->layers[best].path) <= 0))
                best = i;
        if (best == c->n)
            return 0;
        for (size_t i = 0; i < best; i++) {
            struct layer *L = &c->layers[i];
            if (!L->e || strcmp(L->path, c->layers[best].path) != 0)
                continue;
            below = 1;
            if (archive_read_data_skip(L->in) < ARCHIVE_WARN)
                return layer_error(c, i, read_fail_of(L->in, L->zr, L->path));
            if ((rc = advance(c, i)) != BK_OK)
                return rc;
        }
        if (!c->layers[best].whiteout) {
            *w = best;
            return 1;
        }
        if (!below)
            return layer_error(c, best,
                               bk_error_set(BK_ECORRUPT,
                                            "member '%s': a whiteout for a path no layer below has",
                                            c->layers[best].path));
        if ((rc = advance(c, best)) != BK_OK)
            return rc;
    }
}

static int is_hex_digest(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return n == BK_DIGEST_HEX && s[n] == '\0';
}

/* The stack must chain: layer 0 a full archive, each layer above a delta
 * whose parent is the tree of the layer below; `record` names the same
 * trees. */
static int check_chain(struct unpack_ctx *c, const struct bk_archive_layer *record, size_t nrecord)
{
    if (record && nrecord != c->n)
        return bk_error_set(BK_EINVAL, "the base record names %zu layers for %zu archives", nrecord,
                            c->n);
    for (size_t i = 0; i < c->n; i++) {
        const struct bk_archive_manifest *m = &c->layers[i].m;
        if (i == 0 && m->parent)
            return bk_error_set(BK_ECORRUPT,
                                c->n == 1 ? "the archive is a delta (its parent is sha256:%s): "
                                            "it needs the layers below it"
                                          : "layer 0 is a delta (its parent is sha256:%s): the "
                                            "bottom layer must be a full archive",
                                m->parent);
        if (i > 0 && !m->parent)
            return bk_error_set(BK_ECORRUPT,
                                "layer %zu is a full archive, not a delta of layer %zu", i, i - 1);
        if (i > 0 && strcmp(m->parent, c->layers[i - 1].m.digest) != 0)
            return bk_error_set(BK_ECORRUPT,
                                "layer %zu: its parent is sha256:%s but layer %zu holds sha256:%s",
                                i, m->parent, i - 1, c->layers[i - 1].m.digest);
        const char *want = record ? record[i].tree : NULL; /* bare hex (archive.h) */
        if (record && (!bk_digest_valid(record[i].digest) || !is_hex_digest(want)))
            return bk_error_set(BK_EINVAL,
                                "the record's layer %zu is not a sha256:<hex> digest and a "
                                "tree digest",
                                i);
        if (want && strcmp(want, m->digest) != 0)
            return bk_error_set(BK_ECORRUPT,
                                "layer %zu: the record says tree sha256:%s, the archive holds "
                                "sha256:%s",
                                i, want, m->digest);
    }
    return BK_OK;
}

/* Hand the record's pending member lines to its writer once there are
 * at_least bytes of them. */
static int flush_lines(struct unpack_ctx *c, size_t at_least)
{
    int rc = BK_OK;
    if (!c->base || c->lines.len < at_least || c->lines.len == 0)
        return BK_OK;
    rc = bk_archive__base_add(c->base, c->lines.buf, c->lines.len);
    bk_strbuf_reset(&c->lines);
    return rc;
}

/* A stored layer's bytes, all read: they must be the record's, size and
 * SHA-256, or the stack is not the one the record (the index) names. */
static int check_layer_bytes(struct bk_zstd_reader *zr, const struct bk_archive_layer *l)
{
    char hex[BK_DIGEST_HEX + 1];
    uint64_t got = bk_archive__zstd_reader_bytes(zr);
    int rc = bk_archive__zstd_reader_sha256(zr, hex);

    if (rc)
        return rc;
    if (got != l->size || strcmp(hex, l->digest + strlen("sha256:")) != 0)
        return bk_error_set(BK_ECORRUPT,
                            "its %llu bytes hash to sha256:%.12s, the stored layer is "
                            "%.19s (%llu bytes)",
                            (unsigned long long)got, hex, l->digest, (unsigned long long)l->size);
    return BK_OK;
}

int bk_archive_unpack_layers(const int *fds, size_t n, const char *dir,
                             const struct bk_unpack_opts *opts,
                             const struct bk_archive_layer *record, size_t nrecord,
                             struct bk_archive_stats *st, struct bk_archive_manifest *manifest_out)
{
    struct bk_unpack_opts none = {0};
    struct unpack_ctx c;
    struct bk_archive_manifest *m;
    char hex[BK_DIGEST_HEX + 1];
    double t0 = bk_archive__now();
    uint64_t read_bytes = 0;
    size_t w = 0;
    int rc = BK_OK;

    if (n == 0 || n > BK_ARCHIVE_MAX_LAYERS)
        return bk_error_set(BK_EINVAL, "%zu layers: a stack has 1 to %d", n, BK_ARCHIVE_MAX_LAYERS);
    memset(&c, 0, sizeof(c));
    c.opts = opts ? opts : &none;
    c.full = (struct bk_strbuf)BK_STRBUF_INIT;
    c.link = (struct bk_strbuf)BK_STRBUF_INIT;
    c.lines = (struct bk_strbuf)BK_STRBUF_INIT;
    c.dirs = (struct bk_strvec)BK_STRVEC_INIT;
    c.layers = bk_xcalloc(n, sizeof(*c.layers));
    c.n = n;
    c.tmp_lock = -1;
    for (size_t i = 0; rc == BK_OK && i < n; i++) {
        rc = open_stream(&c, fds[i], record != NULL);
        c.layers[i].in = c.in;
        c.layers[i].zr = c.zr;
        if (rc == BK_OK)
            rc = read_manifest_member(&c, &c.layers[i].m);
        rc = layer_error(&c, i, rc);
    }
    m = &c.layers[n - 1].m;
    c.m = m;
    if (rc == BK_OK)
        rc = check_chain(&c, record, nrecord);
    if (rc == BK_OK)
        rc = check_expected(c.opts, m);
    if (rc == BK_OK) {
        bk_archive_clean_leftovers(dir, c.opts->replace_contents);
        rc = bk_archive__mktemp_for(dir, c.opts->replace_contents, &c.tmp, &c.tmp_lock);
    }
    if (rc == BK_OK && c.opts->replace_contents) {
        /* a marker already there (an earlier restore was cut) stays until
         * this one has replaced everything */
        int earlier = bk_archive_unfinished(dir) == 1;
        if ((rc = bk_archive__mark_unfinished(dir, 1)) == 0)
            c.marked = !earlier;
    }
    for (size_t i = 0; rc == BK_OK && i < n; i++)
        rc = layer_error(&c, i, bk_archive__zstd_reader_start(c.layers[i].zr));
    if (rc == BK_OK && record)
        rc = bk_archive__base_open(c.tmp, m->digest, record, nrecord, &c.base);
    if (rc)
        goto done;

    c.disk = archive_write_disk_new();
    archive_write_disk_set_options(c.disk, disk_flags(c.opts));
    c.start = time(NULL);
    c.pool = bk_archive__writers_start((disk_flags(c.opts) & ARCHIVE_EXTRACT_OWNER) != 0);
    c.file_md = EVP_MD_CTX_new();
    bk_archive__digest_init(&c.d);
    if (c.base)
        c.d.lines = &c.lines;
    for (size_t i = 0; rc == BK_OK && i < n; i++)
        rc = advance(&c, i);
    while (rc == BK_OK && (rc = next_winner(&c, &w)) == 1) {
        c.in = c.layers[w].in;
        c.zr = c.layers[w].zr;
        rc = layer_error(&c, w, unpack_entry(&c, c.layers[w].e));
        if (rc == BK_OK)
            rc = flush_lines(&c, 1u << 20);
        if (rc == BK_OK)
            rc = advance(&c, w);
    }
    /* Every file is written before write_disk sets the directories' times. */
    if (rc == BK_OK) {
        rc = bk_archive__writers_finish(c.pool);
        c.pool = NULL;
    }
    if (rc == BK_OK && archive_write_close(c.disk) != ARCHIVE_OK)
        rc = bk_error_set(BK_ERR, "%s: %s", dir, archive_error_string(c.disk));
    for (size_t i = 0; rc == BK_OK && i < n; i++)
        rc = layer_error(&c, i, bk_archive__zstd_reader_drain(c.layers[i].zr));
    for (size_t i = 0; rc == BK_OK && record && i < n; i++)
        rc = layer_error(&c, i, check_layer_bytes(c.layers[i].zr, &record[i]));
    if (rc == BK_OK)
        rc = verify(&c, m, hex);
    if (rc == BK_OK)
        rc = flush_lines(&c, 0);
    if (rc == BK_OK && c.base) {
        rc = bk_archive__base_commit(c.base); /* into the new tree: moves in with it */
        c.base = NULL;
    }
    if (rc == BK_OK) {
        c.swapping = 1;
        rc = bk_archive__swap_in(c.tmp, dir, c.opts->replace_contents, c.opts);
    }

done:
    if (c.pool) { /* stopped early: let the threads go before the cleanup */
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", bk_error_msg());
        bk_archive__writers_finish(c.pool);
        bk_error_set(rc, "%s", msg);
    }
    bk_archive__base_abort(c.base);
    if (c.disk)
        archive_write_free(c.disk);
    if (rc && c.tmp && !(c.swapping && c.opts->replace_contents)) {
        /* nothing in the target changed: leave it exactly as it was */
        int keep = rc;
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", bk_error_msg());
        if (bk_archive__rm_rf(c.tmp))
            bk_warn("%s", bk_error_msg());
        if (c.marked && bk_archive__mark_unfinished(dir, 0))
            bk_warn("%s", bk_error_msg());
        bk_error_set(keep, "%s", msg);
    }
    if (c.tmp_lock >= 0)
        close(c.tmp_lock);
    for (size_t i = 0; i < n; i++)
        read_bytes += c.layers[i].zr ? bk_archive__zstd_reader_bytes(c.layers[i].zr) : 0;
    if (rc == BK_OK)
        bk_archive__stats_fill(st, m, read_bytes, t0);
    if (c.d.md)
        bk_archive__digest_release(&c.d);
    EVP_MD_CTX_free(c.file_md);
    for (size_t i = 0; i < n; i++) {
        struct layer *L = &c.layers[i];
        archive_read_free(L->in);
        bk_archive__zstd_reader_free(L->zr);
        free(L->path);
        free(L->prev);
        if (i + 1 < n || rc != BK_OK || !manifest_out)
            bk_archive_manifest_release(&L->m);
    }
    if (rc == BK_OK && manifest_out)
        *manifest_out = *m;
    free(c.layers);
    free(c.tmp);
    free(c.prev);
    bk_strvec_clear(&c.dirs);
    bk_strbuf_release(&c.full);
    bk_strbuf_release(&c.link);
    bk_strbuf_release(&c.lines);
    return rc;
}

int bk_archive_unpack(int in_fd, const char *dir, const struct bk_unpack_opts *opts,
                      struct bk_archive_stats *st, struct bk_archive_manifest *manifest_out)
{
    return bk_archive_unpack_layers(&in_fd, 1, dir, opts, NULL, 0, st, manifest_out);
}

int bk_archive_read_manifest(int in_fd, struct bk_archive_manifest *out)
{
    struct unpack_ctx c;
    memset(&c, 0, sizeof(c));
    int rc = open_stream(&c, in_fd, 0);
    if (rc == BK_OK)
        rc = read_manifest_member(&c, out);
    archive_read_free(c.in);
    bk_archive__zstd_reader_free(c.zr);
    return rc;
}
