/*
 * test_core_mountio_builder.c - a corrupt archive never starts a build, on
 * any driver (core/builder/mountio_builder.c). The e2e suite shows it on
 * docker and buildx against real daemons (tests/e2e/builder_corrupt.sh);
 * here every driver, buildctl included, gets a fake client that logs each
 * call, and a restore of archives that are not whole zstd frames (garbage,
 * cut short) must end before any build command runs, with each item
 * BK_ECORRUPT (a damaged frame inside a whole one is the helper's to
 * refuse: builder_corrupt.sh). A layered entry's top
 * layer must at least carry a manifest with the index's digest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/builder/builder.h"
#include "core/builder/mountio.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"
#include "support/store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void inject_corrupt(const struct bk_builder_ops *ops)
{
    char *dir = bk_test_mkdtemp();
    char *client = bk_xasprintf("%s/client", dir), *calls = bk_xasprintf("%s/calls", dir);
    char *garbage = bk_xasprintf("%s/garbage.tar.zst", dir);
    char *cut = bk_xasprintf("%s/cut.tar.zst", dir);
    char *script = bk_xasprintf("#!/bin/sh\necho \"$*\" >>'%s'\nexit 0\n", calls);
    struct bk_identity ids[3] = {{0}, {0}, {0}};
    struct bk_mountio_item items[3];
    struct bk_archive_layer layer = {.size = 21};
    const char *stack[1];
    struct bk_builder_config bc = {0};
    struct bk_mountio_builder_config mc = {0};
    struct bk_mountio *io = NULL;
    struct bk_strbuf log = BK_STRBUF_INIT;

    bk_test_write_file(client, script, strlen(script));
    chmod(client, 0755);
    bk_test_write_file(garbage, "not an archive at all", 21);
    /* a zstd frame header, then nothing: a cut archive */
    bk_test_write_file(cut, "\x28\xb5\x2f\xfd\x04\x58\x00\x00", 8);
    bc.docker = client;
    bc.buildctl = client;
    mc.ops = ops;
    mc.builder = &bc;
    mc.helper = client; /* placed in the context, never run */
    mc.context_dir = dir;
    mc.tmpdir = dir;
    memset(items, 0, sizeof(items));
    ids[0].name = "one";
    ids[0].id = ids[0].cache_id = "one";
    ids[1].name = "two";
    ids[1].id = ids[1].cache_id = "two";
    items[0].identity = &ids[0];
    items[0].archive_path = garbage;
    items[1].identity = &ids[1];
    items[1].archive_path = cut;
    ids[2].name = "three";
    ids[2].id = ids[2].cache_id = "three";
    items[2].identity = &ids[2];
    items[2].archive_path = cut; /* unused: the entry is its layers */
    stack[0] = garbage;
    snprintf(layer.digest, sizeof(layer.digest), "sha256:%064d", 0);
    snprintf(layer.tree, sizeof(layer.tree), "%064d", 0);
    items[2].layer_paths = stack;
    items[2].layers = &layer;
    items[2].nlayers = 1;
    items[2].expect_digest = layer.tree;

    assert_int_equal(bk_mountio_builder_create(&mc, NULL, &io), BK_OK);
    assert_int_equal(io->ops->inject(io, items, 3), BK_OK);
    assert_int_equal(items[0].status, BK_ECORRUPT);
    assert_int_equal(items[1].status, BK_ECORRUPT);
    assert_int_equal(items[2].status, BK_ECORRUPT);
    if (bk_strbuf_read_file(&log, calls) == BK_OK)
        fail_msg("%s: a build was started with corrupt archives: %s", ops->name, log.buf);
    io->ops->destroy(io);

    bk_strbuf_release(&log);
    bk_test_rmtree(dir);
    free(dir);
    free(client);
    free(calls);
    free(garbage);
    free(cut);
    free(script);
}

static void test_corrupt_never_builds_buildx(void **state)
{
    inject_corrupt(&bk_builder_buildx);
}

static void test_corrupt_never_builds_docker(void **state)
{
    inject_corrupt(&bk_builder_docker);
}

static void test_corrupt_never_builds_buildctl(void **state)
{
    inject_corrupt(&bk_builder_buildctl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corrupt_never_builds_buildx),
        cmocka_unit_test(test_corrupt_never_builds_docker),
        cmocka_unit_test(test_corrupt_never_builds_buildctl),
    };
    return cmocka_run_group_tests_name("core/builder mountio", tests, NULL, NULL);
}
