/*
 * cmd_save.c - `bkcache save`: per cache identity, pack the cache (--dir
 * DIR/<name>, or the builder) and upload it, unless it is unchanged since
 * restore (state file) or an immutable store already holds the key.
 *
 * Exit status: 0 (a failed upload is a warning), 1 with --fail-on-error
 * when an operation failed; 2 for bad input.
 */
#include "core/cli/cli.h"
#include "core/util/log.h"
#include "core/cli/restore_cli.h"

int bk_cmd_save(struct bk_options *o)
{
    struct bk_xfer_cli c;
    int rc = bk_xfer_cli_open(o, BK_XFER_CLI_SAVE, NULL, &c);

    if (rc) {
        bk_xfer_cli_close(&c);
        return rc;
    }
    if (bk_xfer_cli_run(&c, BK_XFER_CLI_SAVE) < 0) {
        bk_error("save: %s", bk_error_msg());
        bk_xfer_cli_close(&c);
        return 1;
    }
    bk_xfer_print(&c.x, "save", o->json);
    rc = c.bad_input ? 2 : bk_xfer_exit_status(&c.x, 0, o->fail_on_error);
    bk_xfer_cli_close(&c);
    return rc;
}
