/*
 * blob.h - parallel Azure Blob transfers (Put Blob, Put Block + Put Block
 * List, ranged GET), for every store that ends up on Azure Blob Storage.
 *
 * A blob is named by a URL. It is either signed (a SAS query string, as the
 * GitHub cache service hands out) or plain, with a sign() callback that adds
 * the authentication headers to each request (Shared Key, a bearer token).
 * The URL may carry a query string; block and list parameters are appended.
 *
 * Upload: a file up to single_put_max bytes goes in one Put Blob; a larger
 * one in Put Block requests of block_size bytes, `parallel` at a time, then
 * one Put Block List naming them in order. Each Put Block carries the
 * block's Content-MD5, computed just ahead of the transfer on a thread
 * (blob_md5.h), so the store refuses a block damaged on the way. Download: HEAD (Get Blob
 * Properties) gives the size, then ranged GETs of range_size bytes,
 * `parallel` at a time, each written straight into the output file with
 * pwrite(); a server that does not advertise byte ranges gets one plain GET.
 *
 * Transfers run on one thread with libcurl's multi interface, which also
 * keeps connections alive between blocks. Each block is retried on its own
 * (up to `retries` more times, backing off 1, 2, 4 ... seconds, or longer
 * when the server sent Retry-After) for transient failures: transport
 * errors, 408, 429 and 5xx. A ranged GET cut off midway resumes from the
 * last byte written, not from the start of the block. When a block runs out
 * of retries the whole transfer fails with that block's error (normally
 * BK_ETRANSIENT, so the caller's own retry loop may start over).
 *
 * Progress: when a transfer lasts longer than progress_secs, a line
 * "<label>: 120.0 of 300.0 MiB (40%), 85.1 MiB/s" goes to stderr at most
 * every progress_secs seconds.
 *
 * Nothing here logs a URL's query string (it may hold a signature).
 */
#ifndef BK_BLOB_H
#define BK_BLOB_H

#include "core/util/strvec.h"

#include <stdint.h>

/* Add authentication headers ("Name: value") to one request. `content_length`
 * is the body size (0 for GET/HEAD), `headers` the x-ms-* and other headers
 * already set, to which the callback appends. Return BK_OK or an error. */
typedef int (*bk_blob_sign_fn)(void *payload, const char *method, const char *url,
                               uint64_t content_length, struct bk_strvec *headers);

struct bk_blob_target {
    const char *url;      /* the blob's URL, signed or not */
    bk_blob_sign_fn sign; /* NULL for a signed URL */
    void *sign_payload;
    const char *api_version; /* x-ms-version; NULL: BK_BLOB_API_VERSION */
};

#define BK_BLOB_API_VERSION "2024-11-04"

struct bk_blob_opts {
    uint64_t block_size;     /* bytes per uploaded block; 0: 32 MiB */
    uint64_t range_size;     /* bytes per ranged GET; 0: 8 MiB */
    uint64_t single_put_max; /* largest upload sent as one Put Blob; 0: 128 MiB */
    int parallel;            /* requests in flight; 0: 8 */
    int retries;             /* extra tries per block; 0: 4; -1: none */
    int progress_secs;       /* 0: 5 */
    const char *label;       /* progress and error prefix; NULL: "blob" */
};

/* Store `size` bytes of `fd` (read with pread from offset 0) as the blob. */
int bk_blob_upload(const struct bk_blob_target *t, int fd, uint64_t size,
                   const struct bk_blob_opts *opts);

/* Write the blob into `fd` from offset 0 and truncate `fd` to its size.
 * `size_out` (may be NULL) receives the number of bytes. */
int bk_blob_download(const struct bk_blob_target *t, int fd, const struct bk_blob_opts *opts,
                     uint64_t *size_out);

/*
 * The engine underneath, for protocols that move a file in byte ranges over
 * plain HTTP (the GitHub v1 chunked PATCH). Part i covers bytes
 * [i * part_size, min(size, (i + 1) * part_size)); prepare() fills in its
 * method, URL and headers; the runner attaches the file range as the body
 * (upload) or writes the response into the file at the part's offset
 * (download; prepare() must then ask for the remaining range, which starts
 * at `offset`, since a resumed part is asked for again with a later offset).
 * Retries, parallelism and progress are as described above.
 */
struct bk_blob_part {
    const char *method;
    char *url;                /* owned; freed by the runner */
    struct bk_strvec headers; /* owned; cleared by the runner */
};

/* A part's request succeeded: read what the protocol needs from the response
 * (an upload part's ETag, say) before it is released. Uses `payload` of the
 * job. A non-zero return fails the part like an HTTP error would (retried
 * when retryable). */
struct bk_http_response;
typedef int (*bk_blob_done_fn)(void *payload, uint64_t index, const struct bk_http_response *resp);

typedef int (*bk_blob_prepare_fn)(void *payload, uint64_t index, uint64_t offset, uint64_t len,
                                  struct bk_blob_part *part);

/* May part `index` start now? Parts become ready in index order. 1: yes; 0: not yet (asked again a
 * few milliseconds later, while the other parts go on); a negative bk_status fails the whole
 * transfer. Must not block. */
typedef int (*bk_blob_ready_fn)(void *payload, uint64_t index);

struct bk_blob_parts {
    int upload; /* 1: body from fd; 0: response into fd */
    int fd;
    uint64_t size; /* total bytes */
    uint64_t part_size;
    bk_blob_prepare_fn prepare;
    void *payload;
    bk_blob_sign_fn sign; /* optional, called after prepare() */
    void *sign_payload;
    bk_blob_done_fn done;   /* optional, called with each part's final 2xx response */
    bk_blob_ready_fn ready; /* optional: NULL means every part may start at once */
};

int bk_blob_run_parts(const struct bk_blob_parts *job, const struct bk_blob_opts *opts);

#endif
