/*
 * test_providers_local.c - the local directory store: default location,
 * atomic writes (no partial file visible), two concurrent savers of one key
 * (fork), lookup exact then newest prefix, last_used, list and remove; and
 * moving archives by hard link: an upload on the store's file system and a
 * download of a local entry share the file instead of copying it, and fall
 * back to a copy across file systems (/dev/shm, when it is another one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/store/store.h"
#include "core/util/fileio.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"
#include "support/store_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ZST "\x28\xb5\x2f\xfd"

static char *g_dir, *g_store;

static int setup(void **state)
{
    (void)state;
    g_dir = bk_test_mkdtemp();
    g_store = bk_xasprintf("%s/store", g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bk_test_rmtree(g_dir);
    free(g_dir);
    free(g_store);
    return 0;
}

static struct bk_store *open_local(int read_only)
{
    struct bk_store_opts o = {.provider = "local", .store = g_store, .read_only = read_only};
    struct bk_store *s = NULL;
    assert_int_equal(bk_store_open(&o, &s), BK_OK);
    return s;
}

static void save(struct bk_store *s, const char *key, const char *data, size_t len)
{
    char *path = bk_xasprintf("%s/in.tar.zst", g_dir);
    struct bk_upload u = {.key = key, .identity = "cache_id=x"};
    bk_test_write_file(path, data, len);
    assert_int_equal(bk_store_upload(s, &u, path), BK_OK);
    unlink(path);
    free(path);
}

static char *fetch(struct bk_store *s, const char *key, const char *const *rk, size_t nrk,
                   char **matched)
{
    struct bk_lookup q = {.key = key, .restore_keys = rk, .nrestore = nrk};
    struct bk_provider_entry e;
    char *path = bk_xasprintf("%s/out.tar.zst", g_dir);
    char *data;
    if (bk_store_lookup(s, &q, &e) != BK_OK) {
        free(path);
        return NULL;
    }
    assert_int_equal(bk_store_download(s, &e, path, NULL), BK_OK);
    data = bk_test_read_file(path, NULL);
    if (matched)
        *matched = bk_xstrdup(e.key);
    unlink(path);
    free(path);
    bk_provider_entry_release(&e);
    return data;
}

static const char *env_xdg(const char *name)
{
    if (strcmp(name, "XDG_CACHE_HOME") == 0)
        return "/xdg";
    if (strcmp(name, "HOME") == 0)
        return "/home/u";
    return NULL;
}

static const char *env_home(const char *name)
{
    return strcmp(name, "HOME") == 0 ? "/home/u" : NULL;
}

static const char *env_bkdir(const char *name)
{
    return strcmp(name, "BKCACHE_DIR") == 0 ? g_store : env_xdg(name);
}

/* Where the store lands: seen through the files an upload creates. */
static void test_default_location(void **state)
{
    struct bk_store_opts o = {.provider = "local", .getenv = env_bkdir};
    struct bk_store *s = NULL;
    struct stat st;
    char *p;
    (void)state;

    assert_int_equal(bk_store_open(&o, &s), BK_OK);
    save(s, "k", ZST "data", 8);
    bk_store_close(s);
    p = bk_xasprintf("%s/entries", g_store);
    assert_int_equal(stat(p, &st), 0);
    free(p);

    /* XDG and HOME: the provider is created without touching the disk. */
    o.getenv = env_xdg;
    assert_int_equal(bk_store_open(&o, &s), BK_OK);
    bk_store_close(s);
    o.getenv = env_home;
    assert_int_equal(bk_store_open(&o, &s), BK_OK);
    bk_store_close(s);
}

static void test_roundtrip_and_replace(void **state)
{
    struct bk_store *s = open_local(0);
    char *d;
    (void)state;

    assert_null(fetch(s, "k1", NULL, 0, NULL)); /* store does not exist yet: a miss */
    save(s, "k1", ZST "first", 9);
    d = fetch(s, "k1", NULL, 0, NULL);
    assert_string_equal(d, ZST "first");
    free(d);
    save(s, "k1", ZST "second!", 11); /* a re-save replaces */
    d = fetch(s, "k1", NULL, 0, NULL);
    assert_string_equal(d, ZST "second!");
    free(d);
    bk_store_close(s);
}

