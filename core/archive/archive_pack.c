/*
 * archive_pack.c - bk_archive_pack: a directory tree into a tar (pax) + zstd.
 *
 * The archive must start with .bkcache/manifest.json, and the manifest holds
 * the content digest, which is only known once every file has been read.
 * The head (manifest frame + padding, archive_head.c) has a size known in
 * advance, so when the output is a seekable regular file pack makes ONE pass:
 * it skips the head's space, walks the tree (lstat only) and streams every entry
 * while hashing the very bytes it writes, then writes the real head in place.
 * The walk is streamed (archive_walk.c): the first file is compressed while
 * the rest of the tree is still unread, and memory does not grow with the
 * number of entries.
 * On a pipe it cannot go back, so it makes two passes: a scan that hashes
 * every file (bk_archive__tree_scan), the head, then the entries, each file
 * re-checked (inode, size, mtime, ctime) against the scan so that a file that
 * changed in between fails the pack ("changed while packing") instead of
 * producing an archive whose digest lies. Both paths give the same bytes.
 * docs/benchmarks.md ("Archives") has the measurements behind this choice.
 *
 * A delta (bk_pack_opts.parent_record, docs/archive-format.md "Deltas")
 * walks the same way, but hashes each regular file before deciding, and
 * writes an entry only when its digest line differs from the base record's
 * line for that path; the record's paths the walk does not meet become
 * whiteouts at their place in the order. Both passes do deltas.
 *
 * Entries carry path, mode, uid/gid (numbers only, no user names, so the
 * bytes do not depend on /etc/passwd), mtime with nanoseconds, user.* xattrs,
 * symlink and hardlink targets; no atime or ctime, so the same tree gives the
 * same bytes. Sparse files are written as pax sparse entries (the holes take
 * no space in the archive and are not read; see SEEK_HOLE below).
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef BK_VERSION
#define BK_VERSION "unknown"
#endif

#define DATA_BUF (1u << 20)

struct pack_ctx {
    struct archive *a;
    struct bk_strbuf full; /* scratch: the full path of the current entry */
    size_t root_len;
    unsigned char *buf;
    EVP_MD_CTX *file_md; /* set: hash file bytes while writing them (one pass) */
    struct bk_archive_digest d;
    /* a delta: the parent's record, and the next of its member lines */
    struct bk_archive_base *base;
    size_t next_line;
    struct bk_strbuf line; /* scratch: the current entry's digest line */
};

static int archive_fail(struct pack_ctx *c, const char *what)
{
    return bk_error_set(BK_ERR, "%s: %s", what, archive_error_string(c->a));
}

/* user.* extended attributes, sorted by name so the bytes are stable. */
static int name_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_xattrs(struct archive_entry *e, const char *path)
{
    ssize_t n = llistxattr(path, NULL, 0);
    if (n <= 0)
        return; /* none, or the file system has no xattrs */
    char *names = bk_xmalloc((size_t)n);
    n = llistxattr(path, names, (size_t)n);
    if (n <= 0) {
        free(names);
        return;
    }
    size_t cnt = 0;
    const char **v = bk_xcalloc((size_t)n, sizeof(*v));
    for (char *p = names; p < names + n; p += strlen(p) + 1)
        if (strncmp(p, "user.", 5) == 0)
            v[cnt++] = p;
    qsort(v, cnt, sizeof(*v), name_ptr_cmp);
    for (size_t i = 0; i < cnt; i++) {
        ssize_t len = lgetxattr(path, v[i], NULL, 0);
        if (len < 0)
            continue;
        void *val = bk_xmalloc(len ? (size_t)len : 1);
        len = lgetxattr(path, v[i], val, (size_t)len);
        if (len >= 0)
            archive_entry_xattr_add_entry(e, v[i], val, (size_t)len);
        free(val);
    }
    free(v);
    free(names);
}

