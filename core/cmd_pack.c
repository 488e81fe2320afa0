/*
 * cmd_pack.c - `bkcache pack`. PLACEHOLDER: replaced by the issue that builds it.
 */
#include "core/cli.h"
#include "core/log.h"

int bk_cmd_pack(struct bk_options *o)
{
    (void)o;
    bk_error("pack: not implemented yet");
    return 1;
}
