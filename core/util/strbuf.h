/*
 * strbuf.h - a growable, always NUL-terminated byte buffer.
 *
 * Start from BK_STRBUF_INIT; the buffer owns `buf` and frees it with
 * bk_strbuf_release(). Allocation failure aborts the process (bkcache has no
 * useful way to go on without memory, and every caller would otherwise carry
 * an error path that is never tested).
 *
 *     struct bk_strbuf sb = BK_STRBUF_INIT;
 *     bk_strbuf_addf(&sb, "%s-%d", name, n);
 *     puts(sb.buf);
 *     bk_strbuf_release(&sb);
 */
#ifndef BK_STRBUF_H
#define BK_STRBUF_H

#include <stddef.h>

struct bk_strbuf {
    char *buf;    /* never NULL after init: "" when empty */
    size_t len;   /* bytes used, not counting the NUL */
    size_t alloc; /* bytes allocated; 0 while buf points to a static "" */
};

extern char bk_strbuf_empty[];
#define BK_STRBUF_INIT                                                                             \
    {                                                                                              \
        bk_strbuf_empty, 0, 0                                                                      \
    }

void bk_strbuf_init(struct bk_strbuf *sb);
void bk_strbuf_grow(struct bk_strbuf *sb, size_t extra);
void bk_strbuf_add(struct bk_strbuf *sb, const void *data, size_t n);
void bk_strbuf_adds(struct bk_strbuf *sb, const char *s);
void bk_strbuf_addch(struct bk_strbuf *sb, char c);
void bk_strbuf_addf(struct bk_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bk_strbuf_reset(struct bk_strbuf *sb);   /* len = 0, keeps memory */
void bk_strbuf_release(struct bk_strbuf *sb); /* frees, back to INIT */
char *bk_strbuf_detach(struct bk_strbuf *sb); /* caller frees; sb back to INIT */

/* Read a whole file ("-" is stdin) into sb. BK_ENOTFOUND / BK_ERR with a
 * message naming the path. */
int bk_strbuf_read_file(struct bk_strbuf *sb, const char *path);

/* Allocation helpers that abort on failure. */
void *bk_xmalloc(size_t n);
void *bk_xcalloc(size_t n, size_t size);
void *bk_xrealloc(void *p, size_t n);
char *bk_xstrdup(const char *s);
char *bk_xstrndup(const char *s, size_t n);
char *bk_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