/* Describe the holes of a sparse file to libarchive; returns 1 when sparse. */
static int add_sparse_map(struct archive_entry *e, int fd, const struct stat *st)
{
    if (st->st_size == 0 || (uint64_t)st->st_blocks * 512 >= (uint64_t)st->st_size)
        return 0;
    off_t pos = 0, end = st->st_size;
    int regions = 0;
    while (pos < end) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0)
            break; /* ENXIO: only a hole is left */
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0 || hole > end)
            hole = end;
        archive_entry_sparse_add_entry(e, data, hole - data);
        regions++;
        pos = hole;
    }
    lseek(fd, 0, SEEK_SET);
    if (regions == 0) /* all hole: one empty region at the end keeps the size */
        archive_entry_sparse_add_entry(e, end, 0);
    return 1;
}

static int same_file(const struct bk_archive_node *nd, const struct stat *st)
{
    return st->st_ino == nd->ino && st->st_dev == nd->dev && S_ISREG(st->st_mode) &&
           (uint64_t)st->st_size == nd->rec.size && st->st_mtim.tv_sec == nd->rec.mtime_sec &&
           st->st_mtim.tv_nsec == nd->rec.mtime_nsec && st->st_ctim.tv_sec == nd->ctime_sec &&
           st->st_ctim.tv_nsec == nd->ctime_nsec;
}

/* Stream a regular file's bytes. With a sparse map, libarchive drops the
 * bytes that fall in holes, so holes are fed from a zero buffer, not read. */
static int write_file_data(struct pack_ctx *c, int fd, const struct bk_archive_node *nd, int sparse)
{
    uint64_t done = 0, size = nd->rec.size;
    int eof = 0;
    while (done < size) {
        off_t data_end = (off_t)size;
        if (sparse) {
            off_t data = lseek(fd, (off_t)done, SEEK_DATA);
            if (data < 0 || (uint64_t)data > done) {
                uint64_t hole_end = data < 0 ? size : (uint64_t)data;
                memset(c->buf, 0, DATA_BUF);
                while (done < hole_end) {
                    size_t n = hole_end - done < DATA_BUF ? (size_t)(hole_end - done) : DATA_BUF;
                    if (archive_write_data(c->a, c->buf, n) != (la_ssize_t)n)
                        return archive_fail(c, nd->path);
                    if (c->file_md)
                        EVP_DigestUpdate(c->file_md, c->buf, n);
                    done += n;
                }
                continue;
            }
            data_end = lseek(fd, (off_t)done, SEEK_HOLE);
            if (data_end < 0 || (uint64_t)data_end > size)
                data_end = (off_t)size;
            lseek(fd, (off_t)done, SEEK_SET);
        }
        while (done < (uint64_t)data_end) {
            uint64_t left = (uint64_t)data_end - done;
            /* The last read of a file asks for one byte more: getting fewer
             * than asked is the end of the file, which saves a read call. */
            size_t want = left < DATA_BUF ? (size_t)left + !sparse : DATA_BUF;
            ssize_t r = read(fd, c->buf, want);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return bk_error_set(BK_ERR, "%s: read failed: %s", c->full.buf, strerror(errno));
            if (r == 0)
                return bk_error_set(BK_ERR, "%s: file changed while packing (shorter)",
                                    c->full.buf);
            if ((uint64_t)r > left)
                return bk_error_set(BK_ERR, "%s: file changed while packing (longer)", c->full.buf);
            eof = (size_t)r < want;
            if (archive_write_data(c->a, c->buf, (size_t)r) != r)
                return archive_fail(c, nd->path);
            if (c->file_md)
                EVP_DigestUpdate(c->file_md, c->buf, (size_t)r);
            done += (uint64_t)r;
        }
    }
    char extra;
    if (!sparse && !eof && read(fd, &extra, 1) > 0)
        return bk_error_set(BK_ERR, "%s: file changed while packing (longer)", c->full.buf);
    return BK_OK;
}

static void set_full_path(struct pack_ctx *c, const char *rel)
{
    c->full.len = c->root_len;
    c->full.buf[c->root_len] = '\0';
    bk_strbuf_addch(&c->full, '/');
    bk_strbuf_adds(&c->full, rel);
}

