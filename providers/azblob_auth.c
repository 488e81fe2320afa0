/*
 * azblob_auth.c - Azure Blob configuration and Shared Key signing; see
 * azblob.h. Pure: reads only cfg and its arguments.
 *
 * Shared Key's string to sign is the verb, eleven standard headers (empty
 * when absent; Content-Length empty when 0), the x-ms-* headers lowercased
 * and sorted as "name:value", and the canonical resource: "/" ACCOUNT, the
 * URL path as sent, then one "\nname:value" line per query parameter,
 * names lowercased and sorted, values decoded. It is signed with
 * HMAC-SHA256 under the base64-decoded account key.
 */
#include "providers/azblob.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"
#include "providers/s3.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- configuration ---- */

/* Value of `name` in a "k=v;k=v" connection string, or NULL. Caller frees. */
static char *conn_get(const char *conn, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = conn; p && *p;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == '=')
            return bk_xstrndup(p + n + 1, len - n - 1);
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

static char *strip_slashes(const char *s)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    bk_strbuf_adds(&sb, s);
    while (sb.len && sb.buf[sb.len - 1] == '/')
        sb.buf[--sb.len] = '\0';
    return bk_strbuf_detach(&sb);
}

static int parse_store(const char *store, struct azblob_config *c)
{
    const char *p = store && strncmp(store, "azblob://", 9) == 0 ? store + 9 : NULL;
    size_t alen = p ? strcspn(p, "/") : 0;
    size_t clen = alen && p[alen] == '/' ? strcspn(p + alen + 1, "/") : 0;
    if (!alen || !clen)
        return bk_error_set(BK_EINVAL,
                            "azblob: --store must be azblob://ACCOUNT/CONTAINER[/PREFIX], got '%s'",
                            store ? store : "(none)");
    if (clen < 3 || clen > 63 ||
        strspn(p + alen + 1, "abcdefghijklmnopqrstuvwxyz0123456789-") < clen)
        return bk_error_set(BK_EINVAL,
                            "azblob: --store '%s': a container name is 3 to 63 lowercase letters, "
                            "digits and hyphens",
                            store);
    c->account = bk_xstrndup(p, alen);
    c->container = bk_xstrndup(p + alen + 1, clen);
    const char *rest = p + alen + 1 + clen;
    while (*rest == '/')
        rest++;
    char *pre = strip_slashes(rest);
    c->prefix = *pre ? bk_xasprintf("%s/", pre) : bk_xstrdup("");
    free(pre);
    return BK_OK;
}

static int parse_credentials(const struct bk_provider_config *cfg, struct azblob_config *c,
                             char **endpoint)
{
    const char *conn = bk_provider_env(cfg, "AZURE_STORAGE_CONNECTION_STRING");
    const char *v;

    if (conn) {
        char *name = conn_get(conn, "AccountName");
        char *blob = conn_get(conn, "BlobEndpoint");
        char *proto = conn_get(conn, "DefaultEndpointsProtocol");
        char *suffix = conn_get(conn, "EndpointSuffix");
        int rc = BK_OK;
        c->key = conn_get(conn, "AccountKey");
        c->sas = conn_get(conn, "SharedAccessSignature");
        if (name && strcmp(name, c->account) != 0)
            rc = bk_error_set(BK_EINVAL,
                              "azblob: AZURE_STORAGE_CONNECTION_STRING is for account '%s', "
                              "--store names '%s'",
                              name, c->account);
        else if (!c->key && !c->sas)
            rc = bk_error_set(BK_EINVAL, "azblob: AZURE_STORAGE_CONNECTION_STRING has neither "
                                         "AccountKey nor SharedAccessSignature");
        if (blob)
            *endpoint = strip_slashes(blob);
        else if (suffix)
            *endpoint =
                bk_xasprintf("%s://%s.blob.%s", proto ? proto : "https", c->account, suffix);
        free(name);
        free(blob);
        free(proto);
        free(suffix);
        return rc;
    }
    v = bk_provider_env(cfg, "AZURE_STORAGE_KEY");
    if (v) {
        const char *acct = bk_provider_env(cfg, "AZURE_STORAGE_ACCOUNT");
        if (acct && strcmp(acct, c->account) != 0)
            return bk_error_set(BK_EINVAL,
                                "azblob: AZURE_STORAGE_ACCOUNT is '%s', --store names '%s'", acct,
                                c->account);
        c->key = bk_xstrdup(v);
        return BK_OK;
    }
    v = bk_provider_env(cfg, "AZURE_STORAGE_SAS_TOKEN");
    if (v) {
        c->sas = bk_xstrdup(*v == '?' ? v + 1 : v);
        return BK_OK;
    }
    return bk_error_set(BK_EINVAL, "azblob: no credentials: set AZURE_STORAGE_CONNECTION_STRING, "
                                   "AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN");
}

