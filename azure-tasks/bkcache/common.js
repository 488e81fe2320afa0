// common.js - what the task's two entry points share: finding the bundled
// bkcache binary for the agent's architecture, bin/linux-<amd64|arm64>/ as
// package.sh unpacks the release assets there (and making bkcache and
// bkcache-helper executable: a VSIX is a zip and loses the mode bits), the
// job token, the command line built from the inputs, and
// reading the cache-hit outcome from `bkcache restore --json`.
//
// Inputs mirror the GitHub action's (dockerfile, target, build-args,
// platform, key-files, key-prefix, mounts, builder, lookup-only,
// fail-on-cache-miss, save-on-failure, layers, layers-from, delta) in camelCase,
// because task input names cannot hold '-'.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const tl = require('azure-pipelines-task-lib/task');

// Task variables shared by the main and the post-job step of one instance.
const RAN = 'BKCACHE_RESTORE_RAN';
const HIT = 'BKCACHE_CACHE_HIT';
const BUILT = 'BKCACHE_BUILD_RAN'; // the main step ran `bkcache build`: it saved already

const RELEASE_ARCH = { x64: 'amd64', arm64: 'arm64' }; // node's arch -> the release's

function binaryPath() {
  let p = process.env.BKCACHE_BINARY; // a bkcache already on the agent, or a test stub
  if (!p) {
    const arch = RELEASE_ARCH[process.arch];
    if (tl.getPlatform() !== tl.Platform.Linux || !arch) {
      throw new Error(`bkcache runs on Linux x64 and arm64 agents, not ${process.platform}/${process.arch}`);
    }
    p = path.join(__dirname, 'bin', `linux-${arch}`, 'bkcache');
    if (!fs.existsSync(p)) throw new Error(`this task was packaged without a linux-${arch} build of bkcache (${p})`);
    const helper = path.join(path.dirname(p), 'bkcache-helper');
    if (fs.existsSync(helper)) fs.chmodSync(helper, 0o755);
  }
  if (!fs.existsSync(p)) throw new Error(`bkcache binary not found at ${p}`);
  fs.chmodSync(p, 0o755);
  return p;
}

// The job's OAuth token: the SystemVssConnection endpoint every task gets,
// else a mapped SYSTEM_ACCESSTOKEN. The SDK hides secrets from child
// processes, so run() passes it explicitly.
function accessToken() {
  const t = tl.getEndpointAuthorizationParameter('SystemVssConnection', 'AccessToken', true) ||
    tl.getVariable('System.AccessToken') || process.env.SYSTEM_ACCESSTOKEN;
  if (t) tl.setSecret(t);
  return t;
}

function lines(name) {
  return (tl.getInput(name, false) || '').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
}

function stateFile() {
  const id = crypto.createHash('sha256')
    .update([tl.getInput('dockerfile', true), tl.getInput('target', false) || '',
      tl.getInput('platform', false) || ''].join('\n')).digest('hex').slice(0, 16);
  const dir = tl.getVariable('Agent.TempDirectory') || require('node:os').tmpdir();
  return path.join(dir, `bkcache-state-${id}.json`);
}

// bkcache VERB with the options every invocation shares.
function commandArgs(verb) {
  const a = [verb, '--provider', 'azure', '-f', tl.getInput('dockerfile', true), '--state', stateFile()];
  const opt = (flag, input) => { const v = tl.getInput(input, false); if (v) a.push(flag, v); };
  opt('--target', 'target');
  for (const v of lines('buildArgs')) a.push('--build-arg', v);
  opt('--platform', 'platform');
  for (const v of lines('keyFiles')) a.push('--key-file', v);
  opt('--key-prefix', 'keyPrefix');
  for (const v of lines('mounts')) a.push('--mount', v);
  opt('--builder', 'builder');
  if ((tl.getInput('upload', false) || 'direct') === 'agent') a.push('--store-opt', 'upload=agent');
  // compose and bake files: several builds at once (bkcache then ignores -f and --target)
  for (const v of lines('compose')) a.push('--compose', v);
  for (const v of lines('services')) a.push('--service', v);
  for (const v of lines('bake')) a.push('--bake', v);
  for (const v of lines('bakeTargets')) a.push('--bake-target', v);
  // the layer cache: restore and save both take it (layersFrom implies --layers)
  if (tl.getBoolInput('layers', false)) a.push('--layers');
  for (const v of lines('layersFrom')) a.push('--layers-from', v);
  return a;
}

