/*
 * local.c - the local directory store (`--provider local`).
 *
 * Where: --store DIR, else $BKCACHE_DIR, else $XDG_CACHE_HOME/bkcache, else
 * $HOME/.cache/bkcache. Nothing is created until the first upload, so a
 * lookup in a store that does not exist is a plain miss.
 *
 * Layout:
 *   DIR/.lock                 flock(2) target: writers exclusive, readers shared
 *   DIR/entries/H.tar.zst     the archive; H = hex SHA-256 of the key (keys can
 *                             be longer than a file name may be)
 *   DIR/entries/H.json        sidecar: {"key", "size", "created", "created_ns",
 *                             "last_used", "identity"}; the times are Unix seconds
 *   DIR/entries/.tmp-*, *.tmp-*  writes in progress (same directory, so rename is atomic)
 *   DIR/blobs/sha256/<hex>    content-addressed blobs (local_blobs.c)
 *
 * Writes are atomic: the archive and the sidecar are each written to a
 * temporary file in entries/, fsync'ed, renamed into place under the
 * exclusive lock, and the directory is fsync'ed. An archive on the store's
 * file system is not copied: the temporary file is a hard link to it (so
 * the uploader must not write the file again; save only removes it). Two concurrent saves of one
 * key both complete and the last one wins, leaving one valid entry; readers
 * take the shared lock, so they never see an archive without its sidecar.
 * Keys are not immutable: a re-save replaces the entry (caps: delete, list).
 * A download records the time in last_used (not in read-only mode);
 * open_local hands out the archive file itself, so restore reads it in
 * place instead of copying it first.
 * Lookup lists every sidecar and applies bk_provider_pick(), newest first.
 */
#include "providers/local_common.h"

#include "core/util/fileio.h"
#include "core/util/json.h"
#include "core/util/strbuf.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern const struct bk_provider_ops bk_provider_local;

struct local_meta {
    struct bk_provider_entry e; /* handle: the archive path */
    int64_t created_ns;
    char *identity;
};

/* ---- helpers ---- */

