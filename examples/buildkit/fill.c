/*
 * fill - the program the BuildKit demo's RUN executes (examples/buildkit).
 *
 *   fill REPORT CACHE_DIR... [--NOTE...]
 *
 * Arguments that start with "--" are ignored: the demo adds one to change
 * the RUN line (an instruction-cache miss) without changing what it does.
 * For each cache mount CACHE_DIR: when it already holds files (a warm
 * cache), count them; otherwise fill it with a small tree that looks like a
 * compiler's cache (objects in sub-directories, a symlink, a hardlink, an
 * empty directory). Writes one line per cache to REPORT and to stdout:
 *
 *   /cache/objects: warm (201 files)
 *   /cache/deps: cold, wrote 201 files
 *
 * It is compiled statically by the demo, so the demo's image needs nothing
 * else: `FROM scratch` and this program.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Inodes of multiply linked files already counted: a file with two names
 * is one file, as bkcache counts it. */
static ino_t g_seen[64];
static int g_nseen;

static int seen_before(const struct stat *st)
{
    if (st->st_nlink < 2)
        return 0;
    for (int i = 0; i < g_nseen; i++)
        if (g_seen[i] == st->st_ino)
            return 1;
    if (g_nseen < 64)
        g_seen[g_nseen++] = st->st_ino;
    return 0;
}

/* Regular files under `dir`. At the top, names starting with ".bkcache-"
 * are bkcache's own (a restore's base record), not the cache's files. */
static long count_files(const char *dir, int top)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (top && strncmp(e->d_name, ".bkcache-", 9) == 0))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            n += count_files(path, 0);
        else if (S_ISREG(st.st_mode) && !seen_before(&st))
            n++;
    }
    closedir(d);
    return n;
}

static int fill(const char *dir)
{
    char path[4096], link_from[4096];
    int n = 0;

    snprintf(path, sizeof(path), "%s/obj", dir);
    mkdir(path, 0755);
    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof(path), "%s/obj/%02d", dir, i % 16);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/obj/%02d/%04d.o", dir, i % 16, i);
        FILE *f = fopen(path, "w");
        if (!f)
            return -1;
        for (int k = 0; k < 64 + i; k++)
            fprintf(f, "object %d line %d\n", i, k);
        fclose(f);
        n++;
    }
    snprintf(path, sizeof(path), "%s/index", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "200 objects\n");
    fclose(f);
    n++;
    snprintf(path, sizeof(path), "%s/index.hard", dir);
    snprintf(link_from, sizeof(link_from), "%s/index", dir);
    /* a second name for index: bkcache counts it as a link, not a file */
    if (link(link_from, path) != 0 && errno != EEXIST)
        return -1;
    snprintf(path, sizeof(path), "%s/latest", dir);
    if (symlink("obj/00/0000.o", path) != 0 && errno != EEXIST)
        return -1;
    snprintf(path, sizeof(path), "%s/tmp", dir);
    mkdir(path, 0700);
    return n;
}

int main(int argc, char **argv)
{
    FILE *report;

    if (argc < 3) {
        fprintf(stderr, "usage: fill REPORT CACHE_DIR...\n");
        return 2;
    }
    {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", argv[1]);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            mkdir(dir, 0755);
        }
    }
    report = fopen(argv[1], "w");
    if (!report) {
        perror(argv[1]);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0)
            continue;
        long have = count_files(argv[i], 1);
        char line[4200];
        if (have > 0) {
            snprintf(line, sizeof(line), "%s: warm (%ld files)\n", argv[i], have);
        } else {
            int n = fill(argv[i]);
            if (n < 0) {
                perror(argv[i]);
                return 1;
            }
            snprintf(line, sizeof(line), "%s: cold, wrote %d files\n", argv[i], n);
        }
        fputs(line, report);
        fputs(line, stdout);
    }
    return fclose(report) == 0 ? 0 : 1;
}
