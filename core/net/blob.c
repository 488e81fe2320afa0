/*
 * blob.c - parallel Azure Blob transfers over libcurl's multi interface;
 * see blob.h for the contract.
 *
 * Layout: the part runner (one multi handle, a table of parts, per-part
 * retries and resume), then Put Blob / Put Block / Put Block List, then the
 * HEAD + ranged GET download.
 */
#include "core/net/blob.h"

#include "core/net/blob_md5.h"
#include "core/util/error.h"
#include "core/net/http.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)
#define DEFAULT_BLOCK (32ull << 20)
#define DEFAULT_RANGE (8ull << 20)
#define DEFAULT_SINGLE_PUT (128ull << 20)
#define MAX_BACKOFF_MS 30000L

struct part {
    uint64_t index, start, len;
    uint64_t done;      /* bytes known good (download: written; upload: len once stored) */
    int tries;          /* attempts made */
    int64_t not_before; /* ms on the monotonic clock */
    int active, finished;
    struct bk_blob_part spec;
    struct bk_http_request req;
    struct bk_http_response resp;
    struct bk_http_xfer *xfer;
};

struct runner {
    const struct bk_blob_parts *job;
    struct bk_blob_opts o;
    struct part *parts;
    uint64_t nparts;
    CURLM *multi;
    int active;
    int waiting; /* some part was not ready to start on the last pass */
    uint64_t bytes_done;
    int64_t started, last_progress;
    int failed;
    char *error; /* message of the failure that stopped the run */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fill_defaults(const struct bk_blob_opts *in, struct bk_blob_opts *o)
{
    static const struct bk_blob_opts zero;
    *o = in ? *in : zero;
    if (!o->block_size)
        o->block_size = DEFAULT_BLOCK;
    if (!o->range_size)
        o->range_size = DEFAULT_RANGE;
    if (!o->single_put_max)
        o->single_put_max = DEFAULT_SINGLE_PUT;
    if (o->parallel <= 0)
        o->parallel = 8;
    if (o->retries == 0)
        o->retries = 4;
    else if (o->retries < 0)
        o->retries = 0;
    if (o->progress_secs <= 0)
        o->progress_secs = 5;
    if (!o->label)
        o->label = "blob";
}

static long backoff_ms(int tries)
{
    long ms = 1000L << (tries > 5 ? 5 : tries - 1);
    long ra = bk_error_retry_after_ms();
    if (ra > ms)
        ms = ra;
    return ms > MAX_BACKOFF_MS && ra <= MAX_BACKOFF_MS ? MAX_BACKOFF_MS : ms;
}

/* ---- the part runner ---- */

static void part_reset_spec(struct part *p)
{
    free(p->spec.url);
    bk_strvec_clear(&p->spec.headers);
    memset(&p->spec, 0, sizeof(p->spec));
    p->spec.headers = (struct bk_strvec)BK_STRVEC_INIT;
}

static int part_launch(struct runner *r, struct part *p)
{
    const struct bk_blob_parts *job = r->job;
    uint64_t off = p->start + p->done, left = p->len - p->done;
    int rc;

    part_reset_spec(p);
    rc = job->prepare(job->payload, p->index, off, left, &p->spec);
    if (!rc && job->sign)
        rc = job->sign(job->sign_payload, p->spec.method, p->spec.url, job->upload ? left : 0,
                       &p->spec.headers);
    if (rc)
        return rc;
    bk_http_request_init(&p->req, p->spec.method, p->spec.url);
    p->req.headers = &p->spec.headers;
    if (job->upload) {
        p->req.body_fd = job->fd;
        p->req.body_offset = off;
        p->req.body_size = left;
    } else {
        p->req.out_fd = job->fd;
        p->req.out_offset = off;
    }
    rc = bk_http_start(&p->req, &p->resp, &p->xfer);
    if (rc)
        return rc;
    curl_multi_add_handle(r->multi, bk_http_xfer_handle(p->xfer));
    p->tries++;
    p->active = 1;
    r->active++;
    return BK_OK;
}

/* Decide what a finished request means for its part: BK_OK (done or
 * resumable progress), a retryable code, or a fatal one. */
static int part_outcome(struct runner *r, struct part *p, int rc)
{
    long s = p->resp.status;
    int good = r->job->upload ? (s >= 200 && s < 300)
                              : (s == 206 || (s == 200 && p->start + p->done == 0));
    char what[96];

    snprintf(what, sizeof(what), "%s part %" PRIu64, r->o.label, p->index);
    if (!r->job->upload && good)
        p->done += p->resp.bytes_written; /* keep what arrived, even if cut off */
    if (rc)
        return bk_error_wrap(rc, "%s", what);
    if (!good && s >= 200 && s < 300)
        return bk_error_set(BK_ERR, "%s: HTTP %ld where 206 was expected (ranges not honoured)",
                            what, s);
    if (!good)
        return bk_http_check(&p->resp, what);
    if (r->job->upload) {
        p->done = p->len;
        return BK_OK;
    }
    if (p->done < p->len)
        return bk_error_set(BK_ETRANSIENT,
                            "%s: response ended after %" PRIu64 " of %" PRIu64 " bytes", what,
                            p->done, p->len);
    return BK_OK;
}

static void part_complete(struct runner *r, struct part *p, int curl_result)
{
    int rc = bk_http_finish(p->xfer, curl_result);

    p->xfer = NULL;
    p->active = 0;
    r->active--;
    rc = part_outcome(r, p, rc);
    if (rc == BK_OK && r->job->done)
        rc = r->job->done(r->job->payload, p->index, &p->resp);
    bk_http_response_release(&p->resp);
    if (rc == BK_OK) {
        p->finished = 1;
        r->bytes_done += p->len;
        return;
    }
    if (bk_status_retryable(rc) && p->tries <= r->o.retries) {
        long wait = backoff_ms(p->tries);
        bk_debug("%s (retrying in %ld ms, resuming at byte %" PRIu64 ")", bk_error_msg(), wait,
                 p->start + p->done);
        p->not_before = now_ms() + wait;
        return;
    }
    if (!r->failed) {
        r->failed = rc;
        r->error = bk_xstrdup(bk_error_msg());
    }
}

static uint64_t bytes_in_flight(struct runner *r)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < r->nparts; i++) {
        struct part *p = &r->parts[i];
        if (!p->finished)
            n += p->done;
        if (p->active && r->job->upload) {
            curl_off_t up = 0;
            curl_easy_getinfo(bk_http_xfer_handle(p->xfer), CURLINFO_SIZE_UPLOAD_T, &up);
            n += (uint64_t)up;
        } else if (p->active) {
            n += p->resp.bytes_written;
        }
    }
    return n;
}

