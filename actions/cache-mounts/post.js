// actions/cache-mounts (post step) - save the cache mounts with the arguments the main step
// used. Runs when the job succeeded, or always with save-on-failure (see action.yml).
'use strict';
const runner = require('../lib/runner');
const bk = require('../lib/bkcache');

try {
  const args = runner.getState('args');
  if (!args) {
    runner.info('bkcache: the main step did not run to the end; nothing to save');
  } else if (runner.getState('skip-save') === 'true') {
    runner.info('bkcache: lookup-only: not saving');
  } else {
    bk.maskCredentials();
    const bin = runner.getState('bin') || bk.locateBinary();
    const r = bk.save(bin, [...JSON.parse(args), '--state', runner.getState('state-file')]);
    if (r.status !== 0) runner.warning(`bkcache save exited with status ${r.status}`);
  }
} catch (e) {
  runner.warning(`bkcache save: ${e.message}`);
}