static int write_node(struct pack_ctx *c, struct bk_archive_node *nd)
{
    struct archive_entry *e = archive_entry_new();
    int fd = -1, sparse = 0, rc = BK_OK;
    unsigned ftype = 0;
    /* a delta hashed the file before deciding to write it: the bytes
     * written must be the bytes hashed */
    int hashed = nd->rec.type == BK_AT_FILE && nd->rec.content && c->file_md;
    unsigned char before[32];

    if (hashed)
        memcpy(before, nd->rec.content, sizeof(before));
    set_full_path(c, nd->path);

    switch (nd->rec.type) {
    case BK_AT_FILE: ftype = AE_IFREG; break;
    case BK_AT_HARDLINK: ftype = AE_IFREG; break;
    case BK_AT_DIR: ftype = AE_IFDIR; break;
    case BK_AT_SYMLINK: ftype = AE_IFLNK; break;
    case BK_AT_CHAR: ftype = AE_IFCHR; break;
    case BK_AT_BLOCK: ftype = AE_IFBLK; break;
    case BK_AT_FIFO: ftype = AE_IFIFO; break;
    }
    if (nd->rec.type == BK_AT_DIR) {
        char *p = bk_xasprintf("%s/", nd->path);
        archive_entry_set_pathname(e, p);
        free(p);
    } else {
        archive_entry_set_pathname(e, nd->path);
    }
    archive_entry_set_filetype(e, ftype);
    archive_entry_set_perm(e, (mode_t)nd->rec.mode);
    archive_entry_set_uid(e, (la_int64_t)nd->rec.uid);
    archive_entry_set_gid(e, (la_int64_t)nd->rec.gid);
    archive_entry_set_mtime(e, (time_t)nd->rec.mtime_sec, nd->rec.mtime_nsec);
    archive_entry_set_size(e, (la_int64_t)nd->rec.size);
    if (nd->rec.type == BK_AT_SYMLINK)
        archive_entry_set_symlink(e, nd->target);
    if (nd->rec.type == BK_AT_HARDLINK)
        archive_entry_set_hardlink(e, nd->target);
    if (nd->rec.type == BK_AT_CHAR || nd->rec.type == BK_AT_BLOCK)
        archive_entry_set_rdev(e, (dev_t)nd->rec.rdev);
    if (nd->rec.type != BK_AT_HARDLINK)
        add_xattrs(e, c->full.buf);

    if (nd->rec.type == BK_AT_FILE) {
        struct stat st;
        fd = open(c->full.buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = bk_error_set(BK_ERR, "%s: cannot open: %s", c->full.buf, strerror(errno));
            goto out;
        }
        if (fstat(fd, &st) != 0 || !same_file(nd, &st)) {
            rc = bk_error_set(BK_ERR, "%s: file changed while packing", c->full.buf);
            goto out;
        }
        if (st.st_size >= DATA_BUF) /* small files are read in one call anyway */
            posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        sparse = add_sparse_map(e, fd, &st);
    }
    if (archive_write_header(c->a, e) < ARCHIVE_WARN) {
        rc = archive_fail(c, nd->path);
        goto out;
    }
    if (fd >= 0 && c->file_md && !EVP_DigestInit_ex(c->file_md, EVP_sha256(), NULL))
        abort();
    if (fd >= 0)
        rc = write_file_data(c, fd, nd, sparse);
    if (rc == BK_OK && fd >= 0 && c->file_md) {
        EVP_DigestFinal_ex(c->file_md, nd->hash, NULL);
        nd->rec.content = nd->hash;
        if (hashed && memcmp(before, nd->hash, sizeof(before)) != 0)
            rc = bk_error_set(BK_ERR, "%s: file changed while packing", c->full.buf);
    }
    if (rc == BK_OK)
        bk_archive__digest_add(&c->d, &nd->rec);
out:
    if (fd >= 0)
        close(fd);
    archive_entry_free(e);
    return rc;
}

/* ------------------------------------------------------------------ delta */

