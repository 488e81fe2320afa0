/*
 * archive_fixture.c - helpers for the archive tests; see archive_fixture.h.
 */
#include "tests/unit/support/archive_fixture.h"

#include "core/archive/archive_internal.h"
#include "core/util/log.h"
#include "core/util/strvec.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *p = bk_xasprintf("%s/bk-test-XXXXXX", base && *base ? base : "/var/tmp");
    if (!mkdtemp(p))
        abort();
    return p;
}

void tu_write(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(content, 1, strlen(content), f) != strlen(content) || fclose(f) != 0)
        abort();
}

void tu_mkdir(const char *path)
{
    if (mkdir(path, 0755) != 0)
        abort();
}

int tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

void tu_rm_rf(const char *path)
{
    bk_archive__rm_rf(path);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sha_file(const char *path, char *hex)
{
    unsigned char md[32];
    struct stat st;
    if (lstat(path, &st) != 0 || bk_archive__hash_file(path, (uint64_t)st.st_size, md) != 0) {
        strcpy(hex, "?");
        return;
    }
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
}

static void xattrs_of(const char *path, struct bk_strbuf *out)
{
    char names[4096], val[4096];
    ssize_t n = llistxattr(path, names, sizeof(names));
    char *v[64];
    int cnt = 0;
    for (char *p = names; n > 0 && p < names + n && cnt < 64; p += strlen(p) + 1)
        if (strncmp(p, "user.", 5) == 0)
            v[cnt++] = p;
    qsort(v, (size_t)cnt, sizeof(*v), cmp_str);
    for (int i = 0; i < cnt; i++) {
        ssize_t len = lgetxattr(path, v[i], val, sizeof(val));
        bk_strbuf_addf(out, " %s=%.*s", v[i], (int)(len > 0 ? len : 0), val);
    }
}

static void fp_walk(const char *root, const char *rel, const char *skip, int with_xattrs,
                    struct bk_strvec *lines)
{
    char *dir = *rel ? bk_xasprintf("%s/%s", root, rel) : bk_xstrdup(root);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (!*rel && skip && strncmp(de->d_name, skip, strlen(skip)) == 0)
            continue;
        char *r = *rel ? bk_xasprintf("%s/%s", rel, de->d_name) : bk_xstrdup(de->d_name);
        char *full = bk_xasprintf("%s/%s", root, r);
        struct stat st;
        struct bk_strbuf line = BK_STRBUF_INIT;
        lstat(full, &st);
        bk_strbuf_addf(&line, "%s mode=%o uid=%u gid=%u nlink=%lu mtime=%lld.%09ld", r,
                       (unsigned)st.st_mode, (unsigned)st.st_uid, (unsigned)st.st_gid,
                       (unsigned long)st.st_nlink, (long long)st.st_mtim.tv_sec,
                       st.st_mtim.tv_nsec);
        if (S_ISREG(st.st_mode)) {
            char hex[65];
            sha_file(full, hex);
            bk_strbuf_addf(&line, " size=%lld sha=%s", (long long)st.st_size, hex);
        } else if (S_ISLNK(st.st_mode)) {
            char t[4096];
            ssize_t n = readlink(full, t, sizeof(t));
            bk_strbuf_addf(&line, " -> %.*s", (int)(n > 0 ? n : 0), t);
        }
        if (with_xattrs)
            xattrs_of(full, &line);
        bk_strvec_push(lines, line.buf);
        bk_strbuf_release(&line);
        if (S_ISDIR(st.st_mode))
            fp_walk(root, r, skip, with_xattrs, lines);
        free(r);
        free(full);
    }
    if (d)
        closedir(d);
    free(dir);
}

void tu_fingerprint(const char *dir, const char *skip_prefix, int with_xattrs,
                    struct bk_strbuf *out)
{
    struct bk_strvec lines = BK_STRVEC_INIT;
    fp_walk(dir, "", skip_prefix, with_xattrs, &lines);
    qsort(lines.v, lines.n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < lines.n; i++)
        bk_strbuf_addf(out, "%s\n", lines.v[i]);
    bk_strvec_clear(&lines);
}

void tu_listing(const char *dir, struct bk_strbuf *out)
{
    struct bk_strvec names = BK_STRVEC_INIT;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            bk_strvec_push(&names, de->d_name);
    if (d)
        closedir(d);
    qsort(names.v, names.n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < names.n; i++)
        bk_strbuf_addf(out, "%s\n", names.v[i]);
    bk_strvec_clear(&names);
}

/* ------------------------------------------------------------------ craft */

static unsigned member_mode(int type)
{
    return type == 'd' ? 0755 : type == 'l' ? 0777 : 0644;
}

static void member_rec(const struct tu_member *m, struct bk_archive_rec *r, unsigned char *hash)
{
    memset(r, 0, sizeof(*r));
    r->path = m->path;
    r->type = m->type == 'f'   ? BK_AT_FILE
              : m->type == 'd' ? BK_AT_DIR
              : m->type == 'l' ? BK_AT_SYMLINK
              : m->type == 'h' ? BK_AT_HARDLINK
                               : BK_AT_FIFO;
    r->mode = member_mode(m->type);
    r->mtime_sec = 1000000000;
    if (m->type == 'f') {
        const char *data = m->data ? m->data : "";
        r->size = strlen(data);
        EVP_Digest(data, strlen(data), hash, NULL, EVP_sha256(), NULL);
        r->content = hash;
    }
    if (m->type == 'l' || m->type == 'h')
        r->target = m->target;
}

