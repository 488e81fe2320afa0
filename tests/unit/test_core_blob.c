/*
 * test_core_blob.c - core/net/blob.c (and the multi-transfer half of
 * core/net/http.c) against a tiny in-process blob server on 127.0.0.1: Put Blob
 * vs Put Block + Put Block List, ranged parallel downloads, resuming a cut
 * download, retrying a block after 503/429, failing fast on 403, and the
 * sign() callback.
 *
 * The server runs on its own thread, answers one connection at a time with
 * "Connection: close", and keeps one blob in memory. Faults are counters the
 * test sets before a transfer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/net/blob.h"
#include "core/net/blob_md5.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BLOCKS 64

struct server {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    struct bk_strbuf blob;
    char *block_ids[MAX_BLOCKS];
    struct bk_strbuf blocks[MAX_BLOCKS];
    int nblocks;
    /* counters */
    int put_blob, put_block, block_list, heads, gets, ranged_gets, signed_requests;
    int saw_blob_type;
    int md5_ok; /* Put Block requests whose Content-MD5 matched their body */
    /* faults for the next requests */
    int fail_503, fail_429, fail_403, cut_get;
};

static struct server g_srv;

static void xwrite(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, int status, const char *extra, const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     status, len, extra ? extra : "");
    xwrite(fd, head, (size_t)n);
    if (body && len)
        xwrite(fd, body, len);
}

static const char *header(const char *head, const char *name)
{
    static char val[256];
    const char *p = strcasestr(head, name);
    if (!p)
        return NULL;
    p += strlen(name);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    snprintf(val, sizeof(val), "%.*s", (int)n, p);
    return val;
}

