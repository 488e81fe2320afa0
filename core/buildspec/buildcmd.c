/*
 * buildcmd.c - read the user's build command line; see buildcmd.h.
 *
 * Each tool is a table of the options it takes: the name, the one-letter
 * form, whether it takes a value, and what bkcache reads from it (most
 * read nothing). One walker goes over the arguments with a table, so the
 * tools differ only in their tables and in what they do with positional
 * arguments. The tables follow the tools' own `--help` (buildx 0.13,
 * Docker 20.10's legacy builder, docker-compose 2.26, buildctl 0.x).
 */
#include "core/buildspec/buildcmd.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

enum act {
    A_NONE,
    A_FILE,       /* -f: Dockerfile (build) or compose/bake file */
    A_TARGET,     /* --target */
    A_BUILD_ARG,  /* --build-arg K[=V] */
    A_PLATFORM,   /* --platform a,b */
    A_BUILDER,    /* --builder */
    A_CACHE_FROM, /* --cache-from / --import-cache */
    A_CACHE_TO,   /* --cache-to / --export-cache */
    A_LOCAL,      /* buildctl --local NAME=DIR */
    A_OPT,        /* buildctl --opt K=V */
    A_FRONTEND,   /* buildctl --frontend */
    A_ADDR,       /* buildctl --addr */
    A_PROFILE,    /* compose --profile */
    A_ENV_FILE,   /* compose --env-file */
    A_PROJECT,    /* compose --project-directory */
    A_SET,        /* bake --set */
    A_HOST,       /* docker -H */
    A_CONTEXT,    /* docker -c/--context */
    A_CONFIG,     /* docker --config */
    A_NAMED_CTX,  /* --build-context */
};

struct flag {
    const char *name;
    char short_name;
    unsigned char value; /* takes a value */
    unsigned char act;
};

#define END                                                                                        \
    {                                                                                              \
        NULL, 0, 0, A_NONE                                                                         \
    }

/* docker's own options, before the sub-command */
static const struct flag docker_global[] = {
    {"config", 0, 1, A_CONFIG},
    {"context", 'c', 1, A_CONTEXT},
    {"host", 'H', 1, A_HOST},
    {"log-level", 'l', 1, A_NONE},
    {"tlscacert", 0, 1, A_NONE},
    {"tlscert", 0, 1, A_NONE},
    {"tlskey", 0, 1, A_NONE},
    {"debug", 'D', 0, A_NONE},
    {"tls", 0, 0, A_NONE},
    {"tlsverify", 0, 0, A_NONE},
    END,
};

/* `docker buildx` before its sub-command */
static const struct flag buildx_global[] = {
    {"builder", 0, 1, A_BUILDER},
    {"debug", 'D', 0, A_NONE},
    END,
};

