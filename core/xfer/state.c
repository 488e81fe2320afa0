/*
 * state.c - the restore/save state file; see state.h.
 */
#include "core/xfer/state.h"

#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/json.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *env_or_null(const char *(*getenv_fn)(const char *), const char *name)
{
    const char *v = getenv_fn ? getenv_fn(name) : getenv(name);
    return v && *v ? v : NULL;
}

/* Append `path` to `sb` with "." and ".." components and repeated slashes removed. */
static void add_clean_path(struct bk_strbuf *sb, const char *path)
{
    size_t root = sb->len;
    const char *p = path;

    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (sb->len > root && sb->buf[sb->len - 1] != '/')
                sb->len--;
            if (sb->len > root)
                sb->len--;
            sb->buf[sb->len] = '\0';
        } else if (n && !(n == 1 && p[0] == '.')) {
            bk_strbuf_addch(sb, '/');
            bk_strbuf_add(sb, p, n);
        }
        p += n;
        while (*p == '/')
            p++;
    }
}

char *bk_state_default_path(const char *dockerfile, const char *target,
                            const char *(*getenv_fn)(const char *name))
{
    static const char *const dirs[] = {"RUNNER_TEMP", "AGENT_TEMPDIRECTORY", "TMPDIR"};
    const char *dir = NULL;
    struct bk_strbuf id = BK_STRBUF_INIT;
    char abs[PATH_MAX], hex[65];
    char *out;

    for (size_t i = 0; !dir && i < sizeof(dirs) / sizeof(dirs[0]); i++)
        dir = env_or_null(getenv_fn, dirs[i]);
    if (!dir)
        dir = "/tmp";
    if (!dockerfile)
        dockerfile = "Dockerfile";
    if (strcmp(dockerfile, "-") == 0) {
        bk_strbuf_adds(&id, "-");
    } else if (realpath(dockerfile, abs)) {
        bk_strbuf_adds(&id, abs);
    } else {
        if (dockerfile[0] != '/' && getcwd(abs, sizeof(abs)))
            add_clean_path(&id, abs);
        add_clean_path(&id, dockerfile);
    }
    bk_strbuf_addf(&id, "\n%s", target ? target : "");
    bk_sha256_hex(id.buf, id.len, hex);
    hex[16] = '\0'; /* 64 bits name it well enough */
    bk_strbuf_release(&id);
    out = bk_xasprintf("%s/bkcache-state-%s.json", dir, hex);
    return out;
}

/* What lies at `path` (not followed when it is a symlink): BK_ENOTFOUND
 * nothing, BK_OK a regular file; a symlink or anything else is refused, so
 * the state file is never read or written through a link someone placed. */
static int state_path_kind(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? BK_ENOTFOUND
                               : bk_error_set(BK_ERR, "%s: %s", path, strerror(errno));
    if (S_ISLNK(sb.st_mode))
        return bk_error_set(BK_EINVAL, "%s: is a symbolic link; the state file must not be one",
                            path);
    if (!S_ISREG(sb.st_mode))
        return bk_error_set(BK_EINVAL, "%s: not a regular file", path);
    return sb.st_size == 0 ? BK_ENOTFOUND : BK_OK; /* an empty file, e.g. from mktemp */
}

/* The parsed document at `path` when it is a state file ({"identities":{...}}). */
static int read_state_doc(const char *path, cJSON **out)
{
    void *raw = NULL;
    int rc = bk_json_read_file(path, &raw);
    cJSON *ids = raw ? cJSON_GetObjectItemCaseSensitive(raw, "identities") : NULL;

    *out = NULL;
    if (rc < 0 && rc != BK_ECORRUPT)
        return rc;
    if (!cJSON_IsObject(ids)) {
        cJSON_Delete(raw);
        return bk_error_set(BK_ECORRUPT, "%s: not a bkcache state file", path);
    }
    *out = raw;
    return BK_OK;
}

static char *str_or_null(const cJSON *obj, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(it) ? bk_xstrdup(it->valuestring) : NULL;
}

