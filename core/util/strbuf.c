/*
 * strbuf.c - growable buffers and aborting allocators; see strbuf.h.
 */
#include "core/util/strbuf.h"

#include "core/util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char bk_strbuf_empty[1];

static void die_oom(size_t n)
{
    fprintf(stderr, "bkcache: out of memory (%zu bytes)\n", n);
    abort();
}

void *bk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_oom(n);
    return p;
}

void *bk_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die_oom(n * size);
    return p;
}

void *bk_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die_oom(n);
    return q;
}

char *bk_xstrdup(const char *s)
{
    return bk_xstrndup(s, strlen(s));
}

char *bk_xstrndup(const char *s, size_t n)
{
    char *p = bk_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *bk_xasprintf(const char *fmt, ...)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    bk_strbuf_grow(&sb, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(sb.buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb.len = (size_t)n;
    return bk_strbuf_detach(&sb);
}

void bk_strbuf_init(struct bk_strbuf *sb)
{
    sb->buf = bk_strbuf_empty;
    sb->len = 0;
    sb->alloc = 0;
}

void bk_strbuf_grow(struct bk_strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->alloc)
        return;
    size_t cap = sb->alloc ? sb->alloc : 64;
    while (cap < need)
        cap *= 2;
    if (sb->alloc == 0) {
        sb->buf = bk_xmalloc(cap);
        sb->buf[0] = '\0';
    } else {
        sb->buf = bk_xrealloc(sb->buf, cap);
    }
    sb->alloc = cap;
}

void bk_strbuf_add(struct bk_strbuf *sb, const void *data, size_t n)
{
    bk_strbuf_grow(sb, n);
    memcpy(sb->buf + sb->len, data, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void bk_strbuf_adds(struct bk_strbuf *sb, const char *s)
{
    bk_strbuf_add(sb, s, strlen(s));
}

void bk_strbuf_addch(struct bk_strbuf *sb, char c)
{
    bk_strbuf_add(sb, &c, 1);
}

void bk_strbuf_addf(struct bk_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    bk_strbuf_grow(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void bk_strbuf_reset(struct bk_strbuf *sb)
{
    sb->len = 0;
    if (sb->alloc)
        sb->buf[0] = '\0';
}

void bk_strbuf_release(struct bk_strbuf *sb)
{
    if (sb->alloc)
        free(sb->buf);
    bk_strbuf_init(sb);
}

char *bk_strbuf_detach(struct bk_strbuf *sb)
{
    char *p = sb->alloc ? sb->buf : bk_xstrdup("");
    bk_strbuf_init(sb);
    return p;
}

int bk_strbuf_read_file(struct bk_strbuf *sb, const char *path)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bk_error_set(errno == ENOENT ? BK_ENOTFOUND : BK_ERR, "%s: %s", path,
                            strerror(errno));
    for (;;) {
        bk_strbuf_grow(sb, 65536);
        ssize_t n = read(fd, sb->buf + sb->len, sb->alloc - sb->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            if (fd != STDIN_FILENO)
                close(fd);
            return bk_error_set(BK_ERR, "%s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        sb->len += (size_t)n;
        sb->buf[sb->len] = '\0';
    }
    if (fd != STDIN_FILENO)
        close(fd);
    return BK_OK;
}
