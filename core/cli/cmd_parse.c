/*
 * cmd_parse.c - `bkcache parse [-f FILE]`: print the Dockerfile's syntax tree.
 *
 * The output is BuildKit's AST dump (dockerfile.h, bk_dockerfile_dump) plus
 * one "\n", so it can be compared byte for byte with BuildKit's parser
 * fixtures. `-f -` reads stdin. On a parse error nothing is printed on
 * stdout; stderr gets one line "bkcache: FILE:LINE: message" and the exit
 * status is 2 (bad input), as for a missing file.
 */
#include "core/cli/cli.h"
#include "core/dockerfile/dockerfile.h"
#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <stdio.h>

int bk_cmd_parse(struct bk_options *o)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    struct bk_dockerfile *df;
    int rc;

    if (o->args.n > 0) {
        bk_error("parse: unexpected argument '%s' (use -f FILE)", o->args.v[0]);
        return 2;
    }
    rc = bk_dockerfile_parse_file(o->file ? o->file : "Dockerfile", &df);
    if (rc < 0) {
        bk_error("%s", bk_error_msg());
        return 2;
    }
    bk_dockerfile_dump(df, &sb);
    bk_strbuf_addch(&sb, '\n');
    fwrite(sb.buf, 1, sb.len, stdout);
    bk_strbuf_release(&sb);
    bk_dockerfile_free(df);
    return 0;
}
