# layers_hooks.sh - sourced by tests/layers/run_cases.sh for the Azure suite: each job of
# the layer-cache cases is a new run of the pipeline on main (the previous one finished),
# so a blob an earlier run stored is found there and referenced, not uploaded again.
# Needs E (the emulator) and work from run.sh.
# shellcheck shell=bash
layers_build=${LAYERS_FIRST_BUILD:-300}
layers_run() { # BUILD: this run in progress, as the agent sets it
  export TF_BUILD=True SYSTEM_COLLECTIONURI="$E/fabrikam/" SYSTEM_TEAMPROJECT="Fabrikam Fiber"
  export SYSTEM_TEAMPROJECTID=6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c SYSTEM_DEFINITIONID=5
  export BUILD_BUILDID=$1 BUILD_CONTAINERID=$((1000 + $1)) BUILD_SOURCEBRANCH=refs/heads/main
  export SYSTEM_JOBID=job-$1 SYSTEM_ACCESSTOKEN=test-token AGENT_TEMPDIRECTORY="$work/agent-temp"
  curl -sf -X POST "$E/_emulator/build" -H 'Content-Type: application/json' \
    -d "{\"id\":$1,\"definition\":5,\"branch\":\"refs/heads/main\",\"status\":\"inProgress\",\"result\":null}" >/dev/null
}
layers_next_job() {
  curl -sf -X POST "$E/_emulator/build" -H 'Content-Type: application/json' \
    -d "{\"id\":$layers_build,\"definition\":5,\"branch\":\"refs/heads/main\",\"result\":\"succeeded\"}" >/dev/null
  layers_build=$((layers_build + 1))
  layers_run "$layers_build"
}
layers_run "$layers_build"
