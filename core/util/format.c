/*
 * format.c - human-readable times and sizes; see format.h.
 */
#include "core/util/format.h"

#include <stdio.h>
#include <time.h>

void bk_format_time(int64_t t, char *buf, size_t sz)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || !gmtime_r(&tt, &tm)) {
        snprintf(buf, sz, "-");
        return;
    }
    strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void bk_format_size(uint64_t n, char *buf, size_t sz)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;

    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, sz, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, sz, "%.1f %s", v, units[u]);
}
