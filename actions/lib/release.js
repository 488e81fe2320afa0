// release.js - the prebuilt bkcache for the actions: the release asset of the action's own
// version, downloaded once per runner into the tool cache and verified against the release's
// SHA256SUMS.
//
// A release is a directory of assets under one base URL:
//   <base>/bkcache-<version>-linux-<arch>.tar.gz   (arch amd64 or arm64; bkcache and
//                                                   bkcache-helper at the top level)
//   <base>/SHA256SUMS                              (sha256sum lines: "<hex>  <file>")
// On GitHub the base is <server>/<owner>/<repo>/releases/download/<version>/, which the
// runner tells a JavaScript action through GITHUB_SERVER_URL, GITHUB_ACTION_REPOSITORY and
// GITHUB_ACTION_REF. The `version` and `release-url` inputs override them.
//
// The tool cache has the layout of @actions/tool-cache, so other tools that read it agree:
//   $RUNNER_TOOL_CACHE/bkcache/<version without a leading v>/<node arch>/{bkcache,bkcache-helper}
//   $RUNNER_TOOL_CACHE/bkcache/<version without a leading v>/<node arch>.complete
// The marker is written last, so a half-copied directory is never used.
//
// install() returns the directory holding both binaries, or null when no asset fits (an
// architecture without a build, a ref that is not a release version, an asset or checksum
// line missing from the release, a download error): the caller then builds from source and
// warns. A checksum mismatch is different: the asset exists and is not what the release
// says, so install() throws and the action refuses to run it.
'use strict';
const cp = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const runner = require('./runner');

const TOOL = 'bkcache';
const ASSET_ARCH = { x64: 'amd64', arm64: 'arm64' }; // node's arch -> the release's
const BINARIES = ['bkcache', 'bkcache-helper'];

// A release version: v1.2.3, 1.2.3, v1.2.3-rc.1 (a branch, a SHA or a moving major tag such
// as v1 names no release of its own).
const isReleaseVersion = (v) => /^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$/.test(v || '');

class ChecksumMismatch extends Error {}

// The version to install and where its assets live: {version, base} or {reason} when none.
function source() {
  const version = runner.getInput('version') || process.env.GITHUB_ACTION_REF || '';
  if (!version) return { reason: 'the runner did not say which version of the action runs' };
  if (!isReleaseVersion(version))
    return { reason: `the action runs from '${version}', which is not a release version` };
  let base = runner.getInput('release-url');
  if (!base) {
    const server = process.env.GITHUB_SERVER_URL || 'https://github.com';
    const repo = process.env.GITHUB_ACTION_REPOSITORY;
    if (!repo) return { reason: 'GITHUB_ACTION_REPOSITORY is not set, so the release is unknown' };
    base = `${server}/${repo}/releases/download/${version}`;
  }
  return { version, base: base.replace(/\/+$/, '') };
}

// The directory @actions/tool-cache would use for this version and architecture.
function cacheDir(version, arch = process.arch) {
  const root = process.env.RUNNER_TOOL_CACHE;
  if (!root) return null;
  return path.join(root, TOOL, version.replace(/^v(?=\d)/, ''), arch);
}

function cached(dir) {
  return dir && fs.existsSync(`${dir}.complete`) &&
    BINARIES.every((b) => fs.existsSync(path.join(dir, b))) ? dir : null;
}

// GET url -> Buffer; a 404 is null (the asset is missing), anything else unexpected throws.
async function get(url) {
  const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(120000) });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

// The digest SHA256SUMS gives for `file`, or null when it has no line for it.
function expectedDigest(sums, file) {
  for (const line of sums.split('\n')) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+?)\s*$/.exec(line);
    if (m && m[2] === file) return m[1].toLowerCase();
  }
  return null;
}

// Unpack the verified archive and copy both binaries into the tool cache, marker last.
function unpackInto(archive, dir) {
  const tmp = fs.mkdtempSync(path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'bkcache-asset-'));
  try {
    const file = path.join(tmp, 'asset.tar.gz');
    fs.writeFileSync(file, archive);
    const r = cp.spawnSync('tar', ['-xzf', file, '-C', tmp, ...BINARIES], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`the asset does not unpack: ${(r.stderr || '').trim()}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const b of BINARIES) {
      fs.copyFileSync(path.join(tmp, b), path.join(dir, b));
      fs.chmodSync(path.join(dir, b), 0o755);
    }
    fs.writeFileSync(`${dir}.complete`, '');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// The directory with bkcache and bkcache-helper of the action's release, or null (see top).
async function install() {
  const arch = ASSET_ARCH[process.arch];
  if (process.platform !== 'linux' || !arch) {
    runner.warning(`bkcache: no release build for ${process.platform}/${process.arch}; building from source`);
    return null;
  }
  const src = source();
  if (!src.version) {
    runner.warning(`bkcache: ${src.reason}; building from source (set the 'version' input to use a release)`);
    return null;
  }
  const dir = cacheDir(src.version);
  if (cached(dir)) {
    runner.info(`bkcache ${src.version} found in the tool cache: ${dir}`);
    return dir;
  }
  const asset = `bkcache-${src.version}-linux-${arch}.tar.gz`;
  let archive;
  let sums;
  try {
    runner.info(`Downloading ${src.base}/${asset}`);
    [archive, sums] = await Promise.all([get(`${src.base}/${asset}`), get(`${src.base}/SHA256SUMS`)]);
  } catch (e) {
    runner.warning(`bkcache: download failed (${e.message}); building from source`);
    return null;
  }
  const want = sums && expectedDigest(sums.toString('utf8'), asset);
  if (!archive || !want) {
    const missing = !archive ? asset : !sums ? 'SHA256SUMS' : `a SHA256SUMS line for ${asset}`;
    runner.warning(`bkcache: the release at ${src.base} has no ${missing}; building from source`);
    return null;
  }
  const got = crypto.createHash('sha256').update(archive).digest('hex');
  if (got !== want) {
    throw new ChecksumMismatch(`bkcache: checksum mismatch for ${src.base}/${asset}: SHA256SUMS ` +
      `says ${want}, the download is ${got}; refusing to run it`);
  }
  const target = dir || fs.mkdtempSync(path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'bkcache-'));
  unpackInto(archive, target);
  runner.info(`bkcache ${src.version} (sha256 ${got}) installed in ${target}`);
  return target;
}

module.exports = { install, source, cacheDir, expectedDigest, isReleaseVersion, ChecksumMismatch };
