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

#include "core/util/strbuf.h"
#include "core/util/strvec.h"
#include "providers/provider.h"

#include <stddef.h>
#include <stdint.h>

struct bk_http_response;

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
/* Decode %XX escapes (and '+' as a space when plus_space). Caller frees. */
char *s3_uri_decode(const char *s, size_t len, int plus_space);
/* Split a query string "k=v&k2" into decoded keys and values ("" when
 * there is no '='), in order. */
void s3_query_split(const char *q, int plus_space, struct bk_strvec *keys,
                    struct bk_strvec *values);
/* Value of header `name` (case-insensitive) among "Name: value" lines, or
 * NULL. Borrowed. */
const char *s3_header_value(const struct bk_strvec *h, const char *name);
/* Sort a vector of strings bytewise (canonical header and query lists). */
void s3_sort_strings(struct bk_strvec *sv);
/* A --store-opt number from lo to hi; a K, M or G suffix multiplies by
 * 1024^n. BK_EINVAL with a message naming the option otherwise. */
int s3_parse_number(const char *name, const char *v, uint64_t lo, uint64_t hi, uint64_t *out);

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
int s3_xml_check(const struct bk_http_response *resp, const char *what);

/* "2009-10-12T17:50:30.000Z" (ISO 8601 UTC) or an RFC 1123 HTTP date as
 * Unix seconds; 0 when unparseable. */
int64_t s3_parse_time(const char *s);

/* ---- the entry layout the s3 and azblob stores share (s3_layout.c) ----
 *
 * One object per entry, named PREFIX + KEY + S3_SUFFIX; list pages are
 * filtered to those names, so other objects under the prefix are ignored. */
#define S3_SUFFIX ".tar.zst"

struct s3_entries {
    struct bk_provider_entry *v;
    size_t n, alloc;
};
void s3_entries_free(struct s3_entries *es);

/* The object name of `key`. Caller frees. */
char *s3_layout_name(const char *prefix, const char *key);

/* Element names of one list response format. */
struct s3_list_format {
    const char *item;     /* "Contents" (S3), "Blob" (Azure) */
    const char *name;     /* "Key", "Name" */
    const char *size;     /* "Size", "Content-Length" */
    const char *modified; /* "LastModified", "Last-Modified" */
};

/* Append the entries of one list page: key, size, created (the
 * modification time) and handle (the object name). */
void s3_entries_parse(struct s3_entries *es, const char *prefix, const struct s3_list_format *f,
                      const struct bk_strbuf *body);

/* A store's two requests: one for object `name` (signed, with the
 * service's version headers; the body of the answer in resp, mapped by
 * s3_xml_check()), and the entries whose key starts with key_prefix. */
struct s3_queries {
    const char *label; /* message prefix: "s3", "azblob" */
    int (*request)(struct bk_provider *p, const char *method, const char *name,
                   struct bk_http_response *resp, const char *what);
    int (*list)(struct bk_provider *p, const char *key_prefix, struct s3_entries *es);
};

/* The entry of exactly `key` (HEAD); BK_ENOTFOUND when absent. */
int s3_layout_head(const struct s3_queries *qs, struct bk_provider *p, const char *prefix,
                   const char *key, struct bk_provider_entry *out);

/* The lookup(), list() and remove() slots, on top of those requests. */
int s3_layout_lookup(const struct s3_queries *qs, struct bk_provider *p, const char *prefix,
                     const struct bk_lookup *q, struct bk_provider_entry *out);
int s3_layout_list(const struct s3_queries *qs, struct bk_provider *p, bk_entry_cb cb,
                   void *payload);
int s3_layout_remove(const struct s3_queries *qs, struct bk_provider *p, const char *prefix,
                     const struct bk_provider_entry *e);

#endif
