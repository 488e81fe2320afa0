/*
 * test_core_util.c - the small shared pieces: option values, buffers,
 * secret masking, HTTP status mapping and the provider lookup rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/cli/cli.h"
#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/net/http.h"
#include "core/util/log.h"
#include "core/util/numparse.h"
#include "core/util/strbuf.h"
#include "providers/provider.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_parse_size(void **state)
{
    uint64_t v;
    assert_int_equal(bk_parse_size("1024", &v), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(bk_parse_size("10G", &v), 0);
    assert_true(v == 10ull << 30);
    assert_int_equal(bk_parse_size("500MiB", &v), 0);
    assert_true(v == 500ull << 20);
    assert_int_equal(bk_parse_size("-1", &v), BK_EINVAL);
    assert_int_equal(bk_parse_size("10X", &v), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "10X"));
}

static void test_parse_duration(void **state)
{
    int64_t v;
    assert_int_equal(bk_parse_duration("7d", &v), 0);
    assert_int_equal(v, 7 * 86400);
    assert_int_equal(bk_parse_duration("90m", &v), 0);
    assert_int_equal(v, 5400);
    assert_int_equal(bk_parse_duration("12", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(bk_parse_duration("3y", &v), BK_EINVAL);
    assert_int_equal(bk_parse_duration("3dd", &v), BK_EINVAL);
}

static void test_options_reject_foreign_and_missing_values(void **state)
{
    const struct bk_command *key = NULL;
    struct bk_options o;
    for (const struct bk_command *c = bk_commands; c->name; c++)
        if (strcmp(c->name, "key") == 0)
            key = c;
    assert_non_null(key);

    char *ok[] = {"--file=x/Dockerfile", "--build-arg", "A=1", "--target", "t", "--json"};
    assert_int_equal(bk_options_parse(key, 6, ok, &o), 0);
    assert_string_equal(o.file, "x/Dockerfile");
    assert_string_equal(o.target, "t");
    assert_int_equal(o.build_args.n, 1);
    assert_int_equal(o.json, 1);
    bk_options_release(&o);

    char *foreign[] = {"--store", "/tmp/x"};
    assert_int_equal(bk_options_parse(key, 2, foreign, &o), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "does not apply"));
    bk_options_release(&o);

    char *swallow[] = {"--target", "--json"};
    assert_int_equal(bk_options_parse(key, 2, swallow, &o), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "needs a value"));
    bk_options_release(&o);

    char *badarg[] = {"--build-arg", "NOVALUE"};
    assert_int_equal(bk_options_parse(key, 2, badarg, &o), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "NOVALUE"));
    bk_options_release(&o);
}

/* --delta auto|off: save and build only; auto by default. */
static void test_options_delta(void **state)
{
    const struct bk_command *save = NULL, *restore = NULL;
    struct bk_options o;

    for (const struct bk_command *c = bk_commands; c->name; c++) {
        if (strcmp(c->name, "save") == 0)
            save = c;
        if (strcmp(c->name, "restore") == 0)
            restore = c;
    }
    assert_non_null(save);
    assert_non_null(restore);
    assert_int_equal(bk_options_parse(save, 0, NULL, &o), 0);
    assert_int_equal(o.delta_off, 0);
    bk_options_release(&o);
    char *off[] = {"--delta", "off"}, *on[] = {"--delta=auto"}, *bad[] = {"--delta", "maybe"};
    assert_int_equal(bk_options_parse(save, 2, off, &o), 0);
    assert_int_equal(o.delta_off, 1);
    bk_options_release(&o);
    assert_int_equal(bk_options_parse(save, 1, on, &o), 0);
    assert_int_equal(o.delta_off, 0);
    bk_options_release(&o);
    assert_int_equal(bk_options_parse(save, 2, bad, &o), BK_EINVAL);
    assert_string_equal(bk_error_msg(), "--delta: expected auto or off, got 'maybe'");
    bk_options_release(&o);
    assert_int_equal(bk_options_parse(restore, 2, off, &o), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "does not apply"));
    bk_options_release(&o);
}

