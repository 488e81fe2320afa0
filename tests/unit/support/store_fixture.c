/*
 * store_fixture.c - scratch directories and the fake provider; see store_fixture.h.
 */
#include "store_fixture.h"

#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fake_state fake_store;
static struct bk_provider_ops g_fake_ops;

char *bk_test_mkdtemp(void)
{
    const char *t = getenv("TMPDIR");
    char *p = bk_xasprintf("%s/bktest-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(p))
        abort();
    return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void bk_test_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void bk_test_write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        abort();
}

char *bk_test_read_file(const char *path, size_t *len_out)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    if (bk_strbuf_read_file(&sb, path) < 0)
        return NULL;
    if (len_out)
        *len_out = sb.len;
    return bk_strbuf_detach(&sb);
}

/* ---- the fake provider ---- */

static void put_bytes(const char *key, const char *data, size_t len, int64_t created);

static int take_failure(enum bk_store_op op)
{
    fake_store.calls[op]++;
    if (fake_store.fail_count[op] > 0) {
        fake_store.fail_count[op]--;
        bk_error_set(fake_store.fail_code[op], "fake: injected %s",
                     bk_status_name(fake_store.fail_code[op]));
        if (fake_store.retry_after_ms > 0)
            bk_error_set_retry_after(fake_store.retry_after_ms);
        return fake_store.fail_code[op];
    }
    return BK_OK;
}

static void fill(struct bk_provider_entry *e, const struct fake_entry *f)
{
    memset(e, 0, sizeof(*e));
    e->key = bk_xstrdup(f->key);
    e->size = fake_store.unknown_size ? 0 : f->len;
    e->created = f->created;
    e->last_used = f->created;
    e->handle = bk_xstrdup(f->key);
}

static int fake_create(const struct bk_provider_config *cfg, struct bk_provider **out)
{
    (void)cfg;
    if (fake_store.create_code)
        return bk_error_set(fake_store.create_code, "fake: cannot create");
    *out = bk_xcalloc(1, sizeof(**out));
    (*out)->ops = &g_fake_ops;
    return BK_OK;
}

static int fake_lookup(struct bk_provider *p, const struct bk_lookup *q,
                       struct bk_provider_entry *out)
{
    struct bk_provider_entry v[FAKE_MAX];
    long i;
    int rc = take_failure(BK_STORE_LOOKUP);
    (void)p;
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < fake_store.n; k++)
        fill(&v[k], &fake_store.entries[k]);
    i = bk_provider_pick(v, fake_store.n, q);
    if (i >= 0)
        bk_provider_entry_copy(out, &v[i]);
    for (size_t k = 0; k < fake_store.n; k++)
        bk_provider_entry_release(&v[k]);
    return i >= 0 ? BK_OK : bk_error_set(BK_ENOTFOUND, "fake: no %s", q->key);
}

static int fake_download(struct bk_provider *p, const struct bk_provider_entry *e, int fd)
{
    const struct fake_entry *f;
    int rc = take_failure(BK_STORE_DOWNLOAD);
    (void)p;
    if (rc < 0) {
        if (write(fd, "partial", 7) != 7)
            return BK_ERR;
        return rc;
    }
    f = fake_get(e->key);
    if (!f)
        return bk_error_set(BK_ENOTFOUND, "fake: no %s", e->key);
    return write(fd, f->data, f->len) == (ssize_t)f->len ? BK_OK : BK_ERR;
}

static int fake_upload(struct bk_provider *p, const struct bk_upload *u, int fd)
{
    char buf[65536];
    struct bk_strbuf sb = BK_STRBUF_INIT;
    off_t off = 0;
    ssize_t n;
    int rc = take_failure(BK_STORE_UPLOAD);
    (void)p;
    if (rc < 0)
        return rc;
    while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
        bk_strbuf_add(&sb, buf, (size_t)n);
        off += n;
    }
    if ((uint64_t)sb.len != u->size) {
        bk_strbuf_release(&sb);
        return bk_error_set(BK_ERR, "fake: size mismatch");
    }
    put_bytes(u->key, sb.buf, sb.len, fake_store.clock++);
    bk_strbuf_release(&sb);
    return BK_OK;
}

static int fake_list(struct bk_provider *p, bk_entry_cb cb, void *payload)
{
    int rc = take_failure(BK_STORE_LIST);
    (void)p;
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < fake_store.n; k++) {
        struct bk_provider_entry e;
        fill(&e, &fake_store.entries[k]);
        rc = cb(&e, payload);
        bk_provider_entry_release(&e);
        if (rc)
            break;
    }
    return BK_OK;
}

static int fake_remove(struct bk_provider *p, const struct bk_provider_entry *e)
{
    int rc = take_failure(BK_STORE_REMOVE);
    (void)p;
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < fake_store.n; k++) {
        if (strcmp(fake_store.entries[k].key, e->key) == 0) {
            free(fake_store.entries[k].key);
            free(fake_store.entries[k].data);
            fake_store.entries[k] = fake_store.entries[--fake_store.n];
            return BK_OK;
        }
    }
    return bk_error_set(BK_ENOTFOUND, "fake: no %s", e->key);
}

