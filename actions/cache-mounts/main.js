// actions/cache-mounts (main step) - restore the cache mounts now; post.js saves them when
// the job ends. The binary, options, save-only options (delta), state file and save-on-failure
// are kept in this step's own state (GITHUB_STATE), which the runner hands to this use's post
// step only.
'use strict';
const runner = require('../lib/runner');
const bk = require('../lib/bkcache');

async function main() {
  const { bin, args, state } = await bk.prepare();
  runner.saveState('bin', bin);
  runner.saveState('args', JSON.stringify(args));
  runner.saveState('save-flags', JSON.stringify(bk.saveFlags()));
  runner.saveState('state-file', state);
  runner.saveState('skip-save', String(runner.getBooleanInput('lookup-only')));
  runner.saveState('save-on-failure', String(runner.getBooleanInput('save-on-failure')));
  const r = bk.restore(bin, [...args, ...bk.restoreFlags(), '--state', state]);
  runner.saveState('cache-hit', String(r.hit));
  if (r.status !== 0) runner.setFailed(`bkcache restore exited with status ${r.status}`);
}

main().catch((e) => runner.setFailed(e.message));
