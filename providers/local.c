/*
 * local.c - PLACEHOLDER for the local directory store (issue 3).
 */
#include "providers/provider.h"

const struct bk_provider_ops bk_provider_local = {
    .name = "local",
};
