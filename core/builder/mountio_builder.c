/*
 * mountio_builder.c - the builder mountio: cache contents in and out of a
 * BuildKit builder's cache mounts, one generated build per batch.
 *
 * inject (restore):
 *   1. each archive is checked before anything is sent, without
 *      decompressing it: its zstd frames must tile the file, whole and
 *      with their checksum flag, and its manifest must be readable (a cut
 *      or misframed archive never reaches the builder: BK_ECORRUPT). The
 *      frames' checksums and the content digest are verified by the
 *      helper's unpack, before it swaps anything in: a damaged frame fails
 *      its cache inside the build and the cache keeps what it held. A full
 *      decode here cost a W1 restore 0.7 s before the build could start
 *      (docs/benchmarks.md), for a check the helper makes anyway;
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
 *   A layered entry (item->nlayers) skips step 1: only the top layer's
 *   manifest is read (its digest must be the index's). Each layer file
 *   goes into the context once per blob digest (caches of a batch share
 *   them), and the helper unpacks the stack with the stored layers as its
 *   record (`unpack L1 L2 ... --record ...`): it hashes each layer as it
 *   reads it and refuses the stack (BK_ECORRUPT, nothing swapped in) when
 *   a layer's SHA-256 or size is not the index's; restore then goes on
 *   with the next entry.
 * extract (save): the same build shape with the helper's pack; each archive
 *   comes back in the same tar stream and is written straight to
 *   item->archive_path, its zstd frames verified on the way; its manifest,
 *   size and digest must then match the helper's report, so a damaged or
 *   cut archive never reaches the store. An empty cache is BK_ENOTFOUND.
 *   A layer item packs with --reproducible (and --delta when allowed); the
 *   report's delta, parent and layers go into item->stats.
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
#include "core/util/fileio.h"
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
    int tmp_lock;     /* holds tmp (bk_mkdtemp_held) */
    int sub_lock;     /* holds helper_dir in appended mode */
    int ran;          /* a build was started: the caches may have changed */
    char *ctx;        /* the build context */
    char *helper_dir; /* where the helper files go (ctx, or a sub-directory of it) */
    char *subdir;     /* that sub-directory's name in appended mode, else NULL */
    struct bk_gen_mount *mounts;
    struct bk_bfiles_export_item *exp; /* exp[k]: what the build exported for mounts[k] */
    size_t *index;                     /* mounts[k] belongs to items[index[k]] */
    size_t n;
    char ***layer_files;     /* mounts[k]'s layer names in the context (layered inject) */
    char **records;          /* mounts[k]'s --record */
    struct bk_strvec placed; /* layer blobs already in the context, by name */
    char nonce[33];          /* BKCACHE_NONCE; also names the context sub-directory */
};

/* Temporary directories, held while in use so that the next run can remove
 * those of a killed one (bk_remove_abandoned): in $TMPDIR, and in the user's
 * context in appended mode. */
#define TMP_PREFIX "bkcache-xfer-"
#define SUB_PREFIX ".bkcache-ctx-"

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
    m->reproducible = it->layer;
    m->delta = it->layer && it->delta;
}

static void batch_release(struct batch *b)
{
    if (b->subdir && b->helper_dir)
        bk_remove_tree(b->helper_dir);
    if (b->tmp && !getenv("BKCACHE_KEEP_TMP"))
        bk_remove_tree(b->tmp);
    if (b->tmp_lock >= 0)
        close(b->tmp_lock);
    if (b->sub_lock >= 0)
        close(b->sub_lock);
    free(b->tmp);
    free(b->ctx);
    free(b->helper_dir);
    free(b->subdir);
    for (size_t k = 0; k < b->n; k++) {
        for (size_t l = 0; b->layer_files && b->layer_files[k] && b->layer_files[k][l]; l++)
            free(b->layer_files[k][l]);
        if (b->layer_files)
            free(b->layer_files[k]);
        if (b->records)
            free(b->records[k]);
    }
    free(b->layer_files);
    free(b->records);
    bk_strvec_clear(&b->placed);
    free(b->mounts);
    free(b->exp);
    free(b->index);
    memset(b, 0, sizeof(*b));
}

