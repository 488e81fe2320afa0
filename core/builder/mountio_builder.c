/*
 * mountio_builder.c - the builder mountio: cache contents in and out of a
 * BuildKit builder's cache mounts, one generated build per batch.
 *
 * inject (restore):
 *   1. each archive is checked before anything is sent: its zstd frames
 *      must decode with valid checksums and its manifest must be readable
 *      (a corrupt archive never reaches the builder: BK_ECORRUPT); the
 *      archives of a batch are checked in parallel, one thread per CPU;
 *   2. a context directory gets bkcache-helper and the archives as
 *      <i>.tar.zst (hard links when possible, else copies);
 *   3. the generated Dockerfile (core/builder/gen_dockerfile.c) runs, per cache, the
 *      helper's unpack with the mount's exact options, skipping caches that
 *      already hold data unless --force;
 *   4. the reports, exported as a tar stream on the client's stdout
 *      (`-o type=tar,dest=-`, read by core/builder/builder_export.c), are checked:
 *      the digest and file count now in the cache must equal the archive
 *      manifest's (else BK_ECORRUPT); a skipped cache is BK_ESKIPPED with its
 *      current digest.
 * extract (save): the same build shape with the helper's pack; each archive
 *   comes back in the same tar stream and is written straight to
 *   item->archive_path, its zstd frames verified on the way; its manifest,
 *   size and digest must then match the helper's report, so a damaged or
 *   cut archive never reaches the store. An empty cache is BK_ENOTFOUND.
 *
 * Every build gets BKCACHE_NONCE=<random> (each RUN executes) and, when the
 * plan has one, BUILDKIT_CACHE_MOUNT_NS (the frontend prefixes ids with it).
 * When an identity's from= names a stage of the user's Dockerfile, the
 * batch runs in "appended" mode: the user's Dockerfile plus the transfer
 * stage, in the user's context (helper files in a temporary sub-directory
 * of it), with the user's build arguments, so the stage's result, and thus
 * the cache's key, is the one the user's build gets.
 */
#include "core/builder/builder.h"

#include "core/builder/builder_files.h"
#include "core/util/error.h"
#include "core/builder/gen_dockerfile.h"
#include "core/util/log.h"
#include "core/builder/mountio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct builder_io {
    struct bk_mountio base;
    struct bk_mountio_builder_config cfg;
    struct bk_builder_config builder; /* cfg.builder points here */
    char *context;                    /* cfg.context_dir points here */
    struct bk_mountio_opts opts;
    char *helper;
};

/* One batch's scratch space and build. */
struct batch {
    char *tmp;        /* private temporary directory */
    char *ctx;        /* the build context */
    char *helper_dir; /* where the helper files go (ctx, or a sub-directory of it) */
    char *subdir;     /* that sub-directory's name in appended mode, else NULL */
    struct bk_gen_mount *mounts;
    struct bk_bfiles_export_item *exp; /* exp[k]: what the build exported for mounts[k] */
    size_t *index;                     /* mounts[k] belongs to items[index[k]] */
    size_t n;
    char nonce[33]; /* BKCACHE_NONCE; also names the context sub-directory */
};

