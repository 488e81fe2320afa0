/*
 * s3_xml.c - just enough XML for object store list responses, and their
 * timestamps; see s3.h.
 *
 * S3's ListObjectsV2 and Azure's List Blobs answer with flat documents of
 * repeated elements (<Contents><Key>..</Key><Size>..</Size></Contents>).
 * Scanning for an element by name and decoding the five predefined
 * entities and ASCII numeric references (servers use them for control
 * characters; other characters arrive as UTF-8) is all they need; the documents come
 * from the store the user configured, and a malformed one only yields
 * fewer entries.
 */
#include "providers/s3.h"

#include "core/util/error.h"
#include "core/net/http.h"
#include "core/util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Position of "<name>" or "<name " at or after pos, or -1. */
static long find_open(const char *doc, size_t len, size_t pos, const char *name, size_t *inner)
{
    size_t n = strlen(name);
    for (size_t i = pos; i + n + 2 <= len; i++) {
        if (doc[i] != '<' || strncmp(doc + i + 1, name, n) != 0)
            continue;
        char after = doc[i + 1 + n];
        if (after != '>' && after != ' ' && after != '/')
            continue;
        const char *gt = memchr(doc + i, '>', len - i);
        if (!gt)
            return -1;
        if (gt[-1] == '/') { /* <name/>: empty element */
            *inner = (size_t)(gt - doc) + 1;
            return -2 - (long)i;
        }
        *inner = (size_t)(gt - doc) + 1;
        return (long)i;
    }
    return -1;
}

int s3_xml_next(const char *doc, size_t doclen, size_t *pos, const char *name,
                struct s3_xml_span *out)
{
    size_t inner;
    long at = find_open(doc, doclen, *pos, name, &inner);
    if (at == -1)
        return 0;
    if (at <= -2) {
        out->p = doc + inner;
        out->len = 0;
        *pos = inner;
        return 1;
    }
    char close[80];
    int cn = snprintf(close, sizeof(close), "</%s>", name);
    for (size_t i = inner; i + (size_t)cn <= doclen; i++)
        if (doc[i] == '<' && strncmp(doc + i, close, (size_t)cn) == 0) {
            out->p = doc + inner;
            out->len = i - inner;
            *pos = i + (size_t)cn;
            return 1;
        }
    return 0;
}

static const struct {
    const char *name;
    char ch;
} k_entities[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};

char *s3_xml_text(const struct s3_xml_span *within, const char *name)
{
    struct s3_xml_span s;
    size_t pos = 0;
    if (!s3_xml_next(within->p, within->len, &pos, name, &s))
        return NULL;
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (size_t i = 0; i < s.len; i++) {
        const char *p = s.p + i;
        size_t left = s.len - i;
        int done = 0;
        if (*p != '&') {
            bk_strbuf_addch(&sb, *p);
            continue;
        }
        for (size_t e = 0; e < sizeof(k_entities) / sizeof(k_entities[0]) && !done; e++) {
            size_t n = strlen(k_entities[e].name);
            if (left > n && strncmp(p + 1, k_entities[e].name, n) == 0) {
                bk_strbuf_addch(&sb, k_entities[e].ch);
                i += n;
                done = 1;
            }
        }
        if (!done && left > 3 && p[1] == '#') {
            char *end;
            int hex = p[2] == 'x' || p[2] == 'X';
            unsigned long cp = strtoul(p + 2 + hex, &end, hex ? 16 : 10);
            if (end < s.p + s.len && *end == ';' && end > p + 2 + hex && cp > 0 && cp < 0x80) {
                bk_strbuf_addch(&sb, (char)cp);
                i = (size_t)(end - s.p);
                done = 1;
            }
        }
        if (!done)
            bk_strbuf_addch(&sb, '&');
    }
    return bk_strbuf_detach(&sb);
}

int64_t s3_parse_time(const char *s)
{
    struct tm tm;
    if (!s)
        return 0;
    memset(&tm, 0, sizeof(tm));
    if (strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return (int64_t)timegm(&tm);
    memset(&tm, 0, sizeof(tm));
    if (strptime(s, "%a, %d %b %Y %H:%M:%S", &tm))
        return (int64_t)timegm(&tm);
    return 0;
}

/* Error codes whose meaning differs from their HTTP status. */
static const struct {
    const char *code;
    int status;
} k_codes[] = {
    {"NoSuchBucket", BK_ERR},      /* S3 404: a setup error, not a miss */
    {"ContainerNotFound", BK_ERR}, /* Azure 404 */
    {"SlowDown", BK_ETRANSIENT},   /* S3 503 */
    {"ServerBusy", BK_ETRANSIENT}, /* Azure 503 */
    {"ExpiredToken", BK_EDENIED},  /* S3 400: stale session credentials */
    {"InvalidToken", BK_EDENIED},  {"InvalidAccessKeyId", BK_EDENIED},
};

int s3_xml_check(const struct bk_http_response *resp, const char *what)
{
    int rc = bk_http_check(resp, what);
    if (rc == BK_OK)
        return BK_OK;
    struct s3_xml_span body = {resp->body.buf, resp->body.len};
    char *code = s3_xml_text(&body, "Code");
    char *msg = s3_xml_text(&body, "Message");
    if (code) {
        long ra = bk_error_retry_after_ms();
        for (size_t i = 0; i < sizeof(k_codes) / sizeof(k_codes[0]); i++)
            if (strcmp(code, k_codes[i].code) == 0)
                rc = k_codes[i].status;
        if (msg) /* Azure adds request id and time on further lines */
            msg[strcspn(msg, "\r\n")] = '\0';
        bk_error_set(rc, "%s: HTTP %ld %s%s%s", what, resp->status, code, msg ? ": " : "",
                     msg ? msg : "");
        bk_error_set_retry_after(ra);
    }
    free(code);
    free(msg);
    return rc;
}
