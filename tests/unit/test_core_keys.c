/*
 * test_core_keys.c - cache keys (core/plan/keys.c): golden keys for
 * examples/Dockerfile, and what does and does not change a key
 * (docs/keys.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/error.h"
#include "core/plan/keys.h"
#include "core/util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct keyed {
    struct bk_dockerfile *df;
    struct bk_buildplan *plan;
    struct bk_keyset *ks;
};

static void load(struct keyed *k, const char *text, const char *target, const char *platform,
                 const struct bk_key_opts *ko_in)
{
    struct bk_build_opts bo = {target, NULL, platform ? platform : "linux/amd64", "linux/amd64"};
    struct bk_key_opts ko = {NULL, NULL, NULL, NULL, NULL};

    if (ko_in)
        ko = *ko_in;
    memset(k, 0, sizeof(*k));
    if (bk_dockerfile_parse(text, strlen(text), "Dockerfile", &k->df) ||
        bk_buildplan_resolve(k->df, &bo, &k->plan) || bk_keys_compute(k->plan, &ko, &k->ks))
        fail_msg("keys: %s", bk_error_msg());
}

static void unload(struct keyed *k)
{
    bk_keyset_free(k->ks);
    bk_buildplan_free(k->plan);
    bk_dockerfile_free(k->df);
}

/* The key of the identity named `name` (prefix match on the name). */
static const char *key_of(const struct keyed *k, const char *name)
{
    for (size_t i = 0; i < k->ks->n; i++)
        if (strncmp(k->ks->keys[i].identity->name, name, strlen(name)) == 0)
            return k->ks->keys[i].key;
    fail_msg("no identity %s", name);
    return NULL;
}

static char *read_example(void)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    if (bk_strbuf_read_file(&sb, "examples/Dockerfile"))
        fail_msg("examples/Dockerfile: %s", bk_error_msg());
    return bk_strbuf_detach(&sb);
}

static void test_golden_example_keys(void **state)
{
    static const char *const want[][2] = {
        {"gomod", "bkcache-gomod-linux-amd64-83f033cdbffda9354ac020eb9b25ab15"},
        {"root-.cache-go-build-f0d2735e",
         "bkcache-root-.cache-go-build-f0d2735e-linux-amd64-f1a2ad21111386bf0fb41eab2caf0cc0"},
        {"npm-2d39a229", "bkcache-npm-2d39a229-linux-amd64-f2aae00652f89a3ed9bd4deb4982e958"},
        {"var-cache-apt-12233602",
         "bkcache-var-cache-apt-12233602-linux-amd64-d628158446a97a25132c2d0ece0bf1c5"},
        {"var-lib-apt-lists-f491eeef",
         "bkcache-var-lib-apt-lists-f491eeef-linux-amd64-437fa5ad500a1f7383ee81051b68b550"},
    };
    char *text = read_example();
    struct keyed k;

    load(&k, text, NULL, NULL, NULL);
    assert_int_equal(k.ks->n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < k.ks->n; i++) {
        assert_string_equal(k.ks->keys[i].identity->name, want[i][0]);
        assert_string_equal(k.ks->keys[i].key, want[i][1]);
        assert_int_equal(k.ks->keys[i].restore_keys.n, 2);
        assert_int_equal(strncmp(k.ks->keys[i].key, k.ks->keys[i].restore_keys.v[0],
                                 strlen(k.ks->keys[i].restore_keys.v[0])),
                         0);
        assert_int_equal(strlen(k.ks->keys[i].key) - strlen(k.ks->keys[i].restore_keys.v[0]), 16);
        assert_int_equal(bk_key_validate(k.ks->keys[i].key), 0);
    }
    assert_string_equal(k.ks->keys[0].restore_keys.v[1], "bkcache-gomod-linux-amd64-");
    unload(&k);

    struct bk_key_opts ko = {"ci", NULL, NULL, NULL, NULL};
    load(&k, text, "lint", "linux/arm64", &ko);
    assert_int_equal(k.ks->n, 1);
    assert_string_equal(k.ks->keys[0].key, "ci-root-.cache-golangci-lint-b8a1caac-linux-arm64-"
                                           "67a02d0ae056194b50a5a49af0d86c61");
    unload(&k);
    free(text);
}

