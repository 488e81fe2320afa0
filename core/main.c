/*
 * main.c - the bkcache program: everything happens in core/cli.c.
 */
#include "core/cli.h"

int main(int argc, char **argv)
{
    return bk_cli_main(argc, argv);
}
