/*
 * azure_common.c - what the save (azure.c) and restore (azure_builds.c)
 * sides share: the request helper with its error mapping and pacing, and
 * the branch name rule; see azure_common.h.
 */
#include "providers/azure_common.h"

#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void azure_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

char *azure_normalize_branch(const char *branch)
{
    if (strncmp(branch, "refs/", 5) == 0)
        return bk_xstrdup(branch);
    return bk_xasprintf("refs/heads/%s", branch);
}

/* An optional numeric variable: 0 when unset. */

/* ---- requests ---- */

static int is_html(const struct bk_http_response *resp)
{
    const char *ct = bk_http_header(resp, "content-type");
    return ct && strstr(ct, "text/html");
}

int azure_call(struct azure_provider *az, struct bk_http_request *req,
               const struct bk_strvec *extra, struct bk_http_response *resp, const char *what,
               unsigned flags)
{
    struct bk_strvec hdrs = BK_STRVEC_INIT;
    int has_accept = 0;
    int rc;

    bk_strvec_push(&hdrs, az->cfg.auth_header);
    for (size_t i = 0; extra && i < extra->n; i++) {
        has_accept |= strncasecmp(extra->v[i], "Accept:", 7) == 0;
        bk_strvec_push(&hdrs, extra->v[i]);
    }
    if (!has_accept)
        bk_strvec_push(&hdrs, "Accept: application/json");
    req->headers = &hdrs;
    char *where = bk_http_url_for_log(req->url);
    bk_debug("azure: %s %s", req->method, where);
    free(where);
    rc = bk_http_do(req, resp);
    req->headers = NULL;
    bk_strvec_clear(&hdrs);
    if (rc)
        return bk_error_wrap(rc, "%s", what);
    if ((flags & AZURE_CALL_REDIRECT) && resp->status >= 300 && resp->status < 400 &&
        bk_http_header(resp, "location"))
        return BK_OK;
    if ((rc = bk_http_check(resp, what)))
        return rc;
    if (is_html(resp))
        return bk_error_set(BK_EDENIED,
                            "%s: HTTP %ld with a sign-in page: the token is missing or invalid",
                            what, resp->status);
    long delay = bk_http_retry_after_ms(resp);
    if (delay > 0) {
        if (delay > 60000)
            delay = 60000;
        bk_progress("azure: the service asks to slow down; waiting %ld ms", delay);
        azure_sleep_ms(delay);
    }
    return BK_OK;
}
