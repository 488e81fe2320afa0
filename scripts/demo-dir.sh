#!/bin/sh
# demo-dir.sh - the directory-mode demo: a real save/restore round trip on a
# fresh local store, without a builder.
#
#   sh scripts/demo-dir.sh [DOCKERFILE]     run the demo (default examples/Dockerfile,
#                                           else tests/e2e/Dockerfile.dirmode)
#   sh scripts/demo-dir.sh --fill DIR SEED  only generate a cache tree in DIR
#
# The demo finds the Dockerfile's cache identities (`bkcache plan`), fills
# one directory per identity with generated files (nested directories, a
# symlink, a hardlink, an empty directory, an executable), saves them to a
# fresh local store, restores them into empty directories, and proves the
# trees identical twice: the content digests reported by save and restore
# match, and `diff -r` finds no difference. BKCACHE names the binary
# (default ./bkcache). Exit 0 only when every tree came back identical.
# The builder round trip (issue 4) calls this when no BuildKit is reachable.
set -eu

fill() {
  dir=$1
  seed=$2
  mkdir -p "$dir/objects" "$dir/pkg/mod/cache" "$dir/empty"
  i=0
  while [ $i -lt 40 ]; do
    sub=$((i % 5))
    mkdir -p "$dir/objects/$sub"
    awk -v s="$seed" -v i="$i" 'BEGIN { srand(s * 1000 + i);
      n = 200 + int(rand() * 4000);
      for (k = 0; k < n; k++) printf "%c", 97 + int(rand() * 26); print "" }' \
      >"$dir/objects/$sub/obj-$i"
    i=$((i + 1))
  done
  printf 'module example.com/demo\n' >"$dir/pkg/mod/cache/go.mod"
  printf '#!/bin/sh\necho hi\n' >"$dir/pkg/tool.sh"
  chmod 755 "$dir/pkg/tool.sh"
  ln -sf ../objects/0/obj-0 "$dir/pkg/link"
  ln -f "$dir/objects/1/obj-1" "$dir/pkg/hardlink"
}

if [ "${1:-}" = "--fill" ]; then
  fill "$2" "${3:-1}"
  exit 0
fi

BK=${BKCACHE:-./bkcache}
df=${1:-examples/Dockerfile}
[ -f "$df" ] || df=tests/e2e/Dockerfile.dirmode
work=$(mktemp -d "${TMPDIR:-/tmp}/bkcache-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
common="-f $df --provider local --store $work/store"

names=$("$BK" plan $common --dir "$work/caches" | grep -E '^[A-Za-z0-9._-]+$')
[ -n "$names" ] || { echo "demo: $df has no cache mounts" >&2; exit 1; }
echo "demo: $df, caches: $(echo $names)"

seed=1
for n in $names; do
  fill "$work/caches/$n" $seed
  seed=$((seed + 1))
done

echo "== save into a fresh local store ($work/store)"
"$BK" save $common --dir "$work/caches" --state "$work/save-state.json" --fail-on-error
"$BK" save $common --dir "$work/caches" --state "$work/save-state.json" --json \
  >"$work/save.json" 2>/dev/null
echo "== restore into empty directories"
"$BK" restore $common --dir "$work/restored" --state "$work/restore-state.json" \
  --fail-on-cache-miss --fail-on-error --json >"$work/restore.json"

digests() { sed -n 's/.*"digest":[[:space:]]*"\([0-9a-f]*\)".*/\1/p' "$1"; }
[ "$(digests "$work/save.json")" = "$(digests "$work/restore.json")" ] ||
  { echo "demo: digests differ" >&2; exit 1; }
[ "$(digests "$work/restore.json" | grep -c .)" -eq "$(echo "$names" | grep -c .)" ] ||
  { echo "demo: restore reported no digest" >&2; exit 1; }
diff -r "$work/caches" "$work/restored" || { echo "demo: trees differ" >&2; exit 1; }

echo "== summary"
"$BK" ls --provider local --store "$work/store"
for n in $names; do
  files=$(find "$work/restored/$n" -type f | wc -l)
  d=$(digests "$work/restore.json" | sed -n "$(echo "$names" | grep -n "^$n\$" | cut -d: -f1)p")
  echo "$n: $files files restored, digest $(echo "$d" | cut -c1-16)..., diff -r clean"
done
echo "demo: OK, every cache came back identical"
