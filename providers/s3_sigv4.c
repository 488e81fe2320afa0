/*
 * s3_sigv4.c - AWS Signature Version 4 for S3 requests; see s3.h.
 *
 * Builds the canonical request (method, URI path as sent, sorted query,
 * sorted signed headers, payload hash), the string to sign and the
 * signature with a derived HMAC-SHA256 key (OpenSSL), then appends the
 * headers. The path is taken as already percent-encoded (s3_object_url()
 * encodes keys); query parameters are decoded and encoded again so that
 * their canonical form does not depend on how the caller wrote them.
 */
#include "providers/s3.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

char *s3_uri_encode(const char *s, size_t len, int keep_slash)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
            bk_strbuf_addch(&sb, (char)c);
        else
            bk_strbuf_addf(&sb, "%%%02X", c);
    }
    return bk_strbuf_detach(&sb);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *s3_uri_decode(const char *s, size_t len, int plus_space)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            bk_strbuf_addch(&sb, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else {
            bk_strbuf_addch(&sb, plus_space && s[i] == '+' ? ' ' : s[i]);
        }
    }
    return bk_strbuf_detach(&sb);
}

static void to_hex(const unsigned char *md, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    to_hex(md, n, out);
}

static void hmac(const unsigned char *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void s3_sort_strings(struct bk_strvec *sv)
{
    qsort(sv->v, sv->n, sizeof(char *), cmp_str);
}

void s3_query_split(const char *q, int plus_space, struct bk_strvec *keys, struct bk_strvec *values)
{
    while (q && *q) {
        const char *end = strchr(q, '&');
        size_t n = end ? (size_t)(end - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        size_t kn = eq ? (size_t)(eq - q) : n;
        if (n > 0) {
            bk_strvec_push_nodup(keys, s3_uri_decode(q, kn, plus_space));
            bk_strvec_push_nodup(values, eq ? s3_uri_decode(eq + 1, n - kn - 1, plus_space)
                                            : bk_xstrdup(""));
        }
        q = end ? end + 1 : NULL;
    }
}

/* "k=v&k2=v2" -> sorted, each part encoded as SigV4 wants. */
static char *canonical_query(const char *q)
{
    struct bk_strvec keys = BK_STRVEC_INIT, values = BK_STRVEC_INIT, parts = BK_STRVEC_INIT;
    s3_query_split(q, 1, &keys, &values);
    for (size_t i = 0; i < keys.n; i++) {
        char *ke = s3_uri_encode(keys.v[i], strlen(keys.v[i]), 0);
        char *ve = s3_uri_encode(values.v[i], strlen(values.v[i]), 0);
        bk_strvec_pushf(&parts, "%s=%s", ke, ve);
        free(ke);
        free(ve);
    }
    s3_sort_strings(&parts);
    char *out = bk_strvec_join(&parts, "&");
    bk_strvec_clear(&parts);
    bk_strvec_clear(&keys);
    bk_strvec_clear(&values);
    return out;
}

static int signed_header(const char *lname)
{
    return strcmp(lname, "host") == 0 || strcmp(lname, "content-type") == 0 ||
           strcmp(lname, "content-md5") == 0 || strcmp(lname, "range") == 0 ||
           strncmp(lname, "x-amz-", 6) == 0;
}

/* "name:value" with the name lowercased and the value trimmed, or NULL. */
static char *canonical_header(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon)
        return NULL;
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (const char *p = line; p < colon; p++)
        bk_strbuf_addch(&sb, (char)tolower((unsigned char)*p));
    if (!signed_header(sb.buf)) {
        bk_strbuf_release(&sb);
        return NULL;
    }
    const char *v = colon + 1, *e = v + strlen(v);
    while (*v == ' ' || *v == '\t')
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    bk_strbuf_addch(&sb, ':');
    bk_strbuf_add(&sb, v, (size_t)(e - v));
    return bk_strbuf_detach(&sb);
}

const char *s3_header_value(const struct bk_strvec *h, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->n; i++)
        if (strncasecmp(h->v[i], name, n) == 0 && h->v[i][n] == ':') {
            const char *v = h->v[i] + n + 1;
            while (*v == ' ')
                v++;
            return v;
        }
    return NULL;
}

int s3_sigv4_sign(const struct s3_sigv4 *k, const char *method, const char *url,
                  uint64_t content_length, struct bk_strvec *headers, const char *amz_date)
{
    char now[17], date[9], hash[65], sig[65];
    const char *hs = strstr(url, "://");
    if (!hs)
        return bk_error_set(BK_ERR, "sigv4: not an absolute URL");
    hs += 3;
    const char *path = hs + strcspn(hs, "/?");
    const char *query = strchr(path, '?');
    size_t pathlen = query ? (size_t)(query - path) : strlen(path);

    if (!amz_date) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y%m%dT%H%M%SZ", &tm);
        amz_date = now;
    }
    memcpy(date, amz_date, 8);
    date[8] = '\0';

    bk_strvec_pushf(headers, "x-amz-date: %s", amz_date);
    if (!s3_header_value(headers, "x-amz-content-sha256"))
        bk_strvec_pushf(headers, "x-amz-content-sha256: %s",
                        content_length == 0 ? EMPTY_SHA256 : "UNSIGNED-PAYLOAD");
    if (k->session_token)
        bk_strvec_pushf(headers, "x-amz-security-token: %s", k->session_token);

    struct bk_strvec canon = BK_STRVEC_INIT;
    bk_strvec_pushf(&canon, "host:%.*s", (int)(path - hs), hs);
    for (size_t i = 0; i < headers->n; i++) {
        char *c = canonical_header(headers->v[i]);
        if (c)
            bk_strvec_push_nodup(&canon, c);
    }
    s3_sort_strings(&canon);

    struct bk_strbuf names = BK_STRBUF_INIT, creq = BK_STRBUF_INIT;
    for (size_t i = 0; i < canon.n; i++)
        bk_strbuf_addf(&names, "%s%.*s", i ? ";" : "", (int)strcspn(canon.v[i], ":"), canon.v[i]);
    char *cq = canonical_query(query ? query + 1 : NULL);
    bk_strbuf_addf(&creq, "%s\n%.*s\n%s\n", method, (int)(pathlen ? pathlen : 1),
                   pathlen ? path : "/", cq);
    for (size_t i = 0; i < canon.n; i++)
        bk_strbuf_addf(&creq, "%s\n", canon.v[i]);
    bk_strbuf_addf(&creq, "\n%s\n%s", names.buf, s3_header_value(headers, "x-amz-content-sha256"));
    sha256_hex(creq.buf, creq.len, hash);

    char *scope = bk_xasprintf("%s/%s/%s/aws4_request", date, k->region, k->service);
    char *sts = bk_xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hash);
    char *ksecret = bk_xasprintf("AWS4%s", k->secret_key);
    unsigned char k1[32], k2[32], k3[32], k4[32], s[32];
    hmac((const unsigned char *)ksecret, strlen(ksecret), date, k1);
    hmac(k1, 32, k->region, k2);
    hmac(k2, 32, k->service, k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, sts, s);
    to_hex(s, 32, sig);
    bk_strvec_pushf(headers,
                    "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                    "Signature=%s",
                    k->access_key, scope, names.buf, sig);

    memset(ksecret, 0, strlen(ksecret));
    free(ksecret);
    free(scope);
    free(sts);
    free(cq);
    bk_strbuf_release(&names);
    bk_strbuf_release(&creq);
    bk_strvec_clear(&canon);
    return BK_OK;
}
