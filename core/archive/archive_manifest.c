/*
 * archive_manifest.c - .bkcache/manifest.json: write it, parse it strictly.
 *
 * The manifest is one flat JSON object whose values are strings, integers
 * or null (see docs/archive-format.md). It is written and read by hand rather
 * than with cJSON so that the archive code links statically into the
 * in-build helper (Debian ships no static cJSON). The reader is strict: it
 * accepts only a flat object, rejects duplicate known keys, bad escapes,
 * control characters in strings and trailing garbage, and ignores unknown
 * keys (whose values must still be scalars) so that later versions may add
 * fields. Required: format (1), digest, files, entries, bytes, compression.
 * Optional: parent ("sha256:<hex>", a delta's tree below; absent in a full
 * archive, so a full archive's bytes are what they were before deltas).
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MANIFEST_FORMAT 1

/* ------------------------------------------------------------------ write */

void bk_archive__add_json_string(struct bk_strbuf *out, const char *s)
{
    if (!s) {
        bk_strbuf_adds(out, "null");
        return;
    }
    bk_strbuf_addch(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            bk_strbuf_addch(out, '\\');
            bk_strbuf_addch(out, (char)*p);
        } else if (*p < 0x20 || *p == 0x7f) {
            bk_strbuf_addf(out, "\\u%04x", *p);
        } else {
            bk_strbuf_addch(out, (char)*p);
        }
    }
    bk_strbuf_addch(out, '"');
}

void bk_archive__manifest_write(const struct bk_archive_manifest *m, struct bk_strbuf *out)
{
    bk_strbuf_addf(out, "{\"format\":%d,\"key\":", MANIFEST_FORMAT);
    bk_archive__add_json_string(out, m->key);
    bk_strbuf_adds(out, ",\"identity\":");
    bk_archive__add_json_string(out, m->identity);
    bk_strbuf_addf(out,
                   ",\"digest\":\"sha256:%s\",\"files\":%" PRIu64 ",\"entries\":%" PRIu64
                   ",\"bytes\":%" PRIu64 ",\"created\":",
                   m->digest, m->files, m->entries, m->bytes);
    bk_archive__add_json_string(out, m->created);
    bk_strbuf_adds(out, ",\"bkcache_version\":");
    bk_archive__add_json_string(out, m->bkcache_version);
    bk_strbuf_adds(out, ",\"compression\":");
    bk_archive__add_json_string(out, m->compression);
    bk_strbuf_addf(out, ",\"level\":%d", m->level);
    if (m->parent) /* a delta; a full archive's bytes stay as before deltas */
        bk_strbuf_addf(out, ",\"parent\":\"sha256:%s\"", m->parent);
    bk_strbuf_adds(out, "}\n");
}

char *bk_archive__created_now(int64_t *sec_out)
{
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    time_t t = time(NULL);
    struct tm tm;
    char buf[64];

    if (sde && *sde) {
        char *end;
        errno = 0;
        long long v = strtoll(sde, &end, 10);
        if (!errno && !*end && v >= 0)
            t = (time_t)v;
    }
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (sec_out)
        *sec_out = (int64_t)t;
    return bk_xstrdup(buf);
}

void bk_archive_manifest_release(struct bk_archive_manifest *m)
{
    if (!m)
        return;
    free(m->key);
    free(m->identity);
    free(m->created);
    free(m->bkcache_version);
    free(m->compression);
    free(m->parent);
    memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------- parse */

struct jp {
    const char *p, *end;
};

static void skip_ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void add_utf8(struct bk_strbuf *sb, unsigned cp)
{
    if (cp < 0x80) {
        bk_strbuf_addch(sb, (char)cp);
    } else if (cp < 0x800) {
        bk_strbuf_addch(sb, (char)(0xc0 | (cp >> 6)));
        bk_strbuf_addch(sb, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        bk_strbuf_addch(sb, (char)(0xe0 | (cp >> 12)));
        bk_strbuf_addch(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
        bk_strbuf_addch(sb, (char)(0x80 | (cp & 0x3f)));
    } else {
        bk_strbuf_addch(sb, (char)(0xf0 | (cp >> 18)));
        bk_strbuf_addch(sb, (char)(0x80 | ((cp >> 12) & 0x3f)));
        bk_strbuf_addch(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
        bk_strbuf_addch(sb, (char)(0x80 | (cp & 0x3f)));
    }
}

/* A JSON string at j->p (the opening quote); appends its value to sb. */
static int parse_string(struct jp *j, struct bk_strbuf *sb)
{
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20 || c == 0)
            return -1;
        if (c != '\\') {
            bk_strbuf_addch(sb, (char)c);
            continue;
        }
        if (j->p >= j->end)
            return -1;
        c = (unsigned char)*j->p++;
        switch (c) {
        case '"':
        case '\\':
        case '/': bk_strbuf_addch(sb, (char)c); break;
        case 'b': bk_strbuf_addch(sb, '\b'); break;
        case 'f': bk_strbuf_addch(sb, '\f'); break;
        case 'n': bk_strbuf_addch(sb, '\n'); break;
        case 'r': bk_strbuf_addch(sb, '\r'); break;
        case 't': bk_strbuf_addch(sb, '\t'); break;
        case 'u': {
            unsigned cp, lo;
            if (j->end - j->p < 4 || hex4(j->p, &cp))
                return -1;
            j->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                j->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return -1;
            }
            if (cp == 0)
                return -1;
            add_utf8(sb, cp);
            break;
        }
        default: return -1;
        }
    }
    if (j->p >= j->end)
        return -1;
    j->p++;
    return 0;
}

enum jv_kind { JV_NULL, JV_STRING, JV_INT, JV_OTHER };

/* One scalar value: string into sb, non-negative integer into *num. */
static int parse_value(struct jp *j, struct bk_strbuf *sb, uint64_t *num, enum jv_kind *kind)
{
    if (j->p >= j->end)
        return -1;
    if (*j->p == '"') {
        *kind = JV_STRING;
        return parse_string(j, sb);
    }
    static const char *const k_words[] = {"null", "true", "false"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(k_words[i]);
        if ((size_t)(j->end - j->p) >= n && memcmp(j->p, k_words[i], n) == 0) {
            j->p += n;
            *kind = i == 0 ? JV_NULL : JV_OTHER;
            return 0;
        }
    }
    if (*j->p >= '0' && *j->p <= '9') {
        uint64_t v = 0;
        if (*j->p == '0' && j->end - j->p > 1 && j->p[1] >= '0' && j->p[1] <= '9')
            return -1;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            unsigned dgt = (unsigned)(*j->p++ - '0');
            if (v > (UINT64_MAX - dgt) / 10)
                return -1;
            v = v * 10 + dgt;
        }
        if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
            return -1;
        *num = v;
        *kind = JV_INT;
        return 0;
    }
    return -1; /* negative numbers, objects and arrays are not manifest values */
}

