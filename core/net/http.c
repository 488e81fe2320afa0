/*
 * http.c - one HTTP request with libcurl's easy interface; see http.h.
 */
#include "core/net/http.h"

#include "core/net/ca_bundle.h"

#include "core/util/error.h"
#include "core/util/log.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void bk_http_request_init(struct bk_http_request *req, const char *method, const char *url)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->url = url;
    req->body_fd = -1;
    req->out_fd = -1;
}

struct xfer {
    const struct bk_http_request *req;
    struct bk_http_response *resp;
    uint64_t sent; /* body bytes sent so far */
    int write_errno;
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct xfer *x = userdata;
    const struct bk_http_request *req = x->req;
    size_t want = size * nitems;
    uint64_t total = req->body_fd >= 0 ? req->body_size : req->body_len;
    uint64_t left = total - x->sent;

    if (want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    if (req->body_fd >= 0) {
        ssize_t n;
        do
            n = pread(req->body_fd, buf, want, (off_t)(req->body_offset + x->sent));
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return CURL_READFUNC_ABORT;
        want = (size_t)n;
    } else {
        memcpy(buf, (const char *)req->body + x->sent, want);
    }
    x->sent += want;
    return want;
}

static int on_seek(void *userdata, curl_off_t offset, int origin)
{
    struct xfer *x = userdata;
    if (origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    x->sent = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nmemb;

    if (x->req->out_fd < 0) {
        bk_strbuf_add(&x->resp->body, ptr, n);
        return n;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(x->req->out_fd, ptr + done, n - done,
                           (off_t)(x->req->out_offset + x->resp->bytes_written + done));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            x->write_errno = errno;
            return 0;
        }
        done += (size_t)w;
    }
    x->resp->bytes_written += n;
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nitems;
    size_t len = n;

    while (len && (buf[len - 1] == '\r' || buf[len - 1] == '\n'))
        len--;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* a new response (redirect, 100-continue): forget earlier headers */
        bk_strvec_clear(&x->resp->headers);
        return n;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return n;
    struct bk_strbuf line = BK_STRBUF_INIT;
    for (const char *p = buf; p < colon; p++)
        bk_strbuf_addch(&line, (char)tolower((unsigned char)*p));
    const char *v = colon + 1;
    while (v < buf + len && (*v == ' ' || *v == '\t'))
        v++;
    bk_strbuf_adds(&line, ": ");
    bk_strbuf_add(&line, v, (size_t)(buf + len - v));
    bk_strvec_push_nodup(&x->resp->headers, bk_strbuf_detach(&line));
    return n;
}

struct bk_http_xfer {
    struct xfer x;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    CURL *curl;
};

int bk_http_start(const struct bk_http_request *req, struct bk_http_response *resp,
                  struct bk_http_xfer **out)
{
    struct bk_http_xfer *t;
    CURL *c;
    int has_body = req->body_fd >= 0 || req->body_len > 0;

    *out = NULL;
    pthread_once(&g_curl_once, curl_init_once);
    struct bk_ca_bundle ca = {0};
    if (strncasecmp(req->url, "https://", 8) == 0 && bk_ca_bundle_get(&ca)) {
        char *where = bk_http_url_for_log(req->url);
        int rc = bk_error_wrap(BK_ERR, "%s %s", req->method, where);
        free(where);
        return rc;
    }
    c = curl_easy_init();
    if (!c)
        return bk_error_set(BK_ERR, "cannot initialise libcurl");
    t = bk_xcalloc(1, sizeof(*t));
    t->x.req = req;
    t->x.resp = resp;
    t->curl = c;
    resp->status = 0;
    resp->bytes_written = 0;
    bk_strbuf_reset(&resp->body);
    bk_strvec_clear(&resp->headers);

    curl_easy_setopt(c, CURLOPT_URL, req->url);
    if (ca.file)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca.file);
    if (ca.dir)
        curl_easy_setopt(c, CURLOPT_CAPATH, ca.dir);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(c, CURLOPT_PRIVATE, t);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : 600000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms ? req->connect_timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, req->low_speed_secs ? req->low_speed_secs : 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "bkcache/" BK_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t->x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t->x);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    /* bigger buffers than the 16 KiB default: fewer callbacks and syscalls per MiB */
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);

    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET") != 0 || has_body) {
        uint64_t size = req->body_fd >= 0 ? req->body_size : req->body_len;
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &t->x);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, &t->x);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        /* no "Expect: 100-continue" round trip */
        t->hdrs = curl_slist_append(t->hdrs, "Expect:");
    }
    if (req->headers)
        for (size_t i = 0; i < req->headers->n; i++)
            t->hdrs = curl_slist_append(t->hdrs, req->headers->v[i]);
    if (t->hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->hdrs);
    *out = t;
    return BK_OK;
}

