/*
 * builder_export.c - reading what a transfer build exported; see
 * builder_files.h (bk_bfiles_read_export).
 *
 * A transfer build exports its result with `-o type=tar,dest=-`: a tar
 * stream on the client's stdout, read here while the client writes it, so
 * nothing is staged in a directory and copied again. The stream holds, per
 * cache k of the batch, `.bkcache/out/<k>.json` (the helper's report) and,
 * for a save, `.bkcache/out/<k>.tar.zst` (the cache's archive); other
 * members are ignored.
 *
 * Reports are kept in memory. Each archive is written straight to the file
 * its cache asked for, then checked without decompressing it: its zstd
 * frames must tile the file, each whole and with its checksum field
 * (bk_bfiles_check_frames), and its manifest must be readable; the caller
 * then compares manifest, size and digest with the helper's report. A cut
 * or misframed archive is removed and reported for its cache only; a
 * damaged or cut tar stream fails the whole batch (BK_ECORRUPT).
 *
 * Why not decode it all: on a
 * 2-CPU machine the export already keeps both CPUs busy (dockerd and the
 * client move the stream), and decoding 1 GiB took the export of W1 from
 * 5.6 s to 6-9 s. The archive was packed and digested by the helper with
 * the same archive code, and it reaches us over local sockets and pipes,
 * where what goes wrong is a stream cut short or out of step, which the
 * framing shows; a flipped bit inside compressed data would not show here,
 * and every restore's unpack, which verifies each frame's checksum before
 * it swaps anything into a cache, refuses such an entry.
 */
#include "core/builder/builder_files.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/strbuf.h"

#include "core/util/sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_PREFIX ".bkcache/out/"
#define REPORT_MAX (64 * 1024) /* a report is one short line of JSON */
#define READ_BLOCK (1 << 20)

enum member_kind { MEMBER_OTHER, MEMBER_REPORT, MEMBER_ARCHIVE };

/* Which member of which cache `path` is: OUT_PREFIX<k>.json or .tar.zst. */
static enum member_kind member_of(const char *path, size_t n, size_t *k)
{
    char *end;
    unsigned long v;

    while (path[0] == '.' && path[1] == '/')
        path += 2;
    while (path[0] == '/')
        path++;
    if (strncmp(path, OUT_PREFIX, strlen(OUT_PREFIX)) != 0)
        return MEMBER_OTHER;
    path += strlen(OUT_PREFIX);
    if (*path < '0' || *path > '9')
        return MEMBER_OTHER;
    errno = 0;
    v = strtoul(path, &end, 10);
    if (errno || v >= n)
        return MEMBER_OTHER;
    *k = (size_t)v;
    if (strcmp(end, ".json") == 0)
        return MEMBER_REPORT;
    if (strcmp(end, ".tar.zst") == 0)
        return MEMBER_ARCHIVE;
    return MEMBER_OTHER;
}

static int stream_error(struct archive *a)
{
    const char *why = archive_error_string(a);
    return bk_error_set(BK_ECORRUPT, "the build's exported output is damaged or cut short: %s",
                        why ? why : "unknown error");
}

static int read_report(struct archive *a, struct bk_bfiles_export_item *it, const char *member)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    char buf[4096];
    la_ssize_t got;

    while ((got = archive_read_data(a, buf, sizeof(buf))) > 0)
        if (sb.len < REPORT_MAX)
            bk_strbuf_add(&sb, buf, (size_t)got);
    if (got < 0) {
        bk_strbuf_release(&sb);
        return stream_error(a);
    }
    it->have_report = 1;
    if (bk_bfiles_parse_report(sb.len ? sb.buf : "", member, &it->report) != BK_OK) {
        snprintf(it->report.status, sizeof(it->report.status), "error");
        snprintf(it->report.message, sizeof(it->report.message), "%s", bk_error_msg());
    }
    bk_strbuf_release(&sb);
    return BK_OK;
}

static int write_all(int fd, const char *buf, size_t len, const char *path)
{
    if (bk_write_all(fd, buf, len, -1) < 0)
        return bk_error_set(BK_ERR, "%s: write: %s", path, strerror(errno));
    return BK_OK;
}

/* Copy the current member to it->archive_path, then check that its frames
 * are whole and read its manifest. The member is always read to its end
 * (the stream goes on); the cache's own failure goes to it->archive_status. */
static int read_archive(struct archive *a, struct bk_bfiles_export_item *it)
{
    const char *path = it->archive_path;
    const void *buf;
    size_t len;
    la_int64_t off;
    uint64_t written = 0, size = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int fd, rc = BK_OK, r;

    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        abort();

    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
        if (rc == BK_OK && (uint64_t)off != written)
            rc = bk_error_set(BK_ECORRUPT, "%s: the exported archive has a hole", path);
        if (rc == BK_OK)
            rc = write_all(fd, buf, len, path);
        if (rc == BK_OK && it->hash)
            EVP_DigestUpdate(md, buf, len);
        written += len;
    }
    if (rc == BK_OK && r == ARCHIVE_EOF)
        rc = bk_bfiles_check_frames(fd, path, &size);
    if (rc == BK_OK && r == ARCHIVE_EOF)
        rc = bk_bfiles_read_manifest(fd, path, &it->archive);
    if (fd >= 0 && close(fd) != 0 && rc == BK_OK)
        rc = bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    if (r != ARCHIVE_EOF && rc == BK_OK)
        rc = stream_error(a);
    it->archive_sha256[0] = '\0';
    if (rc == BK_OK && it->hash) {
        unsigned char hash[32];
        EVP_DigestFinal_ex(md, hash, NULL);
        bk_hex32(hash, it->archive_sha256);
    }
    EVP_MD_CTX_free(md);
    it->archive_status = rc;
    if (rc != BK_OK) {
        snprintf(it->archive_error, sizeof(it->archive_error), "%s", bk_error_msg());
        if (fd >= 0)
            unlink(path);
    }
    return r == ARCHIVE_EOF ? BK_OK : stream_error(a);
}

int bk_bfiles_read_export(int fd, struct bk_bfiles_export_item *items, size_t n)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    int rc = BK_OK, r = ARCHIVE_OK;

    for (size_t k = 0; k < n; k++) {
        items[k].have_report = 0;
        items[k].archive_status = BK_ENOTFOUND;
        items[k].archive_error[0] = '\0';
    }
    if (!a)
        return bk_error_set(BK_ERR, "out of memory reading the build's exported output");
    archive_read_support_format_tar(a);
    if (archive_read_open_fd(a, fd, READ_BLOCK) != ARCHIVE_OK) {
        rc = stream_error(a);
        archive_read_free(a);
        return rc;
    }
    while (rc == BK_OK && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *member = archive_entry_pathname(e);
        size_t k = 0;
        enum member_kind kind;

        if (!member || archive_entry_filetype(e) != AE_IFREG)
            continue;
        kind = member_of(member, n, &k);
        if (kind == MEMBER_REPORT)
            rc = read_report(a, &items[k], member);
        else if (kind == MEMBER_ARCHIVE && items[k].archive_path)
            rc = read_archive(a, &items[k]);
    }
    if (rc == BK_OK && r != ARCHIVE_EOF)
        rc = stream_error(a);
    archive_read_free(a);
    return rc;
}
