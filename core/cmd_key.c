/*
 * cmd_key.c - `bkcache key`. PLACEHOLDER: replaced by the issue that builds it.
 */
#include "core/cli.h"
#include "core/log.h"

int bk_cmd_key(struct bk_options *o)
{
    (void)o;
    bk_error("key: not implemented yet");
    return 1;
}