static void maybe_progress(struct runner *r)
{
    int64_t now = now_ms(), every = (int64_t)r->o.progress_secs * 1000;
    if (now - r->started < every || now - r->last_progress < every)
        return;
    r->last_progress = now;
    double done = (double)(r->bytes_done + bytes_in_flight(r));
    double secs = (double)(now - r->started) / 1000.0;
    bk_info("%s: %.1f of %.1f MiB (%.0f%%), %.1f MiB/s", r->o.label, done / MIB,
            (double)r->job->size / MIB, r->job->size ? 100.0 * done / (double)r->job->size : 100.0,
            done / MIB / secs);
}

static void runner_launch_ready(struct runner *r)
{
    int64_t now = now_ms();
    r->waiting = 0;
    for (uint64_t i = 0; i < r->nparts && r->active < r->o.parallel && !r->failed; i++) {
        struct part *p = &r->parts[i];
        if (p->active || p->finished || p->not_before > now)
            continue;
        int rc = r->job->ready ? r->job->ready(r->job->payload, p->index) : 1;
        if (rc == 0) {
            r->waiting = 1;
            break; /* parts become ready in order */
        }
        if (rc > 0)
            rc = part_launch(r, p);
        if (rc) {
            r->failed = rc;
            r->error = bk_xstrdup(bk_error_msg());
        }
    }
}