/* docker buildx build, and docker build of Docker 20.10 (legacy builder) */
static const struct flag docker_build[] = {
    {"add-host", 0, 1, A_NONE},
    {"allow", 0, 1, A_NONE},
    {"annotation", 0, 1, A_NONE},
    {"attest", 0, 1, A_NONE},
    {"build-arg", 0, 1, A_BUILD_ARG},
    {"build-context", 0, 1, A_NAMED_CTX},
    {"builder", 0, 1, A_BUILDER},
    {"cache-from", 0, 1, A_CACHE_FROM},
    {"cache-to", 0, 1, A_CACHE_TO},
    {"call", 0, 1, A_NONE},
    {"cgroup-parent", 0, 1, A_NONE},
    {"cpu-period", 0, 1, A_NONE},
    {"cpu-quota", 0, 1, A_NONE},
    {"cpu-shares", 'c', 1, A_NONE},
    {"cpuset-cpus", 0, 1, A_NONE},
    {"cpuset-mems", 0, 1, A_NONE},
    {"file", 'f', 1, A_FILE},
    {"iidfile", 0, 1, A_NONE},
    {"isolation", 0, 1, A_NONE},
    {"label", 0, 1, A_NONE},
    {"memory", 'm', 1, A_NONE},
    {"memory-swap", 0, 1, A_NONE},
    {"metadata-file", 0, 1, A_NONE},
    {"network", 0, 1, A_NONE},
    {"no-cache-filter", 0, 1, A_NONE},
    {"output", 'o', 1, A_NONE},
    {"platform", 0, 1, A_PLATFORM},
    {"progress", 0, 1, A_NONE},
    {"provenance", 0, 1, A_NONE},
    {"sbom", 0, 1, A_NONE},
    {"secret", 0, 1, A_NONE},
    {"security-opt", 0, 1, A_NONE},
    {"shm-size", 0, 1, A_NONE},
    {"ssh", 0, 1, A_NONE},
    {"tag", 't', 1, A_NONE},
    {"target", 0, 1, A_TARGET},
    {"ulimit", 0, 1, A_NONE},
    {"check", 0, 0, A_NONE},
    {"compress", 0, 0, A_NONE},
    {"detach", 0, 0, A_NONE},
    {"disable-content-trust", 0, 0, A_NONE},
    {"force-rm", 0, 0, A_NONE},
    {"load", 0, 0, A_NONE},
    {"no-cache", 0, 0, A_NONE},
    {"pull", 0, 0, A_NONE},
    {"push", 0, 0, A_NONE},
    {"quiet", 'q', 0, A_NONE},
    {"rm", 0, 0, A_NONE},
    {"squash", 0, 0, A_NONE},
    {"stream", 0, 0, A_NONE},
    END,
};

static const struct flag buildctl_global[] = {
    {"addr", 0, 1, A_ADDR},
    {"tlsservername", 0, 1, A_NONE},
    {"tlscacert", 0, 1, A_NONE},
    {"tlscert", 0, 1, A_NONE},
    {"tlskey", 0, 1, A_NONE},
    {"tlsdir", 0, 1, A_NONE},
    {"timeout", 0, 1, A_NONE},
    {"log-format", 0, 1, A_NONE},
    {"debug", 0, 0, A_NONE},
    {"wait", 0, 0, A_NONE},
    END,
};

static const struct flag buildctl_build[] = {
    {"allow", 0, 1, A_NONE},
    {"export-cache", 0, 1, A_CACHE_TO},
    {"frontend", 0, 1, A_FRONTEND},
    {"frontend-opt", 0, 1, A_OPT},
    {"import-cache", 0, 1, A_CACHE_FROM},
    {"local", 0, 1, A_LOCAL},
    {"metadata-file", 0, 1, A_NONE},
    {"oci-layout", 0, 1, A_NONE},
    {"opt", 0, 1, A_OPT},
    {"output", 'o', 1, A_NONE},
    {"progress", 0, 1, A_NONE},
    {"ref-file", 0, 1, A_NONE},
    {"registry-auth-tlscontext", 0, 1, A_NONE},
    {"secret", 0, 1, A_NONE},
    {"source-policy-file", 0, 1, A_NONE},
    {"ssh", 0, 1, A_NONE},
    {"trace", 0, 1, A_NONE},
    {"no-cache", 0, 0, A_NONE},
    END,
};

static const struct flag compose_global[] = {
    {"ansi", 0, 1, A_NONE},
    {"env-file", 0, 1, A_ENV_FILE},
    {"file", 'f', 1, A_FILE},
    {"parallel", 0, 1, A_NONE},
    {"profile", 0, 1, A_PROFILE},
    {"progress", 0, 1, A_NONE},
    {"project-directory", 0, 1, A_PROJECT},
    {"project-name", 'p', 1, A_NONE},
    {"all-resources", 0, 0, A_NONE},
    {"compatibility", 0, 0, A_NONE},
    {"dry-run", 0, 0, A_NONE},
    END,
};

static const struct flag compose_build[] = {
    {"build-arg", 0, 1, A_BUILD_ARG},
    {"builder", 0, 1, A_BUILDER},
    {"memory", 'm', 1, A_NONE},
    {"progress", 0, 1, A_NONE},
    {"ssh", 0, 1, A_NONE},
    {"dry-run", 0, 0, A_NONE},
    {"no-cache", 0, 0, A_NONE},
    {"pull", 0, 0, A_NONE},
    {"push", 0, 0, A_NONE},
    {"quiet", 'q', 0, A_NONE},
    {"with-dependencies", 0, 0, A_NONE},
    END,
};

