/*
 * store_cli.c - open the store from the command-line options, and name it
 * for the state file (two stores must never share an entry); see cli.h.
 */
#include "core/cli/cli.h"

#include "core/store/store.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

int bk_store_open_cli(const struct bk_options *o, int read_only, int list_sizes,
                      struct bk_store **out)
{
    struct bk_store_opts so = {
        .provider = o->provider,
        .store = o->store,
        .attrs = &o->store_opts,
        .read_only = read_only,
        .list_sizes = list_sizes,
        .retries = -1,
        .delay_ms = -1,
    };
    return bk_store_open(&so, out);
}

char *bk_store_identity_cli(const struct bk_options *o, const struct bk_store *s)
{
    struct bk_strbuf id = BK_STRBUF_INIT;
    char real[PATH_MAX], hex[65];
    const char *provider = s                             ? bk_store_name(s)
                           : o->provider && *o->provider ? o->provider
                                                         : "auto";

    bk_strbuf_addf(&id, "%s\n", provider);
    if (o->store && realpath(o->store, real))
        bk_strbuf_addf(&id, "%s\n", real);
    else
        bk_strbuf_addf(&id, "%s\n", o->store ? o->store : "");
    for (size_t i = 0; i < o->store_opts.n; i++)
        bk_strbuf_addf(&id, "%s\n", o->store_opts.v[i]);
    bk_sha256_hex(id.buf, id.len, hex);
    hex[16] = '\0'; /* 64 bits name it well enough */
    bk_strbuf_release(&id);
    return bk_xasprintf("%s-%s", provider, hex);
}
