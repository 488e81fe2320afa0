/*
 * gen_dockerfile.c - the text of the generated transfer Dockerfiles; see
 * gen_dockerfile.h for what they do and why.
 */
#include "core/builder/gen_dockerfile.h"

#include "core/builder/mountio.h"
#include "core/util/error.h"

#include <stdio.h>
#include <string.h>

#define CTX "/.bkcache/ctx"
#define MNT "/.bkcache/mount"
#define OUT "/.bkcache/out"
#define BASE "/.bkcache/base"

/* A value goes into a --mount flag word, which the frontend splits on ','
 * and '=' (CSV), unquotes, unescapes and variable-expands: refuse anything
 * those steps would change. */
static int check_value(const struct bk_gen_mount *m, const char *key, const char *v)
{
    if (!v)
        return BK_OK;
    if (!*v)
        return bk_error_set(BK_EINVAL, "%s: cannot transfer a cache mount with an empty %s",
                            m->name, key);
    for (const char *p = v; *p; p++)
        if (strchr(",\"'$\\` \t\r\n", *p))
            return bk_error_set(BK_EINVAL,
                                "%s: cannot transfer a cache mount whose %s '%s' contains '%c'",
                                m->name, key, v, *p);
    return BK_OK;
}

static void add_json_string(struct bk_strbuf *out, const char *s)
{
    bk_strbuf_addch(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            bk_strbuf_addch(out, '\\');
        bk_strbuf_addch(out, *s);
    }
    bk_strbuf_addch(out, '"');
}

static void add_mount_flags(struct bk_strbuf *out, const struct bk_gen_mount *m,
                            const struct bk_gen_opts *opts)
{
    bk_strbuf_adds(out, "RUN --mount=type=bind,target=" CTX);
    if (opts->ctx_subdir)
        bk_strbuf_addf(out, ",source=%s", opts->ctx_subdir);
    bk_strbuf_addf(out, " --mount=type=cache,id=%s,target=" MNT ",sharing=locked", m->id);
    if (m->has_uid)
        bk_strbuf_addf(out, ",uid=%u", (unsigned)m->uid);
    if (m->has_gid)
        bk_strbuf_addf(out, ",gid=%u", (unsigned)m->gid);
    if (m->has_mode)
        bk_strbuf_addf(out, ",mode=0%o", (unsigned)m->mode);
    if (m->from) {
        bk_strbuf_addf(out, ",from=%s", m->from);
        if (m->source)
            bk_strbuf_addf(out, ",source=%s", m->source);
    }
}

/* Inject into a from= cache: a new cache starts as a copy of the from=
 * content, so the helper needs that content to tell "new" from "warm". */
static void add_base_mount(struct bk_strbuf *out, const struct bk_gen_mount *m)
{
    bk_strbuf_addf(out, " --mount=type=bind,from=%s,target=" BASE, m->from);
    if (m->source)
        bk_strbuf_addf(out, ",source=%s", m->source);
}

static void add_run(struct bk_strbuf *out, enum bk_gen_kind kind, size_t i,
                    const struct bk_gen_mount *m, const struct bk_gen_opts *opts)
{
    char path[64];

    add_mount_flags(out, m, opts);
    if (kind == BK_GEN_INJECT && m->from && !opts->force)
        add_base_mount(out, m);
    bk_strbuf_adds(out, " [\"" CTX "/" BK_GEN_HELPER "\", ");
    if (kind == BK_GEN_INJECT && m->nlayers) {
        bk_strbuf_adds(out, "\"unpack\", ");
        for (size_t k = 0; k < m->nlayers; k++) /* names bkcache chose: hex digits */
            bk_strbuf_addf(out, "\"" CTX "/%s\", ", m->layer_files[k]);
        bk_strbuf_adds(out, "\"" MNT "\"");
    } else if (kind == BK_GEN_INJECT) {
        snprintf(path, sizeof(path), CTX "/%zu.tar.zst", i);
        bk_strbuf_addf(out, "\"unpack\", \"%s\", \"" MNT "\"", path);
    } else if (kind == BK_GEN_REPAIR) {
        bk_strbuf_adds(out, "\"repair\", \"" MNT "\"");
    } else {
        snprintf(path, sizeof(path), OUT "/%zu.tar.zst", i);
        bk_strbuf_addf(out, "\"pack\", \"" MNT "\", \"%s\"", path);
    }
    bk_strbuf_addf(out, ", \"--report\", \"" OUT "/%zu.json\"", i);
    if (kind == BK_GEN_INJECT) {
        if (!opts->force)
            bk_strbuf_adds(out, ", \"--skip-nonempty\"");
        if (!opts->force && m->from)
            bk_strbuf_adds(out, ", \"--base\", \"" BASE "\"");
        if (m->expect_digest) {
            bk_strbuf_adds(out, ", \"--expect-digest\", ");
            add_json_string(out, m->expect_digest);
        }
        if (opts->allow_special)
            bk_strbuf_adds(out, ", \"--allow-special\"");
        if (m->nlayers && m->record) {
            bk_strbuf_adds(out, ", \"--record\", ");
            add_json_string(out, m->record);
        }
    } else {
        if (opts->level > 0)
            bk_strbuf_addf(out, ", \"--level\", \"%d\"", opts->level);
        if (kind == BK_GEN_EXTRACT && m->reproducible && m->delta)
            bk_strbuf_addf(out, ", \"--delta\", \"%d:%g\"", BK_DELTA_MAX_LAYERS,
                           BK_DELTA_MAX_RATIO);
        if (kind == BK_GEN_EXTRACT && m->reproducible)
            bk_strbuf_adds(out, ", \"--reproducible\"");
    }
    bk_strbuf_adds(out, "]\n");
}

int bk_gen_dockerfile(enum bk_gen_kind kind, const struct bk_gen_mount *mounts, size_t n,
                      const struct bk_gen_opts *opts, struct bk_strbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        const struct bk_gen_mount *m = &mounts[i];
        if (check_value(m, "id", m->id) || check_value(m, "from", m->from) ||
            check_value(m, "source", m->from ? m->source : NULL))
            return BK_EINVAL;
    }
    if (opts->ctx_subdir && strchr(opts->ctx_subdir, ','))
        return bk_error_set(BK_EINVAL, "bad context directory '%s'", opts->ctx_subdir);
    if (opts->user_dockerfile) {
        size_t len = strlen(opts->user_dockerfile);
        bk_strbuf_adds(out, opts->user_dockerfile);
        if (len && opts->user_dockerfile[len - 1] != '\n')
            bk_strbuf_addch(out, '\n');
        bk_strbuf_adds(out, "\n");
    }
    bk_strbuf_addf(out, "# bkcache: %s %zu cache mount%s (generated; safe to delete)\n",
                   kind == BK_GEN_INJECT   ? "restore"
                   : kind == BK_GEN_REPAIR ? "repair"
                                           : "save",
                   n, n == 1 ? "" : "s");
    bk_strbuf_adds(out, "FROM scratch AS " BK_GEN_STAGE "\n");
    bk_strbuf_adds(out, "ARG BKCACHE_NONCE\n");
    if (opts->pause_arg)
        bk_strbuf_adds(out, "ARG BKCACHE_HELPER_PAUSE\n");
    for (size_t i = 0; i < n; i++)
        add_run(out, kind, i, &mounts[i], opts);
    return BK_OK;
}