static void test_lookup_exact_then_newest_prefix(void **state)
{
    struct bk_store *s = open_local(0);
    const char *rk[] = {"app-linux-", "app-"};
    char *matched = NULL, *d;
    (void)state;

    save(s, "app-linux-aaa", ZST "old", 7);
    save(s, "app-linux-bbb", ZST "new", 7);
    save(s, "app-other-ccc", ZST "other", 9);
    save(s, "app-linux-000", ZST "newest", 10);     /* sorts first by name, yet newest */
    d = fetch(s, "app-linux-bbb", rk, 2, &matched); /* exact wins over newer */
    assert_string_equal(matched, "app-linux-bbb");
    free(matched);
    free(d);
    d = fetch(s, "app-linux-zzz", rk, 2, &matched);
    assert_string_equal(matched, "app-linux-000");
    assert_string_equal(d, ZST "newest");
    free(matched);
    free(d);
    d = fetch(s, "nothing", rk + 1, 1, &matched);
    assert_string_equal(matched, "app-linux-000");
    free(matched);
    free(d);
    assert_null(fetch(s, "zzz", NULL, 0, NULL));
    bk_store_close(s);
}

static void test_last_used_updated_list_remove(void **state)
{
    struct bk_store *s = open_local(0);
    struct bk_provider_entry *v;
    size_t n;
    char *d;
    (void)state;

    save(s, "a", ZST "aaaa", 8);
    save(s, "b", ZST "bb", 6);
    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].key, "b"); /* newest first */
    assert_int_equal(v[0].size, 6);
    assert_true(v[0].created > 0);
    bk_store_entries_free(v, n);

    /* Age "a" by hand, then a download must refresh last_used. */
    {
        char *dir = bk_xasprintf("%s/entries", g_store);
        DIR *dd = opendir(dir);
        struct dirent *de;
        while ((de = readdir(dd))) {
            char *p, *txt, *at;
            if (!strstr(de->d_name, ".json"))
                continue;
            p = bk_xasprintf("%s/%s", dir, de->d_name);
            txt = bk_test_read_file(p, NULL);
            if (strstr(txt, "\"a\"") && (at = strstr(txt, "\"last_used\":"))) {
                struct bk_strbuf sb = BK_STRBUF_INIT;
                bk_strbuf_add(&sb, txt, (size_t)(at - txt));
                bk_strbuf_adds(&sb, "\"last_used\": 5, \"x\": 0}");
                bk_test_write_file(p, sb.buf, sb.len);
                bk_strbuf_release(&sb);
            }
            free(txt);
            free(p);
        }
        closedir(dd);
        free(dir);
    }
    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    assert_string_equal(v[1].key, "a");
    assert_int_equal(v[1].last_used, 5);
    bk_store_entries_free(v, n);
    d = fetch(s, "a", NULL, 0, NULL);
    free(d);
    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    assert_true(v[1].last_used > 5);
    assert_int_equal(bk_store_remove(s, &v[1]), BK_OK);
    assert_int_equal(bk_store_remove(s, &v[1]), BK_ENOTFOUND);
    bk_store_entries_free(v, n);
    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key, "b");
    bk_store_entries_free(v, n);
    bk_store_close(s);
}

static void test_read_only_writes_nothing(void **state)
{
    struct bk_store *s = open_local(1);
    struct bk_upload u = {.key = "k"};
    char *path = bk_xasprintf("%s/in", g_dir);
    struct stat st;
    (void)state;

    bk_test_write_file(path, ZST, 4);
    assert_int_equal(bk_store_upload(s, &u, path), BK_EDENIED);
    assert_int_not_equal(stat(g_store, &st), 0);
    free(path);
    bk_store_close(s);
}

/* Only complete files carry the entry's name: uploads go through .tmp-*. */
static void test_no_partial_entry_visible(void **state)
{
    struct bk_store *s = open_local(0);
    char *dir = bk_xasprintf("%s/entries", g_store);
    char *tmp;
    struct bk_provider_entry *v;
    size_t n;
    DIR *d;
    struct dirent *de;
    int files = 0;
    (void)state;

    save(s, "k", ZST "full", 8);
    /* An interrupted upload leaves a temporary file: not an entry. */
    tmp = bk_xasprintf("%s/.tmp-interrupted", dir);
    bk_test_write_file(tmp, ZST "par", 7);
    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    assert_int_equal(n, 1);
    bk_store_entries_free(v, n);
    d = opendir(dir);
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            files++;
    closedir(d);
    assert_int_equal(files, 2); /* archive + sidecar */
    free(tmp);
    free(dir);
    bk_store_close(s);
}