static const struct flag bake[] = {
    {"builder", 0, 1, A_BUILDER},    {"call", 0, 1, A_NONE},     {"file", 'f', 1, A_FILE},
    {"metadata-file", 0, 1, A_NONE}, {"progress", 0, 1, A_NONE}, {"provenance", 0, 1, A_NONE},
    {"sbom", 0, 1, A_NONE},          {"set", 0, 1, A_SET},       {"check", 0, 0, A_NONE},
    {"load", 0, 0, A_NONE},          {"no-cache", 0, 0, A_NONE}, {"print", 0, 0, A_NONE},
    {"pull", 0, 0, A_NONE},          {"push", 0, 0, A_NONE},     END,
};

/* ---- the walker ---- */

struct walk {
    struct bk_buildcmd *c;
    const char *(*getenv_fn)(const char *name);
    struct bk_strvec positional;
    char *dockerfile_dir; /* buildctl --local dockerfile= */
    char *filename;       /* buildctl --opt filename= */
};

static const struct flag *find_flag(const struct flag *t, const char *name, size_t n,
                                    char short_name)
{
    for (; t->name; t++)
        if ((short_name && t->short_name == short_name) ||
            (!short_name && strlen(t->name) == n && strncmp(t->name, name, n) == 0))
            return t;
    return NULL;
}

static void build_arg(struct walk *w, struct bk_strvec *args, const char *v)
{
    const char *eq = strchr(v, '=');
    char *name;
    const char *env;

    if (eq) {
        char *n = bk_xstrndup(v, (size_t)(eq - v));
        bk_buildspec_set_arg(args, n, eq + 1);
        free(n);
        return;
    }
    /* `--build-arg K`: the value of $K, or no argument at all when unset */
    name = bk_xstrdup(v);
    env = w->getenv_fn(name);
    if (env)
        bk_buildspec_set_arg(args, name, env);
    free(name);
}

static void buildctl_opt(struct walk *w, const char *v)
{
    struct bk_buildspec *s = &w->c->spec;
    const char *eq = strchr(v, '=');
    const char *val = eq ? eq + 1 : "";
    size_t n = eq ? (size_t)(eq - v) : strlen(v);

    if (n == 8 && strncmp(v, "filename", n) == 0)
        bk_buildspec_set(&w->filename, val);
    else if (n == 6 && strncmp(v, "target", n) == 0)
        bk_buildspec_set(&s->target, val);
    else if (n == 8 && strncmp(v, "platform", n) == 0)
        bk_buildspec_push_split(&s->platforms, val);
    else if (n > 10 && strncmp(v, "build-arg:", 10) == 0) {
        char *name = bk_xstrndup(v + 10, n - 10);
        bk_buildspec_set_arg(&s->build_args, name, val);
        free(name);
    } else if (n >= 7 && strncmp(v, "context", 7) == 0)
        bk_strvec_pushf(&w->c->warnings,
                        "--opt %.*s: named contexts are not read; a cache mount "
                        "with from= naming one may get another identity",
                        (int)n, v);
}

static void buildctl_local(struct walk *w, const char *v)
{
    const char *eq = strchr(v, '=');
    if (!eq)
        return;
    if (strncmp(v, "context=", 8) == 0)
        bk_buildspec_set(&w->c->spec.context, eq + 1);
    else if (strncmp(v, "dockerfile=", 11) == 0)
        bk_buildspec_set(&w->dockerfile_dir, eq + 1);
}

