/*
 * http.h - one HTTP request with libcurl, for providers.
 *
 * core/net/ is HTTP for the stores: one request (this file), parallel
 * Azure-Blob-style block transfers with resumable ranged downloads (blob.h)
 * and their Content-MD5 digests computed ahead on a thread (blob_md5.h).
 * Several providers share it; it sits on core/util/ alone.
 *
 * A deliberately small layer: a request is a method, a URL, header lines
 * and a body taken from memory or from a byte range of a file; the response
 * body goes to memory or into a file at an offset (pwrite), so ranged and
 * resumable downloads need no extra buffering. Parallel block transfers
 * build on the same request description (see core/net/blob.h where present).
 *
 * bk_http_do() fails only for transport problems (DNS, connect, reset,
 * timeout: BK_ETRANSIENT / BK_ETIMEOUT); any HTTP status is a success of the
 * transport and is returned in resp->status. bk_http_check() then maps a
 * status to the shared error codes so every provider treats 404, 401/403,
 * 409, 429 and 5xx the same way, and records Retry-After for core's retry
 * loop (bk_error_retry_after_ms()).
 *
 * URLs may carry secrets (signed query strings): messages built here show
 * only scheme, host and path. Register tokens with bk_log_add_secret().
 */
#ifndef BK_HTTP_H
#define BK_HTTP_H

#include "core/util/strbuf.h"
#include "core/util/strvec.h"

#include <stdint.h>

struct bk_http_request {
    const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" */
    const char *url;
    const struct bk_strvec *headers; /* "Name: value" lines; may be NULL */
    const void *body;                /* in-memory body (may be NULL with body_len 0) */
    size_t body_len;
    int body_fd; /* >= 0: send body_size bytes of this file from body_offset */
    uint64_t body_offset, body_size;
    int out_fd; /* >= 0: write the response body here at out_offset */
    uint64_t out_offset;
    long timeout_ms;         /* whole request; 0: 600000 */
    long connect_timeout_ms; /* 0: 30000 */
    long low_speed_secs;     /* abort if below 1 KiB/s this long; 0: 60 */
};

/* Initialise a request: method GET, no body, fds -1. */
void bk_http_request_init(struct bk_http_request *req, const char *method, const char *url);

struct bk_http_response {
    long status;              /* HTTP status, 0 when nothing was received */
    struct bk_strbuf body;    /* response body when out_fd < 0 */
    struct bk_strvec headers; /* "name: value", names lowercased, last response only */
    uint64_t bytes_written;   /* body bytes written to out_fd */
};

#define BK_HTTP_RESPONSE_INIT                                                                      \
    {                                                                                              \
        0, BK_STRBUF_INIT, BK_STRVEC_INIT, 0                                                       \
    }

int bk_http_do(const struct bk_http_request *req, struct bk_http_response *resp);
void bk_http_response_release(struct bk_http_response *resp);

/*
 * The same request, driven by the caller: for many transfers at once with
 * libcurl's multi interface (core/net/blob.c). bk_http_start() prepares a curl
 * easy handle for `req` and `resp` (both must outlive the transfer);
 * bk_http_xfer_handle() returns it (a CURL *) to add to a CURLM. When the
 * multi handle reports it done, remove it from the CURLM and call
 * bk_http_finish() with its CURLcode: it returns what bk_http_do() would
 * have returned and frees the transfer. bk_http_do() is start + perform +
 * finish.
 */
struct bk_http_xfer;
int bk_http_start(const struct bk_http_request *req, struct bk_http_response *resp,
                  struct bk_http_xfer **out);
void *bk_http_xfer_handle(struct bk_http_xfer *x);
int bk_http_finish(struct bk_http_xfer *x, int curl_result);

/* Value of a response header (case-insensitive name), or NULL. Borrowed. */
const char *bk_http_header(const struct bk_http_response *resp, const char *name);

/*
 * BK_OK for 2xx; otherwise a code with a message "<what>: HTTP <status>
 * <first line of the body>": 404 BK_ENOTFOUND, 401/403 BK_EDENIED (a 203
 * with an HTML page too: a sign-in page), 409 BK_EEXISTS, 408/429/5xx
 * BK_ETRANSIENT (Retry-After recorded), other statuses BK_ERR.
 */
int bk_http_check(const struct bk_http_response *resp, const char *what);

/* Retry-After as milliseconds (delta-seconds or an HTTP date); -1 if absent. */
long bk_http_retry_after_ms(const struct bk_http_response *resp);

/* Percent-encode everything but unreserved characters. Caller frees. */
char *bk_http_urlencode(const char *s);

/* "scheme://host/path" of `url` with query and user-info removed. Caller frees. */
char *bk_http_url_for_log(const char *url);

#endif
