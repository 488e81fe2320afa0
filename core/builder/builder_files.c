/*
 * builder_files.c - file chores of the builder mountio; see builder_files.h.
 */
#include "core/builder/builder_files.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/strbuf.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static int copy_file(const char *src, const char *dst)
{
    int in, out, rc;
    struct stat st;

    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return bk_error_set(errno == ENOENT ? BK_ENOTFOUND : BK_ERR, "%s: %s", src,
                            strerror(errno));
    if (fstat(in, &st) != 0)
        st.st_mode = 0644;
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0777);
    if (out < 0) {
        rc = bk_error_set(BK_ERR, "%s: %s", dst, strerror(errno));
        close(in);
        return rc;
    }
    rc = bk_file_copy_fd(in, out, src);
    if (rc == BK_ESKIPPED)
        rc = BK_ERR; /* a full disk fails this transfer: it did not skip it */
    if (close(out) != 0 && rc == BK_OK)
        rc = bk_error_set(BK_ERR, "%s: %s", dst, strerror(errno));
    close(in);
    if (rc)
        unlink(dst);
    return rc;
}

int bk_bfiles_place(const char *src, const char *dir, const char *name)
{
    char *dst = bk_xasprintf("%s/%s", dir, name);
    int rc = BK_OK;

    if (link(src, dst) != 0)
        rc = copy_file(src, dst);
    free(dst);
    return rc;
}

int bk_bfiles_write(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    if (fwrite(data, 1, len, f) != len) {
        fclose(f);
        return bk_error_set(BK_ERR, "%s: write failed", path);
    }
    if (fclose(f) != 0)
        return bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    return BK_OK;
}

void bk_bfiles_nonce(char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];
    size_t n = (size - 1) / 2 + 1;

    if (n > sizeof(raw))
        n = sizeof(raw);
    if (getrandom(raw, n, 0) != (ssize_t)n) {
        unsigned long v = (unsigned long)getpid() ^ (unsigned long)time(NULL);
        memset(raw, 0, sizeof(raw));
        memcpy(raw, &v, sizeof(v));
    }
    for (size_t i = 0; i + 1 < size && i / 2 < n; i++)
        buf[i] = hex[(raw[i / 2] >> ((i % 2) ? 0 : 4)) & 15];
    buf[size - 1] = '\0';
}

int bk_bfiles_check_frames(int fd, const char *path, uint64_t *size_out)
{
    struct stat st;
    unsigned char *p;
    size_t size, pos = 0;
    int rc = BK_OK;

    if (fstat(fd, &st) != 0)
        return bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    size = (size_t)st.st_size;
    *size_out = size;
    if (size == 0)
        return bk_error_set(BK_ECORRUPT, "%s: corrupt archive: empty", path);
    p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return bk_error_set(BK_ERR, "%s: mmap: %s", path, strerror(errno));
    while (rc == BK_OK && pos < size) {
        size_t n = ZSTD_findFrameCompressedSize(p + pos, size - pos);
        uint32_t magic;

        if (ZSTD_isError(n)) {
            rc = bk_error_set(BK_ECORRUPT, "%s: corrupt archive at byte %zu: %s", path, pos,
                              ZSTD_getErrorName(n));
            break;
        }
        /* a whole frame holds at least its magic and one more byte; a zstd
         * frame's descriptor byte has the checksum flag in bit 2 */
        magic = (uint32_t)p[pos] | (uint32_t)p[pos + 1] << 8 | (uint32_t)p[pos + 2] << 16 |
                (uint32_t)p[pos + 3] << 24;
        if (magic == ZSTD_MAGICNUMBER && !(p[pos + 4] & 0x04))
            rc = bk_error_set(BK_ECORRUPT,
                              "%s: corrupt archive at byte %zu: a frame without a "
                              "checksum",
                              path, pos);
        pos += n;
    }
    munmap(p, size);
    return rc;
}

int bk_bfiles_read_manifest(int fd, const char *path, struct bk_bfiles_report *out)
{
    struct bk_archive_manifest m;
    struct stat st;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&m, 0, sizeof(m));
    if (lseek(fd, 0, SEEK_SET) != 0)
        return bk_error_set(BK_ERR, "%s: seek: %s", path, strerror(errno));
    rc = bk_archive_read_manifest(fd, &m);
    if (rc)
        return bk_error_wrap(BK_ECORRUPT, "%s", path);
    snprintf(out->status, sizeof(out->status), "ok");
    snprintf(out->digest, sizeof(out->digest), "%s", m.digest);
    out->files = m.files;
    out->entries = m.entries;
    out->bytes = m.bytes;
    if (fstat(fd, &st) == 0)
        out->archive_bytes = (uint64_t)st.st_size;
    bk_archive_manifest_release(&m);
    return BK_OK;
}

int bk_bfiles_check_archive(const char *path, struct bk_bfiles_report *out)
{
    uint64_t size;
    int fd, rc;

    memset(out, 0, sizeof(*out));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bk_error_set(errno == ENOENT ? BK_ENOTFOUND : BK_ERR, "%s: %s", path,
                            strerror(errno));
    rc = bk_bfiles_check_frames(fd, path, &size);
    if (rc == BK_OK)
        rc = bk_bfiles_read_manifest(fd, path, out);
    close(fd);
    return rc;
}

