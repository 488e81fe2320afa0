/*
 * archive_report.c - the result line of `bkcache pack` and `bkcache unpack`.
 *
 * Without --json: one line on stderr ("packed DIR into ARCHIVE: 12 files,
 * 3.4 MiB, sha256:..., 0.21 s"). With --json: one object on stdout with the
 * same facts (keys: command, dir, archive, files, entries, bytes,
 * archive_bytes, digest, seconds; for a delta also delta, parent and
 * layers, the stored layers below it), for scripts.
 */
#include "core/archive/archive_internal.h"

#include "core/util/log.h"

#include <inttypes.h>
#include <stdio.h>

void bk_archive__report(const char *command, const char *dir, const char *archive,
                        const struct bk_archive_stats *st, int json)
{
    if (json) {
        struct bk_strbuf sb = BK_STRBUF_INIT;
        bk_strbuf_adds(&sb, "{\"command\":");
        bk_archive__add_json_string(&sb, command);
        bk_strbuf_adds(&sb, ",\"dir\":");
        bk_archive__add_json_string(&sb, dir);
        bk_strbuf_adds(&sb, ",\"archive\":");
        bk_archive__add_json_string(&sb, archive);
        bk_strbuf_addf(&sb,
                       ",\"files\":%" PRIu64 ",\"entries\":%" PRIu64 ",\"bytes\":%" PRIu64
                       ",\"archive_bytes\":%" PRIu64 ",\"digest\":\"sha256:%s\",\"seconds\":%.3f",
                       st->files, st->entries, st->bytes, st->archive_bytes, st->digest,
                       st->seconds);
        if (st->delta) {
            bk_strbuf_addf(&sb, ",\"delta\":true,\"parent\":\"sha256:%s\",\"layers\":", st->parent);
            bk_archive__layers_json(st->parent_layers, st->nparent_layers, &sb);
        }
        bk_strbuf_addch(&sb, '}');
        puts(sb.buf);
        bk_strbuf_release(&sb);
        return;
    }
    int packing = command[0] == 'p';
    bk_info("%s %s into %s: %" PRIu64 " files, %" PRIu64 " bytes (%s %" PRIu64
            " bytes), sha256:%s, %.2f s",
            command, packing ? dir : archive, packing ? archive : dir, st->files, st->bytes,
            st->delta ? "a delta on the stack below it," : "archive", st->archive_bytes, st->digest,
            st->seconds);
    if (st->delta)
        bk_info("  parent sha256:%s, %zu layers below", st->parent, st->nparent_layers);
}
