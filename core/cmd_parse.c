/*
 * cmd_parse.c - `bkcache parse`. PLACEHOLDER: replaced by the issue that builds it.
 */
#include "core/cli.h"
#include "core/log.h"

int bk_cmd_parse(struct bk_options *o)
{
    (void)o;
    bk_error("parse: not implemented yet");
    return 1;
}
