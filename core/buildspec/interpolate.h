/*
 * interpolate.h - compose's variable interpolation, and the `.env` file.
 *
 * Compose replaces variables in every value of a compose file:
 *   $VAR, ${VAR}          the value, "" when unset
 *   ${VAR:-default}       default when VAR is unset or empty
 *   ${VAR-default}        default when VAR is unset
 *   ${VAR:?message}       an error when VAR is unset or empty
 *   ${VAR?message}        an error when VAR is unset
 *   ${VAR:+other}         other when VAR is set and not empty, else ""
 *   ${VAR+other}          other when VAR is set, else ""
 *   $$                    a literal $
 * Defaults and messages may themselves hold variables.
 */
#ifndef BK_INTERPOLATE_H
#define BK_INTERPOLATE_H

#include "core/util/strvec.h"

/* Where variables come from: returns the value or NULL when unset. */
struct bk_vars_lookup {
    const char *(*get)(const char *name, void *arg);
    void *arg;
};

/* Interpolate `in` into *out (caller frees). BK_EINVAL with "variable VAR:
 * message" (or "... is required") for a ${VAR?...} whose variable is
 * missing, or for an unterminated ${. */
int bk_interpolate(const char *in, const struct bk_vars_lookup *vars, char **out);

/* Read a `.env` file into "K=V" strings appended to `out`: one assignment
 * per line, `#` comments and blank lines skipped, `export ` allowed, values
 * in single quotes taken as written, in double quotes with \n and \"
 * unescaped, unquoted ones trimmed and cut at " #". A missing file is BK_OK
 * with nothing added when `optional`, else BK_EINVAL naming it. */
int bk_dotenv_read(const char *path, int optional, struct bk_strvec *out);

#endif
