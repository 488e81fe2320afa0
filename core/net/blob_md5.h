/*
 * blob_md5.h - the MD5 of each block of a file, computed ahead on a thread.
 *
 * An Azure Put Block request may carry Content-MD5: the store then checks
 * the block on arrival and refuses a damaged one (400 Md5Mismatch) instead of
 * committing it. The header must be sent before the body, so the digest of a
 * block has to exist before its request starts. Computing every digest first
 * would delay the whole upload by a full read of the file; this computes them
 * in order on one thread while the earlier blocks are already on the wire,
 * and the transfer starts each block as soon as its digest is ready.
 *
 * Block i covers bytes [i * block, min(size, (i + 1) * block)) of `fd`, read
 * with pread (the caller may read the same fd concurrently). Memory: one
 * 1 MiB buffer plus 25 bytes per block.
 */
#ifndef BK_BLOB_MD5_H
#define BK_BLOB_MD5_H

#include <stdint.h>

struct bk_blob_md5s;

/* Start hashing; NULL only when the thread cannot be started (error set). */
struct bk_blob_md5s *bk_blob_md5s_start(int fd, uint64_t size, uint64_t block);

/* Block `index`'s digest in base64 (24 characters and a NUL) into `out`:
 * 1 when it is ready, 0 when not yet, a negative bk_status when reading the
 * file failed (error set). Never blocks. */
int bk_blob_md5s_get(struct bk_blob_md5s *m, uint64_t index, char out[25]);

/* Stop the thread (even midway) and free everything; NULL is fine. */
void bk_blob_md5s_stop(struct bk_blob_md5s *m);

#endif