/* A whiteout for `path` (len bytes): this path of the parent tree is gone. */
static int write_whiteout(struct pack_ctx *c, const char *path, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    char *p = bk_xstrndup(path, len);
    int rc = BK_OK;

    archive_entry_set_pathname(e, p);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0);
    archive_entry_set_size(e, 0);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_xattr_add_entry(e, BK_ARCHIVE_WHITEOUT_XATTR, "1", 1);
    if (archive_write_header(c->a, e) < ARCHIVE_WARN)
        rc = archive_fail(c, p);
    archive_entry_free(e);
    free(p);
    return rc;
}

/* Whiteouts for the parent's paths before `path` (all that are left when
 * path is NULL): the new tree does not have them. */
static int whiteouts_before(struct pack_ctx *c, const char *path)
{
    const char *end = c->base->text.buf + c->base->text.len;
    struct bk_archive_base_line ln;
    while (c->base->text.buf + c->next_line < end) {
        if (bk_archive__base_line(c->base->text.buf + c->next_line, end, &ln))
            return bk_error_set(BK_ERR, "internal error: a base record line went bad");
        if (path && bk_archive__path_cmp_n(ln.path, ln.path_len, path, strlen(path)) >= 0)
            break;
        int rc = write_whiteout(c, ln.path, ln.path_len);
        if (rc)
            return rc;
        c->next_line += ln.len;
    }
    return BK_OK;
}

/* A delta writes the entry only when its digest line is not the parent's
 * line for the same path (a regular file is hashed first to know). */
static int delta_node(struct pack_ctx *c, struct bk_archive_node *nd, int *written)
{
    const char *at, *end = c->base->text.buf + c->base->text.len;
    struct bk_archive_base_line ln;
    int rc = whiteouts_before(c, nd->path), same = 0;

    *written = 0;
    if (rc == BK_OK && nd->rec.type == BK_AT_FILE && !nd->rec.content) {
        set_full_path(c, nd->path);
        rc = bk_archive__hash_file(c->full.buf, nd->rec.size, nd->hash);
        nd->rec.content = nd->hash;
    }
    if (rc)
        return rc;
    at = c->base->text.buf + c->next_line;
    if (at < end && bk_archive__base_line(at, end, &ln) == 0 && ln.path_len == strlen(nd->path) &&
        memcmp(ln.path, nd->path, ln.path_len) == 0) {
        bk_strbuf_reset(&c->line);
        bk_archive__digest_line(&nd->rec, &c->line);
        same = c->line.len == ln.len && memcmp(c->line.buf, ln.line, ln.len) == 0;
        c->next_line += ln.len;
    }
    if (same) {
        bk_archive__digest_add(&c->d, &nd->rec);
        return BK_OK;
    }
    *written = 1;
    return write_node(c, nd);
}

/* Read opts->parent_record into b: 1 when a delta may be written on it. A
 * missing record is a full pack; an unusable one or a stack too tall or
 * too heavy is a full pack with a note why. */
static int delta_usable(const struct bk_pack_opts *o, struct bk_archive_base *b)
{
    int max_layers = o->delta_max_layers > 0 ? o->delta_max_layers : 8;
    double ratio = o->delta_max_ratio > 0 ? o->delta_max_ratio : 0.25;
    uint64_t above = 0;
    int rc;

    if (!o->parent_record)
        return 0;
    rc = bk_archive__base_read(o->parent_record, b);
    if (rc) {
        if (rc != BK_ENOTFOUND)
            bk_warn("%s; packing a full archive", bk_error_msg());
        bk_error_clear();
        return 0;
    }
    if (max_layers > BK_ARCHIVE_MAX_LAYERS)
        max_layers = BK_ARCHIVE_MAX_LAYERS;
    for (size_t i = 1; i < b->nlayers; i++)
        above += b->layers[i].size;
    if (b->nlayers >= (size_t)max_layers || (double)above > ratio * (double)b->layers[0].size) {
        bk_info("the stack below has %zu layers, %" PRIu64 " bytes above a %" PRIu64
                "-byte bottom: packing a full archive",
                b->nlayers, above, b->layers[0].size);
        bk_archive__base_release(b);
        return 0;
    }
    return 1;
}

