/*
 * cmd_plan.c - `bkcache plan`. PLACEHOLDER: replaced by the issue that builds it.
 */
#include "core/cli.h"
#include "core/log.h"

int bk_cmd_plan(struct bk_options *o)
{
    (void)o;
    bk_error("plan: not implemented yet");
    return 1;
}
