/*
 * driver.c - drive the gitlab provider through its ops table from a shell
 * script, for tests/gitlab/run.sh (the emulator tests), without the CLI.
 *
 *   gitlab_driver [-o K=V]... [-s STORE] [-r] COMMAND ARGS
 *     lookup KEY [RESTORE_KEY...]          print the entry's key
 *     download FILE KEY [RESTORE_KEY...]   look up, then write the archive to FILE
 *     upload FILE KEY                      store FILE under KEY
 *     list                                 print every entry's key
 *     sizes                                print every entry's key and size, the
 *                                          store opened as ls and prune open it
 *     remove KEY                           look up KEY exactly, then delete it
 *
 * -o is --store-opt, -s --store, -r read-only. The environment is the real
 * one (CI_API_V4_URL, CI_JOB_TOKEN, ...). On failure it prints
 * "error <status-name>: <message>" on stderr (plus "retry-after <ms>" when
 * the server asked for a delay) and exits 3 for a miss, 1 otherwise.
 */
#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strvec.h"
#include "providers/provider.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(int rc)
{
    fprintf(stderr, "error %s: %s\n", bk_status_name(rc), bk_error_msg());
    if (bk_error_retry_after_ms() >= 0)
        fprintf(stderr, "retry-after %ld\n", bk_error_retry_after_ms());
    return rc == BK_ENOTFOUND ? 3 : 1;
}

static int print_key(const struct bk_provider_entry *e, void *payload)
{
    (void)payload;
    printf("%s\n", e->key);
    return 0;
}

static int print_size(const struct bk_provider_entry *e, void *payload)
{
    (void)payload;
    printf("%s %llu\n", e->key, (unsigned long long)e->size);
    return 0;
}

int main(int argc, char **argv)
{
    struct bk_strvec attrs = BK_STRVEC_INIT;
    struct bk_provider_config cfg = {NULL, &attrs, NULL, 0, 0};
    struct bk_provider_entry e = {0};
    struct bk_provider *p = NULL;
    const struct bk_provider_ops *ops = bk_provider_find("gitlab");
    int i = 1, rc, fd;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            bk_strvec_push(&attrs, argv[++i]);
        else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            cfg.store = argv[++i];
        else if (strcmp(argv[i], "-r") == 0)
            cfg.read_only = 1;
        else if (strcmp(argv[i], "-v") == 0)
            bk_log_verbosity = 4;
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: gitlab_driver [-o K=V]... [-s STORE] [-r] COMMAND ARGS\n");
        return 2;
    }
    cfg.list_sizes = strcmp(argv[i], "sizes") == 0; /* as ls and prune open the store */
    if ((rc = ops->create(&cfg, &p)))
        return fail(rc);
    const char *cmd = argv[i++];
    if (strcmp(cmd, "list") == 0) {
        rc = ops->list(p, print_key, NULL);
    } else if (strcmp(cmd, "sizes") == 0) {
        rc = ops->list(p, print_size, NULL);
    } else if (strcmp(cmd, "upload") == 0 && argc - i == 2) {
        struct stat st;
        fd = open(argv[i], O_RDONLY);
        if (fd < 0 || fstat(fd, &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        struct bk_upload u = {.key = argv[i + 1], .size = (uint64_t)st.st_size};
        rc = ops->upload(p, &u, fd);
        close(fd);
    } else if ((strcmp(cmd, "lookup") == 0 && argc - i >= 1) ||
               (strcmp(cmd, "remove") == 0 && argc - i == 1) ||
               (strcmp(cmd, "download") == 0 && argc - i >= 2)) {
        int dl = strcmp(cmd, "download") == 0;
        const char *file = dl ? argv[i++] : NULL;
        struct bk_lookup q = {argv[i], (const char *const *)argv + i + 1, (size_t)(argc - i - 1),
                              NULL};
        rc = ops->lookup(p, &q, &e);
        if (rc == BK_OK && dl) {
            fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
            rc = fd < 0 ? bk_error_set(BK_ERR, "%s: cannot open", file) : ops->download(p, &e, fd);
            if (fd >= 0)
                close(fd);
        }
        if (rc == BK_OK && strcmp(cmd, "remove") == 0)
            rc = ops->remove(p, &e);
        if (rc == BK_OK)
            printf("%s\n", e.key);
        bk_provider_entry_release(&e);
    } else {
        fprintf(stderr, "gitlab_driver: bad command or arguments: %s\n", cmd);
        rc = BK_EINVAL;
    }
    ops->destroy(p);
    bk_strvec_clear(&attrs);
    return rc ? fail(rc) : 0;
}
