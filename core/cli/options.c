/*
 * options.c - the option parser shared by every command; see cli.h.
 *
 * Accepts `--name value`, `--name=value` and short `-f value`. A value that
 * looks like an option ("--x") is rejected for options that need one, so a
 * forgotten value does not swallow the next flag. `--` ends the options.
 */
#include "core/cli/cli.h"

#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/numparse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_id {
    O_FILE,
    O_TARGET,
    O_BUILD_ARG,
    O_PLATFORM,
    O_CONTEXT,
    O_COMPOSE,
    O_SERVICE,
    O_BAKE,
    O_BAKE_TARGET,
    O_SAVE_ON_FAILURE,
    O_KEY_PREFIX,
    O_KEY_FILE,
    O_KEY_EXTRA,
    O_RUN_ID,
    O_KEEP_PER_KEY,
    O_PROVIDER,
    O_STORE,
    O_STORE_OPT,
    O_DIR,
    O_MOUNT,
    O_STATE,
    O_LEVEL,
    O_FORCE,
    O_ALLOW_SPECIAL,
    O_FAIL_MISS,
    O_FAIL_ERROR,
    O_LOOKUP_ONLY,
    O_DELTA,
    O_DRIVER,
    O_BUILDER,
    O_DOCKER,
    O_BUILDKIT_ADDR,
    O_MAX_SIZE,
    O_MAX_AGE,
    O_KEEP,
    O_LAYERS,
    O_LAYERS_FROM,
    O_LAYERS_DIR,
    O_ARCHIVE_DELTA,
    O_REPRODUCIBLE,
    O_RECORD,
    O_JSON,
    O_VERBOSE,
    O_QUIET,
    O_HELP,
};

struct opt_spec {
    const char *name;
    char short_name;
    int has_arg;
    unsigned groups; /* 0: every command */
    enum opt_id id;
};

