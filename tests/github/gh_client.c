/*
 * gh_client.c - drive the github provider through its vtable, for the
 * emulator tests (tests/github/run.sh). Configuration comes from the
 * environment, as on a runner; -o KEY=VALUE adds a --store-opt attribute.
 *
 *   gh_client [-o K=V]... [-i IDENTITY] save KEY FILE
 *   gh_client [-o K=V]... [-i IDENTITY] lookup KEY [RESTORE_KEY...]
 *   gh_client [-o K=V]... [-i IDENTITY] restore OUT KEY [RESTORE_KEY...]
 *   gh_client [-o K=V]... version [IDENTITY]
 *
 * Prints one line "status=<name> key=<matched key> retry_after=<ms>" on
 * stdout and the error message on stderr. Exit status: 0 ok, 3 exists,
 * 4 transient, 5 denied, 6 not found, 7 skipped, 2 invalid, 1 other.
 */
#include "core/util/error.h"
#include "core/util/log.h"
#include "providers/github_common.h"
#include "providers/provider.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int exit_code(int rc)
{
    switch (rc) {
    case BK_OK: return 0;
    case BK_EEXISTS: return 3;
    case BK_ETRANSIENT:
    case BK_ETIMEOUT: return 4;
    case BK_EDENIED: return 5;
    case BK_ENOTFOUND: return 6;
    case BK_ESKIPPED: return 7;
    case BK_EINVAL: return 2;
    default: return 1;
    }
}

static int report(int rc, const char *key)
{
    long ra = rc ? bk_error_retry_after_ms() : -1;
    printf("status=%s key=%s retry_after=%ld\n", rc ? bk_status_name(rc) : "ok", key ? key : "-",
           ra);
    if (rc)
        fprintf(stderr, "gh_client: %s\n", bk_error_msg());
    return exit_code(rc);
}

int main(int argc, char **argv)
{
    struct bk_strvec attrs = BK_STRVEC_INIT;
    const char *identity = NULL;
    struct bk_provider *p = NULL;
    int i = 1, rc;

    if (getenv("GH_CLIENT_DEBUG"))
        bk_log_verbosity = 4;
    for (; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-o") == 0)
            bk_strvec_push(&attrs, argv[i + 1]);
        else if (strcmp(argv[i], "-i") == 0)
            identity = argv[i + 1];
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: gh_client [-o K=V] [-i ID] save|lookup|restore|version ...\n");
        return 2;
    }
    const char *cmd = argv[i++];
    struct bk_provider_config cfg = {.store = NULL, .attrs = &attrs, .getenv = NULL};

    if (strcmp(cmd, "version") == 0) {
        struct github_config c;
        if ((rc = github_parse_config(&cfg, &c))) {
            bk_strvec_clear(&attrs);
            return report(rc, NULL);
        }
        char *v = github_version(&c, i < argc ? argv[i] : identity);
        printf("%s\n", v);
        free(v);
        github_config_release(&c);
        bk_strvec_clear(&attrs);
        return 0;
    }
    const struct bk_provider_ops *ops = bk_provider_find("github");
    if ((rc = ops->create(&cfg, &p))) {
        bk_strvec_clear(&attrs);
        return report(rc, NULL);
    }

    if (strcmp(cmd, "save") == 0 && argc - i == 2) {
        int fd = open(argv[i + 1], O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            perror(argv[i + 1]);
            return 1;
        }
        struct bk_upload u = {.key = argv[i], .identity = identity, .size = (uint64_t)st.st_size};
        rc = ops->upload(p, &u, fd);
        close(fd);
        rc = report(rc, argv[i]);
    } else if ((strcmp(cmd, "lookup") == 0 && argc - i >= 1) ||
               (strcmp(cmd, "restore") == 0 && argc - i >= 2)) {
        int restore = strcmp(cmd, "restore") == 0;
        const char *out = restore ? argv[i++] : NULL;
        struct bk_lookup q = {.key = argv[i],
                              .restore_keys = (const char *const *)argv + i + 1,
                              .nrestore = (size_t)(argc - i - 1),
                              .identity = identity};
        struct bk_provider_entry e = {0};
        rc = ops->lookup(p, &q, &e);
        if (!rc && restore) {
            int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) {
                perror(out);
                return 1;
            }
            rc = ops->download(p, &e, fd);
            close(fd);
        }
        rc = report(rc, e.key);
        bk_provider_entry_release(&e);
    } else {
        fprintf(stderr, "gh_client: bad arguments for '%s'\n", cmd);
        rc = 2;
    }
    ops->destroy(p);
    bk_strvec_clear(&attrs);
    return rc;
}
