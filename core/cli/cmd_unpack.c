/*
 * cmd_unpack.c - `bkcache unpack [--allow-special] ARCHIVE DIR`.
 *
 * Verifies and unpacks ARCHIVE ("-" is stdin) into DIR with
 * bk_archive_unpack: DIR is created or replaced as a whole, only after the
 * digest and counts check out. Exit 0, 1 for a bad or unreadable archive,
 * 2 for bad usage. Errors name the archive.
 */
#include "core/archive/archive_internal.h"
#include "core/cli/cli.h"
#include "core/util/error.h"
#include "core/util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int bk_cmd_unpack(struct bk_options *o)
{
    struct bk_unpack_opts uo = {0};
    struct bk_archive_stats st;
    const char *archive, *dir;
    int fd = STDIN_FILENO, rc;

    if (o->args.n != 2) {
        bk_error("unpack: expected ARCHIVE and DIR (see 'bkcache unpack --help')");
        return 2;
    }
    archive = o->args.v[0];
    dir = o->args.v[1];
    uo.allow_special = o->allow_special;
    if (strcmp(archive, "-") != 0) {
        fd = open(archive, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            bk_error("%s: cannot open: %s", archive, strerror(errno));
            return 1;
        }
    }
    rc = bk_archive_unpack(fd, dir, &uo, &st, NULL);
    if (fd != STDIN_FILENO)
        close(fd);
    if (rc) {
        bk_error("%s: %s", strcmp(archive, "-") ? archive : "<stdin>", bk_error_msg());
        return rc == BK_EINVAL ? 2 : 1;
    }
    bk_archive__report("unpacked", dir, archive, &st, o->json);
    return 0;
}