static const char *batch_tmpdir(const struct builder_io *io)
{
    const char *t = io->cfg.tmpdir;
    if (!t || !*t)
        t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* The namespace the plan's ids were given: cache_id = NS + "/" + id. */
static char *identity_ns(const struct bk_identity *id)
{
    size_t cl = strlen(id->cache_id), il = strlen(id->id);
    if (cl < il + 1 || strcmp(id->cache_id + cl - il, id->id) != 0)
        return bk_xstrdup("");
    return bk_xstrndup(id->cache_id, cl - il - 1);
}

static int needs_user_dockerfile(const struct bk_mountio_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (items[i].use && items[i].use->from && items[i].use->from_stage >= 0)
            return 1;
    return 0;
}

static void fill_mount(struct bk_gen_mount *m, const struct bk_mountio_item *it)
{
    const struct bk_identity *id = it->identity;
    memset(m, 0, sizeof(*m));
    m->name = id->name;
    m->id = id->id;
    m->uid = id->uid;
    m->gid = id->gid;
    m->mode = id->mode;
    if (it->use) {
        m->has_uid = it->use->has_uid;
        m->has_gid = it->use->has_gid;
        m->has_mode = it->use->has_mode;
        m->source = it->use->source;
    } else if (id->has_base) {
        m->has_uid = m->has_gid = m->has_mode = 1;
    }
    if (it->use && it->use->source && !id->from)
        m->has_uid = m->has_gid = m->has_mode = 0; /* BuildKit ignores them with source= */
    m->from = id->from;
}

static void batch_release(struct batch *b)
{
    if (b->subdir && b->helper_dir)
        bk_bfiles_remove_tree(b->helper_dir);
    if (b->tmp && !getenv("BKCACHE_KEEP_TMP"))
        bk_bfiles_remove_tree(b->tmp);
    free(b->tmp);
    free(b->ctx);
    free(b->helper_dir);
    free(b->subdir);
    free(b->mounts);
    free(b->exp);
    free(b->index);
    memset(b, 0, sizeof(*b));
}

static int batch_init(struct builder_io *io, struct batch *b, const struct bk_mountio_item *items,
                      size_t n)
{
    int appended = needs_user_dockerfile(items, n);

    memset(b, 0, sizeof(*b));
    bk_bfiles_nonce(b->nonce, sizeof(b->nonce));
    b->tmp = bk_xasprintf("%s/bkcache-build-XXXXXX", batch_tmpdir(io));
    if (!mkdtemp(b->tmp)) {
        int rc = bk_error_set(BK_ERR, "%s: cannot create a temporary directory: %s", b->tmp,
                              strerror(errno));
        free(b->tmp);
        b->tmp = NULL;
        return rc;
    }
    if (appended) {
        b->ctx = bk_xstrdup(io->cfg.context_dir ? io->cfg.context_dir : ".");
        b->subdir = bk_xasprintf(".bkcache-%s", b->nonce);
        b->helper_dir = bk_xasprintf("%s/%s", b->ctx, b->subdir);
    } else {
        b->ctx = bk_xasprintf("%s/ctx", b->tmp);
        b->helper_dir = bk_xstrdup(b->ctx);
    }
    if (mkdir(b->helper_dir, 0700) != 0)
        return bk_error_set(BK_ERR, "%s: %s", b->helper_dir, strerror(errno));
    b->mounts = bk_xcalloc(n + 1, sizeof(*b->mounts));
    b->exp = bk_xcalloc(n + 1, sizeof(*b->exp));
    b->index = bk_xcalloc(n + 1, sizeof(*b->index));
    return bk_bfiles_place(io->helper, b->helper_dir, BK_GEN_HELPER);
}

static int read_export(int fd, void *arg)
{
    struct batch *b = arg;
    return bk_bfiles_read_export(fd, b->exp, b->n);
}

/* Generate, write and run the batch's build, reading its exported output
 * into b->exp as it arrives. */
static int batch_build(struct builder_io *io, struct batch *b, enum bk_gen_kind kind,
                       const struct bk_mountio_item *items)
{
    struct bk_strbuf text = BK_STRBUF_INIT, user = BK_STRBUF_INIT, log = BK_STRBUF_INIT;
    struct bk_strvec args = BK_STRVEC_INIT;
    struct bk_gen_opts go = {0};
    char *df = bk_xasprintf("%s/Dockerfile", b->tmp),
         *ns = identity_ns(items[b->index[0]].identity);
    int rc = BK_OK, user_has_ns = 0;

    if (b->subdir) {
        rc = bk_strbuf_read_file(&user, io->cfg.dockerfile ? io->cfg.dockerfile : "Dockerfile");
        go.user_dockerfile = user.buf;
        go.ctx_subdir = b->subdir;
        for (size_t i = 0; io->cfg.build_args && i < io->cfg.build_args->n; i++) {
            bk_strvec_push(&args, io->cfg.build_args->v[i]);
            if (strncmp(io->cfg.build_args->v[i], "BUILDKIT_CACHE_MOUNT_NS=", 24) == 0)
                user_has_ns = 1;
        }
    }
    go.force = io->opts.force;
    go.allow_special = io->opts.allow_special;
    go.level = io->opts.compression_level;
    if (rc == BK_OK)
        rc = bk_gen_dockerfile(kind, b->mounts, b->n, &go, &text);
    if (rc == BK_OK)
        rc = bk_bfiles_write(df, text.buf, text.len);
    if (rc == BK_OK) {
        struct bk_build_request req = {b->ctx, df, "-", &args, BK_GEN_STAGE, io->cfg.platform};
        struct bk_build_sink sink = {read_export, b};
        bk_strvec_pushf(&args, "BKCACHE_NONCE=%s", b->nonce);
        if (*ns && !user_has_ns)
            bk_strvec_pushf(&args, "BUILDKIT_CACHE_MOUNT_NS=%s", ns);
        bk_debug("builder: generated Dockerfile:\n%s", text.buf);
        rc = bk_builder_run(io->cfg.ops, io->cfg.builder, &req, &sink, &log);
        if (rc)
            bk_error_wrap(rc, "%s %zu cache%s", kind == BK_GEN_INJECT ? "restore" : "save", b->n,
                          b->n == 1 ? "" : "s");
    }
    free(df);
    free(ns);
    bk_strvec_clear(&args);
    bk_strbuf_release(&text);
    bk_strbuf_release(&user);
    bk_strbuf_release(&log);
    return rc;
}

/* Cache k's report; a missing one, or a helper error, is that cache's failure. */
static int report_status(const struct bk_bfiles_export_item *x, const char *what, const char *name)
{
    const struct bk_bfiles_report *got = &x->report;

    if (!x->have_report)
        return bk_error_set(BK_ERR, "%s %s: the helper wrote no report", what, name);
    if (strcmp(got->status, "error") == 0)
        return bk_error_set(strstr(got->message, "digest") || strstr(got->message, "corrupt")
                                ? BK_ECORRUPT
                                : BK_ERR,
                            "%s %s: in the builder: %s", what, name, got->message);
    return BK_OK;
}

/* Cache k's exported archive, already written to its file and its frames
 * verified, must be the one the helper reported. */
static int exported_archive(const struct bk_bfiles_export_item *x, const char *name)
{
    const struct bk_bfiles_report *got = &x->report, *arc = &x->archive;

    if (x->archive_status == BK_ENOTFOUND)
        return bk_error_set(BK_ECORRUPT, "save %s: the build exported no archive", name);
    if (x->archive_status)
        return bk_error_set(x->archive_status, "save %s: %s", name, x->archive_error);
    if (strcmp(arc->digest, got->digest) != 0 || arc->files != got->files ||
        arc->archive_bytes != got->archive_bytes)
        return bk_error_set(BK_ECORRUPT,
                            "save %s: the exported archive (digest %.12s, %llu files, %llu bytes) "
                            "is not the one the helper packed (%.12s, %llu files, %llu bytes)",
                            name, arc->digest, (unsigned long long)arc->files,
                            (unsigned long long)arc->archive_bytes, got->digest,
                            (unsigned long long)got->files, (unsigned long long)got->archive_bytes);
    return BK_OK;
}

static int builder_inject(struct bk_mountio *base, struct bk_mountio_item *items, size_t n)
{
    struct builder_io *io = (struct builder_io *)base;
    struct batch b;
    int rc = batch_init(io, &b, items, n);
    const char **paths = bk_xcalloc(n + 1, sizeof(*paths));
    struct bk_bfiles_checked *checked = bk_xcalloc(n + 1, sizeof(*checked));

    for (size_t i = 0; i < n; i++)
        paths[i] = items[i].archive_path;
    if (rc == BK_OK) /* decode them all on the CPUs there are, before any build */
        bk_bfiles_check_archives(paths, n, checked);
    for (size_t i = 0; rc == BK_OK && i < n; i++) {
        struct bk_mountio_item *it = &items[i];
        const struct bk_bfiles_report *expect = &checked[i].report;
        char *name;

        memset(&it->stats, 0, sizeof(it->stats));
        it->status = checked[i].rc;
        if (it->status) {
            bk_error_set(it->status, "%s", checked[i].msg);
            bk_warn("restore %s: %s", it->identity->name, checked[i].msg);
            continue;
        }
        fill_mount(&b.mounts[b.n], it);
        snprintf(it->stats.digest, sizeof(it->stats.digest), "%s", expect->digest);
        it->stats.files = expect->files;
        it->stats.archive_bytes = expect->archive_bytes;
        b.mounts[b.n].expect_digest = it->stats.digest;
        name = bk_xasprintf("%zu.tar.zst", b.n);
        it->status = bk_bfiles_place(it->archive_path, b.helper_dir, name);
        free(name);
        if (it->status)
            continue;
        b.index[b.n++] = i;
    }
    if (rc == BK_OK && b.n)
        rc = batch_build(io, &b, BK_GEN_INJECT, items);
    for (size_t k = 0; rc == BK_OK && k < b.n; k++) {
        struct bk_mountio_item *it = &items[b.index[k]];
        const struct bk_bfiles_report *got = &b.exp[k].report;

        it->status = report_status(&b.exp[k], "restore", it->identity->name);
        if (it->status == BK_OK && strcmp(got->status, "skipped") == 0) {
            it->status = BK_ESKIPPED;
            snprintf(it->stats.digest, sizeof(it->stats.digest), "%s", got->digest);
            it->stats.files = got->files;
        } else if (it->status == BK_OK &&
                   (strcmp(got->digest, it->stats.digest) != 0 || got->files != it->stats.files)) {
            it->status =
                bk_error_set(BK_ECORRUPT,
                             "restore %s: the cache holds digest %.12s (%llu files) "
                             "after the transfer, the archive %.12s (%llu files)",
                             it->identity->name, got->digest, (unsigned long long)got->files,
                             it->stats.digest, (unsigned long long)it->stats.files);
        } else if (it->status == BK_OK) {
            it->stats.entries = got->entries;
            it->stats.bytes = got->bytes;
        }
        if (it->status && it->status != BK_ESKIPPED)
            bk_warn("%s", bk_error_msg());
    }
    batch_release(&b);
    free(paths);
    free(checked);
    return rc;
}

static int builder_extract(struct bk_mountio *base, struct bk_mountio_item *items, size_t n)
{
    struct builder_io *io = (struct builder_io *)base;
    struct batch b;
    int rc = batch_init(io, &b, items, n);

    for (size_t i = 0; rc == BK_OK && i < n; i++) {
        memset(&items[i].stats, 0, sizeof(items[i].stats));
        fill_mount(&b.mounts[b.n], &items[i]);
        b.exp[b.n].archive_path = items[i].archive_path;
        b.index[b.n++] = i;
    }
    if (rc == BK_OK && b.n)
        rc = batch_build(io, &b, BK_GEN_EXTRACT, items);
    for (size_t k = 0; rc == BK_OK && k < b.n; k++) {
        struct bk_mountio_item *it = &items[b.index[k]];
        const struct bk_bfiles_report *got = &b.exp[k].report;

        it->status = report_status(&b.exp[k], "save", it->identity->name);
        if (it->status == BK_OK && strcmp(got->status, "empty") == 0) {
            it->status =
                bk_error_set(BK_ENOTFOUND, "save %s: the cache mount is empty", it->identity->name);
        } else if (it->status == BK_OK) {
            it->status = exported_archive(&b.exp[k], it->identity->name);
            snprintf(it->stats.digest, sizeof(it->stats.digest), "%s", got->digest);
            it->stats.files = got->files;
            it->stats.entries = got->entries;
            it->stats.bytes = got->bytes;
            it->stats.archive_bytes = got->archive_bytes;
        }
        if (it->status && b.exp[k].archive_status == BK_OK)
            unlink(it->archive_path); /* verified, but not what was reported */
        if (it->status && it->status != BK_ENOTFOUND)
            bk_warn("%s", bk_error_msg());
    }
    batch_release(&b);
    return rc;
}

static void builder_destroy(struct bk_mountio *base)
{
    struct builder_io *io = (struct builder_io *)base;
    if (!io)
        return;
    free(io->helper);
    free(io->context);
    free(io);
}

static const struct bk_mountio_ops builder_ops = {
    "builder",       /* name */
    builder_extract, /* extract */
    builder_inject,  /* inject */
    builder_destroy, /* destroy */
};

int bk_mountio_builder_create(const struct bk_mountio_builder_config *cfg,
                              const struct bk_mountio_opts *opts, struct bk_mountio **out)
{
    struct builder_io *io;
    char *helper = NULL;
    int rc;

    *out = NULL;
    rc = bk_bfiles_find_helper(cfg->helper, &helper);
    if (rc)
        return rc;
    io = bk_xcalloc(1, sizeof(*io));
    io->base.ops = &builder_ops;
    io->cfg = *cfg;
    io->builder = *cfg->builder;
    io->context = bk_xstrdup(cfg->context_dir ? cfg->context_dir : ".");
    io->cfg.context_dir = io->context;
    io->cfg.builder = &io->builder;
    if (opts)
        io->opts = *opts;
    io->helper = helper;
    *out = &io->base;
    return BK_OK;
}
