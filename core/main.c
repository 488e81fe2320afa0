/*
 * main.c - the bkcache program: everything happens in core/cli/cli.c.
 *
 * A stop signal received while a BuildKit client ran cancelled that build
 * (core/builder/builder_exec.c); once the command has left the caches whole,
 * bkcache stops with that signal, as it would have without the handler.
 */
#include "core/builder/builder.h"
#include "core/cli/cli.h"

#include <signal.h>

int main(int argc, char **argv)
{
    int rc = bk_cli_main(argc, argv), sig = bk_builder_cancelled();

    if (sig) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    return rc;
}
