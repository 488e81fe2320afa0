/*
 * cmd_restore.c - `bkcache restore`: per cache identity, look up the key
 * and restore keys, download, verify and put the archive in place (--dir
 * DIR/<name>, or the builder), then record the outcome in the state file.
 *
 * Exit status: 0 (misses and store failures are warnings), 1 with
 * --fail-on-cache-miss when an identity did not hit exactly, or with
 * --fail-on-error when an operation failed; 2 for bad input.
 */
#include "core/cli/cli.h"
#include "core/util/log.h"
#include "core/cli/restore_cli.h"

int bk_cmd_restore(struct bk_options *o)
{
    struct bk_xfer_cli c;
    int rc = bk_xfer_cli_open(o, BK_XFER_CLI_RESTORE, NULL, &c);

    if (rc) {
        bk_xfer_cli_close(&c);
        return rc;
    }
    if (bk_xfer_cli_run(&c, BK_XFER_CLI_RESTORE) < 0) {
        bk_error("restore: %s", bk_error_msg());
        bk_xfer_cli_close(&c);
        return 1;
    }
    bk_xfer_print(&c.x, "restore", o->json);
    if (c.x.layers)
        bk_xfer_cli_layers_export(&c, o->json);
    rc = c.bad_input ? 2 : bk_xfer_exit_status(&c.x, o->fail_on_cache_miss, o->fail_on_error);
    bk_xfer_cli_close(&c);
    return rc;
}