static void apply(struct walk *w, const struct flag *f, const char *v)
{
    struct bk_buildcmd *c = w->c;
    struct bk_buildspec *s = &c->spec;
    int many = c->kind == BK_BUILDCMD_COMPOSE || c->kind == BK_BUILDCMD_BAKE;

    switch ((enum act)f->act) {
    case A_NONE: break;
    case A_FILE:
        if (many)
            bk_strvec_push(&c->files, v);
        else
            bk_buildspec_set(&s->dockerfile, v);
        break;
    case A_TARGET: bk_buildspec_set(&s->target, v); break;
    case A_BUILD_ARG: build_arg(w, many ? &c->build_args : &s->build_args, v); break;
    case A_PLATFORM: bk_buildspec_push_split(&s->platforms, v); break;
    case A_BUILDER: bk_buildspec_set(&c->builder, v); break;
    case A_CACHE_FROM: bk_strvec_push(&s->cache_from, v); break;
    case A_CACHE_TO: bk_strvec_push(&s->cache_to, v); break;
    case A_LOCAL: buildctl_local(w, v); break;
    case A_OPT: buildctl_opt(w, v); break;
    case A_FRONTEND:
        if (strcmp(v, "dockerfile.v0") != 0 && strcmp(v, "gateway.v0") != 0)
            bk_strvec_pushf(&c->warnings,
                            "--frontend %s: not the Dockerfile frontend; its cache mounts "
                            "cannot be read",
                            v);
        break;
    case A_ADDR: bk_buildspec_set(&c->buildkit_addr, v); break;
    case A_PROFILE: bk_strvec_push(&c->profiles, v); break;
    case A_ENV_FILE: bk_strvec_push(&c->env_files, v); break;
    case A_PROJECT: bk_buildspec_set(&c->project_dir, v); break;
    case A_SET: bk_strvec_push(&c->set, v); break;
    case A_HOST: bk_strvec_pushf(&c->env, "DOCKER_HOST=%s", v); break;
    case A_CONTEXT: bk_strvec_pushf(&c->env, "DOCKER_CONTEXT=%s", v); break;
    case A_CONFIG: bk_strvec_pushf(&c->env, "DOCKER_CONFIG=%s", v); break;
    case A_NAMED_CTX:
        bk_strvec_pushf(&c->warnings,
                        "--build-context %s: named contexts are not read; a cache mount with "
                        "from= naming one may get another identity",
                        v);
        break;
    }
}

/*
 * Walk argv from *i with table `t`. With `stop` the walk ends at the first
 * positional argument (a sub-command), left at *i; otherwise positional
 * arguments are collected and the walk goes to the end. An unknown option
 * is taken to have no value unless written --name=value.
 */
static void walk(struct walk *w, const struct flag *t, int argc, char *const *argv, int *i,
                 int stop)
{
    for (; *i < argc; (*i)++) {
        const char *a = argv[*i];
        const struct flag *f = NULL;
        const char *v = NULL;

        if (strcmp(a, "--") == 0 && !stop) {
            for ((*i)++; *i < argc; (*i)++)
                bk_strvec_push(&w->positional, argv[*i]);
            return;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (stop)
                return;
            bk_strvec_push(&w->positional, a);
            continue;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            f = find_flag(t, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2), 0);
            if (eq)
                v = eq + 1;
        } else {
            f = find_flag(t, NULL, 0, a[1]);
            if (f && f->value && a[2])
                v = a[2] == '=' ? a + 3 : a + 2;
        }
        if (!f || !f->value)
            continue; /* a flag without a value, or one we do not know */
        if (!v) {
            if (*i + 1 >= argc)
                return; /* the tool itself will complain */
            v = argv[++(*i)];
        }
        apply(w, f, v);
    }
}

/* ---- per tool ---- */

static int is_program(const char *arg0, const char *name)
{
    const char *base = strrchr(arg0, '/');
    base = base ? base + 1 : arg0;
    return strcmp(base, name) == 0;
}

