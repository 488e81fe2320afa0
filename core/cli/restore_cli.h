/*
 * restore_cli.h - what `restore`, `save`, `plan` and `build` share on the
 * command line: load the builds' plans and keys (one Dockerfile, or a
 * compose or bake project: core/cli/projset.h), pick the identities (--mount),
 * open the store, choose where the caches live (select_mountio() in
 * restore_cli.c: --dir now, the builder later), and find the state file.
 *
 * bk_xfer_cli_open() returns 0, or the exit status to end with (2: bad
 * input such as an unreadable Dockerfile, an unknown --mount name or
 * --provider). A store that cannot be opened is not bad input: x.store is
 * NULL, x.store_error says why, and each identity reports the failure.
 *
 * With --layers (or --layers-from) it also sets up the layer cache: its key
 * (bk_keys_layers), the other targets' restore keys, and the working
 * directory (--layers-dir, else $BKCACHE_LAYERS_DIR, else the state file's
 * path with "-layers" in place of ".json", so save finds what restore set
 * up). bk_xfer_cli_layers_export() hands the build arguments to the CI.
 */
#ifndef BK_RESTORE_CLI_H
#define BK_RESTORE_CLI_H

#include "core/cli/cli.h"
#include "core/xfer/restore.h"

struct bk_projset;
struct bk_buildspec_list;

struct bk_xfer_cli {
    struct bk_projset *set; /* the builds (one, or a compose/bake project's) and their caches */
    struct bk_xfer x;       /* items, store, mountio (NULL for plan), state path */
    char *state_path;
    char *store_id; /* x.store_id points here */
    char *store_error;
    char *mountio_desc;            /* "dir DIR", ... */
    struct bk_layers layers;       /* with --layers: x.layers points here */
    struct bk_options *group_opts; /* what each builder of several builds was opened with */
    int bad_input;                 /* some builds could not be read (reported): exit 2 */
};

enum bk_xfer_cli_mode {
    BK_XFER_CLI_RESTORE,
    BK_XFER_CLI_SAVE,
    BK_XFER_CLI_PLAN, /* read-only store, no mountio created */
};

/* `specs` (NULL: from the options) are the builds of `bkcache build`'s
 * command; they are taken over. */
int bk_xfer_cli_open(struct bk_options *o, enum bk_xfer_cli_mode mode,
                     struct bk_buildspec_list *specs, struct bk_xfer_cli *c);
void bk_xfer_cli_close(struct bk_xfer_cli *c);

/* Run the transfer `c` was opened for: the cache mounts, then the layer
 * cache when asked. < 0 (message set) only when the run itself could not
 * go on; cache misses and store failures are recorded per item. */
int bk_xfer_cli_run(struct bk_xfer_cli *c, enum bk_xfer_cli_mode mode);

/* Print the layer cache's build arguments as one line ("build-args: ...",
 * text output only) and pass them to later steps of the CI job
 * (core/cli/ci_export.c): GitHub's GITHUB_OUTPUT (layers-args) and
 * GITHUB_ENV, an Azure Pipelines variable (text output only: the logging
 * command goes to stdout), GitLab's dotenv report ($BKCACHE_OUTPUT, default
 * bkcache.env); each as BKCACHE_LAYERS_ARGS. Failures are warnings. */
void bk_xfer_cli_layers_export(const struct bk_xfer_cli *c, int json);

#endif
