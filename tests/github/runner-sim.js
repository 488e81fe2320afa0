// runner-sim.js - run a JavaScript action's main or post step the way the Actions runner does,
// for the wrapper tests: every input of action.yml becomes INPUT_<NAME> (its default unless
// given), GITHUB_OUTPUT / GITHUB_STATE / GITHUB_ENV / GITHUB_PATH / GITHUB_STEP_SUMMARY are
// files in WORKDIR, the post step gets STATE_<name> from the main step's state file and the
// variables exported through GITHUB_ENV, and the step's stdout is kept in WORKDIR/<step>.log.
// An input default of `${{ job.status }}` is the job's status as the runner evaluates it for
// that step: $SIM_JOB_STATUS (default success). The post step runs only when its `post-if`
// holds for that status (always(), success(), failure(), cancelled(), !cancelled(); none given
// means success()); otherwise the sim prints {"skipped": true}. The script runs with this
// node, whatever `runs.using` names (node24 actions run under the node installed here).
//
//   node runner-sim.js ACTION_DIR main|post WORKDIR [name=value ...]
//
// Prints {"exit": N, "outputs": {...}, "state": {...}, "env": {...}} on stdout.
'use strict';
const cp = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const [actionDir, step, workdir, ...given] = process.argv.slice(2);

// The subset of action.yml this needs: input names and defaults, and runs.main/post.
function readAction(dir) {
  const text = fs.readFileSync(path.join(dir, 'action.yml'), 'utf8');
  const inputs = {};
  const runs = {};
  let section = '';
  let current = null;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      section = line.replace(/:.*$/, '');
      continue;
    }
    let m;
    if (section === 'inputs' && (m = /^ {2}([\w-]+):\s*$/.exec(line))) {
      current = m[1];
      inputs[current] = '';
    } else if (section === 'inputs' && current && (m = /^ {4}default:\s*'(.*)'\s*$/.exec(line))) {
      inputs[current] = m[1];
    } else if (section === 'runs' && (m = /^ {2}(main|post|post-if|using):\s*['"]?(.*?)['"]?\s*$/.exec(line))) {
      runs[m[1]] = m[2];
    }
  }
  return { inputs, runs };
}

// name<<DELIM ... DELIM and name=value lines, as the runner reads them.
function readFileCommands(file) {
  const out = {};
  if (!fs.existsSync(file)) return out;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (m) {
      const value = [];
      for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]);
      out[m[1]] = value.join('\n');
    } else if (lines[i].includes('=')) {
      const k = lines[i].slice(0, lines[i].indexOf('='));
      out[k] = lines[i].slice(k.length + 1);
    }
  }
  return out;
}

// post-if for the job status: the status functions the actions use, nothing more.
function postIfHolds(expr, status) {
  const fns = { 'always()': true, 'success()': status === 'success', 'failure()': status === 'failure',
    'cancelled()': status === 'cancelled', '!cancelled()': status !== 'cancelled' };
  const e = (expr || 'success()').trim();
  if (!(e in fns)) throw new Error(`runner-sim: post-if '${e}' is not understood`);
  return fns[e];
}

const jobStatus = process.env.SIM_JOB_STATUS || 'success';
const action = readAction(actionDir);
const env = Object.assign({}, process.env);
for (const [k, v] of Object.entries(action.inputs))
  env[`INPUT_${k.toUpperCase()}`] = v.replace(/\$\{\{\s*job\.status\s*\}\}/g, jobStatus);
for (const g of given) {
  const k = g.slice(0, g.indexOf('='));
  if (!(k in action.inputs)) throw new Error(`action has no input '${k}'`);
  env[`INPUT_${k.toUpperCase()}`] = g.slice(k.length + 1);
}
const files = { GITHUB_OUTPUT: 'output.txt', GITHUB_STATE: 'state.txt', GITHUB_ENV: 'env.txt',
  GITHUB_PATH: 'path.txt', GITHUB_STEP_SUMMARY: 'summary.md' };
for (const [k, f] of Object.entries(files)) {
  env[k] = path.join(workdir, f);
  fs.appendFileSync(env[k], '');
}
if (step === 'post') {
  for (const [k, v] of Object.entries(readFileCommands(env.GITHUB_STATE))) env[`STATE_${k}`] = v;
  Object.assign(env, readFileCommands(env.GITHUB_ENV));
}
const script = action.runs[step];
if (!script) throw new Error(`action has no ${step} step`);
if (step === 'post' && !postIfHolds(action.runs['post-if'], jobStatus)) {
  console.log(JSON.stringify({ skipped: true }));
  process.exit(0);
}
const r = cp.spawnSync(process.execPath, [path.join(actionDir, script)], { env,
  cwd: env.GITHUB_WORKSPACE || process.cwd(), encoding: 'utf8' });
fs.writeFileSync(path.join(workdir, `${step}.log`), (r.stdout || '') + (r.stderr || ''));
console.log(JSON.stringify({ exit: r.status, outputs: readFileCommands(env.GITHUB_OUTPUT),
  state: readFileCommands(env.GITHUB_STATE), env: readFileCommands(env.GITHUB_ENV) }));
