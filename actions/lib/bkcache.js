// bkcache.js - what the bkcache actions share: finding (or installing) the binary, turning the
// action's inputs into command-line options, running `bkcache restore|save --json`, and
// reporting the result as outputs, a job summary table and log groups.
//
// The binary: $BKCACHE_BIN, else `bkcache` on PATH, else the release of the action's own
// version from the runner's tool cache, downloading it there first (release.js: checksum
// verified against the release's SHA256SUMS; a mismatch fails the step). Only when no
// release asset fits (an architecture without a build, a branch or SHA ref, a missing asset)
// is it built from this repository's source (the checkout the action runs from), with a
// warning: scripts/deps.sh installs the Debian build packages (through sudo when not root)
// and `make` builds bkcache and bkcache-helper. Either directory is added to GITHUB_PATH so
// later steps of the job, actions or `run:` steps, reuse the binary.
//
// Credentials: only JavaScript actions receive ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL,
// ACTIONS_CACHE_URL and ACTIONS_CACHE_SERVICE_V2 from the runner. They reach the binary
// through the inherited environment, never on a command line; the token is masked first.
//
// cache-map takes the JSON that reproducible-containers/buildkit-cache-dance users already
// have: {"<host dir>": "<target>"} or {"<host dir>": {"target": "...", "id": "..."}}. bkcache
// finds the mounts in the Dockerfile itself, so each entry only limits the run to that cache
// mount: its id or target is looked up in `bkcache mounts --json` and passed as
// `--mount <name>`. The host directories are not needed.
'use strict';
const cp = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const runner = require('./runner');
const release = require('./release');

const REPO_ROOT = path.resolve(__dirname, '..', '..');

function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch (e) {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(':')) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

