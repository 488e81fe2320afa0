/*
 * dockerfile_int.h - internals shared by the Dockerfile parser's files.
 *
 * Not for use outside core/dockerfile*.c. The parser is split by job:
 *
 *   dockerfile.c         physical lines, directives, comments, continuations,
 *                        heredoc bodies, line numbers, the public entry points
 *   dockerfile_args.c    one logical line to a node: keyword, flags, arguments
 *                        (per-instruction rules), JSON exec form, ONBUILD
 *   dockerfile_json.c    the JSON array reader (Go encoding/json's rules)
 *   dockerfile_heredoc.c the shell-word lexer that finds heredoc openers
 *   dockerfile_text.c    UTF-8 decoding and Go's notion of white space
 *   dockerfile_dump.c    BuildKit's AST dump and Go string quoting
 *
 * Functions that fail return BK_EINVAL with a bare message (BuildKit's text,
 * no file or line); dockerfile.c prefixes "FILE:LINE: ".
 */
#ifndef BK_DOCKERFILE_INT_H
#define BK_DOCKERFILE_INT_H

#include "core/dockerfile/dockerfile.h"

#include <stddef.h>
#include <stdint.h>

/* ONBUILD triggers nest at most this deep (BuildKit rejects two levels later). */
#define BK_DF_MAX_ONBUILD_DEPTH 64

/* A growable list of byte strings, each NUL-terminated with its length. */
struct bk_df_list {
    char **v;
    size_t *lens;
    size_t n;
    size_t alloc;
};

void bk_df__list_push(struct bk_df_list *l, const char *s, size_t n);
void bk_df__list_free(struct bk_df_list *l);

/* Decode one UTF-8 sequence at p (n > 0 bytes left). Returns its width and
 * stores the code point, or U+FFFD with width 1 for an invalid byte, as Go's
 * utf8.DecodeRune does. */
size_t bk_df__utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);
/* Append the UTF-8 encoding of cp. */
void bk_df__utf8_encode(struct bk_strbuf *sb, uint32_t cp);
/* Go's unicode.IsSpace. */
int bk_df__is_space(uint32_t cp);
/* Width of the white-space rune at p (Go unicode.IsSpace), or 0 if none. */
size_t bk_df__space_at(const char *p, size_t n);
/* strings.TrimSpace: shrink [*s, *s + *n) at both ends. */
void bk_df__trim_space(const char **s, size_t *n);

/* Go's strings.ToLower of s[0..n) appended to sb (ASCII, Latin-1, Latin
 * Extended-A, Greek, Cyrillic, fullwidth, and the Kelvin sign; invalid UTF-8
 * bytes become U+FFFD when the text is not pure ASCII, as in Go). */
void bk_df__lower(struct bk_strbuf *sb, const char *s, size_t n);

/* Go strconv.Quote of n bytes (may hold NUL) appended to sb. */
void bk_df__quote(struct bk_strbuf *sb, const char *s, size_t n);

/* Fill node from one logical line (keyword, flags, rest, args, json, sub). */
int bk_df__parse_line(const char *line, size_t len, char escape, int depth,
                      struct bk_df_node *node);

/* Parse `text` as a JSON array. Returns 1 and fills `out` for an array of
 * strings, 0 when the text is not a valid JSON array, BK_EINVAL (message set)
 * for a valid array holding a non-string. */
int bk_df__parse_json_array(const char *text, size_t len, struct bk_df_list *out);

/* The heredoc openers on a RUN/COPY/ADD line, in order. BK_EINVAL on a
 * malformed opener word; 0 otherwise (possibly with *n == 0). */
int bk_df__find_heredocs(const char *line, size_t len, struct bk_df_heredoc **out, size_t *n);

void bk_df__node_release(struct bk_df_node *node);

#endif
