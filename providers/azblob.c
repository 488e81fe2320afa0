/*
 * azblob.c - Azure Blob Storage (`--provider azblob`, `--store
 * azblob://ACCOUNT/CONTAINER/PREFIX`), with Shared Key or SAS credentials
 * from the environment (azblob.h). Azurite works through endpoint=.
 *
 * Layout: as the s3 store, one block blob per entry named PREFIX + KEY +
 * ".tar.zst"; restore keys are name prefixes answered by List Blobs, and
 * the blob's Last-Modified is the entry's creation time (last_used stays
 * 0). list() and prune see only blobs under PREFIX ending in ".tar.zst".
 *
 * Transfers are core/net/blob.c's, shared with the GitHub provider: Put Blob
 * up to one block, else Put Block in parallel plus Put Block List; ranged
 * parallel GETs that resume a cut response. Each block is retried on its
 * own there; everything else returns BK_ETRANSIENT for core to retry.
 * The first upload into a container that does not exist creates it.
 *
 * Concurrency: two saves of one key both commit their own block list; the
 * last commit wins atomically, so readers see one whole archive. Caps:
 * list and delete.
 */
#include "providers/azblob.h"

#include "core/net/blob.h"
#include "core/util/error.h"
#include "core/net/http.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"
#include "providers/s3.h"

#include <stdlib.h>
#include <string.h>

extern const struct bk_provider_ops bk_provider_azblob;

struct az_store {
    struct bk_provider base;
    struct azblob_config c;
};

static int az_sign(void *payload, const char *method, const char *url, uint64_t content_length,
                   struct bk_strvec *headers)
{
    struct az_store *s = payload;
    return azblob_sign_shared_key(s->c.account, s->c.key, method, url, content_length, headers,
                                  NULL);
}

static void target_of(struct az_store *s, const char *url, struct bk_blob_target *t)
{
    memset(t, 0, sizeof(*t));
    t->url = url;
    t->sign = s->c.key ? az_sign : NULL;
    t->sign_payload = s;
}

static void opts_of(const struct az_store *s, struct bk_blob_opts *o, const char *label)
{
    memset(o, 0, sizeof(*o));
    o->block_size = s->c.block_size;
    o->single_put_max = s->c.block_size;
    o->parallel = s->c.parallel;
    o->label = label;
}

/* One request with no body beyond `body`; signed when a key is set. */
static int az_request(struct az_store *s, const char *method, const char *url, const char *body,
                      struct bk_http_response *resp, const char *what)
{
    struct bk_strvec h = BK_STRVEC_INIT;
    struct bk_http_request req;
    int rc = BK_OK;

    bk_strvec_push(&h, "x-ms-version: " BK_BLOB_API_VERSION);
    bk_http_request_init(&req, method, url);
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.headers = &h;
    if (s->c.key)
        rc = az_sign(s, method, url, req.body_len, &h);
    if (!rc)
        rc = bk_http_do(&req, resp);
    if (!rc)
        rc = s3_xml_check(resp, what);
    else
        bk_error_wrap(rc, "%s", what);
    bk_strvec_clear(&h);
    return rc;
}

static char *blob_name(const struct az_store *s, const char *key)
{
    return s3_layout_name(s->c.prefix, key);
}

/* "container?restype=container&comp=list..." with the SAS kept. */
static char *container_url(const struct az_store *s, const char *query)
{
    char *base = azblob_url(&s->c, NULL);
    char *url = bk_xasprintf("%s%c%s", base, strchr(base, '?') ? '&' : '?', query);
    free(base);
    return url;
}

/* ---- listing ---- */

static const struct s3_list_format k_list_format = {"Blob", "Name", "Content-Length",
                                                    "Last-Modified"};

/* Every entry whose key starts with `key_prefix` ("" for all), following
 * markers. */
static int list_prefix(struct bk_provider *pr, const char *key_prefix, struct s3_entries *es)
{
    struct az_store *s = (struct az_store *)pr;
    char *marker = NULL;
    int rc;

    do {
        struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
        char *full = bk_xasprintf("%s%s", s->c.prefix, key_prefix);
        char *p = bk_http_urlencode(full);
        char *m = marker ? bk_http_urlencode(marker) : NULL;
        char *q = bk_xasprintf("restype=container&comp=list&maxresults=%d&prefix=%s%s%s",
                               s->c.list_page, p, m ? "&marker=" : "", m ? m : "");
        char *url = container_url(s, q);
        free(full);
        free(p);
        free(m);
        free(q);
        free(marker);
        marker = NULL;
        rc = az_request(s, "GET", url, NULL, &resp, "azblob: list blobs");
        if (!rc) {
            struct s3_xml_span doc = {resp.body.buf, resp.body.len};
            marker = s3_xml_text(&doc, "NextMarker");
            if (marker && !*marker) {
                free(marker);
                marker = NULL;
            }
            s3_entries_parse(es, s->c.prefix, &k_list_format, &resp.body);
        }
        bk_http_response_release(&resp);
        free(url);
    } while (!rc && marker);
    free(marker);
    return rc;
}

