/*
 * musl-compat.h - what the release build's musl lacks and glibc has.
 *
 * Force-included (-include) into every file of the static release build
 * only (mk/release.mk). Debian bookworm's musl (1.2.3) has no renameat2()
 * wrapper, which core/archive_swap uses for RENAME_EXCHANGE; the kernel
 * call is the same, so it is made directly. The function is renamed so a
 * newer musl that declares renameat2 itself does not clash with it.
 */
#ifndef BK_MUSL_COMPAT_H
#define BK_MUSL_COMPAT_H

#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static inline int bk_musl_renameat2(int olddirfd, const char *oldpath, int newdirfd,
                                    const char *newpath, unsigned int flags)
{
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}
#define renameat2 bk_musl_renameat2

#endif
