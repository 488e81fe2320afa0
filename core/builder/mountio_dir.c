/*
 * mountio_dir.c - the directory mountio: `--dir DIR`, no builder.
 *
 * Each cache identity lives in the directory DIR/<identity name> (the name
 * `bkcache mounts` shows). extract packs that directory into the item's
 * archive_path; a missing or empty directory is BK_ENOTFOUND for that item
 * (nothing worth saving). inject unpacks a downloaded archive into it with
 * the archive code's verification and atomic swap; a directory that already
 * holds data is left alone (BK_ESKIPPED) unless --force, the same rule the
 * builder mountio follows, so restore never clobbers a warm cache. The swap
 * is one rename, so a killed restore leaves the old directory whole, plus a
 * ".NAME.bkcache-*" sibling that the next unpack there removes. A layered
 * entry (item->nlayers) is unpacked with bk_archive_unpack_layers, which
 * writes the base record a later delta save packs against; an extract item
 * with `layer` packs reproducibly, with `delta` against that record. Tests only:
 * BKCACHE_TEST_HELPER_PAUSE stops the pack or unpack at a named point, as it stops
 * the helper in builder mode (core/archive/archive_pause.c).
 *
 * Per-item failures land in item->status with bk_error_msg() logged; the
 * batch itself only fails when DIR cannot be created.
 */
#include "core/builder/mountio.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dir_io {
    struct bk_mountio base;
    char *dir;
    struct bk_mountio_opts opts;
};

/* 1 when `path` is a directory with at least one entry, 0 when it is
 * missing or empty, an error when it is something else. */
static int dir_has_data(const char *path)
{
    struct dirent *de;
    DIR *d = opendir(path);
    int found = 0;

    if (!d) {
        if (errno == ENOENT)
            return 0;
        return bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    }
    while (!found && (de = readdir(d)))
        found = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return found;
}

static int extract_one(struct dir_io *io, struct bk_mountio_item *it)
{
    char *src = bk_xasprintf("%s/%s", io->dir, it->identity->name);
    char *record = bk_xasprintf("%s/" BK_ARCHIVE_BASE_RECORD, src);
    struct bk_pack_opts po = {
        .level = io->opts.compression_level,
        .key = it->layer ? NULL : it->key,
        .identity = it->layer ? NULL : it->identity->descriptor,
        .write_behind = 1, /* the archive goes to a store; a local one fsyncs it */
        .reproducible = it->layer,
        .parent_record = it->layer && it->delta ? record : NULL,
        .delta_max_layers = BK_DELTA_MAX_LAYERS,
        .delta_max_ratio = BK_DELTA_MAX_RATIO,
    };
    int fd, rc = dir_has_data(src);

    if (rc == 0)
        rc = bk_error_set(BK_ENOTFOUND, "%s: missing or empty, nothing to save", src);
    if (rc < 0)
        goto done;
    fd = open(it->archive_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = bk_error_set(BK_ERR, "%s: %s", it->archive_path, strerror(errno));
        goto done;
    }
    bk_archive_pause_from_env(&po.checkpoint, "BKCACHE_TEST_HELPER_PAUSE"); /* tests only */
    rc = bk_archive_pack(src, fd, &po, &it->stats);
    if (close(fd) != 0 && rc == BK_OK)
        rc = bk_error_set(BK_ERR, "%s: %s", it->archive_path, strerror(errno));
    if (rc < 0)
        bk_error_wrap(rc, "pack %s", src);
done:
    free(src);
    free(record);
    return rc;
}

static int dir_extract(struct bk_mountio *base, struct bk_mountio_item *items, size_t n)
{
    struct dir_io *io = (struct dir_io *)base;
    for (size_t i = 0; i < n; i++) {
        items[i].status = extract_one(io, &items[i]);
        if (items[i].status < 0 && items[i].status != BK_ENOTFOUND)
            bk_warn("warning: %s", bk_error_msg());
    }
    return BK_OK;
}

static int inject_one(struct dir_io *io, struct bk_mountio_item *it)
{
    char *dst = bk_xasprintf("%s/%s", io->dir, it->identity->name);
    struct bk_unpack_opts uo = {
        .allow_special = io->opts.allow_special,
        .keep_owner = geteuid() == 0,
        .expect_digest = it->nlayers ? it->expect_digest : NULL,
    };
    int fds[BK_ARCHIVE_MAX_LAYERS];
    size_t n = it->nlayers ? it->nlayers : 1, opened = 0;
    int rc = dir_has_data(dst);

    if (rc > 0 && !io->opts.force)
        rc = bk_error_set(BK_ESKIPPED, "%s: already holds data (use --force to replace it)", dst);
    if (rc < 0)
        goto done;
    if (n > BK_ARCHIVE_MAX_LAYERS) {
        rc = bk_error_set(BK_ECORRUPT, "%s: %zu layers, more than %d", dst, n,
                          BK_ARCHIVE_MAX_LAYERS);
        goto done;
    }
    for (; opened < n; opened++) {
        const char *path = it->nlayers ? it->layer_paths[opened] : it->archive_path;
        fds[opened] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[opened] < 0) {
            rc = bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
            goto done;
        }
    }
    bk_archive_pause_from_env(&uo.checkpoint, "BKCACHE_TEST_HELPER_PAUSE"); /* tests only */
    if (it->nlayers)
        rc = bk_archive_unpack_layers(fds, n, dst, &uo, it->layers, it->nlayers, &it->stats, NULL);
    else
        rc = bk_archive_unpack(fds[0], dst, &uo, &it->stats, NULL);
    if (rc < 0)
        bk_error_wrap(rc, "unpack into %s", dst);
done:
    while (opened > 0)
        close(fds[--opened]);
    free(dst);
    return rc;
}

static int dir_inject(struct bk_mountio *base, struct bk_mountio_item *items, size_t n)
{
    struct dir_io *io = (struct dir_io *)base;

    int rc = bk_mkdir_p(io->dir);

    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        items[i].status = inject_one(io, &items[i]);
        if (items[i].status < 0 && items[i].status != BK_ESKIPPED)
            bk_warn("warning: %s", bk_error_msg());
    }
    return BK_OK;
}

static void dir_destroy(struct bk_mountio *base)
{
    struct dir_io *io = (struct dir_io *)base;
    free(io->dir);
    free(io);
}

static const struct bk_mountio_ops k_dir_ops = {
    .name = "dir",
    .extract = dir_extract,
    .inject = dir_inject,
    .destroy = dir_destroy,
};

int bk_mountio_dir_create(const char *dir, const struct bk_mountio_opts *opts,
                          struct bk_mountio **out)
{
    struct dir_io *io;

    if (!dir || !*dir)
        return bk_error_set(BK_EINVAL, "--dir: empty directory name");
    io = bk_xcalloc(1, sizeof(*io));
    io->base.ops = &k_dir_ops;
    io->dir = bk_xstrdup(dir);
    if (opts)
        io->opts = *opts;
    *out = &io->base;
    return BK_OK;
}
