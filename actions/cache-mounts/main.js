// actions/cache-mounts (main step) - restore the cache mounts now; post.js saves them when
// the job ends. The binary, options and state file are kept in the step's state for post.
'use strict';
const runner = require('../lib/runner');
const bk = require('../lib/bkcache');

try {
  const { bin, args, state } = bk.prepare();
  runner.saveState('bin', bin);
  runner.saveState('args', JSON.stringify(args));
  runner.saveState('state-file', state);
  runner.saveState('skip-save', String(runner.getBooleanInput('lookup-only')));
  if (runner.getBooleanInput('save-on-failure'))
    runner.exportVariable('BKCACHE_SAVE_ON_FAILURE', 'true');
  const r = bk.restore(bin, [...args, ...bk.restoreFlags(), '--state', state]);
  runner.saveState('cache-hit', String(r.hit));
  if (r.status !== 0) runner.setFailed(`bkcache restore exited with status ${r.status}`);
} catch (e) {
  runner.setFailed(e.message);
}