static void test_parse_long(void **state)
{
    long v = -1;
    assert_int_equal(bk_parse_long("--keep", "12", 0, 100, &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(bk_parse_long("--keep", "101", 0, 100, &v), BK_EINVAL);
    assert_string_equal(bk_error_msg(), "--keep: expected a number from 0 to 100, got '101'");
    assert_int_equal(bk_parse_long("x", "12a", 0, 100, &v), BK_EINVAL);
    assert_int_equal(bk_parse_long("x", "", 0, 100, &v), BK_EINVAL);
    assert_int_equal(bk_parse_long("x", "99999999999999999999", 0, 100, &v), BK_EINVAL);
    assert_int_equal(v, 12); /* untouched on failure */
}

static void test_strbuf(void **state)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    assert_string_equal(sb.buf, "");
    for (int i = 0; i < 1000; i++)
        bk_strbuf_addf(&sb, "%d,", i);
    assert_int_equal(sb.len, strlen(sb.buf));
    assert_memory_equal(sb.buf, "0,1,2,", 6);
    char *s = bk_strbuf_detach(&sb);
    assert_string_equal(sb.buf, "");
    free(s);
}

static void test_secret_redaction(void **state)
{
    char out[128];
    bk_log_add_secret("s3cr3t-token");
    bk_log_redact("Authorization: Bearer s3cr3t-token!", out, sizeof(out));
    assert_string_equal(out, "Authorization: Bearer ***!");
    bk_log_add_secret("ab"); /* too short to mask: would hide ordinary text */
    bk_log_redact("abc", out, sizeof(out));
    assert_string_equal(out, "abc");
    bk_log_clear_secrets();
    bk_log_redact("s3cr3t-token", out, sizeof(out));
    assert_string_equal(out, "s3cr3t-token");

    /* a URL's password, never registered, is masked wherever it appears */
    bk_log_redact("service v1 at http://user:SECRET@host:8080/x?a=b@c", out, sizeof(out));
    assert_string_equal(out, "service v1 at http://user:***@host:8080/x?a=b@c");
    bk_log_redact("'https://TOKEN@host/' and https://host/p@x", out, sizeof(out));
    assert_string_equal(out, "'https://***@host/' and https://host/p@x");
}

static void response_with(struct bk_http_response *r, long status, const char *header,
                          const char *body)
{
    r->status = status;
    bk_strbuf_reset(&r->body);
    bk_strvec_clear(&r->headers);
    if (header)
        bk_strvec_push(&r->headers, header);
    if (body)
        bk_strbuf_adds(&r->body, body);
}

static void test_http_check(void **state)
{
    struct bk_http_response r = BK_HTTP_RESPONSE_INIT;
    response_with(&r, 200, NULL, NULL);
    assert_int_equal(bk_http_check(&r, "get"), BK_OK);
    response_with(&r, 404, NULL, "no such cache\nmore");
    assert_int_equal(bk_http_check(&r, "lookup k"), BK_ENOTFOUND);
    assert_string_equal(bk_error_msg(), "lookup k: HTTP 404 no such cache");
    response_with(&r, 401, NULL, NULL);
    assert_int_equal(bk_http_check(&r, "x"), BK_EDENIED);
    response_with(&r, 409, NULL, NULL);
    assert_int_equal(bk_http_check(&r, "x"), BK_EEXISTS);
    response_with(&r, 429, "retry-after: 7", NULL);
    assert_int_equal(bk_http_check(&r, "x"), BK_ETRANSIENT);
    assert_int_equal(bk_error_retry_after_ms(), 7000);
    response_with(&r, 503, NULL, NULL);
    assert_int_equal(bk_http_check(&r, "x"), BK_ETRANSIENT);
    assert_int_equal(bk_error_retry_after_ms(), -1);
    response_with(&r, 203, "content-type: text/html; charset=utf-8", "<html>");
    assert_int_equal(bk_http_check(&r, "x"), BK_EDENIED);
    response_with(&r, 400, NULL, NULL);
    assert_int_equal(bk_http_check(&r, "x"), BK_ERR);
    bk_http_response_release(&r);
}

static void test_http_url_helpers(void **state)
{
    char *s = bk_http_url_for_log("https://user:pw@host.example/a/b?sig=SECRET#frag");
    assert_string_equal(s, "https://host.example/a/b");
    free(s);
    s = bk_http_urlencode("a b/c~d");
    assert_string_equal(s, "a%20b%2Fc~d");
    free(s);
}

static void test_provider_pick(void **state)
{
    struct bk_provider_entry e[] = {
        {.key = "p-go-linux-amd64-aaa", .created = 10},
        {.key = "p-go-linux-amd64-bbb", .created = 30},
        {.key = "p-go-linux-amd64-ccc", .created = 20},
        {.key = "p-npm-linux-amd64-ddd", .created = 40},
    };
    const char *rk[] = {"p-go-linux-amd64-x", "p-go-linux-amd64-"};
    struct bk_lookup q = {"p-go-linux-amd64-ccc", rk, 2, NULL};
    assert_int_equal(bk_provider_pick(e, 4, &q), 2); /* exact wins over newer */
    q.key = "p-go-linux-amd64-zzz";
    assert_int_equal(bk_provider_pick(e, 4, &q), 1); /* newest prefix match */
    q.key = "nothing";
    q.nrestore = 1;
    assert_int_equal(bk_provider_pick(e, 4, &q), -1);
}

/* bk_remove_tree cleans up after a failure: it removes the whole tree, a
 * directory without permissions and a symlink's target left alone, and the
 * failure's message and Retry-After survive it. */
static void test_remove_tree_keeps_the_error(void **state)
{
    char root[] = "/tmp/bkcache-util-XXXXXX";
    char outside[] = "/tmp/bkcache-util-out-XXXXXX";
    struct bk_strbuf p = BK_STRBUF_INIT;
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(root));
    assert_non_null(mkdtemp(outside));
    bk_strbuf_addf(&p, "%s/a/b", root);
    assert_int_equal(bk_mkdir_p(p.buf), 0);
    bk_strbuf_adds(&p, "/f");
    assert_int_equal(bk_file_write_atomic(p.buf, "x", 1), 0);
    bk_strbuf_reset(&p);
    bk_strbuf_addf(&p, "%s/a/link", root);
    assert_int_equal(symlink(outside, p.buf), 0);
    bk_strbuf_reset(&p);
    bk_strbuf_addf(&p, "%s/a/b", root);
    assert_int_equal(chmod(p.buf, 0), 0);

    bk_error_set(BK_ETRANSIENT, "the upload failed");
    bk_error_set_retry_after(1500);
    bk_remove_tree(root);
    assert_int_not_equal(lstat(root, &st), 0);
    assert_int_equal(stat(outside, &st), 0);
    assert_string_equal(bk_error_msg(), "the upload failed");
    assert_int_equal(bk_error_retry_after_ms(), 1500);
    /* a removal that fails (ENOTDIR below a file) reports nothing either */
    bk_strbuf_reset(&p);
    bk_strbuf_addf(&p, "%s/file", outside);
    assert_int_equal(bk_file_write_atomic(p.buf, "x", 1), 0);
    bk_strbuf_adds(&p, "/below");
    bk_remove_tree(p.buf);
    assert_string_equal(bk_error_msg(), "the upload failed");
    bk_strbuf_reset(&p);
    bk_strbuf_addf(&p, "%s/file", outside);
    unlink(p.buf);
    rmdir(outside);
    bk_strbuf_release(&p);
}

