/*
 * cmd_mounts.c - `bkcache mounts`. PLACEHOLDER: replaced by the issue that builds it.
 */
#include "core/cli.h"
#include "core/log.h"

int bk_cmd_mounts(struct bk_options *o)
{
    (void)o;
    bk_error("mounts: not implemented yet");
    return 1;
}