function run(cmd, args, opts = {}) {
  const r = cp.spawnSync(cmd, args, Object.assign({ stdio: 'inherit' }, opts));
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

// Build bkcache and bkcache-helper from the action's own checkout; returns its directory.
function buildFromSource() {
  if (!fs.existsSync(path.join(REPO_ROOT, 'Makefile')))
    throw new Error('bkcache is not on PATH and this action has no source to build it from');
  if (isExecutable(path.join(REPO_ROOT, 'bkcache'))) return REPO_ROOT;
  runner.startGroup('Build bkcache from source');
  try {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    run(root ? 'sh' : 'sudo', root ? ['scripts/deps.sh'] : ['-n', 'sh', 'scripts/deps.sh'],
      { cwd: REPO_ROOT });
    const jobs = String(Math.max(1, require('node:os').cpus().length));
    run('make', ['-j', jobs, 'bkcache', 'bkcache-helper'], { cwd: REPO_ROOT });
  } finally {
    runner.endGroup();
  }
  return REPO_ROOT;
}

// The path of a usable bkcache: given, on PATH, the release (tool cache or download), or
// built from source when no release asset fits.
async function locateBinary() {
  if (process.env.BKCACHE_BIN) return process.env.BKCACHE_BIN;
  const found = onPath('bkcache');
  if (found) return found;
  const dir = (await release.install()) || buildFromSource();
  runner.addPath(dir);
  return path.join(dir, 'bkcache');
}

// cache-map JSON -> mount names (cache ids, or targets when no id is given).
function mountsFromCacheMap(text) {
  if (!text) return [];
  let map;
  try {
    map = JSON.parse(text);
  } catch (e) {
    throw new Error(`cache-map: not valid JSON: ${e.message}`);
  }
  if (!map || typeof map !== 'object' || Array.isArray(map))
    throw new Error('cache-map: expected a JSON object {"host dir": "target" or {target, id}}');
  return Object.entries(map).map(([hostDir, v]) => {
    if (typeof v === 'string' && v) return v;
    if (v && typeof v === 'object' && (v.id || v.target)) return String(v.id || v.target);
    throw new Error(`cache-map: entry '${hostDir}' needs a target (a string or {"target": ...})`);
  });
}

// The Dockerfile options, which `bkcache mounts` takes as well.
function dockerfileArgs() {
  const a = [];
  const opt = (flag, v) => v && a.push(flag, v);
  opt('--file', runner.getInput('dockerfile'));
  opt('--target', runner.getInput('target'));
  opt('--platform', runner.getInput('platform'));
  for (const b of runner.getMultilineInput('build-args')) a.push('--build-arg', b);
  // compose and bake files: several builds at once (they take the place of the above)
  for (const f of runner.getMultilineInput('compose')) a.push('--compose', f);
  for (const v of runner.getMultilineInput('services')) a.push('--service', v);
  for (const f of runner.getMultilineInput('bake')) a.push('--bake', f);
  for (const v of runner.getMultilineInput('bake-targets')) a.push('--bake-target', v);
  return a;
}

// Mount filters by name: an entry that is a cache id or a target (as cache-map gives them) is
// resolved to the identity's name through `bkcache mounts --json`; names pass unchanged.
function resolveMounts(bin, dfArgs, wanted) {
  if (!wanted.length) return [];
  const r = cp.spawnSync(bin, ['mounts', ...dfArgs, '--json'], { encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'] });
  let uses = [];
  try {
    uses = r.status === 0 ? JSON.parse(r.stdout) : [];
  } catch (e) {
    uses = [];
  }
  return [...new Set(wanted.map((w) => {
    const u = uses.find((x) => x.name === w) || uses.find((x) => x.id === w) ||
      uses.find((x) => x.target === w);
    if (!u && uses.length) runner.warning(`no cache mount named '${w}' in the build`);
    return u ? u.name : w;
  }))];
}

// Options shared by restore and save, from the action's inputs.
function commonArgs(bin) {
  const df = dockerfileArgs();
  const a = [...df];
  const opt = (flag, v) => v && a.push(flag, v);
  opt('--key-prefix', runner.getInput('key-prefix'));
  opt('--builder', runner.getInput('builder'));
  opt('--provider', runner.getInput('provider') || 'github');
  opt('--store', runner.getInput('store'));
  opt('--dir', runner.getInput('dir'));
  for (const k of runner.getMultilineInput('key-files')) a.push('--key-file', k);
  for (const s of runner.getMultilineInput('store-opts')) a.push('--store-opt', s);
  const wanted = runner.getMultilineInput('mounts').concat(
    mountsFromCacheMap(runner.getInput('cache-map')));
  for (const m of resolveMounts(bin, df, wanted)) a.push('--mount', m);
  if (runner.getBooleanInput('verbose')) a.push('--verbose');
  if (runner.getBooleanInput('layers')) a.push('--layers');
  for (const t of runner.getMultilineInput('layers-from')) a.push('--layers-from', t);
  return a;
}

// One state file per distinct set of inputs, shared by the restore and the later save.
function stateFile(args) {
  const dir = process.env.RUNNER_TEMP || require('node:os').tmpdir();
  const h = crypto.createHash('sha256').update(args.join('\0')).digest('hex').slice(0, 16);
  return path.join(dir, `bkcache-${h}.state`);
}

function maskCredentials() {
  runner.setSecret(process.env.ACTIONS_RUNTIME_TOKEN);
  if (!process.env.ACTIONS_RUNTIME_TOKEN && (runner.getInput('provider') || 'github') === 'github')
    runner.warning('ACTIONS_RUNTIME_TOKEN is not set: the GitHub cache service is unreachable');
}

// What every step does first: mask the token, find the binary, build the options. The state
// file is named from the options, so a later save step with the same inputs finds it.
async function prepare() {
  maskCredentials();
  const bin = await locateBinary();
  const args = commonArgs(bin);
  return { bin, args, state: stateFile(args) };
}

// The restore-only inputs as options.
function restoreFlags() {
  const a = [];
  if (runner.getBooleanInput('lookup-only')) a.push('--lookup-only');
  if (runner.getBooleanInput('fail-on-cache-miss')) a.push('--fail-on-cache-miss');
  return a;
}

// The save-only inputs as options: `delta` (auto or off) becomes --delta; unset, the binary's
// own default (auto) applies. Checked here, so that a typo fails the step that reads it (the
// main step of cache-mounts, before the build) rather than the save at the end of the job.
function saveFlags() {
  const delta = runner.getInput('delta');
  if (!delta) return [];
  if (delta !== 'auto' && delta !== 'off') throw new Error(`input delta: expected auto or off, got '${delta}'`);
  return ['--delta', delta];
}

// Run `bkcache <command> ... --json`; stderr streams to the log, stdout is parsed.
function runBkcache(bin, command, args) {
  const full = [command, ...args, '--json'];
  runner.startGroup(`bkcache ${command}`);
  runner.info(`${bin} ${full.join(' ')}`);
  const r = cp.spawnSync(bin, full, { stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  runner.endGroup();
  if (r.error) throw r.error;
  let json = null;
  const text = (r.stdout || '').trim();
  if (text) {
    try {
      json = JSON.parse(text);
    } catch (e) {
      // several JSON documents, one per line: take the last that parses
      for (const line of text.split('\n').reverse()) {
        try {
          json = JSON.parse(line);
          break;
        } catch (e2) { /* keep looking */ }
      }
    }
  }
  return { status: r.status, json, stdout: text };
}

function hitKind(v) {
  if (v === true) return 'exact';
  if (v === false || v === null || v === undefined) return 'miss';
  const s = String(v).toLowerCase();
  if (s.includes('exact') || s === 'hit') return 'exact';
  if (s.includes('partial') || s.includes('restore')) return 'partial';
  if (s.includes('miss') || s.includes('not')) return 'miss';
  return s;
}

// The per-identity results of a --json summary, whatever its exact field names.
function results(json) {
  if (!json) return [];
  const list = Array.isArray(json) ? json
    : json.identities || json.results || json.caches || json.mounts || json.entries || [];
  return list.map((e) => ({
    name: e.name || e.identity || e.id || e.mount || '?',
    key: e.key || '',
    matched: e.matched_key || e.matchedKey || e.matched || '',
    hit: hitKind(e.hit_kind !== undefined ? e.hit_kind : e.hit !== undefined ? e.hit
      : e.kind !== undefined ? e.kind : e.result),
    action: e.action || e.outcome || e.status || e.result || '',
    reason: e.reason || '',
    bytes: Number(e.bytes || e.archive_bytes || e.size || 0),
    seconds: Number(e.seconds !== undefined ? e.seconds : e.ms ? e.ms / 1000 : 0),
  }));
}

function human(bytes) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let n = bytes;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return i ? `${n.toFixed(1)} ${u[i]}` : `${n} B`;
}

const HIT_TEXT = { exact: 'exact hit', partial: 'partial hit', miss: 'miss' };

function summaryTable(title, rows, restore) {
  let md = `### ${title}\n\n| Cache | Key | ${restore ? 'Result' : 'Outcome'} | Size | Time |\n` +
    '|---|---|---|---:|---:|\n';
  for (const r of rows) {
    const outcome = restore
      ? `${HIT_TEXT[r.hit] || r.hit}${r.hit === 'partial' && r.matched ? ` (\`${r.matched}\`)` : ''}`
      : `${r.action || 'done'}${r.reason && r.action !== 'saved' ? `: ${r.reason}` : ''}`;
    md += `| ${r.name} | \`${r.key}\` | ${outcome} | ${r.bytes ? human(r.bytes) : '-'} | ` +
      `${r.seconds ? `${r.seconds.toFixed(1)} s` : '-'} |\n`;
  }
  if (!rows.length) md += '| - | - | no cache mounts | - | - |\n';
  return `${md}\n`;
}

// restore: outputs cache-hit and matched-keys, a summary table. Returns the exit status.
function restore(bin, args) {
  const r = runBkcache(bin, 'restore', args);
  const rows = results(r.json);
  const matched = {};
  for (const x of rows) matched[x.name] = x.hit === 'miss' ? '' : x.matched || x.key;
  const hit = rows.length > 0 && rows.every((x) => x.hit === 'exact');
  runner.setOutput('cache-hit', String(hit));
  runner.setOutput('matched-keys', JSON.stringify(matched));
  runner.appendSummary(summaryTable('bkcache restore', rows, true));
  return { status: r.status, hit, rows };
}

function save(bin, args) {
  const r = runBkcache(bin, 'save', args);
  const rows = results(r.json);
  runner.appendSummary(summaryTable('bkcache save', rows, false));
  return { status: r.status, rows };
}

module.exports = { prepare, restoreFlags, saveFlags, locateBinary, maskCredentials, restore, save,
  mountsFromCacheMap, results };