int bk_state_load(const char *path, struct bk_state *st)
{
    cJSON *doc, *ids, *it;
    int rc;

    bk_state_release(st);
    rc = state_path_kind(path);
    if (rc == BK_ENOTFOUND) {
        bk_error_clear();
        return BK_OK;
    }
    if (rc == BK_OK)
        rc = read_state_doc(path, &doc);
    if (rc < 0)
        return rc;
    ids = cJSON_GetObjectItemCaseSensitive(doc, "identities");
    cJSON_ArrayForEach(it, ids)
    {
        char *key, *matched, *hit, *digest;
        if (!cJSON_IsObject(it))
            continue;
        key = str_or_null(it, "key");
        matched = str_or_null(it, "matched_key");
        hit = str_or_null(it, "hit");
        digest = str_or_null(it, "digest");
        bk_state_set(st, it->string, key, matched, hit, digest);
        free(digest);
        digest = str_or_null(it, "store");
        bk_state_set_store(st, it->string, digest);
        free(key);
        free(matched);
        free(hit);
        free(digest);
    }
    cJSON_Delete(doc);
    return BK_OK;
}

static void add_str(cJSON *obj, const char *name, const char *v)
{
    if (v)
        cJSON_AddStringToObject(obj, name, v);
    else
        cJSON_AddNullToObject(obj, name);
}

int bk_state_save(const char *path, const struct bk_state *st)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *ids = cJSON_CreateObject();
    struct bk_strbuf sb = BK_STRBUF_INIT;
    char *text;
    int rc = state_path_kind(path);

    if (rc == BK_OK) { /* overwrite only what is already a state file */
        cJSON *old = NULL;
        rc = read_state_doc(path, &old);
        cJSON_Delete(old);
        if (rc == BK_ECORRUPT)
            rc = bk_error_set(
                BK_EINVAL, "%s: exists and is not a bkcache state file; not overwriting it", path);
    }
    if (rc < 0 && rc != BK_ENOTFOUND) {
        cJSON_Delete(doc);
        cJSON_Delete(ids);
        return bk_error_wrap(rc, "state file");
    }
    cJSON_AddNumberToObject(doc, "version", 1);
    for (size_t i = 0; i < st->n; i++) {
        const struct bk_state_entry *e = &st->v[i];
        cJSON *o = cJSON_CreateObject();
        add_str(o, "key", e->key);
        add_str(o, "matched_key", e->matched_key);
        add_str(o, "hit", e->hit);
        add_str(o, "digest", e->digest);
        if (e->store)
            cJSON_AddStringToObject(o, "store", e->store);
        cJSON_AddItemToObject(ids, e->name, o);
    }
    cJSON_AddItemToObject(doc, "identities", ids);
    text = cJSON_Print(doc);
    cJSON_Delete(doc);
    bk_strbuf_addf(&sb, "%s\n", text);
    cJSON_free(text);
    rc = bk_file_write_atomic(path, sb.buf, sb.len);
    bk_strbuf_release(&sb);
    if (rc < 0)
        bk_error_wrap(rc, "state file");
    return rc;
}

const struct bk_state_entry *bk_state_find(const struct bk_state *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->v[i].name, name) == 0)
            return &st->v[i];
    return NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? bk_xstrdup(s) : NULL;
}

static void entry_release(struct bk_state_entry *e)
{
    free(e->name);
    free(e->key);
    free(e->matched_key);
    free(e->hit);
    free(e->digest);
    free(e->store);
}

void bk_state_set(struct bk_state *st, const char *name, const char *key, const char *matched_key,
                  const char *hit, const char *digest)
{
    struct bk_state_entry *e = (struct bk_state_entry *)bk_state_find(st, name);

    if (e) {
        entry_release(e);
    } else {
        st->v = bk_xrealloc(st->v, (st->n + 1) * sizeof(*st->v));
        e = &st->v[st->n++];
    }
    e->name = bk_xstrdup(name);
    e->key = dup_or_null(key);
    e->matched_key = dup_or_null(matched_key);
    e->hit = dup_or_null(hit);
    e->digest = dup_or_null(digest);
    e->store = NULL;
}

void bk_state_set_store(struct bk_state *st, const char *name, const char *store)
{
    struct bk_state_entry *e = (struct bk_state_entry *)bk_state_find(st, name);

    if (!e) {
        bk_state_set(st, name, NULL, NULL, NULL, NULL);
        e = &st->v[st->n - 1];
    }
    free(e->store);
    e->store = dup_or_null(store);
}

int bk_state_same_store(const struct bk_state_entry *e, const char *store)
{
    return e && e->store && store && strcmp(e->store, store) == 0;
}

void bk_state_release(struct bk_state *st)
{
    for (size_t i = 0; i < st->n; i++)
        entry_release(&st->v[i]);
    free(st->v);
    st->v = NULL;
    st->n = 0;
}
