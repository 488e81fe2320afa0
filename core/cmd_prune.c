/*
 * cmd_prune.c - `bkcache prune`. PLACEHOLDER: replaced by the issue that builds it.
 */
#include "core/cli.h"
#include "core/log.h"

int bk_cmd_prune(struct bk_options *o)
{
    (void)o;
    bk_error("prune: not implemented yet");
    return 1;
}
