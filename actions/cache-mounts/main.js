// actions/cache-mounts (main step) - restore the cache mounts now; post.js saves them when
// the job ends. The arguments and state file are kept in the step's state for the post step.
'use strict';
const runner = require('../lib/runner');
const bk = require('../lib/bkcache');

try {
  bk.maskCredentials();
  const bin = bk.locateBinary();
  const args = bk.commonArgs(bin);
  const state = bk.stateFile(args);
  runner.saveState('bin', bin);
  runner.saveState('args', JSON.stringify(args));
  runner.saveState('state-file', state);
  if (runner.getBooleanInput('save-on-failure')) runner.exportVariable('BKCACHE_SAVE_ON_FAILURE', 'true');
  const lookupOnly = runner.getBooleanInput('lookup-only');
  runner.saveState('skip-save', String(lookupOnly));
  const extra = [];
  if (lookupOnly) extra.push('--lookup-only');
  if (runner.getBooleanInput('fail-on-cache-miss')) extra.push('--fail-on-cache-miss');
  const r = bk.restore(bin, [...args, ...extra, '--state', state]);
  runner.saveState('cache-hit', String(r.hit));
  if (r.status !== 0) runner.setFailed(`bkcache restore exited with status ${r.status}`);
} catch (e) {
  runner.setFailed(e.message);
}
