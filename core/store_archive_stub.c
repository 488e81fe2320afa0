/*
 * store_archive_stub.c - TEMPORARY stand-ins for core/archive until the
 * archive branch lands on main; deleted by the rebase that brings it in.
 * Every function fails with a message, so save/restore in --dir mode
 * report "archive support is not in this build" instead of failing to link.
 */
#include "core/archive.h"

#include "core/error.h"

__attribute__((weak)) int bk_archive_pack(const char *dir, int out_fd,
                                          const struct bk_pack_opts *opts,
                                          struct bk_archive_stats *st)
{
    (void)dir, (void)out_fd, (void)opts, (void)st;
    return bk_error_set(BK_ERR, "archive support is not in this build yet");
}

__attribute__((weak)) int bk_archive_unpack(int in_fd, const char *dir,
                                            const struct bk_unpack_opts *opts,
                                            struct bk_archive_stats *st,
                                            struct bk_archive_manifest *manifest_out)
{
    (void)in_fd, (void)dir, (void)opts, (void)st, (void)manifest_out;
    return bk_error_set(BK_ERR, "archive support is not in this build yet");
}
