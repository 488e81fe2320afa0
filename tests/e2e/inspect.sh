# inspect.sh - run by busybox inside the e2e tests' user builds (never by the
# product). ACTION=fill writes a known tree into each directory given;
# the mtimes (to the nanosecond) come from /bin/mtime-1 and /bin/mtime-2.
# ACTION=change rewrites one file of that tree and adds one.
# ACTION=list writes, for each directory, one line per entry (bkcache's own
# base record .bkcache-base aside): path, type, owner, mode, link count,
# mtime to the nanosecond, and the symlink target or content checksum; then
# whether the two hardlinked names share an inode.
# Output goes to /out/list (the build exports /out).
set -e
bb=/bin/busybox
$bb mkdir -p /out
: >/out/list
for d in "$@"; do
  case "$ACTION" in
  fill)
    $bb mkdir -p "$d/sub/deeper" "$d/empty"
    echo "alpha $d" >"$d/a.txt"
    echo "beta" >"$d/sub/b.txt"
    $bb dd if=/dev/zero of="$d/sub/deeper/zeros" bs=1024 count=64 2>/dev/null
    $bb ln -s sub/b.txt "$d/link"
    $bb ln "$d/a.txt" "$d/a.hard"
    $bb chown 1234:5678 "$d/sub/b.txt"
    $bb chmod 0640 "$d/sub/b.txt"
    $bb chmod 0711 "$d/sub/deeper"
    $bb touch -r /bin/mtime-1 "$d/a.txt"
    $bb touch -r /bin/mtime-2 "$d/sub/b.txt"
    ;;
  change)
    echo "beta, changed" >"$d/sub/b.txt"
    echo "new" >"$d/sub/new.txt"
    $bb touch -r /bin/mtime-1 "$d/sub/b.txt" "$d/sub/new.txt"
    ;;
  list)
    echo "== $d" >>/out/list
    (cd "$d" && $bb find . | $bb grep -v '^\./\.bkcache-base$' | $bb sort | while read -r f; do
      line=$($bb stat -c '%n|%F|%u:%g|%a|%h' "$f")
      [ "$f" = . ] || line="$line|$($bb stat -c '%y' "$f")"
      if [ -L "$f" ]; then line="$line|-> $($bb readlink "$f")"
      elif [ -f "$f" ]; then line="$line|$($bb md5sum <"$f" | $bb cut -c1-32)"; fi
      echo "$line"
    done) >>/out/list
    if [ -f "$d/a.hard" ]; then
      [ "$($bb stat -c %i "$d/a.txt")" = "$($bb stat -c %i "$d/a.hard")" ] &&
        echo "hardlink: shared inode" >>/out/list
    fi
    ;;
  esac
done
