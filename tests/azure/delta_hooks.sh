# delta_hooks.sh - hooks for tests/delta/run_cases.sh on Azure Pipelines: each job is a new
# run of the pipeline on main (layers_hooks.sh's runs), a blob is the artifact
# bkcache-.blob-sha256-<hex> of the run that first stored it: the emulator's state counts
# them, and its control deletes one (as retention deleting the artifact would). Needs E
# and work from run.sh.
# shellcheck shell=bash
# shellcheck source=tests/azure/layers_hooks.sh
LAYERS_FIRST_BUILD=${DELTA_FIRST_BUILD:-400} . "$(dirname "${BASH_SOURCE[0]}")/layers_hooks.sh"
# DELTA_* are read by tests/delta/cases.sh; no prune case: artifacts go with their run
# (retention), bkcache cannot delete them
# shellcheck disable=SC2034
DELTA_ARGS=(--provider azure) DELTA_NO_PRUNE=1
az_state() { curl -sf "$E/_emulator/state"; }
delta_next_job() { layers_next_job; }
delta_blobs() {
  az_state | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(
    Object.values(JSON.parse(s).artifacts).flat().filter(a=>a.name.startsWith("bkcache-.blob-sha256-")).length))'
}
delta_drop() {
  local b
  b=$(az_state | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const a=JSON.parse(s).artifacts;
    console.log(Object.keys(a).find(k=>a[k].some(x=>x.name==="bkcache-.blob-sha256-"+process.argv[1]))||"")})' "$1")
  curl -sf -X POST "$E/_emulator/delete-artifact" -H 'Content-Type: application/json' \
    -d "{\"build\":$b,\"name\":\"bkcache-.blob-sha256-$1\"}"
}
