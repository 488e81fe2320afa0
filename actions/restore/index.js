// actions/restore - restore the Dockerfile's cache mounts (the `actions/cache/restore` of
// bkcache). Outputs cache-hit and matched-keys; writes the job summary. See ../lib/bkcache.js.
'use strict';
const runner = require('../lib/runner');
const bk = require('../lib/bkcache');

try {
  bk.maskCredentials();
  const bin = bk.locateBinary();
  const args = bk.commonArgs(bin);
  const state = bk.stateFile(args);
  if (runner.getBooleanInput('lookup-only')) args.push('--lookup-only');
  if (runner.getBooleanInput('fail-on-cache-miss')) args.push('--fail-on-cache-miss');
  const r = bk.restore(bin, [...args, '--state', state]);
  if (r.status !== 0) runner.setFailed(`bkcache restore exited with status ${r.status}`);
} catch (e) {
  runner.setFailed(e.message);
}
