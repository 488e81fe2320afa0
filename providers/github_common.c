/*
 * github_common.c - small helpers both service versions (github_v1.c,
 * github_v2.c) and the vtable use; see github_common.h.
 */
#include "providers/github_common.h"

#include "core/util/error.h"
#include "core/util/log.h"

#include <string.h>

void github_auth_header(const struct github *g, struct bk_strvec *headers)
{
    bk_strvec_pushf(headers, "Authorization: Bearer %s", g->cfg.token);
}

int github_exists(const char *key)
{
    return bk_error_set(BK_EEXISTS,
                        "github: key '%s' already exists in this branch's scope (another job "
                        "saved it first)",
                        key);
}

void github_hide_signature(const char *url)
{
    const char *q = strchr(url, '?');
    if (q && strlen(q + 1) >= 4)
        bk_log_add_secret(q + 1);
}
