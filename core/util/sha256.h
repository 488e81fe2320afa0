/*
 * sha256.h - SHA-256 in lowercase hex: of a buffer (keys, identities, the
 * state file's name) and of a whole file, the check every content-addressed
 * blob goes through (the store verifies what it downloads unless the
 * reader hashes it as it reads, save what it uploads). The one place bkcache spells a SHA-256; the
 * archive digest (core/archive/) streams its own.
 */
#ifndef BK_SHA256_H
#define BK_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* 32 digest bytes as 64 lowercase hex digits and a NUL. */
void bk_hex32(const unsigned char md[32], char hex[65]);

/* Lowercase hex SHA-256 of `len` bytes at `data`. */
void bk_sha256_hex(const void *data, size_t len, char hex[65]);

/* Lowercase hex SHA-256 of everything in `fd` from offset 0 (pread; the
 * file offset is left alone) into hex (65 bytes with the NUL); *size_out
 * (may be NULL) gets the byte count. BK_ERR naming `what` on a read error. */
int bk_sha256_fd(int fd, const char *what, char hex[65], uint64_t *size_out);

/* 1 when `digest` is "sha256:" followed by 64 lowercase hex digits. */
int bk_digest_valid(const char *digest);

#endif