static const struct opt_spec k_opts[] = {
    {"file", 'f', 1, BK_OPTG_DOCKERFILE, O_FILE},
    {"target", 0, 1, BK_OPTG_DOCKERFILE, O_TARGET},
    {"build-arg", 0, 1, BK_OPTG_DOCKERFILE, O_BUILD_ARG},
    {"platform", 0, 1, BK_OPTG_DOCKERFILE, O_PLATFORM},
    {"context", 0, 1, BK_OPTG_DOCKERFILE, O_CONTEXT},
    {"compose", 0, 1, BK_OPTG_PROJECTS, O_COMPOSE},
    {"service", 0, 1, BK_OPTG_PROJECTS, O_SERVICE},
    {"bake", 0, 1, BK_OPTG_PROJECTS, O_BAKE},
    {"bake-target", 0, 1, BK_OPTG_PROJECTS, O_BAKE_TARGET},
    {"save-on-failure", 0, 0, BK_OPTG_BUILD, O_SAVE_ON_FAILURE},
    {"key-prefix", 0, 1, BK_OPTG_KEY, O_KEY_PREFIX},
    {"key-file", 0, 1, BK_OPTG_KEY, O_KEY_FILE},
    {"key-extra", 0, 1, BK_OPTG_KEY, O_KEY_EXTRA},
    {"run-id", 0, 1, BK_OPTG_KEY, O_RUN_ID},
    {"keep-per-key", 0, 1, BK_OPTG_RUNS, O_KEEP_PER_KEY},
    {"provider", 0, 1, BK_OPTG_STORE, O_PROVIDER},
    {"store", 0, 1, BK_OPTG_STORE, O_STORE},
    {"store-opt", 0, 1, BK_OPTG_STORE, O_STORE_OPT},
    {"dir", 0, 1, BK_OPTG_TRANSFER, O_DIR},
    {"mount", 0, 1, BK_OPTG_TRANSFER, O_MOUNT},
    {"state", 0, 1, BK_OPTG_TRANSFER, O_STATE},
    {"compression-level", 0, 1, BK_OPTG_TRANSFER | BK_OPTG_ARCHIVE, O_LEVEL},
    {"force", 0, 0, BK_OPTG_TRANSFER, O_FORCE},
    {"allow-special", 0, 0, BK_OPTG_TRANSFER | BK_OPTG_ARCHIVE, O_ALLOW_SPECIAL},
    {"fail-on-cache-miss", 0, 0, BK_OPTG_TRANSFER, O_FAIL_MISS},
    {"fail-on-error", 0, 0, BK_OPTG_TRANSFER, O_FAIL_ERROR},
    {"lookup-only", 0, 0, BK_OPTG_TRANSFER, O_LOOKUP_ONLY},
    {"delta", 0, 1, BK_OPTG_DELTA, O_DELTA},
    {"driver", 0, 1, BK_OPTG_BUILDER, O_DRIVER},
    {"builder", 0, 1, BK_OPTG_BUILDER, O_BUILDER},
    {"docker", 0, 1, BK_OPTG_BUILDER, O_DOCKER},
    {"buildkit-addr", 0, 1, BK_OPTG_BUILDER, O_BUILDKIT_ADDR},
    {"max-size", 0, 1, BK_OPTG_PRUNE, O_MAX_SIZE},
    {"max-age", 0, 1, BK_OPTG_PRUNE, O_MAX_AGE},
    {"keep", 0, 1, BK_OPTG_PRUNE, O_KEEP},
    {"layers", 0, 0, BK_OPTG_LAYERS, O_LAYERS},
    {"layers-from", 0, 1, BK_OPTG_LAYERS, O_LAYERS_FROM},
    {"layers-dir", 0, 1, BK_OPTG_LAYERS, O_LAYERS_DIR},
    {"delta", 0, 0, BK_OPTG_ARCHIVE, O_ARCHIVE_DELTA},
    {"reproducible", 0, 0, BK_OPTG_ARCHIVE, O_REPRODUCIBLE},
    {"record", 0, 1, BK_OPTG_ARCHIVE, O_RECORD},
    {"json", 0, 0, BK_OPTG_JSON, O_JSON},
    {"verbose", 'v', 0, 0, O_VERBOSE},
    {"quiet", 'q', 0, 0, O_QUIET},
    {"help", 'h', 0, 0, O_HELP},
};

#define NOPTS (sizeof(k_opts) / sizeof(k_opts[0]))

