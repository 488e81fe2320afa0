/*
 * cmd_pack.c - `bkcache pack [--compression-level N] [--delta] [--reproducible]
 * DIR ARCHIVE`.
 *
 * Packs DIR with bk_archive_pack. With --delta, against DIR's base record
 * (a delta when it is usable and its stack short enough; else full). ARCHIVE "-" is stdout;
 * otherwise the archive is written to a temporary file next to ARCHIVE and renamed over it when
 * complete, so a failed pack never leaves a partial archive. Exit 0, 1 on failure, 2 on bad usage
 * or a DIR that is not a directory.
 */
#include "core/archive/archive_internal.h"
#include "core/cli/cli.h"
#include "core/util/error.h"
#include "core/util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkostemp makes 0600 files; an archive gets the usual 0666 & ~umask. */
static mode_t file_mode(void)
{
    mode_t um = umask(0);
    umask(um);
    return 0666 & ~um;
}

int bk_cmd_pack(struct bk_options *o)
{
    struct bk_pack_opts po = {0};
    struct bk_archive_stats st;
    const char *dir, *archive;
    char *tmp = NULL, *record = NULL;
    int fd = STDOUT_FILENO, rc;

    if (o->args.n != 2) {
        bk_error("pack: expected DIR and ARCHIVE (see 'bkcache pack --help')");
        return 2;
    }
    dir = o->args.v[0];
    archive = o->args.v[1];
    po.level = o->compression_level;
    po.reproducible = o->reproducible;
    if (o->archive_delta)
        po.parent_record = record = bk_xasprintf("%s/%s", dir, BK_ARCHIVE_BASE_RECORD);
    if (strcmp(archive, "-") == 0) {
        if (o->json) {
            bk_error("pack: --json needs stdout, so ARCHIVE cannot be -");
            return 2;
        }
        if (isatty(STDOUT_FILENO)) {
            bk_error("pack: refusing to write an archive to a terminal");
            return 2;
        }
    } else {
        tmp = bk_xasprintf("%s.tmp-XXXXXX", archive);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
            bk_error("%s: cannot create: %s", archive, strerror(errno));
            free(tmp);
            return 1;
        }
    }
    rc = bk_archive_pack(dir, fd, &po, &st);
    free(record);
    if (tmp) {
        if (rc == BK_OK && (fsync(fd) != 0 || fchmod(fd, file_mode()) != 0))
            rc = bk_error_set(BK_ERR, "%s: %s", archive, strerror(errno));
        if (close(fd) != 0 && rc == BK_OK)
            rc = bk_error_set(BK_ERR, "%s: %s", archive, strerror(errno));
        if (rc == BK_OK && rename(tmp, archive) != 0)
            rc = bk_error_set(BK_ERR, "%s: %s", archive, strerror(errno));
        if (rc)
            unlink(tmp);
        free(tmp);
    }
    if (rc) {
        const char *msg = bk_error_msg();
        /* Output errors do not know the archive's name; input errors name
         * the file in DIR already. */
        if (strncmp(msg, "write failed", 12) == 0 || strncmp(msg, "zstd:", 5) == 0)
            bk_error("%s: %s", strcmp(archive, "-") ? archive : "<stdout>", msg);
        else
            bk_error("%s", msg);
        return rc == BK_EINVAL ? 2 : 1;
    }
    bk_archive__report("packed", dir, archive, &st, o->json);
    return 0;
}
