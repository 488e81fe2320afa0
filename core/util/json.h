/*
 * json.h - reading JSON files and fields (cJSON underneath).
 *
 * The typed field readers return the value when the field exists and has
 * that type, and NULL otherwise, so a reader of a service's reply or
 * of a sidecar file never dereferences a missing or mistyped field.
 */
#ifndef BK_JSON_H
#define BK_JSON_H

/* Read and parse the JSON file at `path` into *out (a cJSON *, freed with
 * cJSON_Delete). BK_ENOTFOUND when missing, BK_ECORRUPT when not JSON. */
int bk_json_read_file(const char *path, void **out);

/* The string value of obj's field `name` (obj is a const cJSON *), or NULL
 * when the field is missing or not a string. The result belongs to obj. */
const char *bk_json_str(const void *obj, const char *name);

#endif