/* The build's context, Dockerfile and remote-context warning. */
static void finish_docker(struct walk *w)
{
    struct bk_buildcmd *c = w->c;
    struct bk_buildspec *s = &c->spec;
    const char *ctx = w->positional.n ? w->positional.v[0] : NULL;

    if (w->positional.n > 1)
        bk_strvec_pushf(&c->warnings,
                        "more than one context in the command ('%s', '%s'); "
                        "the first is read",
                        w->positional.v[0], w->positional.v[1]);
    if (!ctx) {
        bk_strvec_push(&c->warnings, "the command names no build context; '.' is read");
        ctx = ".";
    }
    if (strcmp(ctx, "-") == 0) {
        /* `docker build - < Dockerfile`: stdin is the Dockerfile (or a tar) */
        bk_buildspec_set(&s->dockerfile, "-");
        return;
    }
    if (bk_buildspec_remote_context(ctx)) {
        bk_strvec_pushf(&c->warnings,
                        "the build context '%s' is not a local directory: bkcache cannot read "
                        "its Dockerfile, so its cache mounts are not restored or saved",
                        ctx);
        bk_buildspec_set(&s->dockerfile, NULL);
        return;
    }
    bk_buildspec_set(&s->context, ctx);
    if (!s->dockerfile)
        s->dockerfile = bk_buildspec_join(ctx, "Dockerfile");
}

static void finish_buildctl(struct walk *w)
{
    struct bk_buildspec *s = &w->c->spec;
    const char *dir = w->dockerfile_dir ? w->dockerfile_dir : s->context;

    if (!dir) {
        bk_strvec_push(&w->c->warnings, "buildctl: no --local context= or --local dockerfile=; "
                                        "the Dockerfile cannot be found");
        return;
    }
    s->dockerfile = bk_buildspec_join(dir, w->filename ? w->filename : "Dockerfile");
    if (!s->context)
        bk_buildspec_set(&s->context, dir);
}

static void default_builder(struct walk *w, const char *var)
{
    const char *env = w->getenv_fn(var);
    char **field = strcmp(var, "BUILDKIT_HOST") == 0 ? &w->c->buildkit_addr : &w->c->builder;
    if (!*field && env && *env)
        bk_buildspec_set(field, env);
}

/* docker [global options] SUBCOMMAND ... */
static int parse_docker(struct walk *w, int argc, char *const *argv)
{
    struct bk_buildcmd *c = w->c;
    int i = 1;
    const char *sub;

    walk(w, docker_global, argc, argv, &i, 1);
    sub = i < argc ? argv[i] : "";
    if ((strcmp(sub, "image") == 0 || strcmp(sub, "builder") == 0) && i + 1 < argc &&
        strcmp(argv[i + 1], "build") == 0)
        sub = argv[++i];
    if (strcmp(sub, "build") == 0) {
        c->kind = BK_BUILDCMD_DOCKER;
        c->insert_at = (size_t)i + 1;
        i++;
        walk(w, docker_build, argc, argv, &i, 0);
        finish_docker(w);
        return BK_OK;
    }
    if (strcmp(sub, "buildx") == 0) {
        i++;
        walk(w, buildx_global, argc, argv, &i, 1);
        sub = i < argc ? argv[i] : "";
        if (strcmp(sub, "build") == 0 || strcmp(sub, "b") == 0) {
            c->kind = BK_BUILDCMD_BUILDX;
            c->insert_at = (size_t)i + 1;
            i++;
            walk(w, docker_build, argc, argv, &i, 0);
            finish_docker(w);
            default_builder(w, "BUILDX_BUILDER");
            return BK_OK;
        }
        if (strcmp(sub, "bake") == 0 || strcmp(sub, "f") == 0) {
            c->kind = BK_BUILDCMD_BAKE;
            c->insert_at = (size_t)i + 1;
            i++;
            walk(w, bake, argc, argv, &i, 0);
            for (size_t k = 0; k < w->positional.n; k++)
                bk_strvec_push(&c->names, w->positional.v[k]);
            default_builder(w, "BUILDX_BUILDER");
            return BK_OK;
        }
        return bk_error_set(BK_EINVAL,
                            "docker buildx %s: not a build (expected 'docker buildx "
                            "build' or 'docker buildx bake')",
                            sub);
    }
    if (strcmp(sub, "compose") == 0) {
        i++;
        c->kind = BK_BUILDCMD_COMPOSE; /* -f names compose files from here on */
        walk(w, compose_global, argc, argv, &i, 1);
        sub = i < argc ? argv[i] : "";
        if (strcmp(sub, "build") != 0)
            return bk_error_set(BK_EINVAL,
                                "docker compose %s: not a build (expected 'docker "
                                "compose build')",
                                sub);
        c->kind = BK_BUILDCMD_COMPOSE;
        c->insert_at = (size_t)i + 1;
        i++;
        walk(w, compose_build, argc, argv, &i, 0);
        for (size_t k = 0; k < w->positional.n; k++)
            bk_strvec_push(&c->names, w->positional.v[k]);
        default_builder(w, "BUILDX_BUILDER");
        return BK_OK;
    }
    return bk_error_set(BK_EINVAL,
                        "docker %s: not a build (expected docker build, docker buildx "
                        "build, docker buildx bake or docker compose build)",
                        sub);
}

