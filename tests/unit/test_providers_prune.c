/*
 * test_core_store_prune.c - which entries prune removes, and in what
 * order: least recently used first, max-age, keep and max-size combined.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/store/store.h"

#include <string.h>

/* key, size, created, last_used; listed in no particular order. */
static struct bk_provider_entry g_v[] = {
    {.key = "c", .size = 300, .created = 100, .last_used = 900},
    {.key = "a", .size = 100, .created = 100, .last_used = 200},
    {.key = "d", .size = 400, .created = 500, .last_used = 0}, /* never used: created */
    {.key = "b", .size = 200, .created = 300, .last_used = 400},
};
#define N (sizeof(g_v) / sizeof(g_v[0]))
/* least recently used first: a (200), b (400), d (500), c (900) */

static char *removed(const unsigned char *r)
{
    static char buf[16];
    size_t k = 0;
    const char *order = "abdc";
    for (const char *o = order; *o; o++)
        for (size_t i = 0; i < N; i++)
            if (r[i] && g_v[i].key[0] == *o)
                buf[k++] = *o;
    buf[k] = '\0';
    return buf;
}

static void test_no_limits_removes_nothing(void **state)
{
    struct bk_prune_limits lim = {0, 0, -1};
    unsigned char r[N];
    (void)state;
    assert_int_equal(bk_prune_select(g_v, N, 1000, &lim, r), 0);
    assert_string_equal(removed(r), "");
}

static void test_keep_removes_least_recently_used(void **state)
{
    struct bk_prune_limits lim = {0, 0, 2};
    unsigned char r[N];
    (void)state;
    assert_int_equal(bk_prune_select(g_v, N, 1000, &lim, r), 2);
    assert_string_equal(removed(r), "ab");
    lim.keep = 0;
    assert_int_equal(bk_prune_select(g_v, N, 1000, &lim, r), 4);
}

static void test_max_age_uses_last_use(void **state)
{
    struct bk_prune_limits lim = {0, 550, -1}; /* now 1000: older than 450 goes */
    unsigned char r[N];
    (void)state;
    assert_int_equal(bk_prune_select(g_v, N, 1000, &lim, r), 2);
    assert_string_equal(removed(r), "ab");
}

static void test_max_size_removes_lru_until_under(void **state)
{
    struct bk_prune_limits lim = {700, 0, -1}; /* total 1000 */
    unsigned char r[N];
    (void)state;
    assert_int_equal(bk_prune_select(g_v, N, 1000, &lim, r), 2);
    assert_string_equal(removed(r), "ab"); /* 1000 - 100 - 200 = 700 */
    lim.max_size = 699;
    assert_int_equal(bk_prune_select(g_v, N, 1000, &lim, r), 3);
    assert_string_equal(removed(r), "abd");
}

static void test_limits_combine(void **state)
{
    /* age removes a; keep 2 then removes b; size 350 then removes d */
    struct bk_prune_limits lim = {350, 700, 2};
    unsigned char r[N];
    (void)state;
    assert_int_equal(bk_prune_select(g_v, N, 1000, &lim, r), 3);
    assert_string_equal(removed(r), "abd");
    assert_int_equal(r[0], 0); /* c, the most recently used, stays */
}

/* Runs of one key (docs/keys.md): the newest `keep` of each key stay. */
#define K1 "bk-go-linux-amd64-0123456789abcdef0123456789abcdef"
#define K2 "bk-go-linux-amd64-fedcba9876543210fedcba9876543210"
static void test_keep_per_key(void **state)
{
    struct bk_provider_entry v[] = {
        {.key = K1 "-gh1.1", .created = 100},
        {.key = K1 "-gh3.1", .created = 300},
        {.key = K2 "-gh2.1", .created = 200},
        {.key = K1, .created = 50},            /* saved before run parts */
        {.key = K1 "-gh4.1", .created = 300},  /* same second as gh3.1 */
        {.key = "someone-else", .created = 1}, /* not a bkcache key: stays */
        {.key = K1 "-gh2.1", .created = 200, .last_used = 999},
    };
    unsigned char r[7] = {0};
    (void)state;

    assert_int_equal(bk_prune_select_runs(v, 7, 0, r), 0); /* no limit */
    assert_int_equal(bk_prune_select_runs(v, 7, 2, r), 3);
    /* K1 kept: gh4.1 and gh3.1 (same second: the larger key first); K2 alone */
    assert_int_equal(r[0], 1);
    assert_int_equal(r[1], 0);
    assert_int_equal(r[2], 0);
    assert_int_equal(r[3], 1);
    assert_int_equal(r[4], 0);
    assert_int_equal(r[5], 0);
    assert_int_equal(r[6], 1); /* a recent use does not make an old run newer */
    /* marks add to what is already marked */
    memset(r, 0, sizeof(r));
    r[5] = 1;
    assert_int_equal(bk_prune_select_runs(v, 7, 1, r), 4);
    assert_int_equal(r[5], 1);
    assert_int_equal(r[4], 0);
    assert_int_equal(r[2], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_limits_removes_nothing),
        cmocka_unit_test(test_keep_removes_least_recently_used),
        cmocka_unit_test(test_max_age_uses_last_use),
        cmocka_unit_test(test_max_size_removes_lru_until_under),
        cmocka_unit_test(test_limits_combine),
        cmocka_unit_test(test_keep_per_key),
    };
    return cmocka_run_group_tests_name("core_store_prune", tests, NULL, NULL);
}