int azblob_parse_config(const struct bk_provider_config *cfg, struct azblob_config *out)
{
    struct azblob_config c;
    char *endpoint = NULL;
    const char *v;
    uint64_t n;

    memset(&c, 0, sizeof(c));
    memset(out, 0, sizeof(*out));
    if (parse_store(cfg->store, &c) || parse_credentials(cfg, &c, &endpoint))
        goto fail;
    v = bk_provider_attr(cfg, "endpoint");
    if (v) {
        free(endpoint);
        endpoint = strip_slashes(v);
    }
    if (endpoint && strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
        bk_error_set(BK_EINVAL, "azblob: endpoint '%s' must start with http:// or https://",
                     endpoint);
        goto fail;
    }
    c.endpoint = endpoint ? endpoint : bk_xasprintf("https://%s.blob.core.windows.net", c.account);
    endpoint = NULL;

    c.block_size = AZBLOB_DEFAULT_BLOCK;
    v = bk_provider_attr(cfg, "block-size");
    if (v && s3_parse_number("block-size", v, 1ull << 20, 4000ull << 20, &c.block_size))
        goto fail;
    c.parallel = AZBLOB_DEFAULT_PARALLEL;
    v = bk_provider_attr(cfg, "parallel");
    if (v) {
        if (s3_parse_number("parallel", v, 1, 64, &n))
            goto fail;
        c.parallel = (int)n;
    }
    c.list_page = 5000;
    v = bk_provider_attr(cfg, "list-page");
    if (v) {
        if (s3_parse_number("list-page", v, 1, 5000, &n))
            goto fail;
        c.list_page = (int)n;
    }
    *out = c;
    return BK_OK;
fail:
    free(endpoint);
    azblob_config_release(&c);
    return BK_EINVAL;
}

void azblob_config_release(struct azblob_config *c)
{
    free(c->account);
    free(c->container);
    free(c->prefix);
    free(c->endpoint);
    if (c->key)
        memset(c->key, 0, strlen(c->key));
    free(c->key);
    free(c->sas);
    memset(c, 0, sizeof(*c));
}

static char *encode_path(const char *s)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-_.~/", *p))
            bk_strbuf_addch(&sb, (char)*p);
        else
            bk_strbuf_addf(&sb, "%%%02X", *p);
    }
    return bk_strbuf_detach(&sb);
}

char *azblob_url(const struct azblob_config *c, const char *name)
{
    char *path = name ? encode_path(name) : NULL;
    char *url = bk_xasprintf("%s/%s%s%s%s%s", c->endpoint, c->container, path ? "/" : "",
                             path ? path : "", c->sas ? "?" : "", c->sas ? c->sas : "");
    free(path);
    return url;
}

/* ---- Shared Key ---- */