/* The base64 MD5 of body, as a Put Block's Content-MD5 carries it. */
static void md5_b64(const void *body, size_t len, char out[25])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(body, len, md, &n, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

/* No header, or one that matches: the store's check on arrival. */
static int md5_matches(const char *value, const char *body, size_t len)
{
    char want[25];
    if (!value)
        return 1;
    while (*value == ' ')
        value++;
    md5_b64(body, len, want);
    return strncmp(value, want, 24) == 0;
}

static void handle(struct server *s, int fd)
{
    struct bk_strbuf req = BK_STRBUF_INIT;
    char buf[65536], method[16], target[2048];
    char *end = NULL;
    ssize_t n;

    while (!(end = strstr(req.buf, "\r\n\r\n")) && (n = read(fd, buf, sizeof(buf))) > 0)
        bk_strbuf_add(&req, buf, (size_t)n);
    if (!end || sscanf(req.buf, "%15s %2047s", method, target) != 2)
        goto out;
    size_t head_len = (size_t)(end - req.buf) + 4;
    char *head = bk_xstrndup(req.buf, head_len);
    const char *cl = header(head, "\r\nContent-Length:");
    size_t want = cl ? strtoull(cl, NULL, 10) : 0;
    while (req.len - head_len < want && (n = read(fd, buf, sizeof(buf))) > 0)
        bk_strbuf_add(&req, buf, (size_t)n);
    const char *body = req.buf + head_len;

    pthread_mutex_lock(&s->lock);
    if (header(head, "\r\nX-Test-Sig:"))
        s->signed_requests++;
    if (s->fail_403) {
        s->fail_403--;
        reply(fd, 403, NULL, "denied", 6);
    } else if (s->fail_503) {
        s->fail_503--;
        reply(fd, 503, NULL, "busy", 4);
    } else if (s->fail_429) {
        s->fail_429--;
        reply(fd, 429, "Retry-After: 1\r\n", "slow down", 9);
    } else if (strcmp(method, "PUT") == 0 && strstr(target, "comp=blocklist")) {
        s->block_list++;
        bk_strbuf_reset(&s->blob);
        for (const char *p = strstr(body, "<Latest>"); p; p = strstr(p + 1, "<Latest>")) {
            const char *idb = p + 8, *ide = strstr(idb, "</Latest>");
            for (int i = 0; i < s->nblocks; i++)
                if (strlen(s->block_ids[i]) == (size_t)(ide - idb) &&
                    strncmp(s->block_ids[i], idb, (size_t)(ide - idb)) == 0)
                    bk_strbuf_add(&s->blob, s->blocks[i].buf, s->blocks[i].len);
        }
        reply(fd, 201, NULL, NULL, 0);
    } else if (strcmp(method, "PUT") == 0 && strstr(target, "comp=block") &&
               !md5_matches(header(head, "\r\nContent-MD5:"), body, want)) {
        reply(fd, 400, "x-ms-error-code: Md5Mismatch\r\n", "md5", 3); /* as Azure does */
    } else if (strcmp(method, "PUT") == 0 && strstr(target, "comp=block")) {
        s->put_block++;
        s->md5_ok += header(head, "\r\nContent-MD5:") != NULL;
        const char *id = strstr(target, "blockid=") + 8;
        int i = s->nblocks++;
        /* store the id url-decoded enough for base64 ('%3D' is '=', '%2B' '+', '%2F' '/') */
        struct bk_strbuf dec = BK_STRBUF_INIT;
        for (const char *p = id; *p && *p != '&'; p++) {
            if (*p == '%') {
                char hex[3] = {p[1], p[2], 0};
                bk_strbuf_addch(&dec, (char)strtol(hex, NULL, 16));
                p += 2;
            } else {
                bk_strbuf_addch(&dec, *p);
            }
        }
        s->block_ids[i] = bk_strbuf_detach(&dec);
        bk_strbuf_init(&s->blocks[i]);
        bk_strbuf_add(&s->blocks[i], body, want);
        reply(fd, 201, NULL, NULL, 0);
    } else if (strcmp(method, "PUT") == 0) {
        s->put_blob++;
        s->saw_blob_type += header(head, "\r\nx-ms-blob-type:") != NULL;
        bk_strbuf_reset(&s->blob);
        bk_strbuf_add(&s->blob, body, want);
        reply(fd, 201, NULL, NULL, 0);
    } else if (strcmp(method, "HEAD") == 0) {
        s->heads++;
        char extra[128];
        snprintf(extra, sizeof(extra), "Accept-Ranges: bytes\r\n");
        char h[256];
        int k = snprintf(h, sizeof(h),
                         "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                         "Content-Length: %zu\r\n%s\r\n",
                         s->blob.len, extra);
        xwrite(fd, h, (size_t)k);
    } else if (strcmp(method, "GET") == 0) {
        const char *range = header(head, "\r\nRange:");
        size_t a = 0, b = s->blob.len - 1;
        s->gets++;
        if (range) {
            s->ranged_gets++;
            sscanf(range, "bytes=%zu-%zu", &a, &b);
        }
        if (b >= s->blob.len)
            b = s->blob.len - 1;
        size_t len = b - a + 1;
        char extra[128];
        snprintf(extra, sizeof(extra), "Content-Range: bytes %zu-%zu/%zu\r\n", a, b, s->blob.len);
        if (s->cut_get) {
            s->cut_get--;
            char h[256];
            int k = snprintf(h, sizeof(h),
                             "HTTP/1.1 %d X\r\nConnection: close\r\n"
                             "Content-Length: %zu\r\n%s\r\n",
                             range ? 206 : 200, len, extra);
            xwrite(fd, h, (size_t)k);
            xwrite(fd, s->blob.buf + a, len / 2); /* then hang up */
        } else {
            reply(fd, range ? 206 : 200, extra, s->blob.buf + a, len);
        }
    } else {
        reply(fd, 405, NULL, NULL, 0);
    }
    pthread_mutex_unlock(&s->lock);
    free(head);
out:
    bk_strbuf_release(&req);
    close(fd);
}

static void *serve(void *arg)
{
    struct server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        handle(s, c);
    }
}

static int setup(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    memset(&g_srv, 0, sizeof(g_srv));
    bk_strbuf_init(&g_srv.blob);
    pthread_mutex_init(&g_srv.lock, NULL);
    g_srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(g_srv.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(g_srv.fd, 64), 0);
    getsockname(g_srv.fd, (struct sockaddr *)&a, &len);
    g_srv.port = ntohs(a.sin_port);
    pthread_create(&g_srv.thread, NULL, serve, &g_srv);
    return 0;
}

static int teardown(void **state)
{
    shutdown(g_srv.fd, SHUT_RDWR);
    close(g_srv.fd);
    pthread_join(g_srv.thread, NULL);
    bk_strbuf_release(&g_srv.blob);
    for (int i = 0; i < g_srv.nblocks; i++) {
        free(g_srv.block_ids[i]);
        bk_strbuf_release(&g_srv.blocks[i]);
    }
    return 0;
}

static void reset_counters(void)
{
    pthread_mutex_lock(&g_srv.lock);
    g_srv.put_blob = g_srv.put_block = g_srv.block_list = g_srv.heads = 0;
    g_srv.gets = g_srv.ranged_gets = g_srv.signed_requests = g_srv.saw_blob_type = 0;
    g_srv.md5_ok = 0;
    pthread_mutex_unlock(&g_srv.lock);
}

/* A temp file with `size` bytes of a pattern; returns the fd. */
static int temp_file(size_t size, unsigned seed)
{
    char path[] = "/tmp/bk-blob-test-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    char *buf = bk_xmalloc(size ? size : 1);
    for (size_t i = 0; i < size; i++)
        buf[i] = (char)((i * 31 + seed) ^ (i >> 10));
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    free(buf);
    return fd;
}