/* ---- slots ---- */

static int az_create(const struct bk_provider_config *cfg, struct bk_provider **out)
{
    struct az_store *s = bk_xcalloc(1, sizeof(*s));
    int rc = azblob_parse_config(cfg, &s->c);
    if (rc) {
        free(s);
        return rc;
    }
    if (s->c.key)
        bk_log_add_secret(s->c.key);
    if (s->c.sas) {
        /* the signature is the secret part of a SAS */
        const char *sig = strstr(s->c.sas, "sig=");
        bk_log_add_secret(s->c.sas);
        if (sig) {
            char *v = bk_xstrndup(sig + 4, strcspn(sig + 4, "&"));
            bk_log_add_secret(v);
            free(v);
        }
    }
    s->base.ops = &bk_provider_azblob;
    *out = &s->base;
    return BK_OK;
}

static int blob_request(struct bk_provider *p, const char *method, const char *name,
                        struct bk_http_response *resp, const char *what)
{
    struct az_store *s = (struct az_store *)p;
    char *url = azblob_url(&s->c, name);
    int rc = az_request(s, method, url, NULL, resp, what);
    free(url);
    return rc;
}

static const struct s3_queries k_queries = {"azblob", blob_request, list_prefix};

static int az_lookup(struct bk_provider *p, const struct bk_lookup *q,
                     struct bk_provider_entry *out)
{
    return s3_layout_lookup(&k_queries, p, ((struct az_store *)p)->c.prefix, q, out);
}

static int az_download(struct bk_provider *p, const struct bk_provider_entry *e, int fd)
{
    struct az_store *s = (struct az_store *)p;
    char *name = e->handle ? bk_xstrdup(e->handle) : blob_name(s, e->key);
    char *url = azblob_url(&s->c, name);
    char *label = bk_xasprintf("azblob: get %s", e->key);
    struct bk_blob_target t;
    struct bk_blob_opts o;

    target_of(s, url, &t);
    opts_of(s, &o, label);
    int rc = bk_blob_download(&t, fd, &o, NULL);
    free(label);
    free(url);
    free(name);
    return rc;
}

static int create_container(struct az_store *s)
{
    struct bk_http_response resp = BK_HTTP_RESPONSE_INIT;
    char *url = container_url(s, "restype=container");
    int rc = az_request(s, "PUT", url, NULL, &resp, "azblob: create container");
    if (rc == BK_EEXISTS) /* another runner was first */
        rc = BK_OK;
    bk_http_response_release(&resp);
    free(url);
    return rc;
}

static int az_upload(struct bk_provider *p, const struct bk_upload *u, int fd)
{
    struct az_store *s = (struct az_store *)p;
    char *name = blob_name(s, u->key);
    char *url = azblob_url(&s->c, name);
    char *label = bk_xasprintf("azblob: put %s", u->key);
    struct bk_blob_target t;
    struct bk_blob_opts o;

    target_of(s, url, &t);
    opts_of(s, &o, label);
    int rc = bk_blob_upload(&t, fd, u->size, &o);
    if (rc == BK_ENOTFOUND) {
        bk_info("azblob: creating container %s", s->c.container);
        rc = create_container(s);
        if (!rc)
            rc = bk_blob_upload(&t, fd, u->size, &o);
    }
    free(label);
    free(url);
    free(name);
    return rc;
}

static int az_list(struct bk_provider *p, bk_entry_cb cb, void *payload)
{
    return s3_layout_list(&k_queries, p, cb, payload);
}

static int az_remove(struct bk_provider *p, const struct bk_provider_entry *e)
{
    return s3_layout_remove(&k_queries, p, ((struct az_store *)p)->c.prefix, e);
}

static void az_destroy(struct bk_provider *p)
{
    struct az_store *s = (struct az_store *)p;
    if (!s)
        return;
    azblob_config_release(&s->c);
    free(s);
}

const struct bk_provider_ops bk_provider_azblob = {
    .name = "azblob",                                        /* name */
    .scheme = "azblob",                                      /* scheme */
    .caps = BK_CAP_DELETE | BK_CAP_LIST | BK_CAP_THREADSAFE, /* caps */
    .detect = NULL,                                          /* detect: only when asked for */
    .create = az_create,                                     /* create */
    .lookup = az_lookup,                                     /* lookup */
    .download = az_download,                                 /* download */
    .upload = az_upload,                                     /* upload */
    .list = az_list,                                         /* list */
    .remove = az_remove,                                     /* remove */
    .destroy = az_destroy,                                   /* destroy */
};
