/*
 * test_core_builder_gen.c - the exact text of the generated transfer
 * Dockerfiles (core/builder/gen_dockerfile.c): inject and extract, uid/gid/mode as
 * the user wrote them, from= with source=, the appended mode that carries
 * the user's stages, and the values that cannot be written into a --mount
 * flag unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/util/error.h"
#include "core/builder/gen_dockerfile.h"

#include <string.h>

static const struct bk_gen_mount k_go = {
    .name = "go-build", .id = "/root/.cache/go-build", .mode = 0755, .expect_digest = "d1"};
static const struct bk_gen_mount k_npm = {.name = "npm",
                                          .id = "npm",
                                          .uid = 1000,
                                          .gid = 1000,
                                          .mode = 0700,
                                          .has_uid = 1,
                                          .has_gid = 1,
                                          .has_mode = 1,
                                          .expect_digest = "d2"};

static void test_inject(void **state)
{
    struct bk_gen_mount m[2] = {k_go, k_npm};
    struct bk_gen_opts o = {0};
    struct bk_strbuf sb = BK_STRBUF_INIT;

    assert_int_equal(bk_gen_dockerfile(BK_GEN_INJECT, m, 2, &o, &sb), BK_OK);
    assert_string_equal(
        sb.buf,
        "# bkcache: restore 2 cache mounts (generated; safe to delete)\n"
        "FROM scratch AS bkcache-transfer\n"
        "ARG BKCACHE_NONCE\n"
        "RUN --mount=type=bind,target=/.bkcache/ctx "
        "--mount=type=cache,id=/root/.cache/go-build,target=/.bkcache/mount,sharing=locked "
        "[\"/.bkcache/ctx/bkcache-helper\", \"unpack\", \"/.bkcache/ctx/0.tar.zst\", "
        "\"/.bkcache/mount\", \"--report\", \"/.bkcache/out/0.json\", \"--skip-nonempty\", "
        "\"--expect-digest\", \"d1\"]\n"
        "RUN --mount=type=bind,target=/.bkcache/ctx "
        "--mount=type=cache,id=npm,target=/.bkcache/mount,sharing=locked,uid=1000,gid=1000,"
        "mode=0700 [\"/.bkcache/ctx/bkcache-helper\", \"unpack\", \"/.bkcache/ctx/1.tar.zst\", "
        "\"/.bkcache/mount\", \"--report\", \"/.bkcache/out/1.json\", \"--skip-nonempty\", "
        "\"--expect-digest\", \"d2\"]\n");
    bk_strbuf_release(&sb);

    /* --force and --allow-special; only the mode given */
    m[1].has_uid = m[1].has_gid = 0;
    o.force = 1;
    o.allow_special = 1;
    assert_int_equal(bk_gen_dockerfile(BK_GEN_INJECT, m + 1, 1, &o, &sb), BK_OK);
    assert_non_null(strstr(sb.buf, "id=npm,target=/.bkcache/mount,sharing=locked,mode=0700 ["));
    assert_non_null(strstr(sb.buf, "\"--expect-digest\", \"d2\", \"--allow-special\"]\n"));
    assert_null(strstr(sb.buf, "--skip-nonempty"));
    bk_strbuf_release(&sb);
}

/* After an interrupted restore: the helper's repair in each cache, with the
 * cache's exact options; the tests-only pause ARG only when asked for. */
static void test_repair_and_pause_arg(void **state)
{
    struct bk_gen_mount m[1] = {k_npm};
    struct bk_gen_opts o = {0};
    struct bk_strbuf sb = BK_STRBUF_INIT;

    assert_int_equal(bk_gen_dockerfile(BK_GEN_REPAIR, m, 1, &o, &sb), BK_OK);
    assert_string_equal(
        sb.buf, "# bkcache: repair 1 cache mount (generated; safe to delete)\n"
                "FROM scratch AS bkcache-transfer\n"
                "ARG BKCACHE_NONCE\n"
                "RUN --mount=type=bind,target=/.bkcache/ctx "
                "--mount=type=cache,id=npm,target=/.bkcache/mount,sharing=locked,uid=1000,gid=1000,"
                "mode=0700 [\"/.bkcache/ctx/bkcache-helper\", \"repair\", \"/.bkcache/mount\", "
                "\"--report\", \"/.bkcache/out/0.json\"]\n");
    assert_null(strstr(sb.buf, "BKCACHE_HELPER_PAUSE"));
    bk_strbuf_reset(&sb);
    o.pause_arg = 1;
    assert_int_equal(bk_gen_dockerfile(BK_GEN_INJECT, m, 1, &o, &sb), BK_OK);
    assert_non_null(strstr(sb.buf, "ARG BKCACHE_NONCE\nARG BKCACHE_HELPER_PAUSE\nRUN "));
    bk_strbuf_release(&sb);
}