/* "\nname:value" per query parameter, sorted by lowercased name. */
static void add_query(struct bk_strbuf *sb, const char *q)
{
    struct bk_strvec keys = BK_STRVEC_INIT, values = BK_STRVEC_INIT, parts = BK_STRVEC_INIT;
    s3_query_split(q, 0, &keys, &values);
    for (size_t i = 0; i < keys.n; i++) {
        for (char *p = keys.v[i]; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        bk_strvec_pushf(&parts, "%s:%s", keys.v[i], values.v[i]);
    }
    s3_sort_strings(&parts);
    for (size_t i = 0; i < parts.n; i++)
        bk_strbuf_addf(sb, "\n%s", parts.v[i]);
    bk_strvec_clear(&parts);
    bk_strvec_clear(&keys);
    bk_strvec_clear(&values);
}

int azblob_sign_shared_key(const char *account, const char *key_b64, const char *method,
                           const char *url, uint64_t content_length, struct bk_strvec *headers,
                           const char *date)
{
    static const char *const k_std[] = {"Content-Encoding",
                                        "Content-Language",
                                        NULL,
                                        "Content-MD5",
                                        "Content-Type",
                                        "Date",
                                        "If-Modified-Since",
                                        "If-Match",
                                        "If-None-Match",
                                        "If-Unmodified-Since",
                                        "Range"};
    unsigned char key[128], mac[EVP_MAX_MD_SIZE];
    unsigned char sig[96];
    unsigned int maclen = 0;
    char now[64];
    const char *host = strstr(url, "://");
    const char *path = host ? host + 3 + strcspn(host + 3, "/?") : NULL;

    if (!path)
        return bk_error_set(BK_ERR, "azblob: not an absolute URL");
    size_t klen = strlen(key_b64);
    if (klen == 0 || klen > 4 * (sizeof(key) / 3) || klen % 4)
        return bk_error_set(BK_EINVAL, "azblob: the account key is not base64");
    int n = EVP_DecodeBlock(key, (const unsigned char *)key_b64, (int)klen);
    if (n < 0)
        return bk_error_set(BK_EINVAL, "azblob: the account key is not base64");
    while (klen && key_b64[klen - 1] == '=') { /* EVP_DecodeBlock keeps padding bytes */
        n--;
        klen--;
    }
    if (!date) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        date = now;
    }
    bk_strvec_pushf(headers, "x-ms-date: %s", date);

    struct bk_strbuf sts = BK_STRBUF_INIT;
    struct bk_strvec ms = BK_STRVEC_INIT;
    bk_strbuf_addf(&sts, "%s\n", method);
    for (size_t i = 0; i < sizeof(k_std) / sizeof(k_std[0]); i++) {
        if (!k_std[i]) { /* Content-Length */
            if (content_length)
                bk_strbuf_addf(&sts, "%llu", (unsigned long long)content_length);
            bk_strbuf_addch(&sts, '\n');
            continue;
        }
        const char *v = s3_header_value(headers, k_std[i]);
        bk_strbuf_addf(&sts, "%s\n", v ? v : "");
    }
    for (size_t i = 0; i < headers->n; i++) {
        const char *h = headers->v[i], *colon = strchr(h, ':');
        if (!colon || strncasecmp(h, "x-ms-", 5) != 0)
            continue;
        struct bk_strbuf line = BK_STRBUF_INIT;
        for (const char *p = h; p < colon; p++)
            bk_strbuf_addch(&line, (char)tolower((unsigned char)*p));
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        bk_strbuf_addf(&line, ":%s", v);
        bk_strvec_push_nodup(&ms, bk_strbuf_detach(&line));
    }
    s3_sort_strings(&ms);
    for (size_t i = 0; i < ms.n; i++)
        bk_strbuf_addf(&sts, "%s\n", ms.v[i]);
    const char *q = strchr(path, '?');
    bk_strbuf_addf(&sts, "/%s%.*s", account, (int)(q ? (size_t)(q - path) : strlen(path)), path);
    add_query(&sts, q ? q + 1 : NULL);

    HMAC(EVP_sha256(), key, n, (const unsigned char *)sts.buf, sts.len, mac, &maclen);
    EVP_EncodeBlock(sig, mac, (int)maclen);
    bk_strvec_pushf(headers, "Authorization: SharedKey %s:%s", account, sig);
    memset(key, 0, sizeof(key));
    bk_strbuf_release(&sts);
    bk_strvec_clear(&ms);
    return BK_OK;
}
