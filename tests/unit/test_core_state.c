/*
 * test_core_state.c - the state file: default location and naming, round
 * trip, replace, a missing file is empty, a malformed one is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/util/error.h"
#include "core/xfer/state.h"
#include "core/util/strbuf.h"
#include "support/store_fixture.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *env_runner(const char *n)
{
    if (strcmp(n, "RUNNER_TEMP") == 0)
        return "/runner";
    return strcmp(n, "TMPDIR") == 0 ? "/tmpdir" : NULL;
}

static const char *env_azure(const char *n)
{
    if (strcmp(n, "AGENT_TEMPDIRECTORY") == 0)
        return "/agent";
    return strcmp(n, "TMPDIR") == 0 ? "/tmpdir" : NULL;
}

static const char *env_none(const char *n)
{
    (void)n;
    return NULL;
}

static void test_default_path(void **state)
{
    char *a = bk_state_default_path("Dockerfile", NULL, env_runner);
    char *b = bk_state_default_path("./Dockerfile", NULL, env_runner);
    char *c = bk_state_default_path("Dockerfile", "build", env_runner);
    char *d = bk_state_default_path("Dockerfile", NULL, env_azure);
    char *e = bk_state_default_path("Dockerfile", NULL, env_none);
    (void)state;

    assert_int_equal(strncmp(a, "/runner/bkcache-state-", 22), 0);
    assert_string_equal(a + strlen(a) - 5, ".json");
    assert_string_equal(a, b);     /* the same Dockerfile, spelled differently */
    assert_string_not_equal(a, c); /* another target */
    assert_int_equal(strncmp(d, "/agent/", 7), 0);
    assert_int_equal(strncmp(e, "/tmp/", 5), 0);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

static void test_roundtrip(void **state)
{
    char *dir = bk_test_mkdtemp();
    char *path = bk_xasprintf("%s/state.json", dir);
    struct bk_state st = BK_STATE_INIT;
    const struct bk_state_entry *e;
    (void)state;

    assert_int_equal(bk_state_load(path, &st), BK_OK); /* missing: empty */
    assert_int_equal(st.n, 0);
    bk_state_set(&st, "go-build", "k-1", "k-0", "partial", "abc");
    bk_state_set(&st, "apt", "a-1", NULL, "miss", NULL);
    bk_state_set_store(&st, "go-build", "local-00112233aabbccdd");
    bk_state_set(&st, "go-build", "k-1", "k-1", "exact", "def"); /* replace */
    bk_state_set_store(&st, "go-build", "local-44556677aabbccdd");
    assert_int_equal(st.n, 2);
    assert_int_equal(bk_state_save(path, &st), BK_OK);
    bk_state_release(&st);

    assert_int_equal(bk_state_load(path, &st), BK_OK);
    assert_int_equal(st.n, 2);
    e = bk_state_find(&st, "go-build");
    assert_non_null(e);
    assert_string_equal(e->key, "k-1");
    assert_string_equal(e->matched_key, "k-1");
    assert_string_equal(e->hit, "exact");
    assert_string_equal(e->digest, "def");
    assert_string_equal(e->store, "local-44556677aabbccdd");
    assert_true(bk_state_same_store(e, "local-44556677aabbccdd"));
    assert_false(bk_state_same_store(e, "local-00112233aabbccdd"));
    assert_false(bk_state_same_store(e, NULL));
    e = bk_state_find(&st, "apt");
    assert_null(e->store); /* none recorded: no store's */
    assert_false(bk_state_same_store(e, "local-44556677aabbccdd"));
    assert_null(e->matched_key);
    assert_null(e->digest);
    assert_string_equal(e->hit, "miss");
    assert_null(bk_state_find(&st, "nope"));
    bk_state_release(&st);

    bk_test_write_file(path, "{\"version\":1}", 13);
    assert_int_equal(bk_state_load(path, &st), BK_ECORRUPT);
    assert_non_null(strstr(bk_error_msg(), path));
    bk_test_rmtree(dir);
    free(path);
    free(dir);
}

/* --state pointed at the wrong file: neither read through a symlink nor
 * overwritten when it is not a state file. */
static void test_refuses_foreign_files(void **state)
{
    char *dir = bk_test_mkdtemp();
    char *path = bk_xasprintf("%s/notes.txt", dir), *link = bk_xasprintf("%s/link.json", dir);
    char *good = bk_xasprintf("%s/good.json", dir), *empty = bk_xasprintf("%s/empty", dir);
    struct bk_state st = BK_STATE_INIT;
    struct bk_strbuf sb = BK_STRBUF_INIT;
    struct stat lst;
    (void)state;

    bk_state_set(&st, "go-build", "k-1", NULL, "miss", NULL);
    bk_test_write_file(path, "precious\n", 9);
    assert_int_equal(bk_state_save(path, &st), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "not a bkcache state file"));
    assert_int_equal(bk_strbuf_read_file(&sb, path), BK_OK);
    assert_string_equal(sb.buf, "precious\n");

    assert_int_equal(bk_state_save(good, &st), BK_OK);
    assert_int_equal(symlink(good, link), 0);
    assert_int_equal(bk_state_save(link, &st), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "symbolic link"));
    assert_int_equal(lstat(link, &lst), 0);
    assert_true(S_ISLNK(lst.st_mode));
    assert_int_equal(bk_state_load(link, &st), BK_EINVAL);

    bk_test_write_file(empty, "", 0); /* --state "$(mktemp)" */
    assert_int_equal(bk_state_load(empty, &st), BK_OK);
    bk_state_set(&st, "apt", "a-1", NULL, "miss", NULL);
    assert_int_equal(bk_state_save(empty, &st), BK_OK);
    assert_int_equal(bk_state_load(empty, &st), BK_OK);
    assert_non_null(bk_state_find(&st, "apt"));

    bk_state_release(&st);
    bk_strbuf_release(&sb);
    bk_test_rmtree(dir);
    free(path);
    free(link);
    free(good);
    free(empty);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refuses_foreign_files),
    };
    return cmocka_run_group_tests_name("core_state", tests, NULL, NULL);
}
