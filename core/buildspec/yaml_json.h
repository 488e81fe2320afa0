/*
 * yaml_json.h - read a YAML document (a compose file) into a cJSON tree.
 *
 * Compose files are YAML; the compose reader works on cJSON so that the
 * output of `docker compose config --format json` and our own reading of
 * the YAML go through the same code. The conversion keeps what compose
 * needs: mappings, sequences, scalars as strings (`1` and `true` stay the
 * strings "1" and "true", as compose passes them to the build), plain
 * `null`, `~` and empty values as JSON null, anchors and aliases, and merge
 * keys (`<<: *anchor`, `<<: [*a, *b]`; keys already present win).
 *
 * Errors: BK_EINVAL with "FILE:LINE: <libyaml's problem>" for text that is
 * not YAML, and "FILE: not a mapping" when the document is something else.
 */
#ifndef BK_YAML_JSON_H
#define BK_YAML_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Parse `text` (len bytes; `name` for messages) into *out (a cJSON object,
 * caller deletes). */
int bk_yaml_to_json(const char *name, const char *text, size_t len, cJSON **out);

#endif