static void print_help(const struct bk_command *cmd)
{
    printf("usage: %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->help && *cmd->help)
        printf("\n%s", cmd->help);
    if (cmd->groups & BK_OPTG_DOCKERFILE)
        printf("\nDockerfile options:\n"
               "  -f, --file PATH         Dockerfile to read (default ./Dockerfile; - for stdin)\n"
               "      --target NAME       stage to build (default: the last stage)\n"
               "      --build-arg K=V     build argument (repeatable)\n"
               "      --platform P        target platform os/arch[/variant] (default linux/<host "
               "arch>)\n"
               "      --context DIR       build context (default: the Dockerfile's directory)\n");
    if (cmd->groups & BK_OPTG_PROJECTS)
        printf("\nSeveral images at once (docs/compose-bake.md):\n"
               "      --compose FILE      every build of a compose project (repeatable: -f)\n"
               "      --service S         only this service (repeatable)\n"
               "      --bake FILE         every build of a bake file (repeatable: -f)\n"
               "      --bake-target T     only this target or group (repeatable)\n");
    if (cmd->groups & BK_OPTG_BUILD)
        printf("\nBuild options:\n"
               "      --save-on-failure   save the caches after a failed build too\n");
    if (cmd->groups & BK_OPTG_KEY)
        printf("\nKey options:\n"
               "      --key-prefix S      first part of every key (default bkcache)\n"
               "      --key-file GLOB     hash these files into the keys (repeatable)\n"
               "      --key-extra S       hash this string into the keys (repeatable)\n"
               "      --run-id ID         last part of saved keys (default $BKCACHE_RUN_ID,\n"
               "                          the CI run's id, else the time)\n");
    if (cmd->groups & BK_OPTG_STORE)
        printf("\nStore options:\n"
               "      --provider NAME     auto (default), local, ...\n"
               "      --store PATH|URL    where the store is (provider-specific)\n"
               "      --store-opt K=V     provider option (repeatable)\n");
    if (cmd->groups & BK_OPTG_TRANSFER)
        printf("\nTransfer options:\n"
               "      --dir DIR           caches are the directories DIR/<name>, no builder\n"
               "      --mount NAME        only this identity (repeatable)\n"
               "      --state FILE        restore/save state file\n"
               "      --compression-level N  zstd level 1..19 (default 3)\n"
               "      --force             inject even when the builder's cache holds data\n"
               "      --allow-special     keep device nodes and FIFOs\n"
               "      --lookup-only       look up, do not download\n"
               "      --fail-on-cache-miss  exit 1 unless every identity hit exactly\n"
               "      --fail-on-error     exit 1 when the store or builder fails\n");
    else if (cmd->groups & BK_OPTG_ARCHIVE)
        printf("\nArchive options:\n"
               "      --compression-level N  zstd level 1..19 (default 3)\n"
               "      --allow-special     keep device nodes and FIFOs\n");
    if (cmd->groups & BK_OPTG_DELTA)
        printf("\nDelta saves (docs/delta-saves.md):\n"
               "      --delta auto|off    auto (default): store each cache as layer blobs, a\n"
               "                          save uploading only what changed since the restore;\n"
               "                          off: one whole archive per save, as before\n");
    if (cmd->groups & BK_OPTG_BUILDER)
        printf("\nBuilder options:\n"
               "      --driver NAME       auto (default), buildx, docker, buildctl\n"
               "      --builder NAME      buildx builder (default: the current one)\n"
               "      --docker PATH       docker client binary\n"
               "      --buildkit-addr A   buildctl address (default $BUILDKIT_HOST)\n");
    if (cmd->groups & BK_OPTG_PRUNE)
        printf("\nPrune options:\n"
               "      --max-size SIZE     keep the store under SIZE (10G, 500M)\n"
               "      --max-age AGE       remove entries unused for AGE (7d, 12h)\n"
               "      --keep N            keep at most N entries\n");
    if (cmd->groups & BK_OPTG_RUNS)
        printf("\nRuns of a key:\n"
               "      --keep-per-key N    keep the N newest runs of each key (save: default %d,\n"
               "                          where the store can delete; 0 keeps all)\n",
               BK_KEEP_PER_KEY_DEFAULT);
    if (cmd->groups & BK_OPTG_LAYERS)
        printf("\nLayer cache options (BuildKit's instruction cache, beside the mounts):\n"
               "      --layers            also move the layer cache (--cache-from/--cache-to "
               "type=local)\n"
               "      --layers-from T     also import target T's layer cache (repeatable; "
               "implies --layers)\n"
               "      --layers-dir DIR    where its OCI layouts live (default: beside the state "
               "file)\n");
    if (cmd->groups & BK_OPTG_JSON)
        printf("\n      --json              machine-readable output on stdout\n");
    printf("  -v, --verbose / -q, --quiet   more / less on stderr\n");
}

/* The option named so, preferring the one that applies to cmd: one name may
 * mean different things to different commands (pack's --delta is a switch). */
static const struct opt_spec *find_long(const struct bk_command *cmd, const char *name, size_t n)
{
    const struct opt_spec *any = NULL;
    for (size_t i = 0; i < NOPTS; i++) {
        if (strlen(k_opts[i].name) != n || strncmp(k_opts[i].name, name, n) != 0)
            continue;
        if (!k_opts[i].groups || (k_opts[i].groups & cmd->groups))
            return &k_opts[i];
        if (!any)
            any = &k_opts[i];
    }
    return any;
}

static const struct opt_spec *find_short(char c)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (k_opts[i].short_name == c)
            return &k_opts[i];
    return NULL;
}

