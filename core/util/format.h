/*
 * format.h - times and sizes as people read them, for tables and reports.
 */
#ifndef BK_FORMAT_H
#define BK_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-27T19:40:00Z", or "-" for 0. */
void bk_format_time(int64_t t, char *buf, size_t sz);
/* "512 B", "1.5 MiB". */
void bk_format_size(uint64_t n, char *buf, size_t sz);

#endif
