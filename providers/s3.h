/*
 * s3.h - the S3-compatible store's pure pieces, shared by providers/s3*.c
 * and the unit tests: configuration, object URLs, SigV4 signing and the
 * small XML reader that the S3 and Azure Blob listings both need.
 *
 * Nothing here touches the network. Strings returned through out-pointers
 * or as `char *` belong to the caller (free(), or the matching _release()).
 */
#ifndef BK_PROVIDERS_S3_H
#define BK_PROVIDERS_S3_H

#include "core/strvec.h"
#include "providers/provider.h"

#include <stddef.h>
#include <stdint.h>

#define S3_DEFAULT_REGION "us-east-1"
#define S3_DEFAULT_PART_SIZE (64ull << 20)
#define S3_MIN_PART_SIZE (5ull << 20)
#define S3_DEFAULT_PARALLEL 8
#define S3_MAX_KEY 1024 /* bytes in an object key */

/*
 * Everything the s3 provider needs, from (in order of precedence)
 * --store-opt words, the environment, and defaults:
 *   bucket, prefix   --store s3://BUCKET[/PREFIX]; prefix "" or ending in '/'
 *   region           region=, AWS_REGION, AWS_DEFAULT_REGION, "us-east-1"
 *   endpoint         endpoint=, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else
 *                    https://s3.REGION.amazonaws.com; stored without a trailing '/'
 *   path_style       path-style=true|false; default: false on AWS, true for a
 *                    custom endpoint or a bucket name with a dot
 *   credentials      AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (both required),
 *                    AWS_SESSION_TOKEN (optional)
 *   part_size        part-size= (multipart uploads and ranged downloads;
 *                    at least 5 MiB), default 64 MiB
 *   parallel         parallel= (requests in flight, 1..64), default 8
 *   list_page        list-page= (keys per ListObjectsV2 page, 1..1000),
 *                    default 1000; smaller only to exercise paging
 */
struct s3_config {
    char *bucket;
    char *prefix;
    char *region;
    char *endpoint;
    int path_style;
    char *access_key;
    char *secret_key;
    char *session_token; /* NULL when unset */
    uint64_t part_size;
    int parallel;
    int list_page;
};

/* Fill `out` from cfg; BK_EINVAL with a message naming the option or
 * variable at fault. On failure `out` holds nothing to release. */
int s3_parse_config(const struct bk_provider_config *cfg, struct s3_config *out);
void s3_config_release(struct s3_config *c);

/* URL of the object named `object_key` (prefix included), or of the bucket
 * when object_key is NULL, with the key's path segments percent-encoded. */
char *s3_object_url(const struct s3_config *c, const char *object_key);

/*
 * SigV4 (AWS4-HMAC-SHA256) for one request. `headers` holds the request's
 * "Name: value" lines; the signer appends x-amz-date, x-amz-content-sha256
 * (unless present: the hash of the empty body when content_length is 0,
 * UNSIGNED-PAYLOAD otherwise), x-amz-security-token (with a session token)
 * and Authorization. Signed: host, content-type, content-md5, range and
 * every x-amz-* header. `amz_date` is "YYYYMMDDTHHMMSSZ", NULL for now.
 */
struct s3_sigv4 {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* or NULL */
    const char *region;
    const char *service; /* "s3" */
};

int s3_sigv4_sign(const struct s3_sigv4 *k, const char *method, const char *url,
                  uint64_t content_length, struct bk_strvec *headers, const char *amz_date);

/* Percent-encode for SigV4: unreserved characters stay, and '/' too when
 * keep_slash. Caller frees. */
char *s3_uri_encode(const char *s, size_t len, int keep_slash);

/* ---- a minimal XML reader for list responses (s3_xml.c) ----
 *
 * Enough for the flat, well-known documents S3 and Azure return: find the
 * next <name>...</name> element at or after *pos in `doc` and return its
 * inner text span; no attributes on the searched element, no CDATA. */
struct s3_xml_span {
    const char *p;
    size_t len;
};

/* 1 and the span when found (pos moves past the element), 0 otherwise. */
int s3_xml_next(const char *doc, size_t doclen, size_t *pos, const char *name,
                struct s3_xml_span *out);
/* The text of the first <name> inside `within`, entities decoded, or NULL.
 * Caller frees. */
char *s3_xml_text(const struct s3_xml_span *within, const char *name);

/*
 * bk_http_check() for S3 and Azure Blob answers: the XML error's Code and
 * Message go into the message, and codes that mean something else than
 * their status are mapped (NoSuchBucket and ContainerNotFound: BK_ERR, not
 * a miss; SlowDown, ServerBusy: BK_ETRANSIENT; ExpiredToken, InvalidToken,
 * InvalidAccessKeyId: BK_EDENIED). Retry-After is kept.
 */
struct bk_http_response;
int s3_xml_check(const struct bk_http_response *resp, const char *what);

/* "2009-10-12T17:50:30.000Z" (ISO 8601 UTC) or an RFC 1123 HTTP date as
 * Unix seconds; 0 when unparseable. */
int64_t s3_parse_time(const char *s);

#endif