static void test_extract(void **state)
{
    struct bk_gen_mount m[1] = {k_npm};
    struct bk_gen_opts o = {0};
    struct bk_strbuf sb = BK_STRBUF_INIT;

    o.level = 9;
    assert_int_equal(bk_gen_dockerfile(BK_GEN_EXTRACT, m, 1, &o, &sb), BK_OK);
    assert_string_equal(
        sb.buf, "# bkcache: save 1 cache mount (generated; safe to delete)\n"
                "FROM scratch AS bkcache-transfer\n"
                "ARG BKCACHE_NONCE\n"
                "RUN --mount=type=bind,target=/.bkcache/ctx "
                "--mount=type=cache,id=npm,target=/.bkcache/mount,sharing=locked,uid=1000,gid=1000,"
                "mode=0700 [\"/.bkcache/ctx/bkcache-helper\", \"pack\", \"/.bkcache/mount\", "
                "\"/.bkcache/out/0.tar.zst\", \"--report\", \"/.bkcache/out/0.json\", \"--level\", "
                "\"9\"]\n");
    bk_strbuf_release(&sb);
}

static void test_appended_from_stage(void **state)
{
    struct bk_gen_mount m = {
        .name = "deps", .id = "deps", .mode = 0755, .from = "Builder", .source = "/src/cache"};
    struct bk_gen_opts o = {0};
    struct bk_strbuf sb = BK_STRBUF_INIT;

    o.user_dockerfile = "FROM scratch AS builder\nCOPY x /src/cache/x";
    o.ctx_subdir = ".bkcache-0123";
    assert_int_equal(bk_gen_dockerfile(BK_GEN_EXTRACT, &m, 1, &o, &sb), BK_OK);
    assert_string_equal(
        sb.buf,
        "FROM scratch AS builder\nCOPY x /src/cache/x\n\n"
        "# bkcache: save 1 cache mount (generated; safe to delete)\n"
        "FROM scratch AS bkcache-transfer\n"
        "ARG BKCACHE_NONCE\n"
        "RUN --mount=type=bind,target=/.bkcache/ctx,source=.bkcache-0123 "
        "--mount=type=cache,id=deps,target=/.bkcache/mount,sharing=locked,from=Builder,"
        "source=/src/cache [\"/.bkcache/ctx/bkcache-helper\", \"pack\", \"/.bkcache/mount\", "
        "\"/.bkcache/out/0.tar.zst\", \"--report\", \"/.bkcache/out/0.json\"]\n");
    bk_strbuf_reset(&sb);

    /* inject binds the from= content so the helper can tell a new cache
     * (a copy of it) from a warm one */
    o.user_dockerfile = NULL;
    assert_int_equal(bk_gen_dockerfile(BK_GEN_INJECT, &m, 1, &o, &sb), BK_OK);
    assert_non_null(strstr(sb.buf,
                           "source=/src/cache --mount=type=bind,from=Builder,target=/.bkcache/base,"
                           "source=/src/cache [\"/.bkcache/ctx/bkcache-helper\", \"unpack\", "
                           "\"/.bkcache/ctx/0.tar.zst\", \"/.bkcache/mount\", \"--report\", "
                           "\"/.bkcache/out/0.json\", \"--skip-nonempty\", \"--base\", "
                           "\"/.bkcache/base\"]\n"));
    bk_strbuf_reset(&sb);
    o.force = 1;
    assert_int_equal(bk_gen_dockerfile(BK_GEN_INJECT, &m, 1, &o, &sb), BK_OK);
    assert_null(strstr(sb.buf, "/.bkcache/base"));
    bk_strbuf_release(&sb);
}

/* Delta saves: a layered entry's inject names the stack, bottom first, and
 * the record of the stored layers; a layer blob's pack is reproducible and,
 * when it may be a delta, gets the limits. */