static int runner_all_finished(const struct runner *r)
{
    for (uint64_t i = 0; i < r->nparts; i++)
        if (!r->parts[i].finished)
            return 0;
    return 1;
}

static struct part *find_part(struct runner *r, CURL *easy)
{
    for (uint64_t i = 0; i < r->nparts; i++)
        if (r->parts[i].active && bk_http_xfer_handle(r->parts[i].xfer) == easy)
            return &r->parts[i];
    return NULL;
}

/* The runner proper; `o` has its defaults filled in already. */
static int run_parts(const struct bk_blob_parts *job, const struct bk_blob_opts *o)
{
    struct runner r;
    int rc;

    memset(&r, 0, sizeof(r));
    r.job = job;
    r.o = *o;
    if (!job->part_size)
        return bk_error_set(BK_ERR, "%s: part size is 0", r.o.label);
    r.nparts = job->size ? (job->size + job->part_size - 1) / job->part_size : 1;
    r.parts = bk_xcalloc(r.nparts, sizeof(*r.parts));
    for (uint64_t i = 0; i < r.nparts; i++) {
        struct part *p = &r.parts[i];
        p->index = i;
        p->start = i * job->part_size;
        p->len = job->size - p->start < job->part_size ? job->size - p->start : job->part_size;
        p->spec.headers = (struct bk_strvec)BK_STRVEC_INIT;
        p->resp = (struct bk_http_response)BK_HTTP_RESPONSE_INIT;
    }
    r.multi = curl_multi_init();
    curl_multi_setopt(r.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)r.o.parallel);
    r.started = r.last_progress = now_ms();

    while (!r.failed && !runner_all_finished(&r)) {
        int running, queued;
        CURLMsg *msg;

        runner_launch_ready(&r);
        curl_multi_perform(r.multi, &running);
        while ((msg = curl_multi_info_read(r.multi, &queued))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct part *p = find_part(&r, msg->easy_handle);
            curl_multi_remove_handle(r.multi, msg->easy_handle);
            if (p)
                part_complete(&r, p, (int)msg->data.result);
        }
        if (!r.failed && r.active > 0)
            curl_multi_poll(r.multi, NULL, 0, r.waiting ? 5 : 200, NULL);
        else if (!r.failed && !runner_all_finished(&r))
            usleep(r.waiting ? 2000 : 50 * 1000); /* a part waits: to be ready, or a backoff */
        maybe_progress(&r);
    }

    for (uint64_t i = 0; i < r.nparts; i++) {
        struct part *p = &r.parts[i];
        if (p->active) {
            curl_multi_remove_handle(r.multi, bk_http_xfer_handle(p->xfer));
            bk_http_finish(p->xfer, CURLE_ABORTED_BY_CALLBACK);
        }
        bk_http_response_release(&p->resp);
        part_reset_spec(p);
    }
    curl_multi_cleanup(r.multi);
    free(r.parts);
    rc = r.failed;
    if (rc) {
        bk_error_set(rc, "%s", r.error);
        free(r.error);
    }
    return rc;
}

int bk_blob_run_parts(const struct bk_blob_parts *job, const struct bk_blob_opts *opts)
{
    struct bk_blob_opts o;
    fill_defaults(opts, &o);
    return run_parts(job, &o);
}

/* ---- shared request pieces ---- */

static const char *api_version(const struct bk_blob_target *t)
{
    return t->api_version ? t->api_version : BK_BLOB_API_VERSION;
}

static char *url_with(const char *url, const char *query)
{
    return bk_xasprintf("%s%c%s", url, strchr(url, '?') ? '&' : '?', query);
}