static void assert_file_equals_blob(int fd)
{
    off_t size = lseek(fd, 0, SEEK_END);
    assert_int_equal((size_t)size, g_srv.blob.len);
    char *buf = bk_xmalloc((size_t)size + 1);
    assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
    assert_memory_equal(buf, g_srv.blob.buf, (size_t)size);
    free(buf);
}

static struct bk_blob_target target(char *url, size_t n)
{
    snprintf(url, n, "http://127.0.0.1:%d/acct/c/blob?sv=x&sig=secret", g_srv.port);
    struct bk_blob_target t = {.url = url};
    return t;
}

#define MiB (1024u * 1024u)

static void test_small_upload_is_one_put_blob(void **state)
{
    char url[128];
    struct bk_blob_target t = target(url, sizeof(url));
    int fd = temp_file(100000, 1);

    reset_counters();
    assert_int_equal(bk_blob_upload(&t, fd, 100000, NULL), BK_OK);
    assert_int_equal(g_srv.put_blob, 1);
    assert_int_equal(g_srv.saw_blob_type, 1);
    assert_int_equal(g_srv.put_block, 0);
    assert_file_equals_blob(fd);
    close(fd);
}

static void test_large_upload_is_blocks_and_list(void **state)
{
    char url[128];
    struct bk_blob_target t = target(url, sizeof(url));
    struct bk_blob_opts o = {.block_size = MiB, .single_put_max = MiB, .parallel = 3};
    size_t size = 5 * MiB + 12345;
    int fd = temp_file(size, 2);

    reset_counters();
    assert_int_equal(bk_blob_upload(&t, fd, size, &o), BK_OK);
    assert_int_equal(g_srv.put_blob, 0);
    assert_int_equal(g_srv.put_block, 6);
    assert_int_equal(g_srv.md5_ok, 6); /* every block carried its own, correct digest */
    assert_int_equal(g_srv.block_list, 1);
    assert_file_equals_blob(fd); /* blocks listed in file order */
    close(fd);
}

/* The digests computed ahead are those of each block, the last one short. */
static void test_block_md5s_match_each_block(void **state)
{
    size_t size = 3 * MiB + 777;
    int fd = temp_file(size, 3);
    char *buf = bk_xmalloc(size);
    assert_int_equal(pread(fd, buf, size, 0), (ssize_t)size);
    struct bk_blob_md5s *m = bk_blob_md5s_start(fd, size, MiB);
    assert_non_null(m);
    for (uint64_t i = 0; i < 4; i++) {
        char got[25], want[25];
        int rc;
        while ((rc = bk_blob_md5s_get(m, i, got)) == 0)
            usleep(1000);
        assert_int_equal(rc, 1);
        md5_b64(buf + i * MiB, i < 3 ? MiB : 777, want);
        assert_string_equal(got, want);
    }
    bk_blob_md5s_stop(m);
    free(buf);
    close(fd);
}

/* A file shorter than announced: the missing block is an error, not a
 * digest of whatever was there, and an upload of it fails. */
static void test_block_md5s_short_file_is_an_error(void **state)
{
    int fd = temp_file(MiB + 10, 4);
    struct bk_blob_md5s *m = bk_blob_md5s_start(fd, 2 * MiB + 10, MiB);
    char got[25];
    int rc;
    while ((rc = bk_blob_md5s_get(m, 0, got)) == 0)
        usleep(1000);
    assert_int_equal(rc, 1);
    while ((rc = bk_blob_md5s_get(m, 2, got)) == 0)
        usleep(1000);
    assert_true(rc < 0);
    assert_non_null(strstr(bk_error_msg(), "block 1") ? strstr(bk_error_msg(), "block 1")
                                                      : strstr(bk_error_msg(), "block 2"));
    bk_blob_md5s_stop(m);

    char url[128];
    struct bk_blob_target t = target(url, sizeof(url));
    struct bk_blob_opts o = {.block_size = MiB, .single_put_max = MiB, .parallel = 2};
    reset_counters();
    assert_true(bk_blob_upload(&t, fd, 3 * MiB, &o) < 0);
    assert_int_equal(g_srv.block_list, 0); /* nothing committed */
    close(fd);
}

