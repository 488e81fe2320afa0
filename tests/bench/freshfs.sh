# freshfs.sh - sourced by the benchmarks: an empty file system for each step
# that creates many files.
#
# How long creating 100k files takes on ext4 depends on the disk's history:
# after a mass deletion ext4 skips, when it allocates inodes, those freed in
# the last minute or more (longer while their inode table block is dirty),
# and the cost keeps drifting as earlier runs' inodes fill the groups. The
# same unpack of W1 measured 4 s on a quiet disk and 8 to 35 s after earlier
# runs, for tar and bkcache alike: on the shared disk a comparison mostly
# measures where the previous run's inodes lay. A CI runner restores onto a
# fresh disk. So, when it can (root, mkfs.ext4, a loop device), each such
# step writes into a new ext4 file system, fully initialised (no lazy inode
# table zeroing in the background), made in a sparse image next to it;
# otherwise into a directory of the work disk after a sync and a wait of
# BENCH_SETTLE seconds (default 61) for freed inodes to age.
# BENCH_FRESH_FS=0 forces the second way.
#
#   fresh_fs DIR       make DIR an empty directory as above (untimed)
#   fresh_fs_done DIR  unmount DIR if it is a mount, remove its image

fresh_fs_done() {
  if mountpoint -q "$1" 2>/dev/null; then umount "$1"; fi
  rm -f "$1.img"
}

fresh_fs() {
  fresh_fs_done "$1"
  rm -rf "$1"; mkdir -p "$1"
  if [ "$(id -u)" = 0 ] && [ "${BENCH_FRESH_FS:-1}" = 1 ] && command -v mkfs.ext4 >/dev/null 2>&1; then
    truncate -s "${BENCH_FS_SIZE:-8G}" "$1.img"
    if mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$1.img" >/dev/null 2>&1 &&
      mount -o loop "$1.img" "$1" 2>/dev/null; then
      sync; return 0
    fi
    rm -f "$1.img"
  fi
  sync
  echo "fresh_fs: no new file system for $1; waiting ${BENCH_SETTLE:-61} s for freed inodes to age" >&2
  sleep "${BENCH_SETTLE:-61}"
}
