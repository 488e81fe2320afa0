/*
 * bkcache-helper - the static program that runs inside generated builds.
 *
 * It is copied into the build context of every build that bkcache generates
 * (FROM scratch, exec-form RUNs), so it must need nothing from the image: it
 * is linked statically and does only three things, with the archive code of
 * core/archive/.c:
 *
 *   bkcache-helper unpack ARCHIVE... DIR --report FILE [--skip-nonempty]
 *                  [--base BASE] [--expect-digest HEX] [--allow-special]
 *                  [--record sha256:HEX:SIZE:TREE,...]
 *       Verify ARCHIVE and make DIR's contents exactly the archive's (DIR is
 *       a cache mount point, so its contents are replaced, not DIR itself).
 *       Several ARCHIVEs are a stack of layers, bottom first (a full archive,
 *       then deltas), unpacked in one merged pass. --record names the stored
 *       layers the ARCHIVEs are (one per ARCHIVE): DIR then gets the base
 *       record (.bkcache-base) a later `pack --delta` packs against.
 *       With --skip-nonempty a DIR that holds anything is left alone and the
 *       report says "skipped"; with --base BASE (the from= content a new
 *       cache starts with), a DIR whose content equals BASE's still counts
 *       as new. A DIR marked by an unfinished restore is always replaced.
 *   bkcache-helper pack DIR ARCHIVE --report FILE [--level N] [--delta L:R]
 *                  [--reproducible]
 *       Pack DIR into ARCHIVE; an empty DIR gives no archive and the report
 *       says "empty". --delta L:R lets it write a delta against DIR's base
 *       record while that stack has fewer than L layers and its layers above
 *       the bottom hold at most R times the bottom's bytes (else a full
 *       archive); --reproducible makes the bytes depend on the tree alone. A DIR marked by an
 * unfinished restore is refused (an error report): its contents may be a mix of two versions.
 *   bkcache-helper repair DIR --report FILE
 *       Empty DIR when it is marked by an unfinished restore (report
 *       "repaired"), else leave it ("ok"). bkcache runs it when a restore's
 *       build was interrupted while bkcache itself lives on.
 *   bkcache-helper digest DIR
 *       Print DIR's content digest and counts (the report format) on stdout.
 *
 * Every command first removes what killed runs left in DIR (abandoned
 * ".bkcache-unpack-*" and ".bkcache-old-*" directories); bkcache's own
 * ".bkcache-*" names never count as data and are never packed (archive.h).
 *
 * Tests only: BKCACHE_HELPER_PAUSE=POINT (pack: the first member is
 * written; unpack: half the members are written; swap: the cache has
 * started to change) makes the helper stop at
 * that point for up to 120 s, renamed "bkcache-paused" (/proc/PID/comm), so
 * a test can kill it, or its build, exactly there (archive_pause.c). bkcache passes the
 * variable into transfer builds only when BKCACHE_TEST_HELPER_PAUSE is set
 * in its own environment; unset, nothing changes.
 *
 * The report is one line of JSON that bkcache reads from the build's
 * exported output: {"status":"ok|skipped|empty|repaired","digest":"HEX","files":N,
 * "entries":N,"bytes":N,"archive_bytes":N}, or {"status":"error","code":"...",
 * "message":"..."} (code: "corrupt" when the archive or a layer is at fault).
 * A pack that wrote a delta adds "delta":true,"parent":"HEX" (the tree
 * below) and "layers":[{"digest":"sha256:HEX","size":N,"tree":"HEX"},...]
 * (the stored layers below, bottom first). Exit
 * status 0 when a report was written (an error too, so that one bad cache
 * does not stop the other caches' RUNs), 1 when none could be.
 */
#include "core/archive/archive.h"
#include "core/archive/archive_internal.h"
#include "core/util/error.h"
#include "core/util/numparse.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * libarchive's pax writer calls this helper from archive_write_set_format.o,
 * whose table of every format drags libxml2 and ICU (some 35 MB) into a
 * static link. Defining it here keeps the helper small; it only reports
 * that the format cannot store an entry's file type.
 */
