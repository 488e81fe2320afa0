/*
 * sha256.c - SHA-256 of memory and of a file, and the digest syntax; see
 * sha256.h.
 */
#include "core/util/sha256.h"

#include "core/util/error.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void bk_hex32(const unsigned char md[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

void bk_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    bk_hex32(md, hex);
}

int bk_sha256_fd(int fd, const char *what, char hex[65], uint64_t *size_out)
{
    unsigned char *buf = malloc(1 << 20), md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint64_t off = 0;
    int rc = BK_OK;

    if (!buf || !ctx)
        abort();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (;;) {
        ssize_t got = pread(fd, buf, 1 << 20, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = bk_error_set(BK_ERR, "%s: read: %s", what, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)got);
        off += (uint64_t)got;
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    free(buf);
    bk_hex32(md, hex);
    if (size_out)
        *size_out = off;
    return rc;
}

int bk_digest_valid(const char *digest)
{
    if (strncmp(digest, "sha256:", 7) != 0)
        return 0;
    digest += 7;
    for (int i = 0; i < 64; i++)
        if (!((digest[i] >= '0' && digest[i] <= '9') || (digest[i] >= 'a' && digest[i] <= 'f')))
            return 0;
    return digest[64] == '\0';
}
