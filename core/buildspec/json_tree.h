/*
 * json_tree.h - what the compose and bake readers do to cJSON trees:
 * merge one file (or an `extends`/`inherits` base) into another,
 * interpolate every string, and collect a list of strings.
 */
#ifndef BK_JSON_TREE_H
#define BK_JSON_TREE_H

#include "core/buildspec/interpolate.h"
#include "core/util/strvec.h"

#include <cjson/cJSON.h>

/* Merge `over` into `base`: mappings key by key (recursively), anything
 * else replaced by a copy of `over`'s value. */
void bk_json_merge(cJSON *base, const cJSON *over);

/* Interpolate every string in `node` in place; the first error is returned
 * (message set) and the rest left as they were. */
int bk_json_interpolate(cJSON *node, const struct bk_vars_lookup *vars);

/* Push the strings of `node`: each string of an array, or `node` itself
 * when it is a string. */
void bk_json_push_strings(struct bk_strvec *out, const cJSON *node);

#endif