static void test_concurrent_saves_leave_one_valid_entry(void **state)
{
    enum { SIZE = 4 << 20 };
    char *paths[2];
    pid_t pids[2];
    struct bk_provider_entry *v;
    size_t n;
    char *d, *dir;
    size_t len;
    DIR *dd;
    struct dirent *de;
    int left = 0;
    (void)state;

    for (int i = 0; i < 2; i++) {
        char *buf = bk_xmalloc(SIZE);
        memcpy(buf, ZST, 4);
        memset(buf + 4, 'a' + i, SIZE - 4);
        paths[i] = bk_xasprintf("%s/in%d", g_dir, i);
        bk_test_write_file(paths[i], buf, SIZE);
        free(buf);
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                struct bk_store_opts o = {.provider = "local", .store = g_store};
                struct bk_store *s = NULL;
                struct bk_upload u = {.key = "same-key"};
                int rc = bk_store_open(&o, &s);
                if (rc == BK_OK)
                    rc = bk_store_upload(s, &u, paths[i]);
                _exit(rc == BK_OK ? 0 : 1);
            }
        }
        for (int i = 0; i < 2; i++) {
            int status;
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
    }
    {
        struct bk_store *s = open_local(0);
        assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
        assert_int_equal(n, 1);
        assert_int_equal(v[0].size, SIZE);
        bk_store_entries_free(v, n);
        d = fetch(s, "same-key", NULL, 0, NULL);
        bk_store_close(s);
    }
    len = strlen(d);
    assert_int_equal(len, SIZE);
    for (size_t i = 5; i < len; i++)
        if (d[i] != d[4])
            fail_msg("mixed content at %zu", i);
    free(d);
    dir = bk_xasprintf("%s/entries", g_store);
    dd = opendir(dir);
    while ((de = readdir(dd)))
        if (strncmp(de->d_name, ".tmp-", 5) == 0)
            left++;
    closedir(dd);
    assert_int_equal(left, 0);
    free(dir);
    free(paths[0]);
    free(paths[1]);
}

/* The entry's archive file for `key` (the only archive in entries/). */
static char *entry_archive(void)
{
    char *dir = bk_xasprintf("%s/entries", g_store);
    char *found = NULL;
    DIR *d = opendir(dir);
    struct dirent *de;

    assert_non_null(d);
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] != '.' && n > 8 && strcmp(de->d_name + n - 8, ".tar.zst") == 0) {
            assert_null(found);
            found = bk_xasprintf("%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    free(dir);
    assert_non_null(found);
    return found;
}

static int count_tmp(void)
{
    char *dir = bk_xasprintf("%s/entries", g_store);
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, ".tmp-", 5) == 0)
            n++;
    if (d)
        closedir(d);
    free(dir);
    return n;
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

/* A directory on another file system than g_dir, or NULL. */
static char *other_fs_dir(void)
{
    struct stat a, b;
    char *d;

    if (stat(g_dir, &a) != 0 || stat("/dev/shm", &b) != 0 || a.st_dev == b.st_dev)
        return NULL;
    d = bk_xstrdup("/dev/shm/bktest-XXXXXX");
    if (!mkdtemp(d)) {
        free(d);
        return NULL;
    }
    return d;
}

/* On the store's file system an upload links the archive (the entry is the
 * uploaded file itself) and the entry is complete and valid; so is a second
 * upload of the very same file. A download links the entry out again. */
static void test_upload_and_download_link_on_one_file_system(void **state)
{
    struct bk_store *s = open_local(0);
    char *in = bk_xasprintf("%s/in.tar.zst", g_dir);
    char *out = bk_xasprintf("%s/out.tar.zst", g_dir);
    struct bk_upload u = {.key = "k", .identity = "cache_id=x"};
    struct bk_lookup q = {.key = "k"};
    struct bk_provider_entry e, *v;
    char *archive, *d;
    uint64_t bytes = 0;
    size_t n;
    (void)state;

    bk_test_write_file(in, ZST "linked", 10);
    assert_int_equal(bk_store_upload(s, &u, in), BK_OK);
    archive = entry_archive();
    assert_int_equal(inode_of(archive), inode_of(in));
    assert_int_equal(bk_store_upload(s, &u, in), BK_OK); /* same file again */
    assert_int_equal(count_tmp(), 0);
    assert_int_equal(unlink(in), 0); /* save removes its copy: the entry stays */
    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].size, 10);
    bk_store_entries_free(v, n);

    assert_int_equal(bk_store_lookup(s, &q, &e), BK_OK);
    assert_int_equal(bk_store_download(s, &e, out, &bytes), BK_OK);
    bk_provider_entry_release(&e);
    assert_int_equal(bytes, 10);
    assert_int_equal(inode_of(out), inode_of(archive));
    d = bk_test_read_file(out, NULL);
    assert_string_equal(d, ZST "linked");
    free(d);
    unlink(out);
    free(archive);
    free(in);
    free(out);
    bk_store_close(s);
}

/* A blob is read in place too: verified, then linked out of the store;
 * a blob whose bytes no longer hash to its name is refused and nothing is
 * left at the destination. */
