/*
 * archive_walk.c - the streaming, sorted depth-first walk of a tree.
 *
 * bk_archive__walk_next() hands out one entry at a time in canonical order
 * (archive_internal.h): it reads and sorts one directory when it first
 * enters it, returns the directory's entry, then its children, descending
 * into each subdirectory as it comes. So a pack can compress the first
 * bytes while most of the tree is still unread, and memory is bounded by
 * the sorted names of the directories on the current path (plus one small
 * record per multiply-linked file), not by the size of the tree.
 *
 * bkcache's own entries at the root (".bkcache-*", archive.h) are not part
 * of the tree: they never enter an archive or a digest.
 *
 * Only lstat(2) is used: symlinks are never followed. Sockets are skipped
 * with a warning. Hardlinks: among regular files sharing (dev, ino), the
 * first one met (the first in canonical order) is a file; every later one
 * is a BK_AT_HARDLINK entry whose target is the first's path.
 *
 * bk_archive__tree_walk() collects the whole walk into an array, for the
 * two-pass pack (hash first, stream second) and bk_archive_digest_dir().
 */
#include "core/archive/archive_internal.h"

#include "core/util/error.h"
#include "core/util/log.h"

#include <dirent.h>
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bk_archive_walk_frame {
    struct dirent **names; /* sorted with strcmp (scandir) */
    int n, next;
    size_t base; /* length of the directory's full path in w->full */
};

/* A multiply-linked file: the first path met for its (dev, ino). */
struct walk_link {
    dev_t dev;
    ino_t ino;
    char *path;
};

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int link_cmp(const void *pa, const void *pb)
{
    const struct walk_link *a = pa, *b = pb;
    if (a->dev != b->dev)
        return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    return 0;
}

static void link_free(void *p)
{
    struct walk_link *l = p;
    free(l->path);
    free(l);
}

/* Read and sort the directory at w->full, and make it the current frame. */
static int walk_push(struct bk_archive_walk *w)
{
    struct dirent **names = NULL;
    int n = scandir(w->full.buf, &names, NULL, name_cmp);

    if (n < 0)
        return bk_error_set(BK_ERR, "%s: cannot read directory: %s", w->full.buf, strerror(errno));
    if (w->depth == w->alloc) {
        w->alloc = w->alloc ? 2 * w->alloc : 16;
        w->stack = bk_xrealloc(w->stack, w->alloc * sizeof(*w->stack));
    }
    w->stack[w->depth++] = (struct bk_archive_walk_frame){names, n, 0, w->full.len};
    return BK_OK;
}

static void walk_pop(struct bk_archive_walk *w)
{
    struct bk_archive_walk_frame *f = &w->stack[--w->depth];
    for (int i = f->next; i < f->n; i++)
        free(f->names[i]);
    free(f->names);
}

static void node_clear(struct bk_archive_node *nd)
{
    free(nd->path);
    free(nd->target);
    memset(nd, 0, sizeof(*nd));
}

/* Fill nd from st for the entry at `full` (relative path `rel`).
 * Returns 1 for a socket (skipped), BK_OK, or an error. */
static int node_fill(struct bk_archive_node *nd, const char *full, const char *rel,
                     const struct stat *st)
{
    nd->rec.mode = st->st_mode & 07777u;
    nd->rec.uid = st->st_uid;
    nd->rec.gid = st->st_gid;
    nd->rec.mtime_sec = st->st_mtim.tv_sec;
    nd->rec.mtime_nsec = st->st_mtim.tv_nsec;
    nd->dev = st->st_dev;
    nd->ino = st->st_ino;
    nd->nlink = (unsigned long)st->st_nlink;
    nd->ctime_sec = st->st_ctim.tv_sec;
    nd->ctime_nsec = st->st_ctim.tv_nsec;
    switch (st->st_mode & S_IFMT) {
    case S_IFREG:
        nd->rec.type = BK_AT_FILE;
        nd->rec.size = (uint64_t)st->st_size;
        break;
    case S_IFDIR: nd->rec.type = BK_AT_DIR; break;
    case S_IFCHR:
        nd->rec.type = BK_AT_CHAR;
        nd->rec.rdev = st->st_rdev;
        break;
    case S_IFBLK:
        nd->rec.type = BK_AT_BLOCK;
        nd->rec.rdev = st->st_rdev;
        break;
    case S_IFIFO: nd->rec.type = BK_AT_FIFO; break;
    case S_IFLNK: {
        struct bk_strbuf sb = BK_STRBUF_INIT;
        size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
        for (;;) {
            bk_strbuf_grow(&sb, cap);
            ssize_t n = readlink(full, sb.buf, cap);
            if (n < 0) {
                bk_strbuf_release(&sb);
                return bk_error_set(BK_ERR, "%s: readlink failed: %s", full, strerror(errno));
            }
            if ((size_t)n < cap) {
                sb.len = (size_t)n;
                sb.buf[n] = '\0';
                break;
            }
            cap *= 2;
        }
        nd->rec.type = BK_AT_SYMLINK;
        nd->target = bk_strbuf_detach(&sb);
        break;
    }
    default: return 1; /* a socket: skipped */
    }
    nd->path = bk_xstrdup(rel);
    nd->rec.path = nd->path;
    nd->rec.target = nd->target;
    return BK_OK;
}

