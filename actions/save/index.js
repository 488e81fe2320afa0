// actions/save - save the Dockerfile's cache mounts (the `actions/cache/save` of bkcache).
// Uses the state file of an earlier restore with the same inputs, so unchanged caches are
// not uploaded again. A key that already exists is a note, not a failure.
'use strict';
const runner = require('../lib/runner');
const bk = require('../lib/bkcache');

async function main() {
  const { bin, args, state } = await bk.prepare();
  const r = bk.save(bin, [...args, ...bk.saveFlags(), '--state', state]);
  if (r.status !== 0) runner.setFailed(`bkcache save exited with status ${r.status}`);
}

main().catch((e) => runner.setFailed(e.message));
