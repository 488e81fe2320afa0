/*
 * gitlab_runnercache.c - the gitlab provider's runner-cache store: archives
 * in a directory inside $CI_PROJECT_DIR that the job's `cache:` keyword
 * carries from job to job (GitLab has no cache API; the runner zips the
 * directory itself after the script). See providers/gitlab.h.
 *
 * Layout of the directory, one pair of files per entry:
 *
 *   <name>.tar.zst   the archive, copied in as it was given
 *   <name>.json      {"key", "size", "created", "last_used"} (Unix seconds)
 *
 * <name> is the key when it is a safe file name (at most 200 characters of
 * [A-Za-z0-9._-], not starting with '.'), else "k-" + its SHA-256; the JSON
 * always holds the real key. Files are written under a temporary name and
 * renamed into place, the archive before its JSON, so a reader sees whole
 * entries only; an archive without its JSON is an unfinished save and is
 * swept away.
 *
 * The size budget: after every save, entries are removed least recently
 * used first (last_used, which a restore refreshes) until the archives fit
 * max-size and there are at most keep of them. The entry just saved is never
 * evicted; an archive larger than max-size on its own is refused up front
 * (BK_ESKIPPED), so the runner cache cannot grow without bound.
 *
 * This is a small, single-writer store (one job owns its checkout); the
 * local store (providers/local.c) was not available when it was written.
 */
#include "providers/gitlab.h"

#include "core/strbuf.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_MAX_KEY 200
#define ARCHIVE_EXT ".tar.zst"
#define META_EXT ".json"
#define STALE_TMP_SECS 3600

/* ---- helpers ---- */

static int safe_name(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > NAME_MAX_KEY || key[0] == '.')
        return 0;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* "<dir>/<name>" without an extension. Caller frees. */
static char *entry_base(const struct gitlab_config *c, const char *key)
{
    char hex[65];
    if (safe_name(key))
        return bk_xasprintf("%s/%s", c->dir, key);
    gitlab_sha256_hex(key, strlen(key), hex);
    return bk_xasprintf("%s/k-%s", c->dir, hex);
}

static int mkdir_p(const char *path)
{
    char *p = bk_xstrdup(path);
    int rc = BK_OK;

    for (char *s = p + 1;; s++) {
        char save = *s;
        if (save != '/' && save != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            rc = bk_error_set(BK_ERR, "%s: cannot create the directory: %s", p, strerror(errno));
            break;
        }
        *s = save;
        if (!save)
            break;
    }
    free(p);
    return rc;
}

/* Copy all of `in` (from offset 0) to `out` (from offset 0, truncated). */
static int copy_fd(int in, int out, const char *what)
{
    char buf[1 << 16];
    off_t off = 0;

    if (ftruncate(out, 0) != 0)
        return bk_error_set(BK_ERR, "%s: cannot truncate: %s", what, strerror(errno));
    for (;;) {
        ssize_t n = pread(in, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bk_error_set(BK_ERR, "%s: read: %s", what, strerror(errno));
        if (n == 0)
            return BK_OK;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = pwrite(out, buf + done, (size_t)(n - done), off + done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return bk_error_set(BK_ERR, "%s: write: %s", what, strerror(errno));
            done += w;
        }
        off += n;
    }
}

static int write_meta(const char *base, const struct bk_provider_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    char *text, *path = bk_xasprintf("%s%s", base, META_EXT);
    char *tmp = bk_xasprintf("%s.tmp-%ld", base, (long)getpid());
    FILE *f;
    int rc = BK_OK;

    cJSON_AddStringToObject(o, "key", e->key);
    cJSON_AddNumberToObject(o, "size", (double)e->size);
    cJSON_AddNumberToObject(o, "created", (double)e->created);
    cJSON_AddNumberToObject(o, "last_used", (double)e->last_used);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        rc = bk_error_set(BK_ERR, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(text);
    free(tmp);
    free(path);
    return rc;
}

/* Read "<base>.json" into e (key, size, times; handle = base). */
static int read_meta(const char *base, struct bk_provider_entry *e)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    char *path = bk_xasprintf("%s%s", base, META_EXT);
    cJSON *o, *k;
    int rc = bk_strbuf_read_file(&sb, path);

    if (rc) {
        free(path);
        return rc;
    }
    o = cJSON_Parse(sb.buf);
    k = cJSON_GetObjectItemCaseSensitive(o, "key");
    if (!cJSON_IsString(k)) {
        rc = bk_error_set(BK_ECORRUPT, "%s: not a bkcache entry description", path);
    } else {
        memset(e, 0, sizeof(*e));
        e->key = bk_xstrdup(k->valuestring);
        e->size = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "size"));
        e->created = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "created"));
        e->last_used = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "last_used"));
        e->handle = bk_xstrdup(base);
    }
    cJSON_Delete(o);
    bk_strbuf_release(&sb);
    free(path);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct entries {
    struct bk_provider_entry *v;
    size_t n, alloc;
};

