# cases_6_layers.sh - the layer cache (--layers) through the GitHub cache (sourced by run.sh):
# each blob is one immutable entry keyed by its digest, the index an ordinary entry. The
# shared cases (tests/layers/cases.sh) run against the emulator, then the emulator's own
# records show the dedup: entries created only for blobs it did not hold.
# shellcheck shell=bash

reset
LAYERS_WORK=$WORK/layers
LAYERS_ARGS=(--provider github)
# shellcheck source=tests/layers/cases.sh
. "$ROOT/tests/layers/cases.sh"

emu_stat() { curl -fsS "$EMU/_emu/stats" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]||0))' "$1"; }
emu_blobs() { # "COUNT BYTES" of the emulator's blob entries
  curl -fsS "$EMU/_emu/entries" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const b=JSON.parse(s).filter(e=>e.final&&e.key.startsWith("bkcache-.blob-sha256-"));console.log(b.length+" "+b.reduce((a,e)=>a+e.size,0))})'
}
S1_BYTES=$(jget "$L/s1.json" 'd["bytes_uploaded"]')
check "layers/github: the emulator holds 10 blob entries, as many bytes as the two saves sent" \
  test "$(emu_blobs)" = "10 $((S1_BYTES + LAYERS_BYTES_V2))"
check "layers/github: 12 entries created in all: 7 blobs + index, then 3 blobs + index" \
  test "$(emu_stat twirp.CreateCacheEntry)" = 12