/* A full disk while copying an archive is a refusal (BK_ESKIPPED: the
 * store is full), not a failure; a read error is a failure. */
static void test_copy_fd_full_disk(void **state)
{
    char path[] = "/tmp/bkcache-copy-XXXXXX";
    int in = mkstemp(path), full = open("/dev/full", O_WRONLY), dir;

    (void)state;
    assert_true(in >= 0 && full >= 0);
    assert_int_equal(bk_write_all(in, "some archive bytes", 18, -1), 0);
    assert_int_equal(bk_file_copy_fd(in, full, "the archive"), BK_ESKIPPED);
    assert_non_null(strstr(bk_error_msg(), "the archive"));
    dir = open("/tmp", O_RDONLY | O_DIRECTORY);
    assert_int_equal(bk_file_copy_fd(dir, full, "a directory"), BK_ERR);
    close(dir);
    close(full);
    close(in);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_options_reject_foreign_and_missing_values),
        cmocka_unit_test(test_options_delta),
        cmocka_unit_test(test_parse_long),
        cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_secret_redaction),
        cmocka_unit_test(test_http_check),
        cmocka_unit_test(test_http_url_helpers),
        cmocka_unit_test(test_provider_pick),
        cmocka_unit_test(test_remove_tree_keeps_the_error),
        cmocka_unit_test(test_copy_fd_full_disk),
    };
    return cmocka_run_group_tests_name("core_util", tests, NULL, NULL);
}
