# cases_interop.sh - bkcache and the official @actions/cache client find and restore each
# other's entries (sourced by run.sh). Both compute `version` from the same path list ("data").
# shellcheck shell=bash

G=$GH_CLIENT
I=$WORK/interop
mkdir -p "$I"
ac_node() { (cd "$I/$1" && shift && GITHUB_WORKSPACE=$PWD node "$HERE/interop.mjs" "$@"); }

make_tree() { # DIR: a small tree with a subdirectory, an empty file and an executable
  mkdir -p "$1/data/sub"
  head -c 50000 /dev/urandom >"$1/data/blob.bin"
  echo hello >"$1/data/sub/hello.txt"
  : >"$1/data/empty"
  printf '#!/bin/sh\necho hi\n' >"$1/data/run.sh"
  chmod 755 "$1/data/run.sh"
}

# an archive as bkcache writes it (`bkcache pack`: the tree's contents at the top, plus
# .bkcache/manifest.json); tar | zstd with member names under data/ while pack is missing
pack_tree() { # WS ARCHIVE
  if "$BKCACHE" pack "$1/data" "$2" >/dev/null 2>&1; then
    PACKED_BY=bkcache
  else
    PACKED_BY=tar
    tar --posix -cf - -C "$1" data | zstd -q -T0 -o "$2"
  fi
}

reset
mkdir -p "$I/ws1" "$I/ws2" "$I/ws3" "$I/ws4"
make_tree "$I/ws1"
pack_tree "$I/ws1" "$I/bk.tzst"
check "interop: bkcache saves an entry (path=data)" $G -o path=data save interop-bk "$I/bk.tzst"
check "interop: @actions/cache restoreCache finds bkcache's entry" \
  bash -c "$(declare -f ac_node); I=$I HERE=$HERE; ac_node ws2 restore interop-bk - data | grep -qx 'matched=interop-bk'"
if [ "$PACKED_BY" = bkcache ]; then got=$I/ws2; else got=$I/ws2/data; fi
check "interop: restored tree equals the saved one (content and modes; packed by $PACKED_BY)" \
  bash -c "diff -r -x .bkcache $I/ws1/data $got && [ -x $got/run.sh ]"

make_tree "$I/ws3"
check "interop: @actions/cache saveCache stores an entry" \
  bash -c "$(declare -f ac_node); I=$I HERE=$HERE; ac_node ws3 save interop-ac data | grep -q '^id=[1-9]'"
check "interop: bkcache finds and downloads saveCache's entry" \
  $G -o path=data restore "$I/ac.tzst" interop-ac
check "interop: saveCache's archive unpacks to the same tree" \
  bash -c "zstd -dc $I/ac.tzst | tar -xf - -C $I/ws4 && diff -r $I/ws3/data $I/ws4/data"

# restore-key prefix matching picks the same winner in both clients
echo one >"$I/one"; echo two >"$I/two"
$G -o path=data save win-1 "$I/one" >/dev/null 2>&1
sleep 0.05
ac_node ws3 save win-2 data >/dev/null 2>&1
sleep 0.05
$G -o path=data save win-3 "$I/two" >/dev/null 2>&1
check "interop: bkcache picks the newest prefix match (win-3)" \
  bash -c "$G -o path=data lookup nope nomatch- win- | grep -q 'key=win-3 '"
check "interop: @actions/cache picks the same winner" \
  bash -c "$(declare -f ac_node); I=$I HERE=$HERE; ac_node ws3 lookup nope nomatch-,win- data | grep -qx 'matched=win-3'"
ac_node ws3 save win-4 data >/dev/null 2>&1
check "interop: after saveCache adds win-4 both pick it" \
  bash -c "$(declare -f ac_node); I=$I HERE=$HERE; ac_node ws3 lookup nope win- data | grep -qx 'matched=win-4' && $G -o path=data lookup nope win- | grep -q 'key=win-4 '"

# the same through service v1
rm -rf "$I/ws4"/*
check "interop v1: saveCache through the v1 REST service" \
  bash -c "$(declare -f ac_node); I=$I HERE=$HERE; env -u ACTIONS_CACHE_SERVICE_V2 ACTIONS_CACHE_URL=$EMU/ CACHE_UPLOAD_CHUNK_SIZE=1 bash -c '$(declare -f ac_node); I=$I HERE=$HERE; ac_node ws3 save interop-v1 data' | grep -q '^id=[1-9]'"
check "interop v1: bkcache restores it" \
  bash -c "env -u ACTIONS_CACHE_SERVICE_V2 ACTIONS_CACHE_URL=$EMU/ $G -o path=data restore $I/v1.tzst interop-v1 && zstd -dc $I/v1.tzst | tar -xf - -C $I/ws4 && diff -r $I/ws3/data $I/ws4/data"