static uint64_t json_u64(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

/* A hex digest, with or without "sha256:", into hex (BK_DIGEST_HEX + 1). */
static int hex_digest(const cJSON *v, char *hex)
{
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;

    if (s && strncmp(s, "sha256:", 7) == 0)
        s += 7;
    if (!s || strlen(s) != BK_DIGEST_HEX || strspn(s, "0123456789abcdef") != BK_DIGEST_HEX)
        return BK_ERR;
    memcpy(hex, s, BK_DIGEST_HEX + 1);
    return BK_OK;
}

/* A delta's "parent" and "layers" (bottom first). */
static int parse_delta(const cJSON *root, const char *what, struct bk_bfiles_report *out)
{
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers"), *l;
    int n = cJSON_GetArraySize(layers);

    out->delta = 1;
    if (hex_digest(cJSON_GetObjectItemCaseSensitive(root, "parent"), out->parent) < 0 ||
        !cJSON_IsArray(layers) || n < 1 || n > BK_ARCHIVE_MAX_LAYERS - 1)
        return bk_error_set(BK_ERR, "%s: a delta without its parent and layers", what);
    cJSON_ArrayForEach(l, layers)
    {
        struct bk_archive_layer *d = &out->layers[out->nlayers++];
        const cJSON *dg = cJSON_GetObjectItemCaseSensitive(l, "digest");
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(l, "size");
        char hex[BK_DIGEST_HEX + 1];
        if (hex_digest(dg, hex) < 0 || strncmp(dg->valuestring, "sha256:", 7) != 0 ||
            !cJSON_IsNumber(size) || size->valuedouble < 1 ||
            hex_digest(cJSON_GetObjectItemCaseSensitive(l, "tree"), d->tree) < 0)
            return bk_error_set(BK_ERR, "%s: layer %zu of the delta is malformed", what,
                                out->nlayers);
        snprintf(d->digest, sizeof(d->digest), "sha256:%s", hex);
        d->size = (uint64_t)size->valuedouble;
    }
    if (strcmp(out->layers[out->nlayers - 1].tree, out->parent) != 0)
        return bk_error_set(BK_ERR, "%s: the delta's parent is not its top layer's tree", what);
    return BK_OK;
}

int bk_bfiles_parse_report(const char *text, const char *what, struct bk_bfiles_report *out)
{
    const cJSON *status, *digest, *msg;
    cJSON *root;

    memset(out, 0, sizeof(*out));
    root = cJSON_Parse(text);
    status = cJSON_GetObjectItemCaseSensitive(root, "status");
    digest = cJSON_GetObjectItemCaseSensitive(root, "digest");
    if (!cJSON_IsString(status) || !cJSON_IsString(digest) ||
        strlen(digest->valuestring) > BK_DIGEST_HEX) {
        cJSON_Delete(root);
        return bk_error_set(BK_ERR, "%s: malformed helper report", what);
    }
    snprintf(out->status, sizeof(out->status), "%s", status->valuestring);
    msg = cJSON_GetObjectItemCaseSensitive(root, "message");
    if (cJSON_IsString(msg))
        snprintf(out->message, sizeof(out->message), "%s", msg->valuestring);
    msg = cJSON_GetObjectItemCaseSensitive(root, "code");
    if (cJSON_IsString(msg))
        snprintf(out->code, sizeof(out->code), "%s", msg->valuestring);
    snprintf(out->digest, sizeof(out->digest), "%s", digest->valuestring);
    out->files = json_u64(root, "files");
    out->entries = json_u64(root, "entries");
    out->bytes = json_u64(root, "bytes");
    out->archive_bytes = json_u64(root, "archive_bytes");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "delta")) &&
        parse_delta(root, what, out) < 0) {
        cJSON_Delete(root);
        return BK_ERR;
    }
    cJSON_Delete(root);
    return BK_OK;
}

int bk_bfiles_find_helper(const char *given, char **out)
{
    char self[4096];
    ssize_t n;
    const char *env = getenv("BKCACHE_HELPER");

    *out = NULL;
    if (given && *given) {
        if (access(given, X_OK) != 0)
            return bk_error_set(BK_ENOTFOUND, "%s: no bkcache-helper there", given);
        *out = bk_xstrdup(given);
        return BK_OK;
    }
    if (env && *env) {
        if (access(env, X_OK) != 0)
            return bk_error_set(BK_ENOTFOUND, "BKCACHE_HELPER=%s: no bkcache-helper there", env);
        *out = bk_xstrdup(env);
        return BK_OK;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *path = bk_xasprintf("%s/bkcache-helper", dirname(self));
        if (access(path, X_OK) == 0) {
            *out = path;
            return BK_OK;
        }
        free(path);
    }
    return bk_error_set(BK_ENOTFOUND, "bkcache-helper not found next to bkcache (build it with "
                                      "make, or set BKCACHE_HELPER)");
}
