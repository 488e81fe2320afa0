/*
 * cmd_save.c - `bkcache save`. PLACEHOLDER: replaced by the issue that builds it.
 */
#include "core/cli.h"
#include "core/log.h"

int bk_cmd_save(struct bk_options *o)
{
    (void)o;
    bk_error("save: not implemented yet");
    return 1;
}
