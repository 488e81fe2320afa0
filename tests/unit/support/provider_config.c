/*
 * provider_config.c - a provider configuration with a fake environment;
 * see provider_config.h.
 */
#include "tests/unit/support/provider_config.h"

#include <string.h>

static const char *const *g_env;

static const char *fake_getenv(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; g_env && g_env[i]; i++)
        if (strncmp(g_env[i], name, n) == 0 && g_env[i][n] == '=')
            return g_env[i] + n + 1;
    return NULL;
}

void bk_test_config_init(struct bk_test_config *t, const char *store, const char *const *env,
                         const char *const *attrs)
{
    memset(t, 0, sizeof(*t));
    t->attrs = (struct bk_strvec)BK_STRVEC_INIT;
    for (size_t i = 0; attrs && attrs[i]; i++)
        bk_strvec_push(&t->attrs, attrs[i]);
    g_env = env;
    t->cfg.store = store;
    t->cfg.attrs = &t->attrs;
    t->cfg.getenv = fake_getenv;
}

void bk_test_config_release(struct bk_test_config *t)
{
    bk_strvec_clear(&t->attrs);
    g_env = NULL;
}
