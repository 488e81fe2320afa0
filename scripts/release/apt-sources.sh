#!/bin/sh
# apt-sources.sh - make `apt-get source` work: add deb-src entries that
# mirror the machine's own Debian `deb` entries (same mirrors, suites and
# components), then refresh the package lists once.
#
# The release build compiles its static libraries from Debian's source
# packages; a stock Debian image lists only binary (`deb`) entries. The
# entries are derived from what apt already uses, so no mirror is named
# here. Runs as root; does nothing when deb-src entries already exist.
set -eu
out=/etc/apt/sources.list.d/bkcache-deb-src.sources
list=/etc/apt/sources.list.d/bkcache-deb-src.list

if grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "release: no deb-src entry in apt's sources and not root; add one (see $0)" >&2
  exit 1
fi

# deb822 files: copy every stanza whose Types has `deb`, as deb-src.
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  case "$f" in "$out") continue ;; esac
  grep -q '^URIs:.*debian' "$f" || continue
  awk 'BEGIN { RS = ""; ORS = "\n\n" }
       /(^|\n)Types:[^\n]*[[:space:]]deb([[:space:]]|$)/ || /(^|\n)Types: deb(\n|$)/ {
         sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f"
done >"$out.tmp"
# one-line format: `deb URI suite comps` -> `deb-src URI suite comps`.
grep -hsE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
  grep debian | sed 's/^deb\([[:space:]]\)/deb-src\1/' >"$list.tmp" || true

[ -s "$out.tmp" ] && mv "$out.tmp" "$out" || rm -f "$out.tmp"
[ -s "$list.tmp" ] && mv "$list.tmp" "$list" || rm -f "$list.tmp"
if ! [ -f "$out" ] && ! [ -f "$list" ]; then
  echo "release: found no Debian deb entry in apt's sources to mirror as deb-src" >&2
  exit 1
fi
echo "release: added deb-src entries; updating package lists"
apt-get update -qq