/* Replace the first `from` in `s` by `to`; returns a new string. */
static char *edit(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (!at)
        fail_msg("edit: '%s' not found", from);
    return bk_xasprintf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

static void expect_keys(const char *base, const char *variant, const char *const *changed,
                        const char *what)
{
    struct keyed a, b;
    load(&a, base, NULL, NULL, NULL);
    load(&b, variant, NULL, NULL, NULL);
    assert_int_equal(a.ks->n, b.ks->n);
    for (size_t i = 0; i < a.ks->n; i++) {
        const char *name = a.ks->keys[i].identity->name;
        int should_change = 0;
        for (size_t c = 0; changed && changed[c]; c++)
            should_change |= strncmp(name, changed[c], strlen(changed[c])) == 0;
        int did_change = strcmp(a.ks->keys[i].key, key_of(&b, name)) != 0;
        if (did_change != should_change)
            fail_msg("%s: key of %s %s", what, name, did_change ? "changed" : "did not change");
    }
    unload(&a);
    unload(&b);
}

static void test_formatting_keeps_keys(void **state)
{
    char *text = read_example(), *v1, *v2, *v3;

    v1 = edit(text, "FROM deps AS build\n", "# a new comment\n\n  FROM deps AS build\n\n");
    expect_keys(text, v1, NULL, "comment and blank lines");
    v2 = edit(text, "    go mod download\n", "    go \\\n  # inside\n\n    mod download\n");
    /* a continuation that keeps the joined text keeps the key */
    char *v2b = edit(text, "    go mod download\n", "    go mod\\\n download\n");
    expect_keys(text, v2b, NULL, "continuation");
    /* while a real change in the command changes the stages that need it */
    static const char *const deps_users[] = {"gomod", "root-.cache-go-build", "var-", NULL};
    expect_keys(text, v2, deps_users, "changed RUN text");
    v3 = edit(text, "RUN rm -f", "run  rm -f");
    expect_keys(text, v3, NULL, "keyword case and spacing after it");
    free(v1);
    free(v2);
    free(v2b);
    free(v3);
    free(text);
}

static void test_relevant_changes_move_keys(void **state)
{
    char *text = read_example(), *v;

    static const char *const npm_and_runtime[] = {"npm", "var-", NULL};
    v = edit(text, "npm ci --no-audit", "npm ci --no-audit --prefer-offline");
    expect_keys(text, v, npm_and_runtime, "RUN in the npm stage");
    free(v);

    /* uid is part of the identity: the name and the key change */
    struct keyed a, b;
    v = edit(text, "uid=1000,gid=1000", "uid=1001,gid=1000");
    load(&a, text, NULL, NULL, NULL);
    load(&b, v, NULL, NULL, NULL);
    assert_string_not_equal(a.ks->keys[2].identity->name, b.ks->keys[2].identity->name);
    assert_string_not_equal(a.ks->keys[2].key, b.ks->keys[2].key);
    assert_string_equal(a.ks->keys[0].key, b.ks->keys[0].key);
    unload(&a);
    unload(&b);
    free(v);

    /* an edit in a stage no mount needs (lint) keeps every default-target key */
    v = edit(text, "go vet ./...", "go vet -v ./...");
    expect_keys(text, v, NULL, "unrelated stage");
    free(v);
    free(text);
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void test_key_files_and_extra(void **state)
{
    char dir[] = "/tmp/bk-keys-XXXXXX";
    char dir2[] = "/tmp/bk-keys-XXXXXX";
    char path[256];
    struct bk_strvec files = BK_STRVEC_INIT, extra = BK_STRVEC_INIT;
    char *text = read_example();
    char *k0, *k1, *k2;
    struct keyed k;

    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(dir2));
    snprintf(path, sizeof(path), "%s/go.sum", dir);
    write_file(path, "v1\n");
    snprintf(path, sizeof(path), "%s/go.sum", dir2);
    write_file(path, "v1\n");
    bk_strvec_push(&files, "*.sum");
    bk_strvec_push(&files, "nothing-*.lock"); /* warns, does not fail */

    struct bk_key_opts ko = {NULL, &files, NULL, dir, NULL};
    load(&k, text, NULL, NULL, &ko);
    k0 = bk_xstrdup(k.ks->keys[0].key);
    /* the Dockerfile half and the restore keys do not depend on key files */
    assert_int_equal(
        strncmp(k0, k.ks->keys[0].restore_keys.v[0], strlen(k.ks->keys[0].restore_keys.v[0])), 0);
    unload(&k);

    ko.base_dir = dir2; /* same contents elsewhere: paths are relative */
    load(&k, text, NULL, NULL, &ko);
    assert_string_equal(k.ks->keys[0].key, k0);
    unload(&k);

    snprintf(path, sizeof(path), "%s/go.sum", dir2);
    write_file(path, "v2\n");
    load(&k, text, NULL, NULL, &ko);
    k1 = bk_xstrdup(k.ks->keys[0].key);
    assert_string_not_equal(k0, k1);
    assert_memory_equal(k0, k1, strlen(k0) - 16); /* same Dockerfile half */
    unload(&k);

    bk_strvec_push(&extra, "ci-v2");
    ko.key_extra = &extra;
    load(&k, text, NULL, NULL, &ko);
    k2 = bk_xstrdup(k.ks->keys[0].key);
    assert_string_not_equal(k1, k2);
    unload(&k);

    snprintf(path, sizeof(path), "%s/go.sum", dir);
    unlink(path);
    rmdir(dir);
    snprintf(path, sizeof(path), "%s/go.sum", dir2);
    unlink(path);
    rmdir(dir2);
    bk_strvec_clear(&files);
    bk_strvec_clear(&extra);
    free(k0);
    free(k1);
    free(k2);
    free(text);
}

static void test_key_rules(void **state)
{
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(bk_key_validate("bkcache-a_b.c-0"), 0);
    assert_int_equal(bk_key_validate(big), BK_EINVAL);
    big[BK_KEY_MAX] = '\0';
    assert_int_equal(bk_key_validate(big), 0);
    assert_int_equal(bk_key_validate("a,b"), BK_EINVAL);
    assert_int_equal(bk_key_validate("a/b"), BK_EINVAL);
    assert_int_equal(bk_key_validate(""), BK_EINVAL);
    assert_int_equal(bk_key_prefix_validate("my-app_1.2"), 0);
    assert_int_equal(bk_key_prefix_validate("a b"), BK_EINVAL);
    assert_int_equal(bk_key_prefix_validate(""), BK_EINVAL);

    struct keyed k;
    struct bk_key_opts ko = {"bad,prefix", NULL, NULL, NULL, NULL};
    struct bk_build_opts bo = {NULL, NULL, "linux/amd64", "linux/amd64"};
    static const char text[] = "FROM alpine\nRUN --mount=type=cache,target=/x true\n";
    assert_int_equal(bk_dockerfile_parse(text, strlen(text), "Dockerfile", &k.df), 0);
    assert_int_equal(bk_buildplan_resolve(k.df, &bo, &k.plan), 0);
    assert_int_equal(bk_keys_compute(k.plan, &ko, &k.ks), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "--key-prefix"));
    bk_buildplan_free(k.plan);
    bk_dockerfile_free(k.df);
}

