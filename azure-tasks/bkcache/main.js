// main.js - the task's main execution: `bkcache restore` at the step's
// place in the job (after checkout, before the build). Records for the
// post-job step that the restore ran and how it went, and sets the
// cache-hit variables (cacheHitVar input, cacheHit output) and, with the
// layers input, the layer cache's build arguments (BKCACHE_LAYERS_ARGS, the
// layersArgs output).
'use strict';
const tl = require('azure-pipelines-task-lib/task');
const common = require('./common');

// `run` given: the whole build under `bkcache build` (restore, build, save); the step's
// result is the build's.
function build(command) {
  const env = Object.assign({}, process.env);
  const token = common.accessToken();
  if (token) env.SYSTEM_ACCESSTOKEN = token;
  const res = tl.tool('/bin/sh').arg(common.buildArgs(command))
    .execSync({ env, silent: false, ignoreReturnCode: true });
  tl.setTaskVariable(common.BUILT, 'true');
  if (res.code !== 0) tl.setResult(tl.TaskResult.Failed, `the build exited with status ${res.code}`);
  else tl.setResult(tl.TaskResult.Succeeded, 'built, caches saved');
}

function main() {
  try {
    const command = tl.getInput('run', false);
    if (command) {
      build(command);
      return;
    }
    common.deltaArgs(); // the post-job save's input: a bad value fails now, not after the build
    const args = common.commandArgs('restore');
    if (tl.getBoolInput('lookupOnly', false)) args.push('--lookup-only');
    if (tl.getBoolInput('failOnCacheMiss', false)) args.push('--fail-on-cache-miss');
    args.push('--json');
    const res = common.run(args);
    const hit = common.cacheHit(res.stdout);
    tl.setTaskVariable(common.RAN, 'true');
    tl.setTaskVariable(common.HIT, hit);
    const name = tl.getInput('cacheHitVar', false);
    if (name) tl.setVariable(name, hit);
    tl.setVariable('cacheHit', hit, false, true);
    // with layers: the build arguments of the layer cache, for the build step, as a job
    // variable ($(BKCACHE_LAYERS_ARGS), and the environment of later scripts) and as the
    // step's output layersArgs ($(<step name>.layersArgs), other jobs through dependencies)
    const layers = common.layersArgs(res.stdout);
    if (layers !== null) {
      tl.setVariable('BKCACHE_LAYERS_ARGS', layers);
      tl.setVariable('layersArgs', layers, false, true);
      console.log(`bkcache: layer cache build arguments: ${layers}`);
    }
    console.log(`bkcache: cache hit: ${hit}`);
    if (res.code !== 0) {
      tl.setResult(tl.TaskResult.Failed, `bkcache restore exited with status ${res.code}`);
    } else {
      tl.setResult(tl.TaskResult.Succeeded, `cache hit: ${hit}`);
    }
  } catch (e) {
    tl.setResult(tl.TaskResult.Failed, e.message);
  }
}

main();