static void fake_destroy(struct bk_provider *p)
{
    free(p);
}

void fake_reset(unsigned caps)
{
    for (size_t k = 0; k < fake_store.n; k++) {
        free(fake_store.entries[k].key);
        free(fake_store.entries[k].data);
    }
    memset(&fake_store, 0, sizeof(fake_store));
    fake_store.caps = caps;
    fake_store.clock = 1000;
    g_fake_ops = (struct bk_provider_ops){
        .name = "fake",
        .caps = caps,
        .create = fake_create,
        .lookup = fake_lookup,
        .download = fake_download,
        .upload = fake_upload,
        .list = fake_list,
        .remove = fake_remove,
        .destroy = fake_destroy,
    };
}

const struct bk_provider_ops *fake_ops(void)
{
    return &g_fake_ops;
}

static void put_bytes(const char *key, const char *data, size_t len, int64_t created)
{
    struct fake_entry *f = NULL;
    for (size_t k = 0; k < fake_store.n; k++)
        if (strcmp(fake_store.entries[k].key, key) == 0)
            f = &fake_store.entries[k];
    if (!f) {
        if (fake_store.n == FAKE_MAX)
            abort();
        f = &fake_store.entries[fake_store.n++];
        f->key = bk_xstrdup(key);
    } else {
        free(f->data);
    }
    f->len = len;
    f->data = bk_xmalloc(len + 1);
    memcpy(f->data, data, len);
    f->data[len] = '\0';
    f->created = created;
}

void fake_put(const char *key, const char *data, int64_t created)
{
    put_bytes(key, data, strlen(data), created);
}

const struct fake_entry *fake_get(const char *key)
{
    for (size_t k = 0; k < fake_store.n; k++)
        if (strcmp(fake_store.entries[k].key, key) == 0)
            return &fake_store.entries[k];
    return NULL;
}

struct bk_store *fake_open(int retries)
{
    struct bk_store_opts o = {.retries = retries, .delay_ms = 0};
    struct bk_store *s = NULL;
    if (bk_store_open_ops(fake_ops(), &o, &s) < 0)
        return NULL;
    return s;
}

struct bk_store *bk_test_open_local(const char *dir)
{
    char *root = bk_xasprintf("%s/store", dir);
    struct bk_store_opts o = {.provider = "local", .store = root, .retries = 0, .delay_ms = 0};
    struct bk_store *s = NULL;
    int rc = bk_store_open(&o, &s);
    free(root);
    return rc < 0 ? NULL : s;
}

/* ---- the fake mountio ---- */

struct fake_io_state fake_io;

void fake_io_reset(void)
{
    memset(&fake_io, 0, sizeof(fake_io));
}

struct fake_cache *fake_io_get(const char *name)
{
    for (size_t i = 0; i < fake_io.n; i++)
        if (strcmp(fake_io.caches[i].name, name) == 0)
            return &fake_io.caches[i];
    return NULL;
}

void fake_io_set(const char *name, const char *content)
{
    struct fake_cache *c = fake_io_get(name);
    if (!c) {
        if (fake_io.n == FAKE_CACHES)
            abort();
        c = &fake_io.caches[fake_io.n++];
        snprintf(c->name, sizeof(c->name), "%s", name);
    }
    snprintf(c->content, sizeof(c->content), "%s", content);
}

static int fio_extract(struct bk_mountio *io, struct bk_mountio_item *items, size_t n)
{
    (void)io;
    fake_io.extract_calls++;
    for (size_t i = 0; i < n; i++) {
        struct fake_cache *c = fake_io_get(items[i].identity->name);
        char *data;
        fake_io.extracted++;
        memset(&items[i].stats, 0, sizeof(items[i].stats));
        if (!c || !c->content[0]) {
            items[i].status = BK_ENOTFOUND;
            continue;
        }
        data = bk_xasprintf("\x28\xb5\x2f\xfd%s", c->content);
        bk_test_write_file(items[i].archive_path, data, strlen(data));
        items[i].stats.files = 1;
        items[i].stats.archive_bytes = strlen(data);
        snprintf(items[i].stats.digest, sizeof(items[i].stats.digest), "%s", c->content);
        if (items[i].layer && items[i].delta && c->nbase) {
            items[i].stats.delta = 1;
            memcpy(items[i].stats.parent, c->base[c->nbase - 1].tree, BK_DIGEST_HEX + 1);
            memcpy(items[i].stats.parent_layers, c->base, c->nbase * sizeof(c->base[0]));
            items[i].stats.nparent_layers = c->nbase;
        }
        free(data);
        items[i].status = BK_OK;
    }
    return BK_OK;
}

/* As every mountio's unpack does (bk_archive_unpack_layers with a
 * record): each layer file must have its stored size and SHA-256. */
static int fio_layers_intact(const struct bk_mountio_item *it)
{
    for (size_t k = 0; k < it->nlayers; k++) {
        char hex[BK_DIGEST_HEX + 1];
        uint64_t size = 0;
        int fd = open(it->layer_paths[k], O_RDONLY | O_CLOEXEC), rc;
        rc = fd < 0 ? BK_ERR : bk_sha256_fd(fd, it->layer_paths[k], hex, &size);
        if (fd >= 0)
            close(fd);
        if (rc || size != it->layers[k].size || strcmp(hex, it->layers[k].digest + 7) != 0)
            return 0;
    }
    return 1;
}

