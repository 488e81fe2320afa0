/*
 * main.c - the bkcache program: everything happens in core/cli/cli.c.
 */
#include "core/cli/cli.h"

int main(int argc, char **argv)
{
    return bk_cli_main(argc, argv);
}