static void write_member(struct archive *a, const char *path, int type, unsigned mode,
                         const char *data, const char *target)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type == 'd'   ? AE_IFDIR
                                  : type == 'l' ? AE_IFLNK
                                  : type == 'p' ? AE_IFIFO
                                                : AE_IFREG);
    archive_entry_set_perm(e, mode);
    archive_entry_set_mtime(e, 1000000000, 0);
    /* a whiteout with data is a hostile one (tests only) */
    int has_data = data && (type == 'f' || type == 'w');
    archive_entry_set_size(e, has_data ? (la_int64_t)strlen(data) : 0);
    if (type == 'l')
        archive_entry_set_symlink(e, target);
    if (type == 'h')
        archive_entry_set_hardlink(e, target);
    if (type == 'w') {
        archive_entry_set_perm(e, 0);
        archive_entry_set_mtime(e, 0, 0);
        archive_entry_xattr_add_entry(e, BK_ARCHIVE_WHITEOUT_XATTR, "1", 1);
    }
    if (archive_write_header(a, e) < ARCHIVE_WARN)
        abort();
    if (has_data)
        archive_write_data(a, data, strlen(data));
    archive_entry_free(e);
}

/* The manifest of `tree` (every member unless TU_BOMB), then `m`. */
static void craft(const char *file, const char *parent, const struct tu_member *tree, size_t ntree,
                  const struct tu_member *m, size_t n, int flags)
{
    struct bk_archive_digest d;
    struct bk_archive_manifest man;
    struct bk_strbuf json = BK_STRBUF_INIT;
    struct archive *a = archive_write_new();

    bk_archive__digest_init(&d);
    for (size_t i = 0; i < ntree; i++) {
        struct bk_archive_rec r;
        unsigned char hash[32];
        member_rec(&tree[i], &r, hash);
        if (i == 0 || !(flags & TU_BOMB))
            bk_archive__digest_add(&d, &r);
    }
    memset(&man, 0, sizeof(man));
    man.files = d.files;
    man.entries = d.entries + ((flags & TU_LYING_COUNTS) ? 1 : 0);
    man.bytes = d.bytes;
    bk_archive__digest_final(&d, man.digest);
    if (flags & TU_LYING_DIGEST)
        man.digest[0] = man.digest[0] == '0' ? '1' : '0';
    man.compression = "zstd";
    man.level = 3;
    man.parent = (char *)parent;
    bk_archive__manifest_write(&man, &json);

    archive_write_set_format_pax(a);
    archive_write_add_filter_zstd(a);
    if (archive_write_open_filename(a, file) != ARCHIVE_OK)
        abort();
    if (!(flags & TU_NO_MANIFEST))
        write_member(a, BK_ARCHIVE_MANIFEST_PATH, 'f', 0644, json.buf, NULL);
    for (size_t i = 0; i < n; i++)
        write_member(a, m[i].path, m[i].type, member_mode(m[i].type), m[i].data, m[i].target);
    archive_write_close(a);
    archive_write_free(a);
    bk_strbuf_release(&json);
}

void tu_craft(const char *file, const struct tu_member *m, size_t n, int flags)
{
    craft(file, NULL, m, n, m, n, flags);
}

void tu_craft_delta(const char *file, const char *parent, const struct tu_member *tree,
                    size_t ntree, const struct tu_member *m, size_t n)
{
    craft(file, parent, tree, ntree, m, n, 0);
}

size_t tu_members(const char *file, struct bk_strbuf *out)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    size_t n = 0;
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, file, 65536) != ARCHIVE_OK)
        abort();
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *name, *p = archive_entry_pathname(e);
        const void *v;
        size_t size;
        int w = 0;
        if (strcmp(p, BK_ARCHIVE_MANIFEST_PATH) == 0)
            continue;
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &v, &size) == ARCHIVE_OK)
            w |= strcmp(name, BK_ARCHIVE_WHITEOUT_XATTR) == 0;
        bk_strbuf_addf(out, "%s%s\n", p, w ? " W" : "");
        n++;
    }
    archive_read_free(a);
    return n;
}

int tu_pack_file(const char *dir, const char *file)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        abort();
    int rc = bk_archive_pack(dir, fd, NULL, NULL);
    close(fd);
    return rc;
}

int tu_unpack_file(const char *file, const char *dir, int allow_special, int replace_contents)
{
    struct bk_unpack_opts o = {0};
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        abort();
    o.allow_special = allow_special;
    o.replace_contents = replace_contents;
    int rc = bk_archive_unpack(fd, dir, &o, NULL, NULL);
    close(fd);
    return rc;
}

int tu_dirs_setup(void **state)
{
    struct tu_dirs *d = bk_xcalloc(1, sizeof(*d));
    d->base = tu_mkdtemp();
    d->src = bk_xasprintf("%s/src", d->base);
    d->out = bk_xasprintf("%s/out", d->base);
    d->target = bk_xasprintf("%s/target", d->base);
    d->archive = bk_xasprintf("%s/a.tzst", d->base);
    bk_log_verbosity = 0;
    *state = d;
    return 0;
}

int tu_dirs_teardown(void **state)
{
    struct tu_dirs *d = *state;
    tu_rm_rf(d->base);
    free(d->base);
    free(d->src);
    free(d->out);
    free(d->target);
    free(d->archive);
    free(d);
    return 0;
}