static int parse_compose_standalone(struct walk *w, int argc, char *const *argv)
{
    struct bk_buildcmd *c = w->c;
    int i = 1;

    c->kind = BK_BUILDCMD_COMPOSE; /* -f names compose files */
    walk(w, compose_global, argc, argv, &i, 1);
    if (i >= argc || strcmp(argv[i], "build") != 0)
        return bk_error_set(BK_EINVAL, "%s %s: not a build (expected '%s build')", argv[0],
                            i < argc ? argv[i] : "", argv[0]);
    c->kind = BK_BUILDCMD_COMPOSE;
    c->insert_at = (size_t)i + 1;
    i++;
    walk(w, compose_build, argc, argv, &i, 0);
    for (size_t k = 0; k < w->positional.n; k++)
        bk_strvec_push(&c->names, w->positional.v[k]);
    default_builder(w, "BUILDX_BUILDER");
    return BK_OK;
}

static int parse_buildctl(struct walk *w, int argc, char *const *argv)
{
    struct bk_buildcmd *c = w->c;
    int i = 1;

    walk(w, buildctl_global, argc, argv, &i, 1);
    if (i >= argc || (strcmp(argv[i], "build") != 0 && strcmp(argv[i], "b") != 0))
        return bk_error_set(BK_EINVAL, "buildctl %s: not a build (expected 'buildctl build')",
                            i < argc ? argv[i] : "");
    c->kind = BK_BUILDCMD_BUILDCTL;
    c->insert_at = (size_t)i + 1;
    i++;
    walk(w, buildctl_build, argc, argv, &i, 0);
    finish_buildctl(w);
    default_builder(w, "BUILDKIT_HOST");
    return BK_OK;
}

static const char *env_default(const char *name)
{
    return getenv(name);
}

int bk_buildcmd_parse(int argc, char *const *argv, const char *(*getenv_fn)(const char *name),
                      struct bk_buildcmd *out)
{
    struct walk w = {out, getenv_fn ? getenv_fn : env_default, BK_STRVEC_INIT, NULL, NULL};
    int rc;

    memset(out, 0, sizeof(*out));
    bk_buildspec_init(&out->spec);
    out->files = out->names = out->profiles = out->env_files = (struct bk_strvec)BK_STRVEC_INIT;
    out->set = out->build_args = out->env = out->warnings = (struct bk_strvec)BK_STRVEC_INIT;
    if (argc < 1)
        return bk_error_set(BK_EINVAL, "no build command after '--'");
    out->client = bk_xstrdup(argv[0]);
    bk_buildspec_set(&out->spec.name, "build");
    bk_buildspec_set(&out->spec.origin, "command line");
    if (is_program(argv[0], "docker"))
        rc = parse_docker(&w, argc, argv);
    else if (is_program(argv[0], "docker-compose"))
        rc = parse_compose_standalone(&w, argc, argv);
    else if (is_program(argv[0], "buildctl"))
        rc = parse_buildctl(&w, argc, argv);
    else if (is_program(argv[0], "docker-buildx")) {
        /* the plugin run directly: the same as `docker buildx ...` */
        char **shifted = bk_xcalloc((size_t)argc + 2, sizeof(*shifted));
        shifted[0] = "docker";
        shifted[1] = "buildx";
        for (int k = 1; k < argc; k++)
            shifted[k + 1] = argv[k];
        rc = parse_docker(&w, argc + 1, shifted);
        if (out->insert_at)
            out->insert_at--;
        free(shifted);
    } else
        rc = bk_error_set(BK_EINVAL,
                          "'%s' is not a build command bkcache can read (docker build, "
                          "docker buildx build, buildctl build, docker compose build, "
                          "docker buildx bake)",
                          argv[0]);
    bk_buildspec_set(&out->spec.builder, out->builder);
    bk_strvec_clear(&w.positional);
    free(w.dockerfile_dir);
    free(w.filename);
    if (rc)
        bk_buildcmd_release(out);
    return rc;
}

