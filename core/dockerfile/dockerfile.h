/*
 * dockerfile.h - the low-level Dockerfile parser: bytes to instructions.
 *
 * core/dockerfile/ is the BuildKit-faithful reader: this parser and its AST
 * dump, the shell-word lexer with ${VAR} expansion (shell_lex.h) and the
 * `RUN --mount` option parser (runmount.h). It knows nothing of stages,
 * targets or caches; core/plan/ builds on it.
 *
 * A faithful reimplementation of BuildKit's frontend/dockerfile/parser (see
 * ../shared/specs/dockerfile-cache-mounts.md section 1): byte-order mark,
 * parser directives, comments and blank lines inside continuations, the
 * escape character, heredocs, JSON exec form versus shell form, flags before
 * arguments, ONBUILD nesting, line numbers and the 64 KiB line limit.
 *
 * The result is a flat list of instructions (struct bk_df_node) in file
 * order. Arguments are split the way BuildKit's AST dump shows them, so
 * bk_dockerfile_dump() reproduces BuildKit's `result` fixtures byte for byte.
 * Semantic checks (unknown flags, stage names, ...) are not done here; they
 * belong to the stage builder (buildplan.h), as in BuildKit.
 *
 * Ownership: bk_dockerfile_parse() returns a tree the caller frees with
 * bk_dockerfile_free(); every pointer inside is owned by the tree.
 */
#ifndef BK_DOCKERFILE_H
#define BK_DOCKERFILE_H

#include "core/util/strbuf.h"

#include <stddef.h>

/* A heredoc opened on an instruction line (RUN, COPY, ADD). */
struct bk_df_heredoc {
    char *name;         /* delimiter, quotes removed: "EOF" */
    size_t name_len;    /* bytes in name (a NUL byte in the file can be part of it) */
    char *content;      /* body lines exactly as in the file, each with its own line end
                           ("\n" or "\r\n"; the last one may have none), as BuildKit keeps
                           them: leading tabs are NOT stripped here even for <<- */
    size_t content_len; /* bytes in content (NUL bytes in the file are kept) */
    int expand;         /* 1 unless the delimiter was quoted */
    int chomp;          /* 1 for <<- (tabs stripped from the terminator line; strip them
                           from the body when using it) */
    int fd;             /* leading file descriptor digits, or -1 */
};

struct bk_df_node {
    char *keyword;    /* lowercased instruction name: "run", "from", ... (a NUL byte in it
                         is stored as U+FFFD, so it never matches a known name) */
    char *original;   /* the joined logical line as BuildKit keeps it (continuations joined) */
    char **flags;     /* flag words before the arguments, quotes/escapes removed:
                         "--mount=type=cache,target=/x" */
    size_t *flaglens; /* byte length of each flags[i] (a NUL byte can be inside) */
    size_t nflags;
    char **args;     /* arguments as in BuildKit's dump (see the fixture README) */
    size_t *arglens; /* byte length of each args[i]: a JSON "\u0000" puts a NUL inside */
    size_t nargs;
    char *rest;             /* the argument text after the flags, trimmed (shell form text) */
    int json;               /* 1 when the arguments came from a JSON array (exec form) */
    struct bk_df_node *sub; /* ONBUILD only: the trigger instruction, else NULL; its lines
                               are the ONBUILD's */
    struct bk_df_heredoc *heredocs; /* for ONBUILD RUN <<EOF: on the ONBUILD node, as in
                                       BuildKit, not on `sub` */
    size_t nheredocs;
    int start_line; /* 1-based first physical line */
    int end_line;   /* 1-based last physical line (heredoc bodies included) */
};

struct bk_dockerfile {
    char *filename; /* as given to the parser, for messages */
    struct bk_df_node *nodes;
    size_t nnodes;
    char escape;     /* '\\' or '`' */
    char *syntax;    /* value of the syntax directive, or NULL */
    char *check;     /* value of the check directive, or NULL */
    int start_line;  /* first line of the first instruction */
    int end_line;    /* last line of the last instruction */
    char **warnings; /* non-fatal notes (empty continuation lines, ...) */
    size_t nwarnings;
};

/*
 * Parse `len` bytes of `data`. `filename` is used only in error messages.
 * On failure returns BK_EINVAL with bk_error_msg() set to
 * "FILENAME:LINE: message" using BuildKit's wording ("file with no
 * instructions", "unterminated heredoc", "dockerfile line greater than max
 * allowed size of 65535", "arrays must be comprised of strings only", ...).
 */
int bk_dockerfile_parse(const char *data, size_t len, const char *filename,
                        struct bk_dockerfile **out);

/* Read `path` ("-" for stdin) and parse it. */
int bk_dockerfile_parse_file(const char *path, struct bk_dockerfile **out);

void bk_dockerfile_free(struct bk_dockerfile *df);

/*
 * Append BuildKit's AST dump of `df` to `sb`: one "(keyword [flags] args)"
 * line per instruction, joined by "\n", no final newline (the fixtures'
 * `result` files are this dump plus "\n").
 */
void bk_dockerfile_dump(const struct bk_dockerfile *df, struct bk_strbuf *sb);

/* Go strconv.Quote of `s` appended to `sb` (used by the dump and tests). */
void bk_go_quote(struct bk_strbuf *sb, const char *s);

#endif
