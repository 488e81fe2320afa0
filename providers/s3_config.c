/*
 * s3_config.c - the s3 provider's configuration and object URLs; see s3.h
 * for the precedence of --store-opt words, environment and defaults.
 *
 * Pure: reads only cfg (store, attrs, getenv), so unit tests cover every
 * case without a network. Secrets are copied here and registered with the
 * log scrubber by the provider's create(), not here.
 */
#include "providers/s3.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_bool(const char *name, const char *v, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0)
        *out = 0;
    else
        return bk_error_set(BK_EINVAL, "--store-opt %s: expected true or false, got '%s'", name, v);
    return BK_OK;
}

int s3_parse_number(const char *name, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    uint64_t mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1ull << 10;
    else if (*end == 'M' || *end == 'm')
        mul = 1ull << 20;
    else if (*end == 'G' || *end == 'g')
        mul = 1ull << 30;
    if (mul > 1)
        end++;
    if (errno || end == v || *end || *v == '-' || n * mul < lo || n * mul > hi)
        return bk_error_set(BK_EINVAL,
                            "--store-opt %s: expected a number from %llu to %llu, got '%s'", name,
                            (unsigned long long)lo, (unsigned long long)hi, v);
    *out = (uint64_t)n * mul;
    return BK_OK;
}

/* "s3://bucket/a/b/" -> bucket "bucket", prefix "a/b/". */
static int parse_store(const char *store, struct s3_config *c)
{
    if (!store || strncmp(store, "s3://", 5) != 0)
        return bk_error_set(BK_EINVAL, "s3: --store must be s3://BUCKET[/PREFIX], got '%s'",
                            store ? store : "(none)");
    const char *b = store + 5;
    size_t blen = strcspn(b, "/");
    if (blen == 0 || blen > 63)
        return bk_error_set(BK_EINVAL, "s3: --store '%s': missing or overlong bucket name", store);
    for (size_t i = 0; i < blen; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
              b[i] == '.' || b[i] == '_'))
            return bk_error_set(BK_EINVAL, "s3: --store '%s': invalid bucket name", store);
    c->bucket = bk_xstrndup(b, blen);

    const char *p = b + blen;
    while (*p == '/')
        p++;
    struct bk_strbuf sb = BK_STRBUF_INIT;
    bk_strbuf_adds(&sb, p);
    while (sb.len && sb.buf[sb.len - 1] == '/')
        sb.buf[--sb.len] = '\0';
    if (sb.len)
        bk_strbuf_addch(&sb, '/');
    c->prefix = bk_strbuf_detach(&sb);
    return BK_OK;
}

static const char *pick(const struct bk_provider_config *cfg, const char *attr, const char *env1,
                        const char *env2)
{
    const char *v = attr ? bk_provider_attr(cfg, attr) : NULL;
    if (v && *v)
        return v;
    v = env1 ? bk_provider_env(cfg, env1) : NULL;
    if (!v && env2)
        v = bk_provider_env(cfg, env2);
    return v;
}

int s3_parse_config(const struct bk_provider_config *cfg, struct s3_config *out)
{
    struct s3_config c;
    const char *v;
    uint64_t n;

    memset(&c, 0, sizeof(c));
    memset(out, 0, sizeof(*out));
    if (parse_store(cfg->store, &c))
        goto fail;

    v = pick(cfg, "region", "AWS_REGION", "AWS_DEFAULT_REGION");
    c.region = bk_xstrdup(v ? v : S3_DEFAULT_REGION);

    v = pick(cfg, "endpoint", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    c.path_style = strchr(c.bucket, '.') != NULL;
    if (v) {
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
            bk_error_set(BK_EINVAL, "s3: endpoint '%s' must start with http:// or https://", v);
            goto fail;
        }
        struct bk_strbuf sb = BK_STRBUF_INIT;
        bk_strbuf_adds(&sb, v);
        while (sb.len && sb.buf[sb.len - 1] == '/')
            sb.buf[--sb.len] = '\0';
        c.endpoint = bk_strbuf_detach(&sb);
        c.path_style = 1;
    } else {
        c.endpoint = bk_xasprintf("https://s3.%s.amazonaws.com", c.region);
    }
    v = bk_provider_attr(cfg, "path-style");
    if (v && parse_bool("path-style", v, &c.path_style))
        goto fail;

    v = bk_provider_env(cfg, "AWS_ACCESS_KEY_ID");
    if (!v) {
        bk_error_set(BK_EINVAL, "s3: AWS_ACCESS_KEY_ID is not set");
        goto fail;
    }
    c.access_key = bk_xstrdup(v);
    v = bk_provider_env(cfg, "AWS_SECRET_ACCESS_KEY");
    if (!v) {
        bk_error_set(BK_EINVAL, "s3: AWS_SECRET_ACCESS_KEY is not set");
        goto fail;
    }
    c.secret_key = bk_xstrdup(v);
    v = bk_provider_env(cfg, "AWS_SESSION_TOKEN");
    c.session_token = v ? bk_xstrdup(v) : NULL;

    c.part_size = S3_DEFAULT_PART_SIZE;
    v = bk_provider_attr(cfg, "part-size");
    if (v && s3_parse_number("part-size", v, S3_MIN_PART_SIZE, 5ull << 30, &c.part_size))
        goto fail;
    c.parallel = S3_DEFAULT_PARALLEL;
    v = bk_provider_attr(cfg, "parallel");
    if (v) {
        if (s3_parse_number("parallel", v, 1, 64, &n))
            goto fail;
        c.parallel = (int)n;
    }
    c.list_page = 1000;
    v = bk_provider_attr(cfg, "list-page");
    if (v) {
        if (s3_parse_number("list-page", v, 1, 1000, &n))
            goto fail;
        c.list_page = (int)n;
    }
    *out = c;
    return BK_OK;
fail:
    s3_config_release(&c);
    return BK_EINVAL;
}

void s3_config_release(struct s3_config *c)
{
    free(c->bucket);
    free(c->prefix);
    free(c->region);
    free(c->endpoint);
    free(c->access_key);
    if (c->secret_key)
        memset(c->secret_key, 0, strlen(c->secret_key));
    free(c->secret_key);
    free(c->session_token);
    memset(c, 0, sizeof(*c));
}

char *s3_object_url(const struct s3_config *c, const char *object_key)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    const char *host = strstr(c->endpoint, "://") + 3;

    if (c->path_style) {
        bk_strbuf_addf(&sb, "%s/%s/", c->endpoint, c->bucket);
    } else {
        bk_strbuf_add(&sb, c->endpoint, (size_t)(host - c->endpoint));
        bk_strbuf_addf(&sb, "%s.%s/", c->bucket, host);
    }
    if (object_key) {
        char *enc = s3_uri_encode(object_key, strlen(object_key), 1);
        bk_strbuf_adds(&sb, enc);
        free(enc);
    }
    return bk_strbuf_detach(&sb);
}
