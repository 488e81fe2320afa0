/*
 * ca_bundle.c - the CA bundle lookup; see ca_bundle.h.
 */
#include "core/net/ca_bundle.h"

#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const BK_CA_BUNDLE_PATHS[] = {
    "/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu, Arch, Gentoo */
    "/etc/pki/tls/certs/ca-bundle.crt",                  /* Fedora, RHEL */
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL, CentOS */
    "/etc/ssl/ca-bundle.pem",                            /* openSUSE */
    "/etc/ssl/cert.pem",                                 /* Alpine */
    "/etc/pki/tls/cacert.pem",                           /* OpenELEC */
    NULL,
};

static int readable(const char *path)
{
    return path && path[0] && access(path, R_OK) == 0;
}

int bk_ca_bundle_pick(const char *env_file, const char *env_dir, const char *built_in,
                      const char *const *candidates, struct bk_ca_bundle *out)
{
    out->file = NULL;
    out->dir = NULL;
    if (env_file && env_file[0]) {
        if (!readable(env_file))
            return bk_error_set(BK_ERR, "SSL_CERT_FILE=%s: cannot read the CA bundle: %s", env_file,
                                strerror(errno));
        out->file = env_file;
    }
    if (env_dir && env_dir[0])
        out->dir = env_dir;
    if (out->file || out->dir)
        return BK_OK;
    if (readable(built_in)) {
        out->file = built_in;
        return BK_OK;
    }
    for (size_t i = 0; candidates[i]; i++) {
        if (readable(candidates[i])) {
            out->file = candidates[i];
            return BK_OK;
        }
    }
    struct bk_strbuf where = BK_STRBUF_INIT;
    if (built_in && built_in[0])
        bk_strbuf_adds(&where, built_in);
    for (size_t i = 0; candidates[i]; i++) {
        if (where.len)
            bk_strbuf_adds(&where, ", ");
        bk_strbuf_adds(&where, candidates[i]);
    }
    bk_error_set(BK_ERR,
                 "no CA certificate bundle found for https (looked in %s); "
                 "set SSL_CERT_FILE to a PEM bundle",
                 where.len ? where.buf : "no place");
    bk_strbuf_release(&where);
    return BK_ERR;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static struct bk_ca_bundle g_bundle;
static int g_rc;
static char *g_msg;

static void lookup_once(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    const char *built_in = v && v->age >= CURLVERSION_SEVENTH ? v->cainfo : NULL;

    g_rc = bk_ca_bundle_pick(getenv("SSL_CERT_FILE"), getenv("SSL_CERT_DIR"), built_in,
                             BK_CA_BUNDLE_PATHS, &g_bundle);
    if (g_rc)
        g_msg = strdup(bk_error_msg());
}

int bk_ca_bundle_get(struct bk_ca_bundle *out)
{
    pthread_once(&g_once, lookup_once);
    *out = g_bundle;
    if (g_rc)
        return bk_error_set(g_rc, "%s", g_msg ? g_msg : "no CA certificate bundle found");
    return BK_OK;
}