static void test_serialization_is_versioned(void **state)
{
    struct keyed k;
    struct bk_strbuf sb = BK_STRBUF_INIT;
    struct bk_key_opts ko = {NULL, NULL, NULL, NULL, NULL};
    load(&k, "FROM alpine\nRUN --mount=type=cache,target=/x true\n", NULL, NULL, NULL);
    assert_int_equal(bk_keys_serialize(k.plan, 0, &ko, &sb), 0);
    assert_int_equal(strncmp(sb.buf, "bkcache-key v1\n", 15), 0);
    assert_non_null(strstr(sb.buf, "identity 22:cache_id=//x base=none\n"));
    assert_non_null(strstr(sb.buf, "platform 11:linux/amd64\n"));
    assert_non_null(strstr(sb.buf, "\nstage-sha256 "));
    assert_non_null(strstr(sb.buf, "end-dockerfile\nend-inputs\n"));
    bk_strbuf_release(&sb);
    unload(&k);
}

/* The layer cache's key follows the target's closure: an unrelated stage
 * does not move it, a stage the target builds on does (restore keys stay). */
static void test_layers_key_follows_the_target_closure(void **state)
{
    const char *base = "FROM alpine AS a\nRUN echo a\nFROM a AS b\nRUN echo b\n"
                       "FROM alpine AS other\nRUN echo other\n";
    const char *unrelated = "FROM alpine AS a\nRUN echo a\nFROM a AS b\nRUN echo b\n"
                            "FROM alpine AS other\nRUN echo changed\n";
    const char *upstream = "FROM alpine AS a\nRUN echo a2\nFROM a AS b\nRUN echo b\n"
                           "FROM alpine AS other\nRUN echo other\n";
    struct bk_key_opts ko = {NULL, NULL, NULL, NULL, NULL};
    struct keyed k1, k2, k3;
    struct bk_cache_key l1, l2, l3;
    char *from_a;
    (void)state;

    load(&k1, base, "b", NULL, NULL);
    load(&k2, unrelated, "b", NULL, NULL);
    load(&k3, upstream, "b", NULL, NULL);
    assert_int_equal(bk_keys_layers(k1.plan, &ko, &l1), 0);
    assert_int_equal(bk_keys_layers(k2.plan, &ko, &l2), 0);
    assert_int_equal(bk_keys_layers(k3.plan, &ko, &l3), 0);
    assert_int_equal(strncmp(l1.key, "bkcache-.layers-b-linux-amd64-", 30), 0);
    assert_int_equal(strlen(l1.key), 30 + 32);
    assert_null(l1.identity);
    assert_string_equal(l1.key, l2.key);
    assert_string_not_equal(l1.key, l3.key);
    assert_int_equal(l1.restore_keys.n, 2);
    assert_string_equal(l1.restore_keys.v[1], "bkcache-.layers-b-linux-amd64-");
    assert_string_equal(l3.restore_keys.v[1], l1.restore_keys.v[1]);
    assert_int_equal(strncmp(l1.key, l1.restore_keys.v[0], strlen(l1.restore_keys.v[0])), 0);
    /* another target's newest cache: --layers-from a */
    from_a = bk_keys_layers_prefix(k1.plan, &ko, "a");
    assert_string_equal(from_a, "bkcache-.layers-a-linux-amd64-");
    /* never a mount's key: mount names cannot start with '.' */
    assert_int_equal(l1.key[8], '.');
    free(from_a);
    bk_cache_key_release(&l1);
    bk_cache_key_release(&l2);
    bk_cache_key_release(&l3);
    unload(&k1);
    unload(&k2);
    unload(&k3);
}