static void entries_release(struct entries *es)
{
    for (size_t i = 0; i < es->n; i++)
        bk_provider_entry_release(&es->v[i]);
    free(es->v);
    memset(es, 0, sizeof(*es));
}

/* Every complete entry of the directory; a missing directory is empty. When
 * `sweep` is set, unfinished saves (archives without a JSON, old temporary
 * files) are deleted on the way. */
static int read_entries(const struct gitlab_config *c, struct entries *es, int sweep)
{
    DIR *d = opendir(c->dir);
    struct dirent *de;
    time_t now = time(NULL);

    memset(es, 0, sizeof(*es));
    if (!d)
        return errno == ENOENT
                   ? BK_OK
                   : bk_error_set(BK_ERR, "%s: cannot open: %s", c->dir, strerror(errno));
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        char *path = bk_xasprintf("%s/%s", c->dir, name);
        struct stat st;

        if (ends_with(name, META_EXT) && name[0] != '.') {
            char *base = bk_xstrndup(path, strlen(path) - strlen(META_EXT));
            char *archive = bk_xasprintf("%s%s", base, ARCHIVE_EXT);
            struct bk_provider_entry e;
            if (stat(archive, &st) == 0 && read_meta(base, &e) == BK_OK) {
                e.size = (uint64_t)st.st_size;
                if (es->n == es->alloc) {
                    es->alloc = es->alloc ? 2 * es->alloc : 16;
                    es->v = bk_xrealloc(es->v, es->alloc * sizeof(*es->v));
                }
                es->v[es->n++] = e;
            } else if (sweep) {
                unlink(path); /* a description without an archive */
            }
            free(archive);
            free(base);
        } else if (sweep && ends_with(name, ARCHIVE_EXT)) {
            char *meta =
                bk_xasprintf("%.*s%s", (int)(strlen(path) - strlen(ARCHIVE_EXT)), path, META_EXT);
            if (access(meta, F_OK) != 0 && errno == ENOENT) {
                bk_debug("gitlab: removing %s (no description: an unfinished save)", path);
                unlink(path);
            }
            free(meta);
        } else if (sweep && strstr(name, ".tmp-") && stat(path, &st) == 0 &&
                   now - st.st_mtime > STALE_TMP_SECS) {
            unlink(path);
        }
        free(path);
    }
    closedir(d);
    bk_error_clear();
    return BK_OK;
}

static int remove_base(const char *base)
{
    char *archive = bk_xasprintf("%s%s", base, ARCHIVE_EXT);
    char *meta = bk_xasprintf("%s%s", base, META_EXT);
    int rc = BK_OK;

    /* the description first: a reader never sees an entry without data */
    if (unlink(meta) != 0)
        rc = errno == ENOENT ? bk_error_set(BK_ENOTFOUND, "%s: no such entry", meta)
                             : bk_error_set(BK_ERR, "%s: cannot remove: %s", meta, strerror(errno));
    if (unlink(archive) != 0 && errno != ENOENT && rc == BK_OK)
        rc = bk_error_set(BK_ERR, "%s: cannot remove: %s", archive, strerror(errno));
    free(archive);
    free(meta);
    return rc;
}

