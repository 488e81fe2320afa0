# task_e2e.sh - sourced by task.sh: the task with the real bkcache (--dir
# mode, no builder) against the emulator, over two pipeline runs: run 91
# misses, its post-job step saves an artifact; run 92 restores it exactly, and
# its post-job step, run after an exact hit, uploads nothing because nothing
# changed. Set AZURE_TASK_LOG=DIR to keep the four step logs
# (docs/azure-pipelines.md quotes them).
E2E="BKCACHE_BINARY=$BKCACHE INPUT_CACHEHITVAR=CACHE_RESTORED"
fresh
ctl build '{"id":91,"definition":5,"branch":"refs/heads/main","status":"inProgress","result":null}'
mkdir -p "$work/t91" "$work/t92" "$work/caches91" "$work/caches92"
# shellcheck disable=SC2086
TASK_BUILD=91 run_task main.js $E2E AGENT_TEMPDIRECTORY="$work/t91" "INPUT_ARGUMENTS=--dir $work/caches91" \
  >"$work/main91.log" 2>&1; rc=$?
name=$(node -e '
  const t = require("fs").readFileSync(process.argv[1], "utf8");
  const m = /^\{[\s\S]*?^\}$/m.exec(t);
  console.log(m ? JSON.parse(m[0]).identities[0].name : "");' "$work/main91.log" 2>/dev/null)
arts=$(state | js "Object.values(s.artifacts).flat().length")
if [ $rc -eq 0 ] && [ -n "$name" ] && [ "$arts" = 0 ] &&
   grep -Eq '^##vso\[task.setvariable variable=CACHE_RESTORED;.*\]false$' "$work/main91.log"; then
  ok "task end to end: a cold run restores nothing and sets the variable to false"
else bad "task e2e cold run (rc=$rc name=$name artifacts=$arts)" "$work/main91.log"; fi

mkdir -p "$work/caches91/$name/sub"
head -c 100000 /dev/urandom >"$work/caches91/$name/sub/blob"
echo hello >"$work/caches91/$name/hello.txt"
# shellcheck disable=SC2086
TASK_BUILD=91 run_task post.js $E2E AGENT_TEMPDIRECTORY="$work/t91" "INPUT_ARGUMENTS=--dir $work/caches91" \
  VSTS_TASKVARIABLE_BKCACHE_RESTORE_RAN=true VSTS_TASKVARIABLE_BKCACHE_CACHE_HIT=false \
  AGENT_JOBSTATUS=Succeeded >"$work/post91.log" 2>&1; rc=$?
saved=$(state | js "(s.artifacts['91']||[]).map(a=>a.name).join(' ')")
if [ $rc -eq 0 ] && [ -n "$saved" ] && case $saved in bkcache-*) true;; *) false;; esac; then
  ok "task end to end: the post-job step saves the cache as an artifact of the run ($saved)"
else bad "task e2e save (rc=$rc artifacts=$saved)" "$work/post91.log"; fi
finish 91 refs/heads/main

ctl build '{"id":92,"definition":5,"branch":"refs/heads/main","status":"inProgress","result":null}'
# shellcheck disable=SC2086
TASK_BUILD=92 run_task main.js $E2E AGENT_TEMPDIRECTORY="$work/t92" "INPUT_ARGUMENTS=--dir $work/caches92" \
  >"$work/main92.log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -Eq '^##vso\[task.setvariable variable=CACHE_RESTORED;.*\]true$' "$work/main92.log" &&
   cmp -s "$work/caches91/$name/sub/blob" "$work/caches92/$name/sub/blob" &&
   cmp -s "$work/caches91/$name/hello.txt" "$work/caches92/$name/hello.txt"; then
  ok "task end to end: the next run restores the files exactly and sets the variable to true"
else bad "task e2e warm run (rc=$rc)" "$work/main92.log"; fi
# shellcheck disable=SC2086
TASK_BUILD=92 run_task post.js $E2E AGENT_TEMPDIRECTORY="$work/t92" "INPUT_ARGUMENTS=--dir $work/caches92" \
  VSTS_TASKVARIABLE_BKCACHE_RESTORE_RAN=true VSTS_TASKVARIABLE_BKCACHE_CACHE_HIT=true \
  AGENT_JOBSTATUS=Succeeded >"$work/post92.log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "^$name: unchanged" "$work/post92.log" &&
   [ -z "$(state | js "(s.artifacts['92']||[]).map(a=>a.name).join(' ')")" ]; then
  ok "task end to end: after an exact hit the post-job step saves, and uploads nothing unchanged"
else bad "task e2e unchanged save (rc=$rc)" "$work/post92.log"; fi
if [ -n "${AZURE_TASK_LOG:-}" ]; then
  mkdir -p "$AZURE_TASK_LOG" &&
    cp "$work/main91.log" "$work/post91.log" "$work/main92.log" "$work/post92.log" "$AZURE_TASK_LOG/"
fi

# the layers input with the real bkcache: restore --layers --json gives the build arguments
# (a cold run: only --cache-to), which the task sets for the build step
ctl build '{"id":93,"definition":5,"branch":"refs/heads/main","status":"inProgress","result":null}'
mkdir -p "$work/t93" "$work/caches93"
# shellcheck disable=SC2086
TASK_BUILD=93 run_task main.js $E2E AGENT_TEMPDIRECTORY="$work/t93" INPUT_LAYERS=true \
  "INPUT_ARGUMENTS=--dir $work/caches93" >"$work/main93.log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -Eq '^##vso\[task.setvariable variable=BKCACHE_LAYERS_ARGS;.*\]--cache-to type=local,dest=[^ ]+,mode=max$' "$work/main93.log" &&
   grep -Eq '^##vso\[task.setvariable variable=layersArgs;.*isOutput=true.*\]--cache-to type=local,dest=[^ ]+,mode=max$' "$work/main93.log"; then
  ok "task end to end: layers: true sets BKCACHE_LAYERS_ARGS and the layersArgs output from the real restore"
else bad "task e2e layers (rc=$rc)" "$work/main93.log"; fi