/* One request with the same retry rule as a part; fills resp. */
static int request_retry(const struct bk_blob_target *t, const struct bk_blob_opts *o,
                         struct bk_http_request *req, struct bk_strvec *headers,
                         struct bk_http_response *resp, const char *what)
{
    for (int tries = 1;; tries++) {
        struct bk_strvec h = BK_STRVEC_INIT;
        int rc = BK_OK;
        for (size_t i = 0; i < headers->n; i++)
            bk_strvec_push(&h, headers->v[i]);
        if (t->sign)
            rc = t->sign(t->sign_payload, req->method, req->url, req->body_len, &h);
        req->headers = &h;
        if (!rc)
            rc = bk_http_do(req, resp);
        if (!rc)
            rc = bk_http_check(resp, what);
        else
            bk_error_wrap(rc, "%s", what);
        bk_strvec_clear(&h);
        req->headers = NULL;
        if (!rc || !bk_status_retryable(rc) || tries > o->retries)
            return rc;
        long wait = backoff_ms(tries);
        bk_debug("%s (retrying in %ld ms)", bk_error_msg(), wait);
        usleep((useconds_t)wait * 1000);
    }
}

/* ---- upload ---- */

struct upload_ctx {
    const struct bk_blob_target *t;
    char id_prefix[37];
    int single;
    struct bk_blob_md5s *md5s; /* blocks only */
};

static int block_ready(void *payload, uint64_t index)
{
    struct upload_ctx *u = payload;
    char b64[25];
    return u->md5s ? bk_blob_md5s_get(u->md5s, index, b64) : 1;
}

static char *block_id(const struct upload_ctx *u, uint64_t index)
{
    char raw[64];
    unsigned char out[96];
    int n = snprintf(raw, sizeof(raw), "%s%012" PRIu64, u->id_prefix, index);
    EVP_EncodeBlock(out, (const unsigned char *)raw, n);
    return bk_xstrdup((const char *)out);
}

static int prepare_put(void *payload, uint64_t index, uint64_t offset, uint64_t len,
                       struct bk_blob_part *part)
{
    struct upload_ctx *u = payload;
    (void)offset;
    (void)len;
    part->method = "PUT";
    bk_strvec_pushf(&part->headers, "x-ms-version: %s", api_version(u->t));
    bk_strvec_push(&part->headers, "Content-Type: application/octet-stream");
    if (u->single) {
        part->url = bk_xstrdup(u->t->url);
        bk_strvec_push(&part->headers, "x-ms-blob-type: BlockBlob");
        return BK_OK;
    }
    char md5[25];
    if (u->md5s && bk_blob_md5s_get(u->md5s, index, md5) == 1)
        bk_strvec_pushf(&part->headers, "Content-MD5: %s", md5);
    char *id = block_id(u, index);
    char *enc = bk_http_urlencode(id);
    char *q = bk_xasprintf("comp=block&blockid=%s", enc);
    part->url = url_with(u->t->url, q);
    free(q);
    free(enc);
    free(id);
    return BK_OK;
}