/* A regular file with other names: the first one met stays a file, the
 * later ones become hardlinks to it. */
static void resolve_link(struct bk_archive_walk *w, struct bk_archive_node *nd)
{
    struct walk_link key = {nd->dev, nd->ino, NULL};
    void *found = tfind(&key, &w->links, link_cmp);

    if (found) {
        const struct walk_link *first = *(struct walk_link **)found;
        nd->rec.type = BK_AT_HARDLINK;
        nd->rec.size = 0;
        nd->target = bk_xstrdup(first->path);
        nd->rec.target = nd->target;
        return;
    }
    struct walk_link *l = bk_xmalloc(sizeof(*l));
    *l = (struct walk_link){nd->dev, nd->ino, bk_xstrdup(nd->path)};
    if (!tsearch(l, &w->links, link_cmp))
        abort();
}

int bk_archive__walk_open(const char *dir, struct bk_archive_walk *w)
{
    struct stat st;
    int rc;

    memset(w, 0, sizeof(*w));
    w->full = (struct bk_strbuf)BK_STRBUF_INIT;
    if (stat(dir, &st) != 0)
        return bk_error_set(errno == ENOENT ? BK_ENOTFOUND : BK_ERR, "%s: %s", dir,
                            strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return bk_error_set(BK_EINVAL, "%s: not a directory", dir);
    bk_strbuf_adds(&w->full, dir);
    while (w->full.len > 1 && w->full.buf[w->full.len - 1] == '/')
        w->full.buf[--w->full.len] = '\0';
    w->root_len = w->full.len;
    rc = walk_push(w);
    if (rc < 0)
        bk_archive__walk_close(w);
    return rc;
}

int bk_archive__walk_next(struct bk_archive_walk *w, struct bk_archive_node **out)
{
    node_clear(&w->node);
    while (w->depth > 0) {
        struct bk_archive_walk_frame *f = &w->stack[w->depth - 1];
        if (f->next == f->n) {
            walk_pop(w);
            continue;
        }
        struct dirent *de = f->names[f->next++];
        const char *name = de->d_name;
        struct stat st;
        int rc = BK_OK;

        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            (w->depth == 1 && bk_archive_is_own_name(name))) { /* bkcache's bookkeeping */
            free(de);
            continue;
        }
        w->full.len = f->base;
        w->full.buf[f->base] = '\0';
        bk_strbuf_addch(&w->full, '/');
        bk_strbuf_adds(&w->full, name);
        free(de);
        if (lstat(w->full.buf, &st) != 0)
            return bk_error_set(BK_ERR, "%s: cannot stat: %s", w->full.buf, strerror(errno));
        rc = node_fill(&w->node, w->full.buf, w->full.buf + w->root_len + 1, &st);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            bk_warn("%s: skipping a socket", w->full.buf);
            node_clear(&w->node);
            continue;
        }
        if (S_ISDIR(st.st_mode) && (rc = walk_push(w)) < 0)
            return rc;
        if (w->node.rec.type == BK_AT_FILE && w->node.nlink > 1)
            resolve_link(w, &w->node);
        *out = &w->node;
        return 1;
    }
    return 0;
}

void bk_archive__walk_close(struct bk_archive_walk *w)
{
    while (w->depth > 0)
        walk_pop(w);
    free(w->stack);
    tdestroy(w->links, link_free);
    node_clear(&w->node);
    bk_strbuf_release(&w->full);
    memset(w, 0, sizeof(*w));
}

/* ------------------------------------------------------ the whole tree */

int bk_archive__tree_walk(const char *dir, struct bk_archive_tree *t)
{
    struct bk_archive_walk w;
    struct bk_archive_node *nd;
    int rc;

    memset(t, 0, sizeof(*t));
    rc = bk_archive__walk_open(dir, &w);
    if (rc < 0)
        return rc;
    while ((rc = bk_archive__walk_next(&w, &nd)) > 0) {
        if (t->n == t->alloc) {
            t->alloc = t->alloc ? 2 * t->alloc : 256;
            t->v = bk_xrealloc(t->v, t->alloc * sizeof(*t->v));
        }
        t->v[t->n++] = *nd; /* takes path and target */
        memset(nd, 0, sizeof(*nd));
    }
    bk_archive__walk_close(&w);
    if (rc < 0)
        bk_archive__tree_release(t);
    return rc < 0 ? rc : BK_OK;
}

void bk_archive__tree_release(struct bk_archive_tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].path);
        free(t->v[i].target);
    }
    free(t->v);
    memset(t, 0, sizeof(*t));
}