static int batch_init(struct builder_io *io, struct batch *b, const struct bk_mountio_item *items,
                      size_t n)
{
    int appended = needs_user_dockerfile(items, n);

    int rc;

    memset(b, 0, sizeof(*b));
    b->tmp_lock = b->sub_lock = -1;
    b->placed = (struct bk_strvec)BK_STRVEC_INIT;
    bk_bfiles_nonce(b->nonce, sizeof(b->nonce));
    /* what killed runs left (their directories are no longer held) goes first */
    bk_remove_abandoned(batch_tmpdir(io), TMP_PREFIX);
    b->tmp = bk_xasprintf("%s/" TMP_PREFIX "XXXXXX", batch_tmpdir(io));
    if ((rc = bk_mkdtemp_held(b->tmp, &b->tmp_lock)) < 0) {
        free(b->tmp);
        b->tmp = NULL;
        return rc;
    }
    if (appended) {
        b->ctx = bk_xstrdup(io->cfg.context_dir ? io->cfg.context_dir : ".");
        bk_remove_abandoned(b->ctx, SUB_PREFIX);
        b->helper_dir = bk_xasprintf("%s/" SUB_PREFIX "XXXXXX", b->ctx);
        if ((rc = bk_mkdtemp_held(b->helper_dir, &b->sub_lock)) < 0) {
            free(b->helper_dir);
            b->helper_dir = NULL;
            return rc;
        }
        chmod(b->helper_dir, 0700);
        b->subdir = bk_xstrdup(strrchr(b->helper_dir, '/') + 1);
    } else {
        b->ctx = bk_xasprintf("%s/ctx", b->tmp);
        b->helper_dir = bk_xstrdup(b->ctx);
        if (mkdir(b->helper_dir, 0700) != 0)
            return bk_error_set(BK_ERR, "%s: %s", b->helper_dir, strerror(errno));
    }
    b->mounts = bk_xcalloc(n + 1, sizeof(*b->mounts));
    b->exp = bk_xcalloc(n + 1, sizeof(*b->exp));
    b->index = bk_xcalloc(n + 1, sizeof(*b->index));
    b->layer_files = bk_xcalloc(n + 1, sizeof(*b->layer_files));
    b->records = bk_xcalloc(n + 1, sizeof(*b->records));
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
    if (kind != BK_GEN_REPAIR && getenv("BKCACHE_TEST_HELPER_PAUSE")) { /* tests only */
        go.pause_arg = 1;
        bk_strvec_pushf(&args, "BKCACHE_HELPER_PAUSE=%s", getenv("BKCACHE_TEST_HELPER_PAUSE"));
    }
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
        b->ran = 1;
        rc = bk_builder_run(io->cfg.ops, io->cfg.builder, &req, &sink, &log);
        if (rc)
            bk_error_wrap(rc, "%s %zu cache%s",
                          kind == BK_GEN_INJECT   ? "restore"
                          : kind == BK_GEN_REPAIR ? "repair"
                                                  : "save",
                          b->n, b->n == 1 ? "" : "s");
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
        return bk_error_set(strcmp(got->code, "corrupt") == 0 || strstr(got->message, "digest") ||
                                    strstr(got->message, "corrupt")
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

/*
 * The restore build stopped before it finished (the helper or the client
 * died, or bkcache was asked to stop): a cache may be left half replaced,
 * marked as an unfinished restore. While bkcache lives, it does not leave
 * it so: one more build runs the helper's repair in every cache of the
 * batch, which empties the marked ones. If that fails too, the marker stays
 * and the next bkcache run on that cache repairs it.
 */
static void repair_after_interruption(struct builder_io *io, struct batch *b,
                                      const struct bk_mountio_item *items, int code)
{
    char msg[1024];
    int rc;

    snprintf(msg, sizeof(msg), "%s", bk_error_msg());
    for (size_t k = 0; k < b->n; k++) {
        memset(&b->exp[k].report, 0, sizeof(b->exp[k].report));
        b->exp[k].have_report = 0;
    }
    rc = batch_build(io, b, BK_GEN_REPAIR, items);
    for (size_t k = 0; rc == BK_OK && k < b->n; k++) {
        const char *name = items[b->index[k]].identity->name;
        if (!b->exp[k].have_report)
            bk_warn("warning: repair %s: the helper wrote no report", name);
        else if (strcmp(b->exp[k].report.status, "repaired") == 0)
            bk_warn("warning: restore %s was interrupted before it finished; the cache was "
                    "emptied (never left half replaced)",
                    name);
    }
    if (rc)
        bk_warn("warning: the restore was interrupted and the caches could not be checked "
                "(%s); the next bkcache run on them repairs any it left half replaced",
                bk_error_msg());
    bk_error_set(code, "%s", msg);
}

/* A layered item: the top layer's manifest must carry the index's digest
 * (the helper verifies every layer's bytes and the stack);
 * each layer goes into the context once per blob digest, and mount
 * b->n gets the stack and the record of the stored layers. */
static int place_layers(struct batch *b, const struct bk_mountio_item *it,
                        struct bk_bfiles_report *expect)
{
    const char *top = it->layer_paths[it->nlayers - 1];
    char **files = bk_xcalloc(it->nlayers + 1, sizeof(*files));
    struct bk_strbuf rec = BK_STRBUF_INIT;
    int fd = open(top, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0) {
        rc = bk_error_set(BK_ERR, "%s: %s", top, strerror(errno));
    } else {
        rc = bk_bfiles_read_manifest(fd, top, expect);
        close(fd);
    }
    if (rc == BK_OK && strcmp(expect->digest, it->expect_digest) != 0)
        rc = bk_error_set(BK_ECORRUPT, "%s: its manifest says digest %.12s, the index %.12s", top,
                          expect->digest, it->expect_digest);
    expect->archive_bytes = 0;
    for (size_t k = 0; k < it->nlayers; k++) {
        const struct bk_archive_layer *l = &it->layers[k];
        files[k] = bk_xasprintf("%s.tar.zst", l->digest + strlen("sha256:"));
        if (rc == BK_OK && bk_strvec_find(&b->placed, files[k]) < 0) {
            rc = bk_bfiles_place(it->layer_paths[k], b->helper_dir, files[k]);
            if (rc == BK_OK)
                bk_strvec_push(&b->placed, files[k]);
        }
        bk_strbuf_addf(&rec, "%s%s:%llu:%s", k ? "," : "", l->digest, (unsigned long long)l->size,
                       l->tree);
        expect->archive_bytes += l->size;
    }
    if (rc < 0) {
        for (size_t k = 0; k < it->nlayers; k++)
            free(files[k]);
        free(files);
        bk_strbuf_release(&rec);
        return rc;
    }
    b->layer_files[b->n] = files;
    b->records[b->n] = bk_strbuf_detach(&rec);
    b->mounts[b->n].layer_files = (const char *const *)files;
    b->mounts[b->n].nlayers = it->nlayers;
    b->mounts[b->n].record = b->records[b->n];
    return BK_OK;
}

static int builder_inject(struct bk_mountio *base, struct bk_mountio_item *items, size_t n)
{
    struct builder_io *io = (struct builder_io *)base;
    struct batch b;
    int rc = batch_init(io, &b, items, n);

    for (size_t i = 0; rc == BK_OK && i < n; i++) {
        struct bk_mountio_item *it = &items[i];
        struct bk_bfiles_report report;
        const struct bk_bfiles_report *expect = &report;
        char *name;

        memset(&it->stats, 0, sizeof(it->stats));
        fill_mount(&b.mounts[b.n], it);
        it->status = it->nlayers ? place_layers(&b, it, &report)
                                 : bk_bfiles_check_archive(it->archive_path, &report);
        if (it->status) {
            bk_warn("restore %s: %s", it->identity->name, bk_error_msg());
            continue;
        }
        snprintf(it->stats.digest, sizeof(it->stats.digest), "%s", expect->digest);
        it->stats.files = expect->files;
        it->stats.archive_bytes = expect->archive_bytes;
        b.mounts[b.n].expect_digest = it->stats.digest;
        if (!it->nlayers) {
            name = bk_xasprintf("%zu.tar.zst", b.n);
            it->status = bk_bfiles_place(it->archive_path, b.helper_dir, name);
            free(name);
            if (it->status)
                continue;
        }
        b.index[b.n++] = i;
    }
    if (rc == BK_OK && b.n)
        rc = batch_build(io, &b, BK_GEN_INJECT, items);
    if (rc && b.ran)
        repair_after_interruption(io, &b, items, rc);
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
        b.exp[b.n].hash = items[i].layer;
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
            memcpy(it->stats.archive_sha256, b.exp[k].archive_sha256,
                   sizeof(it->stats.archive_sha256));
            it->stats.delta = got->delta;
            memcpy(it->stats.parent, got->parent, sizeof(it->stats.parent));
            memcpy(it->stats.parent_layers, got->layers, sizeof(it->stats.parent_layers));
            it->stats.nparent_layers = got->nlayers;
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