void __archive_write_entry_filetype_unsupported(struct archive *a, struct archive_entry *entry,
                                                const char *format);
void __archive_write_entry_filetype_unsupported(struct archive *a, struct archive_entry *entry,
                                                const char *format)
{
    archive_set_error(a, EINVAL, "%s: the %s format cannot store this file type",
                      archive_entry_pathname(entry), format);
}

static int usage(void)
{
    fprintf(stderr, "usage: bkcache-helper unpack ARCHIVE... DIR --report FILE [--skip-nonempty]\n"
                    "                      [--base DIR] [--expect-digest HEX] [--allow-special]\n"
                    "                      [--record sha256:HEX:SIZE:TREE,...]\n"
                    "       bkcache-helper pack DIR ARCHIVE --report FILE [--level N]\n"
                    "                      [--delta LAYERS:RATIO] [--reproducible]\n"
                    "       bkcache-helper repair DIR --report FILE\n"
                    "       bkcache-helper digest DIR\n");
    return 2;
}

/* 1 when `dir` holds no entry but bkcache's own, 0 when it does, -1 when it
 * cannot be read. */
static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;

    if (!d)
        return errno == ENOENT ? 1 : -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            !bk_archive_is_own_name(e->d_name)) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

/* mkdir -p of the directory part of `path`. */
static void make_parents(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return;
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    }
    free(p);
}

