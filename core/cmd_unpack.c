/*
 * cmd_unpack.c - `bkcache unpack`. PLACEHOLDER: replaced by the issue that builds it.
 */
#include "core/cli.h"
#include "core/log.h"

int bk_cmd_unpack(struct bk_options *o)
{
    (void)o;
    bk_error("unpack: not implemented yet");
    return 1;
}
