/*
 * store_cli.c - open the store from the command-line options; see cli.h.
 */
#include "core/cli/cli.h"

#include "core/store/store.h"

int bk_store_open_cli(const struct bk_options *o, int read_only, struct bk_store **out)
{
    struct bk_store_opts so = {
        .provider = o->provider,
        .store = o->store,
        .attrs = &o->store_opts,
        .read_only = read_only,
        .retries = -1,
        .delay_ms = -1,
    };
    return bk_store_open(&so, out);
}
