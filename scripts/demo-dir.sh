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
  mkdir -p "$dir/objects/0" "$dir/objects/1" "$dir/objects/2" "$dir/objects/3" "$dir/objects/4"
  awk -v s="$seed" -v d="$dir/objects" 'BEGIN { srand(s);
    for (i = 0; i < 40; i++) {
      f = d "/" (i % 5) "/obj-" i; n = 200 + int(rand() * 4000); line = "";
      for (k = 0; k < n; k++) line = line sprintf("%c", 97 + int(rand() * 26));
      print line > f; close(f) } }'
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
"$BK" save $common --dir "$work/caches" --state "$work/save-state.json" --fail-on-error \
  --json >"$work/save.json"
sed -n 's/.*"name":[[:space:]]*"\(.*\)".*/\1/p' "$work/save.json" >"$work/n"
sed -n 's/.*"action":[[:space:]]*"\(.*\)".*/\1/p' "$work/save.json" >"$work/a"
sed -n 's/.*"bytes":[[:space:]]*\([0-9]*\).*/\1/p' "$work/save.json" >"$work/b"
paste -d' ' "$work/n" "$work/a" "$work/b" | awk '{ printf "%s: %s (%d bytes)\n", $1, $2, $3 }'
echo "== restore into empty directories"
"$BK" restore $common --dir "$work/restored" --state "$work/restore-state.json" \
  --fail-on-cache-miss --fail-on-error

digests() { sed -n 's/.*"digest":[[:space:]]*"\([0-9a-f]*\)".*/\1/p' "$1"; }
[ "$(digests "$work/save.json")" = "$(digests "$work/restore-state.json")" ] ||
  { echo "demo: digests differ" >&2; exit 1; }
[ "$(digests "$work/restore-state.json" | grep -c .)" -eq "$(echo "$names" | grep -c .)" ] ||
  { echo "demo: restore reported no digest" >&2; exit 1; }
diff -r -x .bkcache-base "$work/caches" "$work/restored" || { echo "demo: trees differ" >&2; exit 1; }

echo "== summary"
"$BK" ls --provider local --store "$work/store"
for n in $names; do
  files=$(find "$work/restored/$n" -type f ! -name .bkcache-base | wc -l)
  d=$(digests "$work/restore-state.json" | sed -n "$(echo "$names" | grep -n "^$n\$" | cut -d: -f1)p")
  echo "$n: $files files on disk, digest $(echo "$d" | cut -c1-16)..., diff -r clean"
done
echo "demo: OK, every cache came back identical"