void *bk_http_xfer_handle(struct bk_http_xfer *t)
{
    return t->curl;
}

int bk_http_finish(struct bk_http_xfer *t, int result)
{
    const struct bk_http_request *req = t->x.req;
    CURLcode rc = (CURLcode)result;
    int ret = BK_OK;

    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->x.resp->status);
    if (rc != CURLE_OK) {
        char *where = bk_http_url_for_log(req->url);
        if (t->x.write_errno)
            ret = bk_error_set(BK_ERR, "%s %s: cannot write the response: %s", req->method, where,
                               strerror(t->x.write_errno));
        else
            ret = bk_error_set(rc == CURLE_OPERATION_TIMEDOUT ? BK_ETIMEOUT : BK_ETRANSIENT,
                               "%s %s: %s", req->method, where,
                               t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
        free(where);
    }
    curl_slist_free_all(t->hdrs);
    curl_easy_cleanup(t->curl);
    free(t);
    return ret;
}

int bk_http_do(const struct bk_http_request *req, struct bk_http_response *resp)
{
    struct bk_http_xfer *t;
    int ret = bk_http_start(req, resp, &t);

    if (ret)
        return ret;
    return bk_http_finish(t, (int)curl_easy_perform(t->curl));
}

void bk_http_response_release(struct bk_http_response *resp)
{
    bk_strbuf_release(&resp->body);
    bk_strvec_clear(&resp->headers);
}

const char *bk_http_header(const struct bk_http_response *resp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < resp->headers.n; i++) {
        const char *h = resp->headers.v[i];
        if (strncasecmp(h, name, n) == 0 && h[n] == ':')
            return h + n + 2;
    }
    return NULL;
}

long bk_http_retry_after_ms(const struct bk_http_response *resp)
{
    const char *v = bk_http_header(resp, "retry-after");
    char *end;
    struct tm tm;

    if (!v)
        return -1;
    long secs = strtol(v, &end, 10);
    if (end != v && *end == '\0')
        return secs < 0 ? 0 : secs * 1000;
    memset(&tm, 0, sizeof(tm));
    if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
        long d = (long)(timegm(&tm) - time(NULL));
        return d > 0 ? d * 1000 : 0;
    }
    return -1;
}

static void first_line(const struct bk_strbuf *body, char *out, size_t outsz)
{
    size_t n = 0;
    for (size_t i = 0; i < body->len && n + 1 < outsz; i++) {
        char ch = body->buf[i];
        if (ch == '\n' || ch == '\r')
            break;
        out[n++] = ch;
    }
    out[n] = '\0';
}

int bk_http_check(const struct bk_http_response *resp, const char *what)
{
    char line[200];
    long s = resp->status;
    const char *ctype = bk_http_header(resp, "content-type");
    int code;

    if (s == 203 && ctype && strstr(ctype, "text/html"))
        return bk_error_set(
            BK_EDENIED, "%s: HTTP 203 with a sign-in page: the token is missing or invalid", what);
    if (s >= 200 && s < 300)
        return BK_OK;
    first_line(&resp->body, line, sizeof(line));
    if (s == 404)
        code = BK_ENOTFOUND;
    else if (s == 401 || s == 403)
        code = BK_EDENIED;
    else if (s == 409)
        code = BK_EEXISTS;
    else if (s == 408 || s == 429 || s >= 500)
        code = BK_ETRANSIENT;
    else
        code = BK_ERR;
    bk_error_set(code, "%s: HTTP %ld%s%s", what, s, line[0] ? " " : "", line);
    if (code == BK_ETRANSIENT)
        bk_error_set_retry_after(bk_http_retry_after_ms(resp));
    return code;
}

char *bk_http_urlencode(const char *s)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
            bk_strbuf_addch(&sb, (char)*p);
        else
            bk_strbuf_addf(&sb, "%%%02X", *p);
    }
    return bk_strbuf_detach(&sb);
}

char *bk_http_url_for_log(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *q = strpbrk(host, "?#");
    size_t len = q ? (size_t)(q - url) : strlen(url);
    const char *at = memchr(host, '@', (size_t)(url + len - host));
    const char *slash = strchr(host, '/');
    struct bk_strbuf sb = BK_STRBUF_INIT;

    if (at && (!slash || at < slash)) {
        bk_strbuf_add(&sb, url, (size_t)(host - url));
        bk_strbuf_add(&sb, at + 1, (size_t)(url + len - at - 1));
    } else {
        bk_strbuf_add(&sb, url, len);
    }
    return bk_strbuf_detach(&sb);
}