static void random_prefix(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)(rand() & 0xff);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static int put_block_list(struct upload_ctx *u, const struct bk_blob_opts *o, uint64_t nblocks)
{
    struct bk_strbuf xml = BK_STRBUF_INIT;
    struct bk_strvec headers = BK_STRVEC_INIT;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_http_request req;
    char what[96];
    int rc;

    bk_strbuf_adds(&xml, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (uint64_t i = 0; i < nblocks; i++) {
        char *id = block_id(u, i);
        bk_strbuf_addf(&xml, "<Latest>%s</Latest>", id);
        free(id);
    }
    bk_strbuf_adds(&xml, "</BlockList>");
    char *url = url_with(u->t->url, "comp=blocklist");
    bk_strvec_pushf(&headers, "x-ms-version: %s", api_version(u->t));
    bk_strvec_push(&headers, "Content-Type: application/xml");
    bk_http_request_init(&req, "PUT", url);
    req.body = xml.buf;
    req.body_len = xml.len;
    snprintf(what, sizeof(what), "%s: put block list", o->label);
    rc = request_retry(u->t, o, &req, &headers, &resp, what);
    bk_http_response_release(&resp);
    bk_strvec_clear(&headers);
    bk_strbuf_release(&xml);
    free(url);
    return rc;
}

int bk_blob_upload(const struct bk_blob_target *t, int fd, uint64_t size,
                   const struct bk_blob_opts *opts)
{
    struct bk_blob_opts o;
    struct upload_ctx u = {.t = t};
    struct bk_blob_parts job = {.upload = 1,
                                .fd = fd,
                                .size = size,
                                .prepare = prepare_put,
                                .payload = &u,
                                .sign = t->sign,
                                .sign_payload = t->sign_payload};

    fill_defaults(opts, &o);
    u.single = size <= o.single_put_max;
    random_prefix(u.id_prefix);
    job.part_size = u.single ? (size ? size : 1) : o.block_size;
    if (!u.single) {
        u.md5s = bk_blob_md5s_start(fd, size, o.block_size);
        if (!u.md5s)
            return BK_ERR;
        job.ready = block_ready;
    }
    int rc = run_parts(&job, &o);
    bk_blob_md5s_stop(u.md5s);
    if (rc || u.single)
        return rc;
    return put_block_list(&u, &o, (size + o.block_size - 1) / o.block_size);
}

/* ---- download ---- */

struct download_ctx {
    const struct bk_blob_target *t;
    int ranged;
};

static int prepare_get(void *payload, uint64_t index, uint64_t offset, uint64_t len,
                       struct bk_blob_part *part)
{
    struct download_ctx *d = payload;
    (void)index;
    part->method = "GET";
    part->url = bk_xstrdup(d->t->url);
    bk_strvec_pushf(&part->headers, "x-ms-version: %s", api_version(d->t));
    if (d->ranged || offset > 0)
        bk_strvec_pushf(&part->headers, "Range: bytes=%" PRIu64 "-%" PRIu64, offset,
                        offset + len - 1);
    return BK_OK;
}

static int blob_head(const struct bk_blob_target *t, const struct bk_blob_opts *o, uint64_t *size,
                     int *ranges)
{
    struct bk_strvec headers = BK_STRVEC_INIT;
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    struct bk_http_request req;
    char what[96];
    const char *len, *ar;
    int rc;

    bk_strvec_pushf(&headers, "x-ms-version: %s", api_version(t));
    bk_http_request_init(&req, "HEAD", t->url);
    snprintf(what, sizeof(what), "%s: get blob properties", o->label);
    rc = request_retry(t, o, &req, &headers, &resp, what);
    if (!rc) {
        len = bk_http_header(&resp, "content-length");
        ar = bk_http_header(&resp, "accept-ranges");
        if (!len)
            rc = bk_error_set(BK_ERR, "%s: no Content-Length", what);
        else
            *size = strtoull(len, NULL, 10);
        *ranges = ar && strstr(ar, "bytes") != NULL;
    }
    bk_http_response_release(&resp);
    bk_strvec_clear(&headers);
    return rc;
}

int bk_blob_download(const struct bk_blob_target *t, int fd, const struct bk_blob_opts *opts,
                     uint64_t *size_out)
{
    struct bk_blob_opts o;
    struct download_ctx d = {.t = t};
    uint64_t size = 0;
    int rc;

    fill_defaults(opts, &o);
    rc = blob_head(t, &o, &size, &d.ranged);
    if (rc)
        return rc;
    if (size > 0) {
        struct bk_blob_parts job = {.upload = 0,
                                    .fd = fd,
                                    .size = size,
                                    .part_size = d.ranged ? o.range_size : size,
                                    .prepare = prepare_get,
                                    .payload = &d,
                                    .sign = t->sign,
                                    .sign_payload = t->sign_payload};
        if (d.ranged && size <= o.range_size)
            d.ranged = 0; /* one part: a plain GET, resumed with a Range if cut */
        rc = run_parts(&job, &o);
        if (rc)
            return rc;
    }
    if (ftruncate(fd, (off_t)size) != 0)
        return bk_error_set(BK_ERR, "%s: cannot truncate the output file: %s", o.label,
                            strerror(errno));
    if (size_out)
        *size_out = size;
    return BK_OK;
}