static void test_ranged_download_and_resume(void **state)
{
    char url[128];
    struct bk_blob_target t = target(url, sizeof(url));
    struct bk_blob_opts o = {.range_size = MiB, .parallel = 4};
    int src = temp_file(3 * MiB + 7, 3), out = temp_file(10, 0);
    uint64_t got = 0;

    assert_int_equal(bk_blob_upload(&t, src, 3 * MiB + 7, NULL), BK_OK);
    reset_counters();
    assert_int_equal(bk_blob_download(&t, out, &o, &got), BK_OK);
    assert_true(got == 3 * MiB + 7);
    assert_int_equal(g_srv.heads, 1);
    assert_int_equal(g_srv.ranged_gets, 4);
    assert_file_equals_blob(out);

    /* the first GET is cut halfway: only the rest of that range is asked again */
    ftruncate(out, 0);
    reset_counters();
    g_srv.cut_get = 1;
    assert_int_equal(bk_blob_download(&t, out, &o, &got), BK_OK);
    assert_int_equal(g_srv.ranged_gets, 5);
    assert_file_equals_blob(out);
    close(src);
    close(out);
}

static void test_small_download_cut_resumes_with_range(void **state)
{
    char url[128];
    struct bk_blob_target t = target(url, sizeof(url));
    int src = temp_file(200000, 4), out = temp_file(0, 0);

    assert_int_equal(bk_blob_upload(&t, src, 200000, NULL), BK_OK);
    reset_counters();
    g_srv.cut_get = 1;
    assert_int_equal(bk_blob_download(&t, out, NULL, NULL), BK_OK);
    assert_int_equal(g_srv.gets, 2);        /* a plain GET, cut ... */
    assert_int_equal(g_srv.ranged_gets, 1); /* ... then the rest by Range */
    assert_file_equals_blob(out);
    close(src);
    close(out);
}

static void test_block_retried_after_503_and_429(void **state)
{
    char url[128];
    struct bk_blob_target t = target(url, sizeof(url));
    struct bk_blob_opts o = {.block_size = MiB, .single_put_max = MiB, .parallel = 2};
    int fd = temp_file(2 * MiB + 1, 5);

    reset_counters();
    g_srv.fail_503 = 1;
    g_srv.fail_429 = 1;
    assert_int_equal(bk_blob_upload(&t, fd, 2 * MiB + 1, &o), BK_OK);
    assert_int_equal(g_srv.put_block, 3);
    assert_file_equals_blob(fd);
    close(fd);
}

static void test_failures_are_reported(void **state)
{
    char url[128];
    struct bk_blob_target t = target(url, sizeof(url));
    struct bk_blob_opts no_retry = {.retries = -1};
    int fd = temp_file(1000, 6);

    g_srv.fail_503 = 1;
    assert_int_equal(bk_blob_upload(&t, fd, 1000, &no_retry), BK_ETRANSIENT);
    assert_non_null(strstr(bk_error_msg(), "503"));
    assert_null(strstr(bk_error_msg(), "secret")); /* the SAS query never shows */

    reset_counters();
    g_srv.fail_403 = 1;
    assert_int_equal(bk_blob_upload(&t, fd, 1000, NULL), BK_EDENIED);
    assert_int_equal(g_srv.put_blob, 0); /* 403 is not retried */
    g_srv.fail_403 = 0;
    close(fd);
}

static int sign_cb(void *payload, const char *method, const char *url, uint64_t len,
                   struct bk_strvec *headers)
{
    int *calls = payload;
    (*calls)++;
    bk_strvec_pushf(headers, "X-Test-Sig: %s %" PRIu64, method, len);
    return BK_OK;
}

static void test_sign_callback_on_every_request(void **state)
{
    char url[128];
    struct bk_blob_target t = target(url, sizeof(url));
    struct bk_blob_opts o = {.block_size = MiB, .range_size = MiB, .single_put_max = MiB};
    int calls = 0, fd = temp_file(2 * MiB, 7), out = temp_file(0, 0);

    t.sign = sign_cb;
    t.sign_payload = &calls;
    reset_counters();
    assert_int_equal(bk_blob_upload(&t, fd, 2 * MiB, &o), BK_OK);
    assert_int_equal(bk_blob_download(&t, out, &o, NULL), BK_OK);
    /* 2 blocks + list, then HEAD + 2 ranges */
    assert_int_equal(calls, 6);
    assert_int_equal(g_srv.signed_requests, 6);
    close(fd);
    close(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_upload_is_one_put_blob),
        cmocka_unit_test(test_large_upload_is_blocks_and_list),
        cmocka_unit_test(test_block_md5s_match_each_block),
        cmocka_unit_test(test_block_md5s_short_file_is_an_error),
        cmocka_unit_test(test_ranged_download_and_resume),
        cmocka_unit_test(test_small_download_cut_resumes_with_range),
        cmocka_unit_test(test_block_retried_after_503_and_429),
        cmocka_unit_test(test_failures_are_reported),
        cmocka_unit_test(test_sign_callback_on_every_request),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