/* Where the archive starts, when out_fd is a regular file we may pwrite. */
static int seekable_start(int fd, off_t *start)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fl < 0 || (fl & O_APPEND))
        return 0;
    *start = lseek(fd, 0, SEEK_CUR);
    return *start >= 0;
}

/* The entries to write: the scanned tree (two passes), or the walk, read as
 * the archive is written (one pass). */
struct pack_source {
    struct bk_archive_tree *tree;
    size_t next;
    struct bk_archive_walk *walk;
};

static int source_next(struct pack_source *src, struct bk_archive_node **out)
{
    if (src->walk)
        return bk_archive__walk_next(src->walk, out);
    if (src->next == src->tree->n)
        return 0;
    *out = &src->tree->v[src->next++];
    return 1;
}

/* Stream every entry of src through a new tar writer into out_fd. */
static int write_body(struct pack_ctx *c, struct pack_source *src, int out_fd,
                      const struct bk_pack_opts *opts, int level, int threads, uint64_t *bytes)
{
    struct bk_zstd_writer *zw = NULL;
    struct bk_archive_node *nd;
    int rc;

    c->a = archive_write_new();
    archive_write_set_format_pax(c->a);
    archive_write_set_bytes_per_block(c->a, 64 * 1024);
    archive_write_set_bytes_in_last_block(c->a, 1);
    rc = bk_archive__zstd_writer_open(c->a, out_fd, level, threads, opts->write_behind,
                                      opts->reproducible, &zw);
    for (int first = 1; rc == BK_OK && (rc = source_next(src, &nd)) > 0;) {
        int written = 1;
        rc = c->base ? delta_node(c, nd, &written) : write_node(c, nd);
        if (rc == BK_OK && written && first && opts->checkpoint.fn)
            opts->checkpoint.fn("pack", opts->checkpoint.arg);
        first = first && !written;
    }
    if (rc == BK_OK && c->base)
        rc = whiteouts_before(c, NULL);
    if (rc == BK_OK && archive_write_close(c->a) != ARCHIVE_OK)
        rc = archive_fail(c, "finishing the archive");
    if (rc == BK_OK && bk_archive__zstd_writer_error(zw))
        rc = bk_error_set(BK_ERR, "%s", bk_archive__zstd_writer_error(zw));
    archive_write_free(c->a);
    c->a = NULL;
    *bytes = zw ? bk_archive__zstd_writer_bytes(zw) : 0;
    bk_archive__zstd_writer_free(zw);
    return rc;
}

int bk_archive_pack(const char *dir, int out_fd, const struct bk_pack_opts *opts,
                    struct bk_archive_stats *st)
{
    struct bk_pack_opts none = {0};
    struct bk_archive_tree t = {0};
    struct bk_archive_walk w;
    struct pack_source src = {.tree = &t};
    struct bk_archive_manifest m;
    struct pack_ctx c;
    struct bk_strbuf head = BK_STRBUF_INIT;
    struct bk_archive_base base;
    double t0 = bk_archive__now();
    int64_t created_sec;
    uint64_t body_bytes = 0;
    off_t start = 0;
    int rc;

    if (!opts)
        opts = &none;
    int level = opts->level ? opts->level : 3;
    if (level < 1 || level > 19)
        return bk_error_set(BK_EINVAL, "compression level %d is out of range 1..19", level);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = opts->threads ? opts->threads : (cpus > 0 ? (int)cpus : 1);
    int one_pass = seekable_start(out_fd, &start);
    int delta = delta_usable(opts, &base);

    /* One pass walks while it writes; two passes hash the whole tree first. */
    rc = one_pass ? bk_archive__walk_open(dir, &w) : bk_archive__tree_scan(dir, &t);
    if (rc) {
        if (delta)
            bk_archive__base_release(&base);
        return rc;
    }
    if (one_pass)
        src.walk = &w;