static int apply(const struct opt_spec *o, const char *v, struct bk_options *opts)
{
    long n;
    switch (o->id) {
    case O_FILE: opts->file = v; break;
    case O_TARGET: opts->target = v; break;
    case O_BUILD_ARG:
        if (!strchr(v, '=') || v[0] == '=')
            return bk_error_set(BK_EINVAL, "--build-arg: expected KEY=VALUE, got '%s'", v);
        bk_strvec_push(&opts->build_args, v);
        break;
    case O_PLATFORM: opts->platform = v; break;
    case O_CONTEXT: opts->context = v; break;
    case O_COMPOSE: bk_strvec_push(&opts->compose, v); break;
    case O_SERVICE: bk_strvec_push(&opts->services, v); break;
    case O_BAKE: bk_strvec_push(&opts->bake, v); break;
    case O_BAKE_TARGET: bk_strvec_push(&opts->bake_targets, v); break;
    case O_SAVE_ON_FAILURE: opts->save_on_failure = 1; break;
    case O_KEY_PREFIX: opts->key_prefix = v; break;
    case O_KEY_FILE: bk_strvec_push(&opts->key_files, v); break;
    case O_KEY_EXTRA: bk_strvec_push(&opts->key_extra, v); break;
    case O_RUN_ID: opts->run_id = v; break;
    case O_KEEP_PER_KEY:
        if (bk_parse_long("--keep-per-key", v, 0, 1000000000L, &n))
            return BK_EINVAL;
        opts->keep_per_key = n;
        break;
    case O_PROVIDER: opts->provider = v; break;
    case O_STORE: opts->store = v; break;
    case O_STORE_OPT:
        if (!strchr(v, '='))
            return bk_error_set(BK_EINVAL, "--store-opt: expected KEY=VALUE, got '%s'", v);
        bk_strvec_push(&opts->store_opts, v);
        break;
    case O_DIR: opts->dir = v; break;
    case O_MOUNT: bk_strvec_push(&opts->mounts, v); break;
    case O_STATE: opts->state = v; break;
    case O_LEVEL:
        if (bk_parse_long("--compression-level", v, 1, 19, &n))
            return BK_EINVAL;
        opts->compression_level = (int)n;
        break;
    case O_FORCE: opts->force = 1; break;
    case O_ALLOW_SPECIAL: opts->allow_special = 1; break;
    case O_FAIL_MISS: opts->fail_on_cache_miss = 1; break;
    case O_FAIL_ERROR: opts->fail_on_error = 1; break;
    case O_LOOKUP_ONLY: opts->lookup_only = 1; break;
    case O_DELTA:
        if (strcmp(v, "auto") != 0 && strcmp(v, "off") != 0)
            return bk_error_set(BK_EINVAL, "--delta: expected auto or off, got '%s'", v);
        opts->delta_off = strcmp(v, "off") == 0;
        break;
    case O_DRIVER: opts->driver = v; break;
    case O_BUILDER: opts->builder = v; break;
    case O_DOCKER: opts->docker = v; break;
    case O_BUILDKIT_ADDR: opts->buildkit_addr = v; break;
    case O_MAX_SIZE:
        if (bk_parse_size(v, &opts->max_size))
            return bk_error_wrap(BK_EINVAL, "--max-size");
        break;
    case O_MAX_AGE:
        if (bk_parse_duration(v, &opts->max_age))
            return bk_error_wrap(BK_EINVAL, "--max-age");
        break;
    case O_KEEP:
        if (bk_parse_long("--keep", v, 0, 1000000000L, &n))
            return BK_EINVAL;
        opts->keep = n;
        break;
    case O_LAYERS: opts->layers = 1; break;
    case O_LAYERS_FROM:
        opts->layers = 1;
        bk_strvec_push(&opts->layers_from, v);
        break;
    case O_LAYERS_DIR: opts->layers_dir = v; break;
    case O_ARCHIVE_DELTA: opts->archive_delta = 1; break;
    case O_REPRODUCIBLE: opts->reproducible = 1; break;
    case O_RECORD: opts->record = v; break;
    case O_JSON: opts->json = 1; break;
    case O_VERBOSE: bk_log_verbosity++; break;
    case O_QUIET:
        if (bk_log_verbosity > 0)
            bk_log_verbosity--;
        break;
    case O_HELP: break;
    }
    return BK_OK;
}

