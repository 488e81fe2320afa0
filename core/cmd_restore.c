/*
 * cmd_restore.c - `bkcache restore`. PLACEHOLDER: replaced by the issue that builds it.
 */
#include "core/cli.h"
#include "core/log.h"

int bk_cmd_restore(struct bk_options *o)
{
    (void)o;
    bk_error("restore: not implemented yet");
    return 1;
}