static int write_report(const char *path, const char *status, const struct bk_archive_stats *st)
{
    FILE *f = stdout;

    if (path) {
        make_parents(path);
        f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "bkcache-helper: %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    fprintf(f,
            "{\"status\":\"%s\",\"digest\":\"%s\",\"files\":%" PRIu64 ",\"entries\":%" PRIu64
            ",\"bytes\":%" PRIu64 ",\"archive_bytes\":%" PRIu64,
            status, st ? st->digest : "", st ? st->files : 0, st ? st->entries : 0,
            st ? st->bytes : 0, st ? st->archive_bytes : 0);
    if (st && st->delta) {
        struct bk_strbuf layers = BK_STRBUF_INIT;
        bk_archive__layers_json(st->parent_layers, st->nparent_layers, &layers);
        fprintf(f, ",\"delta\":true,\"parent\":\"%s\",\"layers\":%s", st->parent, layers.buf);
        bk_strbuf_release(&layers);
    }
    fputs("}\n", f);
    if (path && fclose(f) != 0) {
        fprintf(stderr, "bkcache-helper: %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

/*
 * A failure. With a report file, the failure goes into the report
 * ({"status":"error","code":"...","message":"..."}, code the bk_status
 * name, "corrupt" when the archive is at fault) and the exit status is 0,
 * so one bad cache does not fail the other caches' RUNs in the same build;
 * bkcache reports it for that cache. Without one, exit 1.
 */
static int fail_code(const char *report, const char *what, int code)
{
    char msg[1024];
    FILE *f;

    snprintf(msg, sizeof(msg), "%s: %s", what, bk_error_msg());
    fprintf(stderr, "bkcache-helper: %s\n", msg);
    if (!report)
        return 1;
    make_parents(report);
    f = fopen(report, "w");
    if (!f)
        return 1;
    fprintf(f, "{\"status\":\"error\",\"code\":\"%s\",\"digest\":\"\",\"message\":\"",
            bk_status_name(code));
    for (const char *p = msg; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        fputc((unsigned char)*p < 0x20 ? ' ' : *p, f);
    }
    fputs("\"}\n", f);
    return fclose(f) == 0 ? 0 : 1;
}

static int fail(const char *report, const char *what)
{
    return fail_code(report, what, BK_ERR);
}

static int fail_errno(const char *report, const char *path)
{
    bk_error_set(BK_ERR, "%s", strerror(errno));
    return fail(report, path);
}

#define MAX_POS (BK_ARCHIVE_MAX_LAYERS + 1)

struct args {
    const char *pos[MAX_POS];
    int npos;
    const char *report, *expect_digest, *base, *record, *delta;
    const char *level; /* --level N, checked by cmd_pack */
    int skip_nonempty, allow_special, reproducible;
};

/* want: the number of positionals; a negative want -N means N or more. */
static int parse_args(int argc, char **argv, int want, struct args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--report") == 0 && i + 1 < argc)
            a->report = argv[++i];
        else if (strcmp(s, "--base") == 0 && i + 1 < argc)
            a->base = argv[++i];
        else if (strcmp(s, "--expect-digest") == 0 && i + 1 < argc)
            a->expect_digest = argv[++i];
        else if (strcmp(s, "--level") == 0 && i + 1 < argc)
            a->level = argv[++i];
        else if (strcmp(s, "--record") == 0 && i + 1 < argc)
            a->record = argv[++i];
        else if (strcmp(s, "--delta") == 0 && i + 1 < argc)
            a->delta = argv[++i];
        else if (strcmp(s, "--reproducible") == 0)
            a->reproducible = 1;
        else if (strcmp(s, "--skip-nonempty") == 0)
            a->skip_nonempty = 1;
        else if (strcmp(s, "--allow-special") == 0)
            a->allow_special = 1;
        else if (s[0] == '-' && s[1] == '-')
            return -1;
        else if (a->npos < MAX_POS)
            a->pos[a->npos++] = s;
        else
            return -1;
    }
    return a->npos == want || (want < 0 && a->npos >= -want) ? 0 : -1;
}

static int cmd_unpack(const struct args *a)
{
    struct bk_unpack_opts uo = {0};
    struct bk_archive_stats st = {0};
    struct bk_archive_layer record[BK_ARCHIVE_MAX_LAYERS];
    size_t n = (size_t)a->npos - 1, nrecord = 0;
    const char *dir = a->pos[n];
    int fds[BK_ARCHIVE_MAX_LAYERS], rc = 0, unfinished = bk_archive_unfinished(dir);

    if (unfinished < 0)
        return fail(a->report, dir);
    if (a->record &&
        (bk_archive__layers_parse(a->record, record, BK_ARCHIVE_MAX_LAYERS, &nrecord) ||
         (nrecord != n &&
          bk_error_set(BK_EINVAL, "--record names %zu layers for %zu archives", nrecord, n))))
        return fail(a->report, dir);
    bk_archive_clean_leftovers(dir, 1); /* also when the cache is then skipped */
    if (unfinished)                     /* a mix: replaced, whatever --skip-nonempty says */
        fprintf(stderr, "bkcache-helper: %s: an earlier restore did not finish; replacing it\n",
                dir);
    if (a->skip_nonempty && !unfinished) {
        int empty = dir_is_empty(dir);
        if (empty < 0)
            return fail_errno(a->report, dir);
        if (!empty) {
            struct bk_archive_stats base = {0};
            if (bk_archive_digest_dir(dir, &st))
                return fail(a->report, dir);
            if (a->base && bk_archive_digest_dir(a->base, &base))
                return fail(a->report, a->base);
            if (!a->base || strcmp(base.digest, st.digest) != 0)
                return write_report(a->report, "skipped", &st);
        }
    }
    for (size_t i = 0; i < n; i++) {
        fds[i] = open(a->pos[i], O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            rc = fail_errno(a->report, a->pos[i]);
            while (i-- > 0)
                close(fds[i]);
            return rc;
        }
    }
    uo.allow_special = a->allow_special;
    uo.expect_digest = a->expect_digest;
    uo.replace_contents = 1;
    uo.keep_owner = 1;
    bk_archive_pause_from_env(&uo.checkpoint, "BKCACHE_HELPER_PAUSE"); /* tests only */
    rc = bk_archive_unpack_layers(fds, n, dir, &uo, a->record ? record : NULL, nrecord, &st, NULL);
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
    if (rc)
        return fail_code(a->report, n == 1 ? a->pos[0] : dir, rc);
    /* the digest of what was written, computed while unpacking */
    return write_report(a->report, "ok", &st);
}

/* --delta LAYERS:RATIO into the pack options. */
static int delta_opts(const char *s, const char *dir, struct bk_pack_opts *po, char **record)
{
    char *end;
    long layers = strtol(s, &end, 10);
    double ratio = 0;
    if (end != s && *end == ':') {
        const char *r = end + 1;
        ratio = strtod(r, &end);
        if (end == r)
            ratio = -1;
    }
    if (layers < 1 || layers > BK_ARCHIVE_MAX_LAYERS || *end || !(ratio > 0))
        return bk_error_set(BK_EINVAL, "--delta %s: expected LAYERS:RATIO (1..%d, above 0)", s,
                            BK_ARCHIVE_MAX_LAYERS);
    *record = bk_xasprintf("%s/%s", dir, BK_ARCHIVE_BASE_RECORD);
    po->parent_record = *record;
    po->delta_max_layers = (int)layers;
    po->delta_max_ratio = ratio;
    return BK_OK;
}

static int cmd_pack(const struct args *a)
{
    struct bk_pack_opts po = {0};
    struct bk_archive_stats st = {0};
    char *record = NULL;
    long level = 0; /* 0: the default */
    int fd, rc, empty, unfinished = bk_archive_unfinished(a->pos[0]);

    if (unfinished < 0)
        return fail(a->report, a->pos[0]);
    if (unfinished) {
        bk_error_set(BK_ERR, "the cache holds a restore that did not finish (it may mix two "
                             "versions); not saving it: the next restore replaces it");
        return fail(a->report, "unfinished restore");
    }
    bk_archive_clean_leftovers(a->pos[0], 1);
    empty = dir_is_empty(a->pos[0]);
    if (empty < 0)
        return fail_errno(a->report, a->pos[0]);
    if (empty)
        return write_report(a->report, "empty", NULL);
    if (a->level && bk_parse_long("--level", a->level, 1, 19, &level) < 0)
        return fail(a->report, "pack");
    if (a->delta && delta_opts(a->delta, a->pos[0], &po, &record))
        return fail(a->report, a->pos[0]);
    make_parents(a->pos[1]);
    fd = open(a->pos[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(record);
        return fail_errno(a->report, a->pos[1]);
    }
    po.level = (int)level;
    po.reproducible = a->reproducible;
    bk_archive_pause_from_env(&po.checkpoint, "BKCACHE_HELPER_PAUSE"); /* tests only */
    rc = bk_archive_pack(a->pos[0], fd, &po, &st);
    free(record);
    if (close(fd) != 0 && rc == 0)
        rc = bk_error_set(BK_ERR, "%s: %s", a->pos[1], strerror(errno));
    if (rc) {
        unlink(a->pos[1]);
        return fail(a->report, a->pos[0]);
    }
    return write_report(a->report, "ok", &st);
}

static int cmd_repair(const struct args *a)
{
    int unfinished = bk_archive_unfinished(a->pos[0]);

    if (unfinished < 0)
        return fail(a->report, a->pos[0]);
    bk_archive_clean_leftovers(a->pos[0], 1);
    if (!unfinished)
        return write_report(a->report, "ok", NULL);
    if (bk_archive_empty_contents(a->pos[0]))
        return fail(a->report, a->pos[0]);
    return write_report(a->report, "repaired", NULL);
}

int main(int argc, char **argv)
{
    struct args a;
    struct bk_archive_stats st = {0};

    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "unpack") == 0) {
        if (parse_args(argc - 2, argv + 2, -2, &a) || !a.report)
            return usage();
        return cmd_unpack(&a);
    }
    if (strcmp(argv[1], "pack") == 0) {
        if (parse_args(argc - 2, argv + 2, 2, &a) || !a.report)
            return usage();
        return cmd_pack(&a);
    }
    if (strcmp(argv[1], "repair") == 0) {
        if (parse_args(argc - 2, argv + 2, 1, &a) || !a.report)
            return usage();
        return cmd_repair(&a);
    }
    if (strcmp(argv[1], "digest") == 0) {
        if (parse_args(argc - 2, argv + 2, 1, &a))
            return usage();
        if (bk_archive_digest_dir(a.pos[0], &st))
            return fail(NULL, a.pos[0]);
        return write_report(NULL, "ok", &st);
    }
    return usage();
}
