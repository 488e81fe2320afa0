/*
 * cli.c - the command table and dispatch; see cli.h.
 *
 * The table is alphabetical. Each entry names the option groups the command
 * takes, so the shared parser rejects options that make no sense for it.
 */
#include "core/cli/cli.h"

#include "core/util/error.h"
#include "core/util/log.h"

#include <stdio.h>
#include <string.h>

#define DF BK_OPTG_DOCKERFILE
#define KEYS BK_OPTG_KEY
#define STORE BK_OPTG_STORE
#define XFER BK_OPTG_TRANSFER
#define BUILDER BK_OPTG_BUILDER
#define JSON BK_OPTG_JSON
#define LAYERS BK_OPTG_LAYERS
#define MANY BK_OPTG_PROJECTS

const struct bk_command bk_commands[] = {
    {"build", bk_cmd_build,
     KEYS | STORE | XFER | BUILDER | BK_OPTG_RUNS | LAYERS | BK_OPTG_BUILD | BK_OPTG_DELTA,
     "bkcache build [options] -- <build command>",
     "Restore the caches, run your build command, save the caches after it succeeds.",
     "The build command is `docker build ...`, `docker buildx build ...`, `buildctl build ...`,\n"
     "`docker compose build ...` or `docker buildx bake ...`; bkcache reads its Dockerfile,\n"
     "target, build args, platforms and builder from it (docs/compose-bake.md). Its output\n"
     "is unchanged and bkcache exits with its status. With --layers the layer cache goes\n"
     "along: its --cache-from/--cache-to (buildctl: --import-cache/--export-cache) are\n"
     "added after `build` and what the build exports is saved (docs/layer-cache.md).\n"},
    {"key", bk_cmd_key, DF | MANY | KEYS | JSON, "bkcache key [options]",
     "Print the cache key and restore keys of each cache identity.", NULL},
    {"ls", bk_cmd_ls, STORE | KEYS | JSON, "bkcache ls [options]",
     "List the store's entries (key, size, created, last used).", NULL},
    {"mounts", bk_cmd_mounts, DF | MANY | JSON, "bkcache mounts [options]",
     "List every cache mount the target's build uses, in build order.", NULL},
    {"pack", bk_cmd_pack, BK_OPTG_ARCHIVE | JSON, "bkcache pack [options] DIR ARCHIVE",
     "Pack a directory into a bkcache archive (tar + zstd); ARCHIVE - is stdout.",
     "Pack options:\n"
     "      --delta             a delta against DIR's base record (.bkcache-base, written by\n"
     "                          unpack --record) when the stack it names is short enough\n"
     "      --reproducible      bytes that depend on the tree alone (no key, no time)\n"},
    {"parse", bk_cmd_parse, DF, "bkcache parse [-f FILE]",
     "Print the Dockerfile's syntax tree in BuildKit's dump format.", NULL},
    {"plan", bk_cmd_plan, DF | MANY | KEYS | STORE | XFER | BUILDER | BK_OPTG_RUNS | LAYERS | JSON,
     "bkcache plan [options]",
     "Dry run: show mounts, keys, provider and builder, and what restore and save would do.", NULL},
    {"prune", bk_cmd_prune, STORE | BK_OPTG_PRUNE | BK_OPTG_RUNS | JSON, "bkcache prune [options]",
     "Remove store entries, least recently used first, down to the limits.", NULL},
    {"restore", bk_cmd_restore, DF | MANY | KEYS | STORE | XFER | BUILDER | LAYERS | JSON,
     "bkcache restore [options]",
     "Restore each cache identity from the store into the builder (or --dir).", NULL},
    {"save", bk_cmd_save,
     DF | MANY | KEYS | STORE | XFER | BUILDER | BK_OPTG_RUNS | LAYERS | BK_OPTG_DELTA | JSON,
     "bkcache save [options]",
     "Save each cache identity from the builder (or --dir) into the store.", NULL},
    {"unpack", bk_cmd_unpack, BK_OPTG_ARCHIVE | JSON, "bkcache unpack [options] ARCHIVE... DIR",
     "Verify and unpack a bkcache archive into DIR; ARCHIVE - is stdin.",
     "Several ARCHIVEs are a stack of layers, bottom first: a full archive, then\n"
     "deltas, unpacked in one verified pass.\n\n"
     "Unpack options:\n"
     "      --record L,...      the stored layers the ARCHIVEs are (sha256:HEX:SIZE:TREE\n"
     "                          each): DIR gets a base record for pack --delta\n"},
    {"version", bk_cmd_version, JSON, "bkcache version", "Print the version.", NULL},
    {NULL, NULL, 0, NULL, NULL, NULL},
};

int bk_cmd_version(struct bk_options *o)
{
    if (o->json)
        printf("{\"version\":\"%s\"}\n", BK_VERSION);
    else
        printf("bkcache %s\n", BK_VERSION);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bkcache <command> [options]\n\n"
               "Keep BuildKit cache mounts (RUN --mount=type=cache) across CI runs.\n\n"
               "Commands:\n");
    for (const struct bk_command *c = bk_commands; c->name; c++)
        fprintf(f, "  %-9s %s\n", c->name, c->summary);
    fprintf(f, "\nRun 'bkcache <command> --help' for a command's options.\n");
}

static const struct bk_command *find_command(const char *name)
{
    for (const struct bk_command *c = bk_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int bk_cli_main(int argc, char **argv)
{
    struct bk_options opts;
    const struct bk_command *cmd;
    int rc;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        argv[1] = "version";
    cmd = find_command(argv[1]);
    if (!cmd) {
        fprintf(stderr, "bkcache: '%s' is not a bkcache command (see 'bkcache --help')\n", argv[1]);
        return 2;
    }
    rc = bk_options_parse(cmd, argc - 2, argv + 2, &opts);
    if (rc == 1) {
        bk_options_release(&opts);
        return 0;
    }
    if (rc < 0) {
        bk_error("%s", bk_error_msg());
        bk_options_release(&opts);
        return 2;
    }
    rc = cmd->run(&opts);
    bk_options_release(&opts);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "bkcache: failed to write the output\n");
        return 1;
    }
    return rc;
}
