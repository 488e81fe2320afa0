/*
 * driver.c - drive the Azure provider through its vtable, for tests/azure.
 *
 *   azure-driver [-v] [-s STORE] [-o K=V]... lookup KEY [RESTORE...]
 *   azure-driver ... lookups KEY...      each KEY exactly, in one provider instance
 *   azure-driver ... fetch OUT KEY [RESTORE...]   lookup, then download into OUT
 *   azure-driver ... upload KEY FILE
 *   azure-driver ... list
 *
 * Configuration comes from the environment (the pipeline's variables), as in
 * a real job. stdout: "hit KEY SIZE SCOPE" / "entry KEY SIZE SCOPE" lines.
 * stderr on failure: "status=<name> retry_after_ms=<n>: <message>". Exit
 * status: 0 ok, 3 not found, 4 transient or timeout, 5 denied, 6 exists,
 * 2 usage or invalid, 1 anything else; so shell tests can assert outcomes.
 */
#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/strvec.h"
#include "providers/provider.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int exit_code(int rc)
{
    switch (rc) {
    case BK_OK: return 0;
    case BK_ENOTFOUND: return 3;
    case BK_ETRANSIENT:
    case BK_ETIMEOUT: return 4;
    case BK_EDENIED: return 5;
    case BK_EEXISTS: return 6;
    case BK_EINVAL: return 2;
    default: return 1;
    }
}

static int fail(int rc)
{
    fprintf(stderr, "status=%s retry_after_ms=%ld: %s\n", bk_status_name(rc),
            bk_error_retry_after_ms(), bk_error_msg());
    return exit_code(rc);
}

static int print_entry(const struct bk_provider_entry *e, void *payload)
{
    (void)payload;
    printf("entry %s %llu %s %lld\n", e->key, (unsigned long long)e->size,
           e->scope ? e->scope : "-", (long long)e->created);
    return 0;
}

static int lookup(struct bk_provider *p, char **argv, int argc, struct bk_provider_entry *e)
{
    struct bk_lookup q = {argv[0], (const char *const *)argv + 1, (size_t)argc - 1, NULL};
    int rc = p->ops->lookup(p, &q, e);
    if (!rc)
        printf("hit %s %llu %s\n", e->key, (unsigned long long)e->size, e->scope ? e->scope : "-");
    return rc;
}

int main(int argc, char **argv)
{
    struct bk_strvec attrs = BK_STRVEC_INIT;
    const char *store = NULL;
    struct bk_provider *p = NULL;
    struct bk_provider_entry e = {0};
    int i = 1, rc;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0)
            bk_log_verbosity = 4;
        else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            store = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            bk_strvec_push(&attrs, argv[++i]);
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: azure-driver [-v] [-s STORE] [-o K=V] lookup|fetch|upload|list\n");
        return 2;
    }
    const char *cmd = argv[i++];
    struct bk_provider_config cfg = {store, &attrs, NULL, strcmp(cmd, "upload") != 0, 0};
    const struct bk_provider_ops *ops = bk_provider_find("azure");
    if ((rc = ops->create(&cfg, &p)))
        goto out;
    if (strcmp(cmd, "lookup") == 0 && i < argc) {
        rc = lookup(p, argv + i, argc - i, &e);
    } else if (strcmp(cmd, "lookups") == 0 && i < argc) {
        for (rc = BK_OK; i < argc && (!rc || rc == BK_ENOTFOUND); i++) {
            bk_provider_entry_release(&e);
            rc = lookup(p, argv + i, 1, &e);
            if (rc == BK_ENOTFOUND)
                printf("miss %s\n", argv[i]);
        }
    } else if (strcmp(cmd, "fetch") == 0 && i + 1 < argc) {
        rc = lookup(p, argv + i + 1, argc - i - 1, &e);
        if (!rc) {
            int fd = open(argv[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            rc = fd < 0 ? bk_error_set(BK_ERR, "%s: cannot create", argv[i])
                        : p->ops->download(p, &e, fd);
            if (fd >= 0)
                close(fd);
        }
    } else if (strcmp(cmd, "upload") == 0 && i + 1 < argc) {
        int fd = open(argv[i + 1], O_RDONLY);
        off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
        struct bk_upload u = {.key = argv[i], .size = (uint64_t)size};
        rc = fd < 0 ? bk_error_set(BK_ERR, "%s: cannot open", argv[i + 1])
                    : p->ops->upload(p, &u, fd);
        /* core retries a transient failure once more here, as core/store/store.c would */
        if (fd >= 0 && bk_status_retryable(rc) && getenv("DRIVER_RETRY")) {
            fprintf(stderr, "driver: retrying after: %s\n", bk_error_msg());
            rc = p->ops->upload(p, &u, fd);
        }
        if (fd >= 0)
            close(fd);
    } else if (strcmp(cmd, "list") == 0) {
        rc = p->ops->list(p, print_entry, NULL);
    } else {
        rc = bk_error_set(BK_EINVAL, "unknown command or missing arguments: %s", cmd);
    }
out:
    bk_provider_entry_release(&e);
    if (p)
        p->ops->destroy(p);
    bk_strvec_clear(&attrs);
    return rc ? fail(rc) : 0;
}
