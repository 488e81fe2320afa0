/*
 * provider_config.h - a provider configuration with a fake environment,
 * for unit tests of <provider>_parse_config() functions.
 *
 *     const char *const env[] = { "AWS_REGION=eu-west-1", NULL };
 *     struct bk_test_config t;
 *     bk_test_config_init(&t, "s3://bucket/prefix", env, NULL);
 *     rc = s3_parse_config(&t.cfg, &c);
 *     bk_test_config_release(&t);
 *
 * The environment is process-wide (one test at a time): `env` must stay
 * valid until the configuration is released; attrs are copied.
 */
#ifndef BK_TEST_PROVIDER_CONFIG_H
#define BK_TEST_PROVIDER_CONFIG_H

#include "core/util/strvec.h"
#include "providers/provider.h"

struct bk_test_config {
    struct bk_provider_config cfg;
    struct bk_strvec attrs;
};

/* `env` and `attrs` are NULL-terminated "NAME=value" lists, or NULL. */
void bk_test_config_init(struct bk_test_config *t, const char *store, const char *const *env,
                         const char *const *attrs);
void bk_test_config_release(struct bk_test_config *t);

#endif
