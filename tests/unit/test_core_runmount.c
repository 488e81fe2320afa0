/*
 * test_core_runmount.c - `RUN --mount` values (core/dockerfile/runmount.c): CSV
 * splitting, keys and aliases, defaults, validation, the two phases, the
 * default cache id and the mount path (spec sections 2.2 to 2.5).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/error.h"
#include "core/dockerfile/runmount.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

static void parse_ok(const char *v, const struct bk_vars *vars, struct bk_runmount *m)
{
    if (bk_runmount_parse(v, '\\', vars, m) != 0)
        fail_msg("parse(%s): %s", v, bk_error_msg());
}

static void parse_err(const char *v, const char *msg)
{
    struct bk_runmount m;
    if (bk_runmount_parse(v, '\\', NULL, &m) != BK_EINVAL)
        fail_msg("parse(%s) should fail", v);
    if (!strstr(bk_error_msg(), msg))
        fail_msg("parse(%s): '%s' lacks '%s'", v, bk_error_msg(), msg);
}

static void test_cache_defaults(void **state)
{
    struct bk_runmount m;
    parse_ok("type=cache,target=/root/.cache/", NULL, &m);
    assert_int_equal(m.type, BK_MOUNT_CACHE);
    assert_int_equal(m.sharing, BK_SHARING_SHARED);
    assert_false(m.readonly);
    assert_int_equal(m.mode, 0755);
    assert_false(m.has_uid || m.has_gid || m.has_mode);
    char *id = bk_runmount_cache_id(&m);
    assert_string_equal(id, "/root/.cache");
    free(id);
    assert_false(bk_runmount_has_base(&m));
    bk_runmount_release(&m);
}

static void test_keys_aliases_and_bools(void **state)
{
    struct bk_runmount m;
    parse_ok("TYPE=Cache,dst=/x,ID=pnpm,Sharing=LOCKED,ro,uid=1000,gid=0,mode=700", NULL, &m);
    assert_int_equal(m.type, BK_MOUNT_CACHE);
    assert_string_equal(m.target, "/x");
    assert_string_equal(m.id, "pnpm");
    assert_int_equal(m.sharing, BK_SHARING_LOCKED);
    assert_true(m.readonly);
    assert_int_equal(m.uid, 1000);
    assert_int_equal(m.gid, 0);
    assert_int_equal(m.mode, 0700);
    assert_true(bk_runmount_has_base(&m));
    bk_runmount_release(&m);

    parse_ok("type=cache,destination=/a,target=/b,readonly=true,rw=T", NULL, &m);
    assert_string_equal(m.target, "/b"); /* a repeated key overrides */
    assert_false(m.readonly);
    bk_runmount_release(&m);

    parse_ok("target=/src", NULL, &m); /* type defaults to bind, read-only */
    assert_int_equal(m.type, BK_MOUNT_BIND);
    assert_true(m.readonly);
    bk_runmount_release(&m);

    parse_ok("type=cache,target=/c,source=sub,uid=0", NULL, &m);
    assert_false(bk_runmount_has_base(&m)); /* source set: uid ignored */
    bk_runmount_release(&m);
    parse_ok("type=cache,target=/c,source=/,uid=0", NULL, &m);
    assert_true(bk_runmount_has_base(&m)); /* "/" is no source */
    bk_runmount_release(&m);
}

static void test_expansion(void **state)
{
    struct bk_vars v = BK_VARS_INIT;
    struct bk_runmount m;
    bk_vars_set(&v, "T", "cache");
    bk_vars_set(&v, "ARCH", "amd64");
    parse_ok("type=$T,target=/x,id=x-${ARCH},uid=${U:-42}", &v, &m);
    assert_int_equal(m.type, BK_MOUNT_CACHE);
    assert_string_equal(m.id, "x-amd64");
    assert_int_equal(m.uid, 42);
    bk_runmount_release(&m);
    bk_vars_release(&v);
    parse_err("type=cache,target=${X:?need X}", "X: need X");
}