static void test_blob_get_links_and_verifies(void **state)
{
    struct bk_store *s = open_local(0);
    char *in = bk_xasprintf("%s/blob.in", g_dir);
    char *out = bk_xasprintf("%s/blob.out", g_dir);
    char *stored, *d, hex[65];
    char digest[7 + 65];
    uint64_t size = 0;
    int fd;
    (void)state;

    bk_test_write_file(in, "layer bytes", 11);
    fd = open(in, O_RDONLY);
    assert_int_equal(bk_sha256_fd(fd, in, hex, &size), BK_OK);
    close(fd);
    snprintf(digest, sizeof(digest), "sha256:%s", hex);
    assert_int_equal(bk_store_blob_put(s, digest, in), BK_OK);
    stored = bk_xasprintf("%s/blobs/sha256/%s", g_store, hex);
    assert_int_equal(bk_store_blob_get(s, digest, 11, out), BK_OK);
    assert_int_equal(inode_of(out), inode_of(stored));
    d = bk_test_read_file(out, NULL);
    assert_string_equal(d, "layer bytes");
    free(d);
    unlink(out);

    chmod(stored, 0600);
    bk_test_write_file(stored, "LAYER BYTES", 11); /* same size, other bytes */
    assert_int_equal(bk_store_blob_get(s, digest, 11, out), BK_ECORRUPT);
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(count_tmp(), 0);
    free(stored);
    free(in);
    free(out);
    bk_store_close(s);
}

/* Across file systems both directions copy, with the same result. */
static void test_link_falls_back_to_a_copy_across_file_systems(void **state)
{
    char *other = other_fs_dir();
    struct bk_store *s;
    char *in, *out, *archive, *d;
    struct bk_upload u = {.key = "k"};
    struct bk_lookup q = {.key = "k"};
    struct bk_provider_entry e;
    (void)state;

    if (!other)
        skip();
    s = open_local(0);
    in = bk_xasprintf("%s/in.tar.zst", other);
    out = bk_xasprintf("%s/out.tar.zst", other);
    bk_test_write_file(in, ZST "copied", 10);
    assert_int_equal(bk_store_upload(s, &u, in), BK_OK);
    archive = entry_archive();
    assert_int_not_equal(inode_of(archive), inode_of(in));
    d = bk_test_read_file(archive, NULL);
    assert_string_equal(d, ZST "copied");
    free(d);
    assert_int_equal(count_tmp(), 0);

    assert_int_equal(bk_store_lookup(s, &q, &e), BK_OK);
    assert_int_equal(bk_store_download(s, &e, out, NULL), BK_OK);
    bk_provider_entry_release(&e);
    d = bk_test_read_file(out, NULL);
    assert_string_equal(d, ZST "copied");
    free(d);
    bk_test_rmtree(other);
    free(other);
    free(archive);
    free(in);
    free(out);
    bk_store_close(s);
}

/* A save interrupted at any point shows no partial entry: a staged link with
 * no rename, or an archive renamed over the old one before its sidecar was
 * written (the old sidecar's size no longer matches), is not an entry; the
 * next save of the key cleans up and is whole. */
static void test_interrupted_save_leaves_no_partial_entry(void **state)
{
    struct bk_store *s = open_local(0);
    char *in = bk_xasprintf("%s/in.tar.zst", g_dir);
    char *prefix = bk_xasprintf("%s/entries/.tmp-interrupted-", g_store);
    struct bk_provider_entry *v;
    char *tmp = NULL, *archive, *d;
    size_t n;
    int fd;
    (void)state;

    save(s, "k", ZST "old!", 8);
    /* 1. staged, never renamed */
    bk_test_write_file(in, ZST "new, longer", 15);
    fd = open(in, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(bk_file_link_temp(fd, prefix, &tmp), BK_OK);
    close(fd);
    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].size, 8);
    bk_store_entries_free(v, n);
    d = fetch(s, "k", NULL, 0, NULL);
    assert_string_equal(d, ZST "old!");
    free(d);
    /* 2. renamed over the old archive, the sidecar still the old one */
    archive = entry_archive();
    assert_int_equal(rename(tmp, archive), 0);
    assert_int_equal(bk_store_list(s, &v, &n), BK_OK);
    assert_int_equal(n, 0);
    bk_store_entries_free(v, n);
    assert_null(fetch(s, "k", NULL, 0, NULL));
    /* the next save is whole again */
    unlink(in);
    save(s, "k", ZST "again", 9);
    d = fetch(s, "k", NULL, 0, NULL);
    assert_string_equal(d, ZST "again");
    free(d);
    free(archive);
    free(tmp);
    free(prefix);
    free(in);
    bk_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_location, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_exact_then_newest_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_used_updated_list_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_partial_entry_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_and_download_link_on_one_file_system, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_blob_get_links_and_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_falls_back_to_a_copy_across_file_systems, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_save_leaves_no_partial_entry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_saves_leave_one_valid_entry, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("providers_local", tests, NULL, NULL);
}
