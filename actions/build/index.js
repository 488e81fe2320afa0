// actions/build - `bkcache build`: restore the caches of the build command given in `run`, run
// it (its output unchanged), save them after it succeeds. The step fails with the build's own
// exit status; a cache problem is a warning unless fail-on-error. See docs/compose-bake.md.
'use strict';
const cp = require('node:child_process');
const runner = require('../lib/runner');
const bk = require('../lib/bkcache');

async function main() {
  const command = runner.getInput('run', { required: true });
  const { bin, args, state } = await bk.prepare();
  const opts = [...args, ...bk.saveFlags(), '--state', state];
  if (runner.getBooleanInput('save-on-failure')) opts.push('--save-on-failure');
  if (runner.getBooleanInput('fail-on-error')) opts.push('--fail-on-error');
  // The shell splits `run` into words as a run: step would; bkcache gets them after `--`.
  const r = cp.spawnSync('sh', ['-c', `exec "$@" -- ${command}`, 'sh', bin, 'build', ...opts],
    { stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.status !== 0) runner.setFailed(`the build exited with status ${r.status}`);
}

main().catch((e) => runner.setFailed(e.message));