static void test_validation_errors(void **state)
{
    parse_err("type=cache,target=/x,sharing=bogus", "unsupported sharing value \"bogus\"");
    parse_err("type=cache,target=/x,mode=99a", "invalid value 99a for mode");
    parse_err("type=cache,target=/x,mode=8", "invalid value 8 for mode");
    parse_err("type=cache,target=/x,mode=0o755", "invalid value 0o755 for mode");
    parse_err("type=cache,target=/x,uid=-1", "invalid value -1 for uid");
    parse_err("type=cache,target=/x,gid=4294967296", "invalid value 4294967296 for gid");
    parse_err("type=cache, target=/x", "unexpected key ' target' in ' target=/x'");
    parse_err("type=cache,target=/x,", "invalid field '' must be a key=value pair");
    parse_err("type=cache,bogus", "invalid field 'bogus' must be a key=value pair");
    parse_err("type=volume", "unsupported mount type \"volume\"");
    parse_err("type=bind,target=/x,uid=1", "uid not allowed for \"bind\" type mounts");
    parse_err("type=bind,target=/x,sharing=locked", "invalid cache sharing set for bind mount");
    parse_err("type=cache,size=1m", "unexpected key 'size' for mount type 'cache'");
    parse_err("type=cache,required", "unexpected key 'required' for mount type 'cache'");
    parse_err("type=secret,id=a,from=x", "secret mount should not have a from");
    parse_err("type=cache,ro=maybe", "invalid value for ro: maybe");
    parse_err("", "failed to parse csv mounts");
    parse_err("type=cache,target=/a\"b", "bare \" in non-quoted-field");
}

static void test_csv_quotes(void **state)
{
    struct bk_runmount m;
    parse_ok("type=cache,\"target=/a,b\"", NULL, &m);
    assert_string_equal(m.target, "/a,b");
    bk_runmount_release(&m);
}

static void test_parse_time_from(void **state)
{
    char *from = NULL;
    assert_int_equal(bk_runmount_parse_from("type=cache,target=/x,from=Builder", &from), 0);
    assert_string_equal(from, "Builder");
    free(from);
    assert_int_equal(bk_runmount_parse_from("type=cache,target=/x", &from), 0);
    assert_null(from);
    /* other keys are not looked at yet */
    assert_int_equal(bk_runmount_parse_from("type=cache,sharing=bogus,FROM=a$", &from), 0);
    assert_string_equal(from, "a$");
    free(from);
    assert_int_equal(bk_runmount_parse_from("type=bind,from=$X", &from), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "'from' doesn't support variable expansion"));
    assert_int_equal(bk_runmount_parse_from("type=tmpfs,from=a${X}b", &from), BK_EINVAL);
    assert_int_equal(bk_runmount_parse_from("a=\"b", &from), BK_EINVAL);
}

static void check_path(const char *target, const char *wd, const char *want_id,
                       const char *want_path)
{
    struct bk_runmount m = {0};
    char *path = NULL, *id;
    m.target = target ? bk_xstrdup(target) : NULL;
    id = bk_runmount_cache_id(&m);
    assert_string_equal(id, want_id);
    if (want_path) {
        assert_int_equal(bk_runmount_mount_path(&m, wd, &path), 0);
        assert_string_equal(path, want_path);
    } else {
        assert_int_equal(bk_runmount_mount_path(&m, wd, &path), BK_EINVAL);
        assert_non_null(strstr(bk_error_msg(), "invalid mount target"));
    }
    free(path);
    free(id);
    bk_runmount_release(&m);
}

static void test_ids_and_paths(void **state)
{
    check_path("node_modules", "/app", "node_modules", "/app/node_modules");
    check_path("/root/.cache/pip/", "/app", "/root/.cache/pip", "/root/.cache/pip/");
    check_path("//z//q", "/", "/z/q", "//z//q");
    check_path("a/../b/", "/w", "b", "/w/b");
    check_path(NULL, "/app", ".", "/app");
    check_path(NULL, "/", ".", NULL);
    check_path("/", "/", "/", NULL);
    check_path("..", "/", "..", NULL);
}

static void test_path_clean(void **state)
{
    static const char *const cases[][2] = {
        {"", "."},
        {"/", "/"},
        {"//", "/"},
        {"a/b/", "a/b"},
        {"./a", "a"},
        {"../a", "../a"},
        {"/../a", "/a"},
        {"a/../..", ".."},
        {"a/./b", "a/b"},
        {"/a/b/../../..", "/"},
        {"..//../x", "../../x"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *c = bk_path_clean(cases[i][0]);
        if (strcmp(c, cases[i][1]) != 0)
            fail_msg("clean(%s) = %s, want %s", cases[i][0], c, cases[i][1]);
        free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_defaults), cmocka_unit_test(test_keys_aliases_and_bools),
        cmocka_unit_test(test_expansion),      cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_csv_quotes),     cmocka_unit_test(test_parse_time_from),
        cmocka_unit_test(test_ids_and_paths),  cmocka_unit_test(test_path_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
