/*
 * shell_lex.h - BuildKit's Dockerfile variable expansion, and the variable
 * store it reads.
 *
 * bk_shell_expand() reproduces the word processing BuildKit applies to mount
 * values, ARG defaults, ENV keys and values, WORKDIR and FROM operands
 * (spec section 2.6):
 *
 *  - `$NAME`, `${NAME}`; names are letters, digits and `_`; a name starting
 *    with a digit takes only digits; `$@ $* $# $? $- $$ $! $0` are one-char
 *    special names (never set). A lone `$` stays `$`.
 *  - `${N:-w}` `${N-w}` `${N:+w}` `${N+w}` `${N:?m}` `${N?m}`; the forms with
 *    `:` treat an empty value as unset; `?` fails with "N: m".
 *  - `${N#p}` `${N##p}` `${N%p}` `${N%%p}` (shortest / longest prefix or
 *    suffix), `${N/p/r}` `${N//p/r}` (first / every match); patterns use `*`
 *    and `?`; `\*`, `\?`, `\\` are literal; `.` and `*` never match a newline.
 *  - `'...'` is literal, `"..."` expands `$`; the quotes are removed. The
 *    escape character (backslash or backtick) makes the next char literal.
 *  - `${}`, `${:x}`, `${{x}` are "bad substitution" errors.
 *  - Unset variables expand to "" silently.
 *
 * Expansion is bounded: a word longer than BK_SHELL_MAX_LEN, or patterns
 * needing more than BK_SHELL_MAX_STEPS match steps, fail with BK_EINVAL (a
 * Dockerfile whose ARGs double at each level must not take the machine).
 *
 * Errors are BK_EINVAL with BuildKit's text, e.g.
 * `failed to process "${}": syntax error: bad substitution`; callers prefix
 * the file and line.
 *
 * struct bk_vars is an ordered NAME=VALUE store (later writes replace the
 * value in place, as llb's env list does). It owns its strings.
 */
#ifndef BK_SHELL_LEX_H
#define BK_SHELL_LEX_H

#include <stddef.h>

#define BK_SHELL_MAX_LEN (1u << 20)    /* bytes in one expanded word */
#define BK_SHELL_MAX_STEPS (64u << 20) /* pattern match steps in one word */

struct bk_vars {
    char **names;
    char **values;
    size_t n, alloc;
    size_t *slots; /* open-addressing index: 0 empty, else entry + 1 */
    size_t nslots; /* a power of two, > 2 * n; 0 until the first set */
};

#define BK_VARS_INIT                                                                               \
    {                                                                                              \
        NULL, NULL, 0, 0, NULL, 0                                                                  \
    }

/* Value of `name`, or NULL when unset. Borrowed from the store. */
const char *bk_vars_get(const struct bk_vars *vars, const char *name);
/* Set or replace `name` (keeps its position when it exists). Copies both. */
void bk_vars_set(struct bk_vars *vars, const char *name, const char *value);
/* Replace the contents of `dst` with a copy of `src`. */
void bk_vars_copy(struct bk_vars *dst, const struct bk_vars *src);
void bk_vars_release(struct bk_vars *vars);

/*
 * Expand `word` with `vars` (NULL: nothing is set) and the escape character
 * `escape` ('\\' or '`'). On success *out is a new string the caller frees.
 */
int bk_shell_expand(const char *word, char escape, const struct bk_vars *vars, char **out);

#endif
