// actions/restore - restore the Dockerfile's cache mounts (the `actions/cache/restore` of
// bkcache). Outputs cache-hit and matched-keys; writes the job summary. See ../lib/bkcache.js.
'use strict';
const runner = require('../lib/runner');
const bk = require('../lib/bkcache');

async function main() {
  const { bin, args, state } = await bk.prepare();
  const r = bk.restore(bin, [...args, ...bk.restoreFlags(), '--state', state]);
  if (r.status !== 0) runner.setFailed(`bkcache restore exited with status ${r.status}`);
}

main().catch((e) => runner.setFailed(e.message));