int bk_options_parse(const struct bk_command *cmd, int argc, char **argv, struct bk_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->build_args = (struct bk_strvec)BK_STRVEC_INIT;
    opts->key_files = (struct bk_strvec)BK_STRVEC_INIT;
    opts->key_extra = (struct bk_strvec)BK_STRVEC_INIT;
    opts->store_opts = (struct bk_strvec)BK_STRVEC_INIT;
    opts->mounts = (struct bk_strvec)BK_STRVEC_INIT;
    opts->layers_from = (struct bk_strvec)BK_STRVEC_INIT;
    opts->compose = opts->services = (struct bk_strvec)BK_STRVEC_INIT;
    opts->bake = opts->bake_targets = (struct bk_strvec)BK_STRVEC_INIT;
    opts->args = (struct bk_strvec)BK_STRVEC_INIT;
    opts->file = "Dockerfile";
    opts->provider = "auto";
    opts->driver = "auto";
    opts->keep = -1;
    opts->keep_per_key = -1;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const struct opt_spec *o = NULL;
        const char *v = NULL;

        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                bk_strvec_push(&opts->args, argv[i]);
            break;
        }
        if (a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            o = find_long(cmd, a + 2, n);
            if (!o)
                return bk_error_set(BK_EINVAL,
                                    "%s: unknown option '%.*s' (see 'bkcache %s --help')",
                                    cmd->name, (int)(n + 2), a, cmd->name);
            if (eq) {
                if (!o->has_arg)
                    return bk_error_set(BK_EINVAL, "%s: option '--%s' takes no value", cmd->name,
                                        o->name);
                v = eq + 1;
            }
        } else if (a[0] == '-' && a[1] && a[1] != '-' && strcmp(a, "-") != 0) {
            o = find_short(a[1]);
            if (!o)
                return bk_error_set(BK_EINVAL, "%s: unknown option '-%c' (see 'bkcache %s --help')",
                                    cmd->name, a[1], cmd->name);
            if (a[2]) {
                if (!o->has_arg)
                    return bk_error_set(BK_EINVAL, "%s: unknown option '%s'", cmd->name, a);
                v = a + 2;
            }
        } else {
            bk_strvec_push(&opts->args, a);
            continue;
        }
        if (o->groups && !(o->groups & cmd->groups))
            return bk_error_set(BK_EINVAL, "%s: option '--%s' does not apply to this command",
                                cmd->name, o->name);
        if (o->id == O_HELP) {
            print_help(cmd);
            return 1;
        }
        if (o->has_arg && !v) {
            if (i + 1 >= argc)
                return bk_error_set(BK_EINVAL, "%s: option '--%s' needs a value", cmd->name,
                                    o->name);
            v = argv[++i];
            if (v[0] == '-' && v[1] == '-')
                return bk_error_set(BK_EINVAL, "%s: option '--%s' needs a value, got '%s'",
                                    cmd->name, o->name, v);
        }
        if (apply(o, v, opts))
            return BK_EINVAL;
    }
    return BK_OK;
}

void bk_options_release(struct bk_options *opts)
{
    bk_strvec_clear(&opts->build_args);
    bk_strvec_clear(&opts->key_files);
    bk_strvec_clear(&opts->key_extra);
    bk_strvec_clear(&opts->store_opts);
    bk_strvec_clear(&opts->mounts);
    bk_strvec_clear(&opts->layers_from);
    bk_strvec_clear(&opts->compose);
    bk_strvec_clear(&opts->services);
    bk_strvec_clear(&opts->bake);
    bk_strvec_clear(&opts->bake_targets);
    bk_strvec_clear(&opts->args);
}
