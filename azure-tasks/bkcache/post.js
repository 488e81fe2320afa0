// post.js - the task's post-job execution: `bkcache save`. The agent runs
// post-job steps always, even when the main step was skipped or the job
// failed, so this step decides: nothing when the restore did not run, nothing
// when the job did not succeed unless saveOnFailure is set. An exact hit is
// still saved: the build may have changed the cache, and bkcache save uploads
// it as this run's entry, or nothing when it is unchanged (docs/keys.md).
'use strict';
const tl = require('azure-pipelines-task-lib/task');
const common = require('./common');

function main() {
  try {
    if (tl.getTaskVariable(common.BUILT) === 'true') {
      console.log('bkcache: bkcache build saved the caches after the build; nothing to save');
      return;
    }
    if (tl.getTaskVariable(common.RAN) !== 'true') {
      console.log('bkcache: the restore step did not run; nothing to save');
      return;
    }
    const status = tl.getVariable('Agent.JobStatus') || 'Succeeded';
    const succeeded = status === 'Succeeded' || status === 'SucceededWithIssues';
    if (!succeeded && !tl.getBoolInput('saveOnFailure', false)) {
      console.log(`bkcache: the job status is ${status}; not saving (saveOnFailure: true saves anyway)`);
      return;
    }
    const res = common.run([...common.commandArgs('save'), ...common.deltaArgs()]);
    if (res.code !== 0) {
      tl.setResult(tl.TaskResult.Failed, `bkcache save exited with status ${res.code}`);
    } else {
      tl.setResult(tl.TaskResult.Succeeded, 'caches saved');
    }
  } catch (e) {
    tl.setResult(tl.TaskResult.Failed, e.message);
  }
}

main();