static int fio_inject(struct bk_mountio *io, struct bk_mountio_item *items, size_t n)
{
    (void)io;
    fake_io.inject_calls++;
    for (size_t i = 0; i < n; i++) {
        struct fake_cache *c = fake_io_get(items[i].identity->name);
        size_t nl = items[i].nlayers;
        char *data =
            bk_test_read_file(nl ? items[i].layer_paths[nl - 1] : items[i].archive_path, NULL);
        fake_io.injected++;
        memset(&items[i].stats, 0, sizeof(items[i].stats));
        if (!c) {
            fake_io_set(items[i].identity->name, "");
            c = fake_io_get(items[i].identity->name);
        }
        if (c->inject_status) {
            items[i].status = c->inject_status;
        } else if (!fio_layers_intact(&items[i]) ||
                   (!nl && data &&
                    strncmp(data + 4, FAKE_IO_DAMAGED, strlen(FAKE_IO_DAMAGED)) == 0)) {
            fake_io.refused++;
            items[i].status = BK_ECORRUPT;
        } else {
            snprintf(c->content, sizeof(c->content), "%s", data ? data + 4 : "");
            snprintf(items[i].stats.digest, sizeof(items[i].stats.digest), "%s", c->content);
            c->injected_layers = nl;
            c->nbase = nl <= 4 ? nl : 0;
            if (c->nbase)
                memcpy(c->base, items[i].layers, c->nbase * sizeof(c->base[0]));
            items[i].stats.files = 1;
            items[i].status = BK_OK;
        }
        free(data);
    }
    return BK_OK;
}

static void fio_destroy(struct bk_mountio *io)
{
    free(io);
}

static const struct bk_mountio_ops k_fake_io_ops = {
    .name = "fake",
    .extract = fio_extract,
    .inject = fio_inject,
    .destroy = fio_destroy,
};

struct bk_mountio *fake_io_create(void)
{
    struct bk_mountio *io = bk_xcalloc(1, sizeof(*io));
    io->ops = &k_fake_io_ops;
    return io;
}

/* ---- a keyset without a Dockerfile ---- */

static struct bk_identity g_ids[2] = {
    {.name = "go-build", .descriptor = "cache_id=//root/.cache/go-build"},
    {.name = "apt", .descriptor = "cache_id=//var/cache/apt"},
};

struct bk_keyset *fixture_keys(const char *go_key, const char *apt_key)
{
    struct bk_keyset *ks = bk_xcalloc(1, sizeof(*ks));
    const char *keys[2] = {go_key, apt_key};
    ks->n = 2;
    ks->keys = bk_xcalloc(2, sizeof(*ks->keys));
    for (size_t i = 0; i < 2; i++) {
        ks->keys[i].identity = &g_ids[i];
        ks->keys[i].key = bk_xstrdup(keys[i]);
        ks->keys[i].restore_keys = (struct bk_strvec)BK_STRVEC_INIT;
        bk_strvec_pushf(&ks->keys[i].restore_keys, "bk-%s-", g_ids[i].name);
        bk_strvec_push(&ks->keys[i].restore_keys, "bk-");
    }
    return ks;
}

void fixture_keys_free(struct bk_keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        free(ks->keys[i].key);
        free(ks->keys[i].save_key);
        bk_strvec_clear(&ks->keys[i].restore_keys);
    }
    free(ks->keys);
    free(ks);
}

/* ---- a save/restore context ---- */

struct xfer_fixture *xfer_fixture_new(unsigned caps, const char *go_key, const char *apt_key)
{
    struct xfer_fixture *c = bk_xcalloc(1, sizeof(*c));
    fake_reset(caps);
    fake_io_reset();
    c->dir = bk_test_mkdtemp();
    c->state = bk_xasprintf("%s/state.json", c->dir);
    c->ks = fixture_keys(go_key, apt_key);
    c->x.store = fake_open(2);
    c->x.io = fake_io_create();
    c->x.state_path = c->state;
    c->x.store_id = "fake-0123456789abcdef";
    c->x.tmpdir = c->dir;
    xfer_fixture_reset_items(c);
    return c;
}

void xfer_fixture_reset_items(struct xfer_fixture *c)
{
    bk_xfer_items_free(c->x.items, c->x.n);
    c->x.items = NULL;
    c->x.n = 0;
    if (bk_xfer_items_from_plan(NULL, c->ks, NULL, &c->x.items, &c->x.n) < 0)
        abort();
}

void xfer_fixture_free(struct xfer_fixture *c)
{
    bk_xfer_items_free(c->x.items, c->x.n);
    bk_store_close(c->x.store);
    c->x.io->ops->destroy(c->x.io);
    fixture_keys_free(c->ks);
    bk_test_rmtree(c->dir);
    free(c->dir);
    free(c->state);
    free(c);
    fake_reset(0);
}
