/*
 * test_core_mountio_dir.c - the --dir mountio: DIR/<name> per identity,
 * missing or empty caches are not saved, extract + inject round trip,
 * a warm cache is left alone unless forced, a corrupt archive leaves the
 * target as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/builder/mountio.h"
#include "core/util/strbuf.h"
#include "support/store_fixture.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct bk_identity g_id = {.name = "go-build", .descriptor = "cache_id=//go"};

struct ctx {
    char *root;
    char *archive;
};

static int setup(void **state)
{
    struct ctx *c = bk_xcalloc(1, sizeof(*c));
    c->root = bk_test_mkdtemp();
    c->archive = bk_xasprintf("%s/a.tar.zst", c->root);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    bk_test_rmtree(c->root);
    free(c->root);
    free(c->archive);
    free(c);
    return 0;
}

static struct bk_mountio *open_dir(struct ctx *c, const char *sub, int force)
{
    struct bk_mountio_opts o = {.force = force};
    struct bk_mountio *io = NULL;
    char *dir = bk_xasprintf("%s/%s", c->root, sub);
    assert_int_equal(bk_mountio_dir_create(dir, &o, &io), BK_OK);
    free(dir);
    return io;
}

static int run(struct bk_mountio *io, struct ctx *c, int inject)
{
    struct bk_mountio_item it = {.identity = &g_id, .key = "k", .archive_path = c->archive};
    assert_int_equal(inject ? io->ops->inject(io, &it, 1) : io->ops->extract(io, &it, 1), BK_OK);
    return it.status;
}

static void fill(struct ctx *c, const char *sub, const char *content)
{
    char *p = bk_xasprintf("%s/%s", c->root, sub);
    char *d = bk_xasprintf("%s/go-build", p);
    char *f = bk_xasprintf("%s/go-build/f", p);
    mkdir(p, 0755);
    mkdir(d, 0755);
    bk_test_write_file(f, content, strlen(content));
    free(p);
    free(d);
    free(f);
}

static char *read_back(struct ctx *c, const char *sub)
{
    char *f = bk_xasprintf("%s/%s/go-build/f", c->root, sub);
    char *data = bk_test_read_file(f, NULL);
    free(f);
    return data;
}

static void test_missing_or_empty_is_not_found(void **state)
{
    struct ctx *c = *state;
    struct bk_mountio *io = open_dir(c, "caches", 0);
    char *d = bk_xasprintf("%s/caches", c->root);
    char *sub = bk_xasprintf("%s/caches/go-build", c->root);
    struct bk_mountio *bad = NULL;

    assert_int_equal(run(io, c, 0), BK_ENOTFOUND); /* DIR itself missing */
    assert_int_equal(mkdir(d, 0755), 0);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(run(io, c, 0), BK_ENOTFOUND); /* empty */
    assert_int_equal(access(c->archive, F_OK), -1);
    assert_int_equal(bk_mountio_dir_create("", NULL, &bad), BK_EINVAL);
    io->ops->destroy(io);
    free(d);
    free(sub);
}

static void test_round_trip_and_warm_cache(void **state)
{
    struct ctx *c = *state;
    struct bk_mountio *src, *dst, *forced;
    struct bk_mountio_item it = {.identity = &g_id, .key = "k", .archive_path = c->archive};
    char *data;

    fill(c, "src", "hello cache");
    src = open_dir(c, "src", 0);
    assert_int_equal(src->ops->extract(src, &it, 1), BK_OK);
    assert_int_equal(it.status, BK_OK);
    assert_int_equal(it.stats.files, 1);
    assert_int_equal(strlen(it.stats.digest), BK_DIGEST_HEX);

    dst = open_dir(c, "deep/er/dst", 0); /* DIR and its parents do not exist yet: created */
    assert_int_equal(run(dst, c, 1), BK_OK);
    data = read_back(c, "deep/er/dst");
    assert_string_equal(data, "hello cache");
    free(data);
    dst->ops->destroy(dst);
    dst = open_dir(c, "dst", 0);
    assert_int_equal(run(dst, c, 1), BK_OK);
    data = read_back(c, "dst");
    assert_string_equal(data, "hello cache");
    free(data);

    fill(c, "dst", "warm");
    assert_int_equal(run(dst, c, 1), BK_ESKIPPED);
    data = read_back(c, "dst");
    assert_string_equal(data, "warm");
    free(data);
    forced = open_dir(c, "dst", 1);
    assert_int_equal(run(forced, c, 1), BK_OK);
    data = read_back(c, "dst");
    assert_string_equal(data, "hello cache");
    free(data);

    src->ops->destroy(src);
    dst->ops->destroy(dst);
    forced->ops->destroy(forced);
}

static void test_corrupt_archive_leaves_target(void **state)
{
    struct ctx *c = *state;
    struct bk_mountio *io;
    char *data;

    fill(c, "dst", "before");
    bk_test_write_file(c->archive, "\x28\xb5\x2f\xfd garbage", 12);
    io = open_dir(c, "dst", 1);
    assert_true(run(io, c, 1) < 0);
    data = read_back(c, "dst");
    assert_string_equal(data, "before");
    free(data);
    io->ops->destroy(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_or_empty_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_and_warm_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_archive_leaves_target, setup, teardown),
    };
    bk_log_verbosity = 0;
    return cmocka_run_group_tests_name("core_mountio_dir", tests, NULL, NULL);
}