enum mkey {
    MK_FORMAT,
    MK_KEY,
    MK_IDENTITY,
    MK_DIGEST,
    MK_FILES,
    MK_ENTRIES,
    MK_BYTES,
    MK_CREATED,
    MK_VERSION,
    MK_COMPRESSION,
    MK_LEVEL,
    MK_PARENT,
    MK_COUNT
};
static const char *const k_keys[MK_COUNT] = {
    "format", "key",     "identity",        "digest",      "files", "entries",
    "bytes",  "created", "bkcache_version", "compression", "level", "parent"};

static int digest_from(const char *s, char *out)
{
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s + 7) != BK_DIGEST_HEX)
        return -1;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -1;
    memcpy(out, s + 7, BK_DIGEST_HEX + 1);
    return 0;
}

static int store_field(enum mkey k, enum jv_kind kind, struct bk_strbuf *sb, uint64_t num,
                       struct bk_archive_manifest *m)
{
    char **strs[MK_COUNT] = {[MK_KEY] = &m->key,
                             [MK_IDENTITY] = &m->identity,
                             [MK_CREATED] = &m->created,
                             [MK_VERSION] = &m->bkcache_version,
                             [MK_COMPRESSION] = &m->compression};
    uint64_t *nums[MK_COUNT] = {
        [MK_FILES] = &m->files, [MK_ENTRIES] = &m->entries, [MK_BYTES] = &m->bytes};
    if (strs[k]) {
        if (kind == JV_NULL)
            return 0;
        if (kind != JV_STRING || strlen(sb->buf) != sb->len)
            return -1;
        *strs[k] = bk_strbuf_detach(sb);
        return 0;
    }
    if (nums[k]) {
        if (kind != JV_INT)
            return -1;
        *nums[k] = num;
        return 0;
    }
    switch (k) {
    case MK_FORMAT: return kind == JV_INT && num == MANIFEST_FORMAT ? 0 : -1;
    case MK_LEVEL:
        if (kind != JV_INT || num > 22)
            return -1;
        m->level = (int)num;
        return 0;
    case MK_DIGEST: return kind == JV_STRING ? digest_from(sb->buf, m->digest) : -1;
    case MK_PARENT:
        if (kind == JV_NULL)
            return 0;
        if (kind != JV_STRING)
            return -1;
        m->parent = bk_xmalloc(BK_DIGEST_HEX + 1);
        return digest_from(sb->buf, m->parent);
    default: return -1;
    }
}

int bk_archive__manifest_parse(const char *json, size_t len, struct bk_archive_manifest *out)
{
    struct jp j = {json, json + len};
    struct bk_strbuf name = BK_STRBUF_INIT, val = BK_STRBUF_INIT;
    unsigned seen = 0;
    int ok = 0;

    memset(out, 0, sizeof(*out));
    skip_ws(&j);
    if (j.p >= j.end || *j.p++ != '{')
        goto done;
    skip_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
        goto end;
    }
    for (;;) {
        uint64_t num = 0;
        enum jv_kind kind;
        bk_strbuf_reset(&name);
        bk_strbuf_reset(&val);
        skip_ws(&j);
        if (parse_string(&j, &name))
            goto done;
        skip_ws(&j);
        if (j.p >= j.end || *j.p++ != ':')
            goto done;
        skip_ws(&j);
        if (parse_value(&j, &val, &num, &kind))
            goto done;
        for (int k = 0; k < MK_COUNT; k++) {
            if (strcmp(name.buf, k_keys[k]) != 0)
                continue;
            if ((seen & (1u << k)) || store_field((enum mkey)k, kind, &val, num, out))
                goto done;
            seen |= 1u << k;
        }
        skip_ws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}') {
            j.p++;
            break;
        }
        goto done;
    }
end:
    skip_ws(&j);
    ok = j.p == j.end;
done:
    bk_strbuf_release(&name);
    bk_strbuf_release(&val);
    unsigned need = 1u << MK_FORMAT | 1u << MK_DIGEST | 1u << MK_FILES | 1u << MK_ENTRIES |
                    1u << MK_BYTES | 1u << MK_COMPRESSION;
    if (!ok || (seen & need) != need) {
        bk_archive_manifest_release(out);
        return bk_error_set(BK_ECORRUPT, "%s: invalid manifest%s", BK_ARCHIVE_MANIFEST_PATH,
                            ok ? " (a required field is missing)" : "");
    }
    return BK_OK;
}