void bk_buildcmd_release(struct bk_buildcmd *c)
{
    free(c->client);
    bk_buildspec_release(&c->spec);
    bk_strvec_clear(&c->files);
    bk_strvec_clear(&c->names);
    bk_strvec_clear(&c->profiles);
    bk_strvec_clear(&c->env_files);
    free(c->project_dir);
    bk_strvec_clear(&c->set);
    bk_strvec_clear(&c->build_args);
    free(c->builder);
    free(c->buildkit_addr);
    bk_strvec_clear(&c->env);
    bk_strvec_clear(&c->warnings);
    memset(c, 0, sizeof(*c));
}

const char *bk_buildcmd_kind_name(enum bk_buildcmd_kind kind)
{
    switch (kind) {
    case BK_BUILDCMD_DOCKER: return "docker build";
    case BK_BUILDCMD_BUILDX: return "docker buildx build";
    case BK_BUILDCMD_BUILDCTL: return "buildctl build";
    case BK_BUILDCMD_COMPOSE: return "docker compose build";
    case BK_BUILDCMD_BAKE: return "docker buildx bake";
    }
    return "build";
}

void bk_buildcmd_with_args(const struct bk_buildcmd *c, int argc, char *const *argv,
                           const struct bk_strvec *extra, struct bk_strvec *out)
{
    for (int i = 0; i < argc; i++) {
        if ((size_t)i == c->insert_at)
            for (size_t k = 0; extra && k < extra->n; k++)
                bk_strvec_push(out, extra->v[k]);
        bk_strvec_push(out, argv[i]);
    }
    if (c->insert_at >= (size_t)argc)
        for (size_t k = 0; extra && k < extra->n; k++)
            bk_strvec_push(out, extra->v[k]);
}

int bk_buildcmd_cache_args(const struct bk_buildcmd *c, const char *from, const char *to,
                           struct bk_strvec *out)
{
    switch (c->kind) {
    case BK_BUILDCMD_DOCKER:
    case BK_BUILDCMD_BUILDX:
        if (from)
            bk_strvec_pushf(out, "--cache-from=%s", from);
        if (to)
            bk_strvec_pushf(out, "--cache-to=%s", to);
        return BK_OK;
    case BK_BUILDCMD_BUILDCTL:
        if (from)
            bk_strvec_pushf(out, "--import-cache=%s", from);
        if (to)
            bk_strvec_pushf(out, "--export-cache=%s", to);
        return BK_OK;
    case BK_BUILDCMD_BAKE:
        if (from)
            bk_strvec_pushf(out, "--set=*.cache-from=%s", from);
        if (to)
            bk_strvec_pushf(out, "--set=*.cache-to=%s", to);
        return BK_OK;
    case BK_BUILDCMD_COMPOSE: break;
    }
    return bk_error_set(BK_EINVAL, "docker compose build has no option for the layer cache; "
                                   "build the compose file with `docker buildx bake -f FILE` "
                                   "instead");
}

int bk_buildcmd_layer_args(const struct bk_buildcmd *c, const struct bk_strvec *pairs,
                           struct bk_strvec *out)
{
    int export = 0, rc;

    for (size_t i = 0; i + 1 < pairs->n; i += 2) {
        int to = strcmp(pairs->v[i], "--cache-to") == 0;
        if (!to && strcmp(pairs->v[i], "--cache-from") != 0)
            continue; /* not an option of the layer cache */
        rc = bk_buildcmd_cache_args(c, to ? NULL : pairs->v[i + 1], to ? pairs->v[i + 1] : NULL,
                                    out);
        if (rc < 0)
            return rc;
        export |= to;
    }
    return export;
}
