# cases_7_delta.sh - delta saves through the GitHub cache (sourced by run.sh). Each layer is a
# blob entry bkcache-.blob-sha256-<hex> (immutable, scoped like any entry), the index an
# ordinary entry under the save key. The shared cases (tests/delta/cases.sh) run against
# the emulator: the hooks count blob entries, delete one through the repository's REST API
# and overwrite one in Azurite. Then the emulator's records: every key within the service's
# rules, each index committed after its blobs; a feature branch's delta stands on main's
# base blob (two branches share it); and @actions/cache still finds bkcache's entry under
# its key.
# shellcheck shell=bash

reset
DG=$WORK/delta-gh
mkdir -p "$DG"
gh_entries() { curl -fsS "$EMU/_emu/entries"; }
# gh_blob HEX FIELD: FIELD of the committed blob entry of sha256:HEX ("" when none)
gh_blob() {
  gh_entries | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
    const e=JSON.parse(s).find(e=>e.final&&e.key==="bkcache-.blob-sha256-"+process.argv[1]);
    console.log(e?e[process.argv[2]]:"")})' "$1" "$2"
}
delta_blobs() {
  gh_entries | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>
    console.log(JSON.parse(s).filter(e=>e.final&&e.key.startsWith("bkcache-.blob-sha256-")).length))'
}
delta_drop() { # evicted: deleted through the REST API, as GitHub's own eviction would
  curl -fsS -X DELETE -H 'Authorization: Bearer ghs-emu-write' \
    "$EMU/repos/octo/app/actions/caches/$(gh_blob "$1" id)"
}
delta_corrupt() { # other bytes of the same size in the entry's Azurite blob
  local url
  url=$(curl -fsS -G "$EMU/_emu/sas" --data-urlencode "blob=$(gh_blob "$1" blob)" --data-urlencode sp=cw)
  head -c "$DELTA_BASE_SIZE" /dev/urandom >"$DG/garbage"
  curl -fsS -X PUT -H 'x-ms-blob-type: BlockBlob' --data-binary @"$DG/garbage" "$url"
}
gh_keys_ok() {
  gh_entries | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
    const bad=JSON.parse(s).filter(e=>e.key.length>512||e.key.includes(",")||
      (e.key.startsWith("bkcache-.blob-")&&!/^bkcache-\.blob-sha256-[0-9a-f]{64}$/.test(e.key)));
    if(bad.length){console.error(bad);process.exit(1)}})'
}
# gh_order_check: after job 4 (DELTA_TOP known, nothing dropped yet), the emulator's order
# of commits: the 2-layer index after both its blobs; the killed save's blob, no entry
gh_order_check() {
  local s2key
  s2key=$(dfield "$D/s2.json" save_key)
  check "delta/github: the 2-layer index was committed after both its blobs" bash -c \
    "gh=\$(curl -fsS '$EMU/_emu/entries'); node -e '
      const a=JSON.parse(process.argv[1]), f=(k)=>(a.find(e=>e.final&&e.key===k)||{}).finalized;
      const i=f(process.argv[2]), b=f(\"bkcache-.blob-sha256-\"+process.argv[3]), t=f(\"bkcache-.blob-sha256-\"+process.argv[4]);
      process.exit(i&&b&&t&&i>b&&i>t?0:1)' \"\$gh\" '$s2key' '$DELTA_BASE' '$DELTA_TOP'"
  check "delta/github: the killed save committed no entry under its key" bash -c \
    "! curl -fsS '$EMU/_emu/entries' | grep -q -- '$(dfield "$D/s2.json" key)-r4\"'"
  check "delta/github: 3 blob entries: the base, the delta, the killed save's" test "$(delta_blobs)" = 3
}
delta_next_job() { if [ -n "${DELTA_TOP:-}" ] && [ -z "${gh_ordered:-}" ]; then gh_ordered=1 && gh_order_check; fi; }
delta_after() {
  check "delta/github: every key within the cache service's rules (512 characters, no commas)" \
    gh_keys_ok
}
DELTA_WORK=$DG/cases
DELTA_ARGS=(--provider github)
# with a token for the REST API bkcache can list the entries, so a broken newest entry does
# not hide an older complete one under the same restore key (below: without it)
export GITHUB_TOKEN=ghs-emu-write GITHUB_API_URL=$EMU GITHUB_REPOSITORY=octo/app
# shellcheck source=tests/delta/cases.sh
. "$ROOT/tests/delta/cases.sh"
unset -f delta_after delta_next_job delta_corrupt
unset GITHUB_TOKEN GITHUB_API_URL GITHUB_REPOSITORY

# without that token a lookup only gets the newest entry of a restore key: when that one
# has lost a layer the restore may miss, but it never leaves a partial tree
reset
dbk save --dir "$D/src" --state "$DG/n1.state" --key-extra v1 --run-id n1 >"$DG/n1.json" 2>"$DG/n1.err"
dbk restore --dir "$DG/n2" --state "$DG/n2.state" --key-extra v1 --run-id n2 >/dev/null 2>&1
dchange "$DG/n2"
dbk save --dir "$DG/n2" --state "$DG/n2.state" --key-extra v2 --run-id n2 >"$DG/n2.json" 2>"$DG/n2.err"
dbk restore --dir "$DG/n3" --state "$DG/n3.state" --key-extra v2 --run-id n3 >/dev/null 2>&1
delta_drop "$(dlayers "$DG/n3" 'L[1]["digest"][7:]')" >/dev/null
dbk restore --dir "$DG/n4" --state "$DG/n4.state" --key-extra v2 --run-id n4 >"$DG/n4.json" 2>"$DG/n4.err"
check "delta/github: no API token, the newest entry broken: v1's tree whole, or a miss and no tree" bash -c \
  "{ [ '$(dfield "$DG/n4.json" matched_key)' = '$(dfield "$DG/n1.json" save_key)' ] && diff -r -x .bkcache-base '$D/src' '$DG/n4'; } ||
   { [ '$(dfield "$DG/n4.json" action)' = miss ] && [ ! -e '$DG/n4/dcache' ]; } || { cat '$DG/n4.json' '$DG/n4.err'; false; }"

# two branches share a blob: a feature branch (its own scope, main's readable) restores
# main's cache, changes 2% and saves a delta that stands on main's base blob
reset
FEAT_TOKEN=$(token '[{"Scope":"refs/heads/feature","Permission":3},{"Scope":"refs/heads/main","Permission":1}]')
B=$DG/branches
rm -rf "$B" && mkdir -p "$B" && cp "$D/Dockerfile" "$B/Dockerfile"
bb() { "$BKCACHE" "$1" -f "$B/Dockerfile" --mount dcache --provider github --json "${@:2}"; }
dfill "$B/main"
bb save --dir "$B/main" --state "$B/m.state" --key-extra br --run-id m1 >"$B/m1.json" 2>"$B/m1.err"
ACTIONS_RUNTIME_TOKEN=$FEAT_TOKEN bb restore --dir "$B/f" --state "$B/f.state" --key-extra br \
  --run-id f1 >"$B/f1r.json" 2>"$B/f1r.err"
BR_BASE=$(dlayers "$B/f" 'L[0]["digest"][7:]')
BR_BASE_SIZE=$(dlayers "$B/f" 'L[0]["size"]')
check "delta/github: a feature branch restores main's layered entry" bash -c \
  "[ '$(dfield "$B/f1r.json" matched_key)' = '$(dfield "$B/m1.json" save_key)' ] && diff -r -x .bkcache-base '$B/main' '$B/f'"
dchange "$B/f"
ACTIONS_RUNTIME_TOKEN=$FEAT_TOKEN bb save --dir "$B/f" --state "$B/f.state" --key-extra br \
  --run-id f1 >"$B/f1.json" 2>"$B/f1.err"
check "delta/github: the feature branch's save sends a delta, not main's base again" \
  test "$(dfield "$B/f1.json" action)" = saved -a "$(dfield "$B/f1.json" bytes)" -lt $((${BR_BASE_SIZE:-0} / 5))
check "delta/github: one base blob entry, in main's scope; the delta's in the feature's" bash -c \
  "curl -fsS '$EMU/_emu/entries' | node -e 'let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>{
    const b=JSON.parse(s).filter(e=>e.final&&e.key.startsWith(\"bkcache-.blob-\"));
    const base=b.filter(e=>e.key.endsWith(\"$BR_BASE\"));
    process.exit(b.length===2&&base.length===1&&base[0].scope===\"refs/heads/main\"&&
      b.find(e=>e!==base[0]).scope===\"refs/heads/feature\"?0:1)})'"
ACTIONS_RUNTIME_TOKEN=$FEAT_TOKEN bb restore --dir "$B/f2" --state "$B/f2.state" --key-extra br \
  --run-id f2 >"$B/f2.json" 2>"$B/f2.err"
check "delta/github: the feature's entry restores from main's base blob and its own delta" bash -c \
  "[ '$(dfield "$B/f2.json" matched_key)' = '$(dfield "$B/f1.json" save_key)' ] && [ '$(dlayers "$B/f2" 'len(L), L[0]["digest"][7:]' | tr -d "'")' = '(2, $BR_BASE)' ] && diff -r -x .bkcache-base '$B/f' '$B/f2' || { cat '$B/f2.json' '$B/f2.err'; zstd -dc '$B/f2/dcache/.bkcache-base' | head -1; false; }"
bb restore --dir "$B/m2" --state "$B/m2.state" --key-extra br --run-id m2 >"$B/m2.json" 2>"$B/m2.err"
check "delta/github: main still restores its own entry (it cannot see the feature's)" bash -c \
  "[ '$(dfield "$B/m2.json" matched_key)' = '$(dfield "$B/m1.json" save_key)' ] && diff -r -x .bkcache-base '$B/main' '$B/m2'"

# prune from main, with a token that may delete: the REST API lists the feature's index,
# which main's cache service scope cannot read, so the blob step stops (an index it cannot
# read must never make the blobs it names look unreferenced) and every blob stays
before=$(curl -fsS "$EMU/_emu/entries" | grep -o '"key":"bkcache-.blob-[^"]*"' | sort | tr '\n' ' ')
GITHUB_TOKEN=ghs-emu-write GITHUB_API_URL=$EMU GITHUB_REPOSITORY=octo/app BKCACHE_BLOB_GRACE=0 \
  "$BKCACHE" prune --keep 100 --provider github >"$B/prune.out" 2>&1
after=$(curl -fsS "$EMU/_emu/entries" | grep -o '"key":"bkcache-.blob-[^"]*"' | sort | tr '\n' ' ')
check "delta/github: prune from main stops its blob step at the feature's unreadable index" bash -c \
  "grep -q 'not readable from this ref' '$B/prune.out' && [ -n '$before' ] && [ '$before' = '$after' ] || { cat '$B/prune.out'; false; }"

# interop: the layered entry is what @actions/cache finds under the key (same version from
# the same path list); its blob entries are bkcache's own
mkdir -p "$B/ws/data"
bb save --dir "$B/main" --state "$B/io.state" --key-extra io --run-id io1 --store-opt path=data \
  >"$B/io.json" 2>"$B/io.err"
io_key=$(dfield "$B/io.json" save_key)
check "delta/github: @actions/cache finds bkcache's layered entry under its key" bash -c \
  "cd '$B/ws' && GITHUB_WORKSPACE='$B/ws' node '$HERE/interop.mjs' lookup '$io_key' - data | grep -qx 'matched=$io_key'"