// The save-only options: the delta input (auto or off) as --delta; empty, bkcache's own
// default (auto) applies. Checked when called, so the main step can reject a typo before the
// build instead of the post-job save after it.
function deltaArgs() {
  const v = tl.getInput('delta', false) || '';
  if (!v) return [];
  if (v !== 'auto' && v !== 'off') throw new Error(`input delta: expected auto or off, got '${v}'`);
  return ['--delta', v];
}

// `bkcache build -- <run>`: the options that apply to a build command (the Dockerfile options
// come from the command itself). The agent's shell splits `run` into words.
function buildArgs(command) {
  const a = ['build', '--provider', 'azure', '--state', stateFile()];
  const opt = (flag, input) => { const v = tl.getInput(input, false); if (v) a.push(flag, v); };
  for (const v of lines('keyFiles')) a.push('--key-file', v);
  opt('--key-prefix', 'keyPrefix');
  for (const v of lines('mounts')) a.push('--mount', v);
  opt('--builder', 'builder');
  if ((tl.getInput('upload', false) || 'direct') === 'agent') a.push('--store-opt', 'upload=agent');
  if (tl.getBoolInput('saveOnFailure', false)) a.push('--save-on-failure');
  // the layer cache: bkcache build adds the cache options to the command itself
  if (tl.getBoolInput('layers', false)) a.push('--layers');
  for (const v of lines('layersFrom')) a.push('--layers-from', v);
  a.push(...deltaArgs());
  const quoted = a.map((s) => `'${s.replace(/'/g, "'\\''")}'`).join(' ');
  return ['-c', `exec "$0" ${quoted} -- ${command}`, binaryPath()];
}

// Run bkcache; its stdout (logging commands, results) and stderr go to the log.
function run(args) {
  const tool = tl.tool(binaryPath()).arg(args);
  const extra = tl.getInput('arguments', false);
  if (extra) tool.line(extra);
  const env = Object.assign({}, process.env);
  const token = accessToken();
  if (token) env.SYSTEM_ACCESSTOKEN = token;
  return tool.execSync({ env, silent: false, ignoreReturnCode: true });
}

// "true" when every identity hit its exact key, "inexact" when something was
// restored from a restore key (or only some identities hit), "false" when
// nothing was restored. Reads `bkcache restore --json`:
// {"command": "restore", "identities": [{"name", "key", "hit": "exact" |
// "partial" | "miss" | null, ...}]}.
function restoreDoc(stdout) {
  // the document is all of stdout, unless other lines (logging commands) surround it
  const text = stdout || '';
  const start = text.search(/^\{/m);
  if (start < 0) return null;
  try { return JSON.parse(text.slice(start, text.lastIndexOf('}') + 1)); } catch (e) { return null; }
}

function cacheHit(stdout) {
  const doc = restoreDoc(stdout);
  const hits = ((doc && doc.identities) || []).map((i) => i.hit || 'miss');
  if (!hits.length || hits.every((h) => h === 'miss')) return 'false';
  return hits.every((h) => h === 'exact') ? 'true' : 'inexact';
}

// With --layers: the layer cache's build arguments joined by spaces, from the
// "layers" object of `bkcache restore --json` ({"build_args": ["--cache-from",
// "type=local,src=DIR", "--cache-to", "type=local,dest=DIR2,mode=max"], ...});
// null when the restore did not move the layer cache.
function layersArgs(stdout) {
  const doc = restoreDoc(stdout);
  const layers = doc && doc.layers;
  if (!layers || !Array.isArray(layers.build_args)) return null;
  return layers.build_args.join(' ');
}

module.exports = { RAN, HIT, BUILT, binaryPath, accessToken, commandArgs, deltaArgs, buildArgs, run,
  cacheHit, layersArgs, lines };