    memset(&m, 0, sizeof(m));
    m.key = opts->reproducible ? NULL : (char *)opts->key;
    m.identity = opts->reproducible ? NULL : (char *)opts->identity;
    if (opts->reproducible) {
        m.created = bk_xstrdup("1970-01-01T00:00:00Z");
        created_sec = 0;
    } else {
        m.created = bk_archive__created_now(&created_sec);
    }
    m.parent = delta ? base.tree : NULL;
    m.bkcache_version = BK_VERSION;
    m.compression = "zstd";
    m.level = level;
    size_t width = bk_archive__head_json_width(&m);

    memset(&c, 0, sizeof(c));
    c.full = (struct bk_strbuf)BK_STRBUF_INIT;
    bk_strbuf_adds(&c.full, dir);
    while (c.full.len > 1 && c.full.buf[c.full.len - 1] == '/')
        c.full.buf[--c.full.len] = '\0';
    c.root_len = c.full.len;
    c.buf = bk_xmalloc(DATA_BUF);
    c.line = (struct bk_strbuf)BK_STRBUF_INIT;
    if (delta) {
        c.base = &base;
        c.next_line = base.lines;
    }
    bk_archive__digest_init(&c.d);
    if (one_pass)
        c.file_md = EVP_MD_CTX_new();

    if (!one_pass) {
        memcpy(m.digest, t.digest, sizeof(m.digest));
        m.files = t.files;
        m.entries = t.entries;
        m.bytes = t.bytes;
    }
    /* One pass: a placeholder head of the final size, replaced at the end. */
    rc = bk_archive__head_render(&m, created_sec, width, &head);
    if (rc == BK_OK && one_pass && lseek(out_fd, start + (off_t)head.len, SEEK_SET) < 0)
        rc = bk_error_set(BK_ERR, "cannot seek the output: %s", strerror(errno));
    if (rc == BK_OK && !one_pass && bk_write_all(out_fd, head.buf, head.len, -1))
        rc = bk_error_set(BK_ERR, "write failed: %s", strerror(errno));
    if (rc == BK_OK)
        rc = write_body(&c, &src, out_fd, opts, level, threads, &body_bytes);

    char digest[BK_DIGEST_HEX + 1];
    uint64_t files = c.d.files, entries = c.d.entries, bytes = c.d.bytes;
    bk_archive__digest_final(&c.d, digest);
    if (rc == BK_OK && one_pass) {
        size_t reserved = head.len;
        memcpy(m.digest, digest, sizeof(m.digest));
        m.files = files;
        m.entries = entries;
        m.bytes = bytes;
        rc = bk_archive__head_render(&m, created_sec, width, &head);
        if (rc == BK_OK && head.len != reserved)
            rc = bk_error_set(BK_ERR, "internal error: the manifest head changed size");
        if (rc == BK_OK && bk_write_all(out_fd, head.buf, head.len, start))
            rc = bk_error_set(BK_ERR, "write failed: %s", strerror(errno));
    } else if (rc == BK_OK && strcmp(digest, t.digest) != 0) {
        rc = bk_error_set(BK_ERR, "%s: the tree changed while packing", dir);
    }

    if (rc == BK_OK)
        bk_archive__stats_fill(st, &m, head.len + body_bytes, t0);
    if (rc == BK_OK && st && delta) {
        st->delta = 1;
        memcpy(st->parent, base.tree, sizeof(st->parent));
        memcpy(st->parent_layers, base.layers, base.nlayers * sizeof(*base.layers));
        st->nparent_layers = base.nlayers;
    }
    if (delta)
        bk_archive__base_release(&base);
    bk_strbuf_release(&c.line);
    EVP_MD_CTX_free(c.file_md);
    bk_strbuf_release(&head);
    free(m.created);
    free(c.buf);
    bk_strbuf_release(&c.full);
    bk_archive__tree_release(&t);
    if (one_pass)
        bk_archive__walk_close(&w);
    return rc;
}
