/*
 * buildplan_platform.c - "os/arch[/variant]" as containerd's platforms
 * package normalises it (x86_64 -> amd64, aarch64 -> arm64, arm -> arm/v7,
 * arm64/v8 -> arm64, macos -> darwin), and the host's platform from uname.
 * These give the TARGET* and BUILD* automatic build args.
 */
#include "core/plan/buildplan_int.h"

#include "core/util/error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

static void normalize_arch(struct bk_platform *p)
{
    char *a = p->arch, *v = p->variant;

    if (!strcmp(a, "i386") || !strcmp(a, "i486") || !strcmp(a, "i586") || !strcmp(a, "i686")) {
        strcpy(a, "386");
        v[0] = '\0';
    } else if (!strcmp(a, "x86_64") || !strcmp(a, "x86-64") || !strcmp(a, "amd64")) {
        strcpy(a, "amd64");
        if (!strcmp(v, "v1"))
            v[0] = '\0';
    } else if (!strcmp(a, "aarch64") || !strcmp(a, "arm64")) {
        strcpy(a, "arm64");
        if (!strcmp(v, "8") || !strcmp(v, "v8"))
            v[0] = '\0';
    } else if (!strcmp(a, "armhf")) {
        strcpy(a, "arm");
        strcpy(v, "v7");
    } else if (!strcmp(a, "armel")) {
        strcpy(a, "arm");
        strcpy(v, "v6");
    } else if (!strcmp(a, "arm")) {
        if (!v[0] || !strcmp(v, "7"))
            strcpy(v, "v7");
        else if (!strcmp(v, "5") || !strcmp(v, "6") || !strcmp(v, "8")) {
            memmove(v + 1, v, 2);
            v[0] = 'v';
        }
    }
}

static const char *host_arch(void)
{
    static char arch[32];
    struct utsname u;
    struct bk_platform p = {"linux", "", ""};

    if (arch[0])
        return arch;
    if (uname(&u) != 0)
        return "amd64";
    if (!strncmp(u.machine, "armv7", 5) || !strncmp(u.machine, "armv6", 5)) {
        snprintf(arch, sizeof(arch), "arm/v%c", u.machine[4]);
        return arch;
    }
    snprintf(p.arch, sizeof(p.arch), "%s", u.machine);
    normalize_arch(&p);
    snprintf(arch, sizeof(arch), "%s", p.arch);
    return arch;
}

const char *bk_host_platform(void)
{
    static char buf[64];
    if (!buf[0])
        snprintf(buf, sizeof(buf), "linux/%s", host_arch());
    return buf;
}

int bk_platform_parse(const char *s, struct bk_platform *out)
{
    char *parts[3] = {out->os, out->arch, out->variant};
    size_t np = 0, len = 0;

    memset(out, 0, sizeof(*out));
    for (const char *c = s;; c++) {
        if (*c == '/' || !*c) {
            if (len == 0 || np >= 3)
                return bk_error_set(BK_EINVAL,
                                    "invalid platform \"%s\": expected os/arch[/variant]", s);
            parts[np++][len] = '\0';
            len = 0;
            if (!*c)
                break;
            continue;
        }
        if (!isalnum((unsigned char)*c) && !strchr("_.-", *c))
            return bk_error_set(BK_EINVAL, "invalid platform \"%s\": unexpected character '%c'", s,
                                *c);
        if (np >= 3 || len + 1 >= sizeof(out->os))
            return bk_error_set(BK_EINVAL, "invalid platform \"%s\": too long", s);
        parts[np][len++] = (char)tolower((unsigned char)*c);
    }
    if (np == 1) {
        /* one word: an OS takes the host's arch, anything else is an arch on linux */
        if (!strcmp(out->os, "linux") || !strcmp(out->os, "windows") ||
            !strcmp(out->os, "darwin") || !strcmp(out->os, "freebsd")) {
            char tmp[64];
            snprintf(tmp, sizeof(tmp), "%s/%s", out->os, host_arch());
            return bk_platform_parse(tmp, out);
        }
        memcpy(out->arch, out->os, sizeof(out->arch));
        strcpy(out->os, "linux");
    }
    if (!strcmp(out->os, "macos"))
        strcpy(out->os, "darwin");
    normalize_arch(out);
    return BK_OK;
}

void bk_platform_format(const struct bk_platform *p, char *buf, size_t size)
{
    if (p->variant[0])
        snprintf(buf, size, "%s/%s/%s", p->os, p->arch, p->variant);
    else
        snprintf(buf, size, "%s/%s", p->os, p->arch);
}
