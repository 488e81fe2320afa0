/*
 * cli.h - the command table and the options every command shares.
 *
 * core/cli/ is the top layer: the command table (cli.c), option parsing
 * (options.c), one handler per command (cmd_<name>.c), the glue that turns
 * options into a project (project.h: Dockerfile, plan, keys), a store
 * (store_cli.c), a builder (builder_cli.c) and a transfer (restore_cli.h).
 * Nothing below it sees struct bk_options.
 *
 * `bkcache <command> [options] [args]`. Each command is one entry in the
 * table in core/cli/cli.c and one handler in core/cli/cmd_<name>.c with the same
 * signature. An entry declares which option groups it accepts; the shared
 * parser (core/cli/options.c) fills one struct bk_options, rejects options the
 * command does not take, and leaves positional arguments in opts->args.
 *
 * Exit status: 0 success (a cache miss or a store failure too, unless the
 * user asked for failure), 1 a requested failure (--fail-on-cache-miss,
 * --fail-on-error) or an internal error, 2 bad input (usage, Dockerfile,
 * option values). Errors are one line on stderr: "bkcache: FILE:LINE: msg".
 * stdout carries results only.
 */
#ifndef BK_CLI_H
#define BK_CLI_H

#include "core/util/strvec.h"

#include <stdint.h>

enum bk_opt_group {
    BK_OPTG_DOCKERFILE = 1u << 0, /* -f, --target, --build-arg, --platform, --context */
    BK_OPTG_KEY = 1u << 1,        /* --key-prefix, --key-file, --key-extra */
    BK_OPTG_STORE = 1u << 2,      /* --provider, --store, --store-opt */
    BK_OPTG_TRANSFER = 1u << 3,   /* --dir, --mount, --state, --compression-level, --force,
                                     --allow-special, --fail-on-cache-miss, --fail-on-error,
                                     --lookup-only */
    BK_OPTG_BUILDER = 1u << 4,    /* --driver, --builder, --docker, --buildkit-addr */
    BK_OPTG_PRUNE = 1u << 5,      /* --max-size, --max-age, --keep */
    BK_OPTG_JSON = 1u << 6,       /* --json */
    BK_OPTG_ARCHIVE = 1u << 7,    /* --compression-level, --allow-special (pack/unpack);
                                     --delta, --reproducible (pack), --record (unpack) */
    BK_OPTG_RUNS = 1u << 8,       /* --keep-per-key (save, plan, prune) */
    BK_OPTG_LAYERS = 1u << 9,     /* --layers, --layers-from, --layers-dir */
    BK_OPTG_PROJECTS = 1u << 10,  /* --compose, --service, --bake, --bake-target */
    BK_OPTG_BUILD = 1u << 11,     /* --save-on-failure (build) */
    BK_OPTG_DELTA = 1u << 12,     /* --delta auto|off (save, build) */
};

/* Runs of one key that save keeps where the store can delete (docs/keys.md). */
#define BK_KEEP_PER_KEY_DEFAULT 3