static void key_hash(const char *key, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(key, strlen(key), md, &n, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = '\0';
}

static void now_realtime(int64_t *sec, int64_t *nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    if (nsec)
        *nsec = ts.tv_nsec;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Take the store lock: LOCK_SH or LOCK_EX. Returns the fd, -1 when the
 * store does not exist yet and `create` is 0, or an error (< -1). */
static int lock_store(struct local_store *ls, int how, int create)
{
    char *path = bk_xasprintf("%s/.lock", ls->root);
    int fd = open(path, create ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0666);
    int rc;

    if (fd < 0) {
        rc =
            errno == ENOENT && !create ? -1 : bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
        free(path);
        return rc;
    }
    while (flock(fd, how) != 0) {
        if (errno != EINTR) {
            rc = bk_error_set(BK_ERR, "%s: flock: %s", path, strerror(errno));
            close(fd);
            free(path);
            return rc;
        }
    }
    free(path);
    return fd;
}

static void unlock_store(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the last descriptor releases the flock */
}

/* ---- sidecars ---- */

static int meta_read(const char *json_path, struct local_meta *m)
{
    void *raw;
    cJSON *doc, *key, *it;
    size_t n = strlen(json_path);
    int rc = bk_json_read_file(json_path, &raw);

    memset(m, 0, sizeof(*m));
    if (rc < 0 && rc != BK_ECORRUPT)
        return rc;
    doc = raw;
    key = doc ? cJSON_GetObjectItemCaseSensitive(doc, "key") : NULL;
    if (!cJSON_IsString(key)) {
        cJSON_Delete(doc);
        return bk_error_set(BK_ECORRUPT, "%s: not a bkcache sidecar", json_path);
    }
    m->e.key = bk_xstrdup(key->valuestring);
#define NUM(field, dst)                                                                            \
    if (cJSON_IsNumber(it = cJSON_GetObjectItemCaseSensitive(doc, field)))                         \
        dst = (int64_t)it->valuedouble;
    NUM("size", m->e.size);
    NUM("created", m->e.created);
    NUM("created_ns", m->created_ns);
    NUM("last_used", m->e.last_used);
#undef NUM
    it = cJSON_GetObjectItemCaseSensitive(doc, "identity");
    if (cJSON_IsString(it))
        m->identity = bk_xstrdup(it->valuestring);
    m->e.handle = bk_xasprintf("%.*s.tar.zst", (int)(n - 5), json_path);
    cJSON_Delete(doc);
    return BK_OK;
}

static void meta_release(struct local_meta *m)
{
    bk_provider_entry_release(&m->e);
    free(m->identity);
}

/* Write the sidecar for `m` atomically (the caller holds the exclusive lock). */
static int meta_write(struct local_store *ls, const char *hash, const struct local_meta *m)
{
    cJSON *doc = cJSON_CreateObject();
    char *path = bk_xasprintf("%s/%s.json", ls->entries, hash);
    struct bk_strbuf sb = BK_STRBUF_INIT;
    char *text;
    int rc;

    cJSON_AddStringToObject(doc, "key", m->e.key);
    cJSON_AddNumberToObject(doc, "size", (double)m->e.size);
    cJSON_AddNumberToObject(doc, "created", (double)m->e.created);
    cJSON_AddNumberToObject(doc, "created_ns", (double)m->created_ns);
    cJSON_AddNumberToObject(doc, "last_used", (double)m->e.last_used);
    if (m->identity)
        cJSON_AddStringToObject(doc, "identity", m->identity);
    text = cJSON_Print(doc);
    cJSON_Delete(doc);
    bk_strbuf_addf(&sb, "%s\n", text);
    cJSON_free(text);
    rc = bk_file_write_atomic(path, sb.buf, sb.len);
    bk_strbuf_release(&sb);
    free(path);
    return rc;
}

struct meta_list {
    struct local_meta *v;
    size_t n, alloc;
};

static void meta_list_release(struct meta_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        meta_release(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int newest_first(const void *a, const void *b)
{
    const struct local_meta *x = a, *y = b;
    if (x->e.created != y->e.created)
        return x->e.created < y->e.created ? 1 : -1;
    if (x->created_ns != y->created_ns)
        return x->created_ns < y->created_ns ? 1 : -1;
    return strcmp(x->e.key, y->e.key);
}

/* Every valid entry, newest first (the caller holds a lock). Sidecars whose
 * archive is missing or of another size are skipped: an interrupted write. */
static int scan_entries(struct local_store *ls, struct meta_list *out)
{
    DIR *d = opendir(ls->entries);
    struct dirent *de;

    memset(out, 0, sizeof(*out));
    if (!d) {
        if (errno == ENOENT)
            return BK_OK;
        return bk_error_set(errno == EACCES ? BK_EDENIED : BK_ERR, "%s: %s", ls->entries,
                            strerror(errno));
    }
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        struct local_meta m;
        struct stat st;
        char *path;

        if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        path = bk_xasprintf("%s/%s", ls->entries, de->d_name);
        if (meta_read(path, &m) < 0) {
            bk_debug("local: skipping %s: %s", path, bk_error_msg());
            free(path);
            continue;
        }
        free(path);
        if (stat(m.e.handle, &st) != 0 || (uint64_t)st.st_size != m.e.size) {
            bk_debug("local: skipping %s: archive missing or incomplete", m.e.key);
            meta_release(&m);
            continue;
        }
        if (out->n == out->alloc) {
            out->alloc = out->alloc ? out->alloc * 2 : 16;
            out->v = bk_xrealloc(out->v, out->alloc * sizeof(*out->v));
        }
        out->v[out->n++] = m;
    }
    closedir(d);
    if (out->n)
        qsort(out->v, out->n, sizeof(*out->v), newest_first);
    return BK_OK;
}

/* ---- slots ---- */

static int local_lookup(struct bk_provider *p, const struct bk_lookup *q,
                        struct bk_provider_entry *out)
{
    struct local_store *ls = (struct local_store *)p;
    struct meta_list l;
    struct bk_provider_entry *flat;
    int fd = lock_store(ls, LOCK_SH, 0);
    long i;
    int rc;

    if (fd < -1)
        return fd;
    rc = scan_entries(ls, &l);
    unlock_store(fd);
    if (rc < 0)
        return rc;
    flat = bk_xcalloc(l.n + 1, sizeof(*flat));
    for (size_t k = 0; k < l.n; k++)
        flat[k] = l.v[k].e;
    i = bk_provider_pick(flat, l.n, q);
    free(flat);
    if (i < 0)
        rc = bk_error_set(BK_ENOTFOUND, "%s: no entry for %s", ls->root, q->key);
    else
        bk_provider_entry_copy(out, &l.v[i].e);
    meta_list_release(&l);
    return rc;
}

/* Open the archive of `e` for reading (under the shared lock, so it is never
 * caught between a rename and its sidecar). */
static int open_entry(struct local_store *ls, const struct bk_provider_entry *e, int *fd_out)
{
    int lk = lock_store(ls, LOCK_SH, 0);

    if (lk < -1)
        return lk;
    *fd_out = e->handle ? open(e->handle, O_RDONLY | O_CLOEXEC) : -1;
    unlock_store(lk);
    if (*fd_out < 0)
        return bk_error_set(BK_ENOTFOUND, "%s: no entry for %s", ls->root, e->key);
    return BK_OK;
}

/* Record the use of `e` in its sidecar's last_used; losing this race to a
 * re-save is harmless, and so is failing (the store may be read-only). */
static void record_use(struct local_store *ls, const struct bk_provider_entry *e)
{
    char hash[65];
    int lk;

    if (ls->read_only)
        return;
    key_hash(e->key, hash);
    lk = lock_store(ls, LOCK_EX, 0);
    if (lk >= 0) {
        char *json = bk_xasprintf("%s/%s.json", ls->entries, hash);
        struct local_meta m;
        if (meta_read(json, &m) == BK_OK && strcmp(m.e.key, e->key) == 0) {
            now_realtime(&m.e.last_used, NULL);
            if (meta_write(ls, hash, &m) < 0)
                bk_debug("local: cannot record the use of %s: %s", e->key, bk_error_msg());
        }
        meta_release(&m);
        free(json);
        unlock_store(lk);
    }
    bk_error_clear();
}

static int local_download(struct bk_provider *p, const struct bk_provider_entry *e, int fd)
{
    struct local_store *ls = (struct local_store *)p;
    int in, rc = open_entry(ls, e, &in);

    if (rc < 0)
        return rc;
    rc = bk_file_copy_fd(in, fd, e->handle);
    close(in);
    if (rc == BK_OK)
        record_use(ls, e);
    return rc;
}

/* The archive is a file here already: hand it out instead of copying it. */
static int local_open_local(struct bk_provider *p, const struct bk_provider_entry *e, int *fd_out)
{
    struct local_store *ls = (struct local_store *)p;
    int rc = open_entry(ls, e, fd_out);

    if (rc == BK_OK)
        record_use(ls, e);
    return rc;
}

/* Put the archive in `fd` under a temporary name in entries/, its data on
 * disk: a hard link when `fd` is on the store's file system (no copy), else
 * a copy. *tmp_out gets the name. */
static int stage_archive(struct local_store *ls, const char *hash, int fd, char **tmp_out)
{
    char *prefix = bk_xasprintf("%s/.tmp-%s-", ls->entries, hash);
    int rc = bk_file_stage_fd(fd, prefix, 1, tmp_out);

    free(prefix);
    return rc;
}

static int local_upload(struct bk_provider *p, const struct bk_upload *u, int fd)
{
    struct local_store *ls = (struct local_store *)p;
    struct local_meta m;
    char hash[65];
    char *tmp = NULL, *path;
    int lk, rc;

    if (ls->read_only)
        return bk_error_set(BK_EDENIED, "%s: the store is open read-only", ls->root);
    rc = bk_mkdir_p(ls->entries);
    if (rc < 0)
        return rc;
    key_hash(u->key, hash);
    path = bk_xasprintf("%s/%s.tar.zst", ls->entries, hash);
    rc = stage_archive(ls, hash, fd, &tmp);
    if (rc < 0)
        goto done;

    lk = lock_store(ls, LOCK_EX, 1);
    if (lk < 0) {
        rc = lk;
        goto done;
    }
    memset(&m, 0, sizeof(m));
    m.e.key = (char *)u->key;
    m.e.size = u->size;
    m.identity = (char *)u->identity;
    now_realtime(&m.e.created, &m.created_ns);
    m.e.last_used = m.e.created;
    if (rename(tmp, path) != 0)
        rc = bk_error_set(BK_ERR, "%s: rename: %s", path, strerror(errno));
    else
        rc = meta_write(ls, hash, &m);
    /* rename() leaves both names when they were links to one file already
     * (the same file uploaded twice) */
    unlink(tmp);
    fsync_dir(ls->entries);
    unlock_store(lk);
done:
    if (rc < 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

static int local_list(struct bk_provider *p, bk_entry_cb cb, void *payload)
{
    struct local_store *ls = (struct local_store *)p;
    struct meta_list l;
    int fd = lock_store(ls, LOCK_SH, 0);
    int rc;

    if (fd < -1)
        return fd;
    rc = scan_entries(ls, &l);
    unlock_store(fd);
    for (size_t i = 0; rc == BK_OK && i < l.n; i++)
        if (cb(&l.v[i].e, payload))
            break;
    meta_list_release(&l);
    return rc;
}

static int local_remove(struct bk_provider *p, const struct bk_provider_entry *e)
{
    struct local_store *ls = (struct local_store *)p;
    char hash[65];
    char *json, *archive;
    int lk, rc = BK_OK;

    if (ls->read_only)
        return bk_error_set(BK_EDENIED, "%s: the store is open read-only", ls->root);
    lk = lock_store(ls, LOCK_EX, 0);
    if (lk < -1)
        return lk;
    if (lk == -1)
        return bk_error_set(BK_ENOTFOUND, "%s: no entry for %s", ls->root, e->key);
    key_hash(e->key, hash);
    json = bk_xasprintf("%s/%s.json", ls->entries, hash);
    archive = bk_xasprintf("%s/%s.tar.zst", ls->entries, hash);
    if (unlink(json) != 0 && errno == ENOENT)
        rc = bk_error_set(BK_ENOTFOUND, "%s: no entry for %s", ls->root, e->key);
    else if (unlink(archive) != 0 && errno != ENOENT)
        rc = bk_error_set(BK_ERR, "%s: %s", archive, strerror(errno));
    fsync_dir(ls->entries);
    unlock_store(lk);
    free(json);
    free(archive);
    return rc;
}

static void local_destroy(struct bk_provider *p)
{
    struct local_store *ls = (struct local_store *)p;
    free(ls->root);
    free(ls->entries);
    free(ls->blobs);
    free(ls);
}

/* The store directory from the configuration; caller frees. */
static int local_parse_config(const struct bk_provider_config *cfg, char **root_out)
{
    const char *v;

    *root_out = NULL;
    if (cfg->store && *cfg->store)
        *root_out = bk_xstrdup(cfg->store);
    else if ((v = bk_provider_env(cfg, "BKCACHE_DIR")))
        *root_out = bk_xstrdup(v);
    else if ((v = bk_provider_env(cfg, "XDG_CACHE_HOME")))
        *root_out = bk_xasprintf("%s/bkcache", v);
    else if ((v = bk_provider_env(cfg, "HOME")))
        *root_out = bk_xasprintf("%s/.cache/bkcache", v);
    else
        return bk_error_set(BK_EINVAL, "local store: no --store, $BKCACHE_DIR, "
                                       "$XDG_CACHE_HOME or $HOME to place it in");
    if (strncmp(*root_out, "file://", 7) == 0)
        memmove(*root_out, *root_out + 7, strlen(*root_out + 7) + 1);
    for (size_t n = strlen(*root_out); n > 1 && (*root_out)[n - 1] == '/'; n--)
        (*root_out)[n - 1] = '\0';
    return BK_OK;
}

static int local_create(const struct bk_provider_config *cfg, struct bk_provider **out)
{
    struct local_store *ls;
    char *root;
    int rc = local_parse_config(cfg, &root);

    if (rc < 0)
        return rc;
    ls = bk_xcalloc(1, sizeof(*ls));
    ls->base.ops = &bk_provider_local;
    ls->root = root;
    ls->entries = bk_xasprintf("%s/entries", root);
    ls->blobs = bk_xasprintf("%s/blobs/sha256", root);
    ls->read_only = cfg->read_only;
    *out = &ls->base;
    return BK_OK;
}

const struct bk_provider_ops bk_provider_local = {
    .name = "local",                                         /* name */
    .scheme = "file",                                        /* scheme */
    .caps = BK_CAP_DELETE | BK_CAP_LIST | BK_CAP_THREADSAFE, /* caps */
    .detect = NULL,                                          /* detect: the fallback */
    .create = local_create,                                  /* create */
    .lookup = local_lookup,                                  /* lookup */
    .download = local_download,                              /* download */
    .open_local = local_open_local,                          /* open_local */
    .upload = local_upload,                                  /* upload */
    .list = local_list,                                      /* list */
    .remove = local_remove,                                  /* remove */
    .destroy = local_destroy,                                /* destroy */
    .blob_stat = local_blob_stat,                            /* blob_stat */
    .blob_get = local_blob_get,                              /* blob_get */
    .blob_put = local_blob_put,                              /* blob_put */
    .blob_list = local_blob_list,                            /* blob_list */
    .blob_remove = local_blob_remove,                        /* blob_remove */
    .blob_open_local = local_blob_open_local,                /* blob_open_local */
};
