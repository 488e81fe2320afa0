/*
 * cmd_ls.c - `bkcache ls`. PLACEHOLDER: replaced by the issue that builds it.
 */
#include "core/cli.h"
#include "core/log.h"

int bk_cmd_ls(struct bk_options *o)
{
    (void)o;
    bk_error("ls: not implemented yet");
    return 1;
}