static int by_last_used(const void *a, const void *b)
{
    const struct bk_provider_entry *x = a, *y = b;
    if (x->last_used != y->last_used)
        return x->last_used < y->last_used ? -1 : 1;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Remove least recently used entries, never `protect`, down to the budget. */
static int evict(const struct gitlab_config *c, const char *protect)
{
    struct entries es;
    uint64_t total = 0;
    size_t count;
    int rc = read_entries(c, &es, 1);

    if (rc)
        return rc;
    for (size_t i = 0; i < es.n; i++)
        total += es.v[i].size;
    count = es.n;
    qsort(es.v, es.n, sizeof(*es.v), by_last_used);
    for (size_t i = 0; i < es.n; i++) {
        int over_size = c->max_size && total > c->max_size;
        int over_count = c->keep >= 0 && count > (size_t)c->keep;
        if (!over_size && !over_count)
            break;
        if (protect && strcmp(es.v[i].handle, protect) == 0)
            continue;
        if (remove_base(es.v[i].handle) == BK_OK) {
            bk_info("gitlab: evicted %s (%llu bytes, least recently used)", es.v[i].key,
                    (unsigned long long)es.v[i].size);
            total -= es.v[i].size;
            count--;
        }
    }
    entries_release(&es);
    return BK_OK;
}

/* ---- the store ---- */

int gitlab_runner_list(const struct gitlab_config *c, bk_entry_cb cb, void *payload)
{
    struct entries es;
    int rc = read_entries(c, &es, 0);

    for (size_t i = 0; rc == BK_OK && i < es.n; i++)
        if (cb(&es.v[i], payload))
            break;
    entries_release(&es);
    return rc;
}

int gitlab_runner_lookup(const struct gitlab_config *c, const struct bk_lookup *q,
                         struct bk_provider_entry *out)
{
    struct entries es;
    long i;
    int rc = read_entries(c, &es, 0);

    if (rc)
        return rc;
    i = bk_provider_pick(es.v, es.n, q);
    if (i < 0)
        rc = bk_error_set(BK_ENOTFOUND, "%s: no entry for key %s", c->dir, q->key);
    else
        bk_provider_entry_copy(out, &es.v[i]);
    entries_release(&es);
    return rc;
}

int gitlab_runner_download(const struct gitlab_config *c, const struct bk_provider_entry *e, int fd)
{
    char *base = e->handle ? bk_xstrdup(e->handle) : entry_base(c, e->key);
    char *archive = bk_xasprintf("%s%s", base, ARCHIVE_EXT);
    struct bk_provider_entry meta;
    int in = open(archive, O_RDONLY | O_CLOEXEC);
    int rc;

    if (in < 0) {
        rc = bk_error_set(errno == ENOENT ? BK_ENOTFOUND : BK_ERR, "%s: cannot open: %s", archive,
                          strerror(errno));
        goto out;
    }
    rc = copy_fd(in, fd, archive);
    close(in);
    /* a restore counts as a use: refresh last_used for the LRU budget */
    if (rc == BK_OK && read_meta(base, &meta) == BK_OK) {
        meta.last_used = (int64_t)time(NULL);
        if (write_meta(base, &meta) != BK_OK)
            bk_warn("gitlab: %s", bk_error_msg());
        bk_provider_entry_release(&meta);
        bk_error_clear();
    }
out:
    free(archive);
    free(base);
    return rc;
}

int gitlab_runner_upload(const struct gitlab_config *c, const struct bk_upload *u, int fd)
{
    struct bk_provider_entry e = {0};
    char *base, *archive, *tmp;
    int out, rc;

    if (c->max_size && u->size > c->max_size)
        return bk_error_set(BK_ESKIPPED,
                            "%s: archive of %llu bytes is larger than max-size (%llu bytes) on "
                            "its own; not saved",
                            u->key, (unsigned long long)u->size, (unsigned long long)c->max_size);
    if ((rc = mkdir_p(c->dir)))
        return rc;
    base = entry_base(c, u->key);
    archive = bk_xasprintf("%s%s", base, ARCHIVE_EXT);
    tmp = bk_xasprintf("%s/.tmp-%ld-XXXXXX", c->dir, (long)getpid());
    out = mkstemp(tmp);
    if (out < 0) {
        rc = bk_error_set(BK_ERR, "%s: cannot create a file: %s", c->dir, strerror(errno));
        goto done;
    }
    rc = copy_fd(fd, out, archive);
    if (close(out) != 0 && rc == BK_OK)
        rc = bk_error_set(BK_ERR, "%s: %s", tmp, strerror(errno));
    if (rc == BK_OK && rename(tmp, archive) != 0)
        rc = bk_error_set(BK_ERR, "%s: cannot rename into place: %s", archive, strerror(errno));
    if (rc) {
        unlink(tmp);
        goto done;
    }
    e.key = (char *)u->key;
    e.size = u->size;
    e.created = e.last_used = (int64_t)time(NULL);
    if ((rc = write_meta(base, &e))) {
        unlink(archive);
        goto done;
    }
    if (evict(c, base) != BK_OK) {
        bk_warn("gitlab: size budget: %s", bk_error_msg());
        bk_error_clear();
    }
done:
    free(tmp);
    free(archive);
    free(base);
    return rc;
}

int gitlab_runner_remove(const struct gitlab_config *c, const struct bk_provider_entry *e)
{
    char *base = e->handle ? bk_xstrdup(e->handle) : entry_base(c, e->key);
    int rc = remove_base(base);
    free(base);
    return rc;
}