/* With a run part the layer cache is saved as a run of its key, as a mount's. */
static void test_layers_key_runs(void **state)
{
    struct bk_key_opts ko = {NULL, NULL, NULL, NULL, "gh9.1"};
    struct keyed k;
    struct bk_cache_key l;
    (void)state;

    load(&k, "FROM alpine AS a\nRUN echo a\n", "a", NULL, NULL);
    assert_int_equal(bk_keys_layers(k.plan, &ko, &l), 0);
    assert_non_null(l.save_key);
    assert_int_equal(strncmp(l.save_key, l.key, strlen(l.key)), 0);
    assert_string_equal(l.save_key + strlen(l.key), "-gh9.1");
    assert_int_equal(l.restore_keys.n, 3);
    assert_string_equal(l.restore_keys.v[0], l.key);
    assert_true(bk_key_same_cache(l.key, l.save_key));
    bk_cache_key_release(&l);
    unload(&k);
}

/* With a run part: saves write <key>-<run>, and <key> heads the restore keys. */
static void test_run_part(void **state)
{
    struct keyed k;
    struct bk_key_opts ko = {NULL, NULL, NULL, NULL, "gh9.1"};
    const struct bk_cache_key *ck;
    (void)state;

    load(&k, "FROM alpine\nRUN --mount=type=cache,target=/x true\n", NULL, NULL, &ko);
    ck = &k.ks->keys[0];
    assert_int_equal(strlen(ck->save_key), strlen(ck->key) + 6);
    assert_int_equal(strncmp(ck->save_key, ck->key, strlen(ck->key)), 0);
    assert_string_equal(ck->save_key + strlen(ck->key), "-gh9.1");
    assert_int_equal(ck->restore_keys.n, 3);
    assert_string_equal(ck->restore_keys.v[0], ck->key);
    assert_int_equal(strlen(ck->restore_keys.v[1]), strlen(ck->key) - 16);
    unload(&k);

    /* without one (library callers), saves write the key itself */
    load(&k, "FROM alpine\nRUN --mount=type=cache,target=/x true\n", NULL, NULL, NULL);
    assert_string_equal(k.ks->keys[0].save_key, k.ks->keys[0].key);
    assert_int_equal(k.ks->keys[0].restore_keys.n, 2);
    unload(&k);
}

static void test_same_cache(void **state)
{
    const char *key = "bk-x-linux-amd64-0123456789abcdef0123456789abcdef";
    (void)state;
    assert_true(bk_key_same_cache(key, key));
    assert_true(bk_key_same_cache(key, "bk-x-linux-amd64-0123456789abcdef0123456789abcdef-gh1.1"));
    assert_false(bk_key_same_cache(key, "bk-x-linux-amd64-0123456789abcdef0123456789abcdefx"));
    assert_false(bk_key_same_cache(key, "bk-x-linux-amd64-0123456789abcdef"));
    assert_false(bk_key_same_cache(key, "bk-x-linux-amd64-"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers_key_follows_the_target_closure),
        cmocka_unit_test(test_layers_key_runs),
        cmocka_unit_test(test_golden_example_keys),
        cmocka_unit_test(test_formatting_keeps_keys),
        cmocka_unit_test(test_relevant_changes_move_keys),
        cmocka_unit_test(test_key_files_and_extra),
        cmocka_unit_test(test_key_rules),
        cmocka_unit_test(test_serialization_is_versioned),
        cmocka_unit_test(test_run_part),
        cmocka_unit_test(test_same_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