struct bk_options {
    /* BK_OPTG_DOCKERFILE */
    const char *file; /* -f; default "Dockerfile" */
    const char *target;
    struct bk_strvec build_args;
    const char *platform;
    const char *context; /* build context directory; default: the Dockerfile's directory */
    /* BK_OPTG_PROJECTS: several builds at once (core/cli/projset.h) */
    struct bk_strvec compose;      /* --compose FILE: the files of one compose project */
    struct bk_strvec services;     /* --service S: only these services */
    struct bk_strvec bake;         /* --bake FILE: the files of one bake definition */
    struct bk_strvec bake_targets; /* --bake-target T: only these targets (or groups) */
    /* BK_OPTG_KEY */
    const char *key_prefix;
    struct bk_strvec key_files;
    struct bk_strvec key_extra;
    const char *run_id; /* --run-id; NULL: from $BKCACHE_RUN_ID, the CI or the clock */
    /* BK_OPTG_STORE */
    const char *provider; /* "auto" by default */
    const char *store;
    struct bk_strvec store_opts;
    /* BK_OPTG_TRANSFER */
    const char *dir;
    struct bk_strvec mounts; /* --mount NAME filters */
    const char *state;
    int compression_level; /* 0: default */
    int force, allow_special, fail_on_cache_miss, fail_on_error, lookup_only;
    int delta_off; /* --delta off: save plain archives, no layers (default: auto) */
    /* BK_OPTG_BUILDER */
    const char *driver; /* auto|buildx|docker|buildctl */
    const char *builder;
    const char *docker;
    const char *buildkit_addr;
    /* BK_OPTG_PRUNE */
    uint64_t max_size; /* bytes; 0: no limit */
    int64_t max_age;   /* seconds; 0: no limit */
    long keep;         /* -1: no limit */
    /* BK_OPTG_RUNS */
    long keep_per_key; /* -1: not given (save: BK_KEEP_PER_KEY_DEFAULT; prune: no limit) */
    /* BK_OPTG_LAYERS */
    int layers;                   /* --layers (also set by --layers-from) */
    struct bk_strvec layers_from; /* --layers-from TARGET */
    const char *layers_dir;       /* --layers-dir DIR */
    /* BK_OPTG_ARCHIVE: delta saves (docs/archive-format.md) */
    int archive_delta;  /* pack --delta: a delta against DIR's base record */
    int reproducible;   /* pack --reproducible */
    const char *record; /* unpack --record sha256:HEX:SIZE:TREE,... */
    /* BK_OPTG_JSON */
    int json;
    /* BK_OPTG_BUILD */
    int save_on_failure;
    /* positional arguments */
    struct bk_strvec args;
};

struct bk_command {
    const char *name;
    int (*run)(struct bk_options *opts);
    unsigned groups;     /* enum bk_opt_group */
    const char *usage;   /* "bkcache key [options]" */
    const char *summary; /* one line for `bkcache --help` */
    const char *help;    /* the command's own options, for `bkcache CMD --help` */
};

extern const struct bk_command bk_commands[];

/* Parse argv (after the command name) for `cmd` into opts. Returns 0, 1 when
 * --help was shown (exit 0), or BK_EINVAL with a message. */
int bk_options_parse(const struct bk_command *cmd, int argc, char **argv, struct bk_options *opts);
void bk_options_release(struct bk_options *opts);

struct bk_store;

/* Open the store named by --provider/--store/--store-opt (core/cli/store_cli.c).
 * list_sizes: ls and prune, which show and weigh sizes (bk_store_opts). */
int bk_store_open_cli(const struct bk_options *o, int read_only, int list_sizes,
                      struct bk_store **out);

struct bk_mountio;

/* The builder mountio for restore/save options (core/cli/builder_cli.c) without --dir: probe the
 * driver chosen by --driver and create the mountio. *desc (caller frees)
 * says which builder, or why none. When no builder can be used, the
 * mountio fails every batch with that explanation (so the caller reports
 * it per cache); BK_EINVAL only for an unknown --driver. With out == NULL
 * (plan) only probe and describe. */
/* The store's identity for the state file: "<provider>-<16 hex>", the hash
 * covering the provider, --store (a directory by its real path) and the
 * --store-opt words. `s` may be NULL (the store did not open). Caller frees. */
struct bk_store;
char *bk_store_identity_cli(const struct bk_options *o, const struct bk_store *s);

int bk_builder_mountio_open(const struct bk_options *o, struct bk_mountio **out, char **desc);

/* Can the user's build, through the builder these options choose, export a
 * layer cache (--cache-to type=local)? BK_OK, or BK_ESKIPPED with a one-line
 * explanation of what to switch on (core/cli/builder_cli.c). */
int bk_builder_layers_check(const struct bk_options *o);

int bk_cli_main(int argc, char **argv);

/* Command handlers: core/cmd_<name>.c */
int bk_cmd_parse(struct bk_options *o);
int bk_cmd_mounts(struct bk_options *o);
int bk_cmd_key(struct bk_options *o);
int bk_cmd_plan(struct bk_options *o);
int bk_cmd_save(struct bk_options *o);
int bk_cmd_restore(struct bk_options *o);
int bk_cmd_ls(struct bk_options *o);
int bk_cmd_prune(struct bk_options *o);
int bk_cmd_pack(struct bk_options *o);
int bk_cmd_unpack(struct bk_options *o);
int bk_cmd_version(struct bk_options *o);
int bk_cmd_build(struct bk_options *o);

#endif
