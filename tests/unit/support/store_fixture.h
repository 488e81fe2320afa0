/*
 * store_fixture.h - test helpers for the store, save and restore tests.
 *
 *   - scratch directories: bk_test_mkdtemp() makes one under $TMPDIR,
 *     bk_test_rmtree() removes it;
 *   - small file helpers;
 *   - a fake provider ("fake"): an in-memory store whose slots can be told
 *     to fail N times with a given code, and which counts its calls. One
 *     global instance (fake_store) so tests can inspect and steer it.
 */
#ifndef BK_TEST_STORE_FIXTURE_H
#define BK_TEST_STORE_FIXTURE_H

#include "core/store/store.h"

#include <stddef.h>
#include <stdint.h>

char *bk_test_mkdtemp(void); /* caller frees */
void bk_test_rmtree(const char *path);
void bk_test_write_file(const char *path, const char *data, size_t len);
char *bk_test_read_file(const char *path, size_t *len_out); /* NULL when missing */

#define FAKE_MAX 32

struct fake_entry {
    char *key;
    char *data;
    size_t len;
    int64_t created;
};

struct fake_state {
    struct fake_entry entries[FAKE_MAX];
    size_t n;
    unsigned caps;                 /* reported by bk_provider_fake.caps is fixed; see fake_ops() */
    int fail_count[BK_STORE_NOPS]; /* fail this many next calls of each op ... */
    int fail_code[BK_STORE_NOPS];  /* ... with this code */
    int calls[BK_STORE_NOPS];
    int create_code;     /* create() fails with this when non-zero */
    long retry_after_ms; /* injected failures ask for this delay (-1/0: none) */
    int64_t clock;       /* created time of the next upload */
    int unknown_size;    /* list and lookup report every size as 0 (unknown) */
};

extern struct fake_state fake_store;

/* Reset fake_store; `caps` becomes the ops table's capabilities. */
void fake_reset(unsigned caps);
const struct bk_provider_ops *fake_ops(void);
/* Add an entry directly. */
void fake_put(const char *key, const char *data, int64_t created);
const struct fake_entry *fake_get(const char *key);

/* Open a bk_store on the fake provider with zero retry delay. */
struct bk_store *fake_open(int retries);

/* Open the local store at DIR/store, no retries; NULL on failure. */
struct bk_store *bk_test_open_local(const char *dir);

#endif

/* ---- a fake mountio: caches are strings held in memory ---- */

#include "core/builder/mountio.h"

#define FAKE_CACHES 8

struct fake_cache {
    char name[64];
    char content[256]; /* "" : the cache is empty */
    int inject_status; /* returned by inject for this cache (BK_OK by default) */
    /* delta saves: the stored layers the last layered inject put in (its
     * base record); an extract with `delta` reports a delta over them */
    struct bk_archive_layer base[4];
    size_t nbase;
    size_t injected_layers; /* layers of the last inject (0: a plain archive) */
};

struct fake_io_state {
    struct fake_cache caches[FAKE_CACHES];
    size_t n;
    int extract_calls, inject_calls; /* batches */
    int extracted, injected;         /* items */
    int refused; /* inject items refused: layers not intact, or a damaged plain archive */
};

/* A plain archive whose content starts with this is refused by the fake
 * inject (BK_ECORRUPT), as the real unpacks refuse a damaged frame. */
#define FAKE_IO_DAMAGED "damaged"

extern struct fake_io_state fake_io;

void fake_io_reset(void);
/* Set the content of cache `name` (created if new). */
void fake_io_set(const char *name, const char *content);
struct fake_cache *fake_io_get(const char *name);
/* A mountio over fake_io; the archive is "\x28\xb5\x2f\xfd" + content and
 * the digest is the content itself (tests compare them). A layered inject
 * takes the top layer's content and keeps the layers as the cache's base;
 * an extract with `delta` and a base reports a delta over it (the archive
 * is the whole content all the same). */
struct bk_mountio *fake_io_create(void);

/* ---- a keyset without a Dockerfile ---- */

#include "core/plan/keys.h"

/* Two identities, "go-build" and "apt", keyed `go_key` and `apt_key`, with
 * the restore keys "bk-go-build-" and "bk-apt-" (and "bk-" for both).
 * Free with fixture_keys_free(). */
struct bk_keyset *fixture_keys(const char *go_key, const char *apt_key);
void fixture_keys_free(struct bk_keyset *ks);

/* ---- a save/restore context over the fake provider and fake mountio ---- */

#include "core/xfer/restore.h"

struct xfer_fixture {
    char *dir, *state;
    struct bk_keyset *ks;
    struct bk_xfer x;
};

/* Fresh fake store (caps), fake caches, fixture_keys(go_key, apt_key), a
 * scratch directory holding the state file, and items for every identity. */
struct xfer_fixture *xfer_fixture_new(unsigned caps, const char *go_key, const char *apt_key);
/* Rebuild the items (results cleared) for another run. */
void xfer_fixture_reset_items(struct xfer_fixture *c);
void xfer_fixture_free(struct xfer_fixture *c);