static void test_layers_and_delta(void **state)
{
    static const char *const files[] = {"aa.tar.zst", "bb.tar.zst"};
    struct bk_gen_mount m[2] = {k_go, k_go};
    struct bk_gen_opts o = {0};
    struct bk_strbuf sb = BK_STRBUF_INIT;

    m[0].layer_files = files;
    m[0].nlayers = 2;
    m[0].record = "sha256:aa:10:t1,sha256:bb:2:t2";
    assert_int_equal(bk_gen_dockerfile(BK_GEN_INJECT, m, 2, &o, &sb), BK_OK);
    assert_non_null(strstr(sb.buf,
                           "[\"/.bkcache/ctx/bkcache-helper\", \"unpack\", "
                           "\"/.bkcache/ctx/aa.tar.zst\", \"/.bkcache/ctx/bb.tar.zst\", "
                           "\"/.bkcache/mount\", \"--report\", \"/.bkcache/out/0.json\", "
                           "\"--skip-nonempty\", \"--expect-digest\", \"d1\", \"--record\", "
                           "\"sha256:aa:10:t1,sha256:bb:2:t2\"]\n"));
    /* the plain archive beside it keeps its name and has no record */
    assert_non_null(strstr(sb.buf, "\"unpack\", \"/.bkcache/ctx/1.tar.zst\", \"/.bkcache/mount\", "
                                   "\"--report\", \"/.bkcache/out/1.json\", \"--skip-nonempty\", "
                                   "\"--expect-digest\", \"d1\"]\n"));
    bk_strbuf_reset(&sb);

    m[0] = m[1] = k_go;
    m[0].reproducible = m[0].delta = 1;
    m[1].reproducible = 1; /* packed again in full: its delta lost a layer */
    o.level = 5;
    assert_int_equal(bk_gen_dockerfile(BK_GEN_EXTRACT, m, 2, &o, &sb), BK_OK);
    assert_non_null(strstr(sb.buf, "\"/.bkcache/out/0.json\", \"--level\", \"5\", \"--delta\", "
                                   "\"8:0.25\", \"--reproducible\"]\n"));
    assert_non_null(strstr(sb.buf, "\"/.bkcache/out/1.json\", \"--level\", \"5\", "
                                   "\"--reproducible\"]\n"));
    bk_strbuf_reset(&sb);
    /* --delta off: today's pack, exactly */
    m[0] = k_go;
    assert_int_equal(bk_gen_dockerfile(BK_GEN_EXTRACT, m, 1, &o, &sb), BK_OK);
    assert_null(strstr(sb.buf, "--delta"));
    assert_null(strstr(sb.buf, "--reproducible"));
    bk_strbuf_release(&sb);
}

static void test_refuses_unsafe_values(void **state)
{
    static const char *bad[] = {"a,b", "a\"b", "$HOME", "a b", "a\\b", "it's"};
    struct bk_gen_opts o = {0};
    struct bk_strbuf sb = BK_STRBUF_INIT;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bk_gen_mount m = k_go;
        m.id = bad[i];
        assert_int_equal(bk_gen_dockerfile(BK_GEN_INJECT, &m, 1, &o, &sb), BK_EINVAL);
        assert_non_null(strstr(bk_error_msg(), "go-build: cannot transfer a cache mount whose id"));
        bk_strbuf_reset(&sb);
    }
    struct bk_gen_mount m = k_go;
    m.from = "stage,x";
    assert_int_equal(bk_gen_dockerfile(BK_GEN_EXTRACT, &m, 1, &o, &sb), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "from"));
    /* '=' and ':' are fine in a CSV value */
    m = k_go;
    m.id = "cache=a:b";
    assert_int_equal(bk_gen_dockerfile(BK_GEN_EXTRACT, &m, 1, &o, &sb), BK_OK);
    bk_strbuf_release(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inject),
        cmocka_unit_test(test_extract),
        cmocka_unit_test(test_repair_and_pause_arg),
        cmocka_unit_test(test_appended_from_stage),
        cmocka_unit_test(test_layers_and_delta),
        cmocka_unit_test(test_refuses_unsafe_values),
    };
    return cmocka_run_group_tests_name("core/gen_dockerfile", tests, NULL, NULL);
}
