/*
 * driver.c - call one provider's slots from the command line, for the
 * object store suites (tests/objectstore/run.sh). It goes straight through the
 * vtable (no core retries), so a test sees exactly what the provider does.
 *
 *   driver -p NAME -s STORE [-o K=V]... COMMAND ARGS
 *     upload KEY FILE [IDENTITY]    store FILE under KEY
 *     lookup KEY [RESTORE-KEY]...   print "KEY SIZE CREATED" of the match
 *     download KEY OUT [RESTORE]... look up, then write the archive to OUT
 *     list                          print "KEY SIZE CREATED" per entry
 *     remove KEY                    look KEY up exactly and delete it
 *
 * Exit status: 0 ok, 3 miss (BK_ENOTFOUND), 4 transient, 5 denied, 1 else;
 * the error goes to stderr as "driver: <status-name>: <message>".
 */
#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strvec.h"
#include "providers/provider.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int print_entry(const struct bk_provider_entry *e, void *payload)
{
    (void)payload;
    printf("%s %" PRIu64 " %" PRId64 "\n", e->key, e->size, e->created);
    return 0;
}

static int exit_code(int rc)
{
    if (rc == BK_OK)
        return 0;
    fprintf(stderr, "driver: %s: %s\n", bk_status_name(rc), bk_error_msg());
    switch (rc) {
    case BK_ENOTFOUND: return 3;
    case BK_ETRANSIENT:
    case BK_ETIMEOUT: return 4;
    case BK_EDENIED: return 5;
    default: return 1;
    }
}

static int run(struct bk_provider *p, int argc, char **argv)
{
    const struct bk_provider_ops *ops = p->ops;
    const char *cmd = argv[0];
    struct bk_provider_entry e = {0};
    int rc;

    if (strcmp(cmd, "list") == 0)
        return ops->list(p, print_entry, NULL);
    if (argc < 2)
        return bk_error_set(BK_EINVAL, "%s: missing KEY", cmd);
    if (strcmp(cmd, "upload") == 0) {
        struct stat st;
        if (argc < 3)
            return bk_error_set(BK_EINVAL, "upload: missing FILE");
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0 || fstat(fd, &st) != 0)
            return bk_error_set(BK_ERR, "%s: cannot open", argv[2]);
        struct bk_upload u = {
            .key = argv[1], .identity = argc > 3 ? argv[3] : NULL, .size = (uint64_t)st.st_size};
        rc = ops->upload(p, &u, fd);
        close(fd);
        return rc;
    }
    int first_restore = strcmp(cmd, "download") == 0 ? 3 : 2;
    if (argc < first_restore)
        return bk_error_set(BK_EINVAL, "%s: missing argument", cmd);
    struct bk_lookup q = {argv[1], (const char *const *)argv + first_restore,
                          (size_t)(argc - first_restore), NULL};
    if (strcmp(cmd, "remove") == 0)
        q.nrestore = 0;
    rc = ops->lookup(p, &q, &e);
    if (rc)
        return rc;
    if (strcmp(cmd, "lookup") == 0) {
        print_entry(&e, NULL);
    } else if (strcmp(cmd, "download") == 0) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            rc = bk_error_set(BK_ERR, "%s: cannot create", argv[2]);
        else
            rc = ops->download(p, &e, fd);
        if (fd >= 0)
            close(fd);
        if (!rc)
            print_entry(&e, NULL);
    } else if (strcmp(cmd, "remove") == 0) {
        rc = ops->remove(p, &e);
    } else {
        rc = bk_error_set(BK_EINVAL, "unknown command '%s'", cmd);
    }
    bk_provider_entry_release(&e);
    return rc;
}

int main(int argc, char **argv)
{
    struct bk_strvec attrs = BK_STRVEC_INIT;
    const char *name = NULL, *store = NULL;
    int opt;

    while ((opt = getopt(argc, argv, "p:s:o:v")) != -1) {
        switch (opt) {
        case 'p': name = optarg; break;
        case 's': store = optarg; break;
        case 'o': bk_strvec_push(&attrs, optarg); break;
        case 'v': bk_log_verbosity = 4; break;
        default: return 2;
        }
    }
    if (!name || optind >= argc) {
        fprintf(stderr, "usage: driver -p NAME -s STORE [-o K=V]... COMMAND ARGS\n");
        return 2;
    }
    const struct bk_provider_ops *ops = bk_provider_find(name);
    if (!ops) {
        fprintf(stderr, "driver: unknown provider %s\n", name);
        return 2;
    }
    struct bk_provider_config cfg = {store, &attrs, NULL, 0, 0};
    struct bk_provider *p = NULL;
    int rc = ops->create(&cfg, &p);
    if (!rc)
        rc = run(p, argc - optind, argv + optind);
    if (p)
        ops->destroy(p);
    bk_strvec_clear(&attrs);
    return exit_code(rc);
}
