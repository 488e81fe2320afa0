// actions/cache-mounts (post step) - save the cache mounts with the arguments the main step
// used. The runner starts it whatever the job's outcome (post-if: always()); it saves when the
// job succeeded, or when it failed and this use of the action set save-on-failure (read from
// the main step's state, so it concerns this use alone). The job's status comes from the
// hidden input job-status, whose default ${{ job.status }} the runner evaluates again for the
// post step, at the end of the job. A cancelled job is not saved.
'use strict';
const runner = require('../lib/runner');
const bk = require('../lib/bkcache');

// Whether to save, and why not: {save: true} or {save: false, why}.
function decide() {
  if (!runner.getState('args')) return { why: 'the main step did not run to the end; nothing to save' };
  if (runner.getState('skip-save') === 'true') return { why: 'lookup-only: not saving' };
  const status = (runner.getInput('job-status') || 'success').toLowerCase();
  if (status === 'success') return { save: true };
  if (status === 'cancelled') return { why: 'the job was cancelled; not saving' };
  if (runner.getState('save-on-failure') === 'true') return { save: true };
  return { why: `the job status is ${status}; not saving (save-on-failure: true saves anyway)` };
}

try {
  const d = decide();
  if (!d.save) {
    runner.info(`bkcache: ${d.why}`);
  } else {
    bk.maskCredentials();
    const bin = runner.getState('bin');
    if (!bin) throw new Error('the main step recorded no binary');
    const r = bk.save(bin, [...JSON.parse(runner.getState('args')),
      ...JSON.parse(runner.getState('save-flags') || '[]'), '--state', runner.getState('state-file')]);
    if (r.status !== 0) runner.warning(`bkcache save exited with status ${r.status}`);
  }
} catch (e) {
  runner.warning(`bkcache save: ${e.message}`);
}
