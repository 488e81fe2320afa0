/*
 * cmd_unpack.c - `bkcache unpack [--allow-special] [--record L,...] ARCHIVE... DIR`.
 *
 * Verifies and unpacks ARCHIVE ("-" is stdin) into DIR with
 * bk_archive_unpack_layers: DIR is created or replaced as a whole, only
 * after the digest and counts check out. Several ARCHIVEs are a stack of
 * layers, bottom first; --record (one stored layer per ARCHIVE) gives DIR a
 * base record. Exit 0, 1 for a bad or unreadable archive, 2 for bad usage.
 * Errors name the archive (the DIR for a stack: the message names the layer).
 */
#include "core/archive/archive_internal.h"
#include "core/cli/cli.h"
#include "core/util/error.h"
#include "core/util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static void close_all(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] != STDIN_FILENO)
            close(fds[i]);
}

int bk_cmd_unpack(struct bk_options *o)
{
    struct bk_unpack_opts uo = {0};
    struct bk_archive_stats st;
    struct bk_archive_layer record[BK_ARCHIVE_MAX_LAYERS];
    int fds[BK_ARCHIVE_MAX_LAYERS];
    size_t n = o->args.n ? o->args.n - 1 : 0, nrecord = 0, stdin_uses = 0;
    const char *archive, *dir;
    int rc;

    if (n < 1 || n > BK_ARCHIVE_MAX_LAYERS) {
        bk_error("unpack: expected ARCHIVE... (1 to %d) and DIR (see 'bkcache unpack --help')",
                 BK_ARCHIVE_MAX_LAYERS);
        return 2;
    }
    archive = o->args.v[0];
    dir = o->args.v[n];
    if (o->record &&
        (bk_archive__layers_parse(o->record, record, BK_ARCHIVE_MAX_LAYERS, &nrecord) ||
         (nrecord != n &&
          bk_error_set(BK_EINVAL, "--record names %zu layers for %zu archives", nrecord, n)))) {
        bk_error("unpack: %s", bk_error_msg());
        return 2;
    }
    for (size_t i = 0; i < n; i++)
        stdin_uses += strcmp(o->args.v[i], "-") == 0;
    if (stdin_uses > 1) {
        bk_error("unpack: only one ARCHIVE can be - (stdin)");
        return 2;
    }
    uo.allow_special = o->allow_special;
    for (size_t i = 0; i < n; i++) {
        const char *a = o->args.v[i];
        fds[i] = strcmp(a, "-") == 0 ? STDIN_FILENO : open(a, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            bk_error("%s: cannot open: %s", a, strerror(errno));
            close_all(fds, i);
            return 1;
        }
    }
    rc = bk_archive_unpack_layers(fds, n, dir, &uo, o->record ? record : NULL, nrecord, &st, NULL);
    close_all(fds, n);
    if (rc) {
        bk_error("%s: %s",
                 n > 1                  ? dir
                 : strcmp(archive, "-") ? archive
                                        : "<stdin>",
                 bk_error_msg());
        return rc == BK_EINVAL ? 2 : 1;
    }
    bk_archive__report("unpacked", dir, n > 1 ? o->args.v[n - 1] : archive, &st, o->json);
    return 0;
}
