#!/usr/bin/env node
// emulator.js - a loopback emulator of the GitHub Actions cache service, for tests.
//
// Serves, on one origin http://127.0.0.1:PORT/ (advertise it as both
// ACTIONS_RESULTS_URL and ACTIONS_CACHE_URL):
//   - service v2: Twirp JSON at /twirp/github.actions.results.api.v1.CacheService/{
//     CreateCacheEntry, FinalizeCacheEntryUpload, GetCacheEntryDownloadURL}, handing out
//     service-SAS URLs for blobs in Azurite (container "actions-cache");
//   - service v1: REST at /_apis/artifactcache/{cache, caches, caches/ID}, chunks kept in a
//     temp file and served back at /_apis/artifactcache/artifacts/ID (with Range support);
//   - a blob proxy: when proxying is on (default), signed URLs point at this origin, path-style
//     (/devstoreaccount1/actions-cache/...), and requests are forwarded to Azurite; this lets
//     the tests count blob requests and inject faults on the data plane.
// It follows ../../../../shared/specs/github-actions-cache.md (sections 3, 5 and 8): snake_case
// replies, entry_id as a string, 200 {"ok":false} for a miss, 409 already_exists for a
// duplicate, "cache write denied:" without a writable scope, JSON bodies on every error,
// case-insensitive keys, scopes from the token's "ac" claim, newest prefix match wins.
//
// Tokens are HS256 JWTs signed with the emulator's secret; mint one with
// GET /_emu/token?ac=<json>&ttl=<seconds>. An expired token or a bad signature gets 401.
//
// Switches (POST /_emu/faults with a JSON object; each is a count of requests to affect):
//   twirp429: {"count":n,"retryAfter":s}   the next n Twirp calls get 429 + Retry-After
//   twirp503: n                            the next n Twirp calls get 503
//   blob429:  {"count":n,"retryAfter":s}   the next n proxied blob requests get 429
//   blob503:  n                            the next n proxied blob requests get 503
//   blobCut:  n                            the next n proxied GETs are cut halfway
//   proxy:    true|false                   hand out proxy URLs (true) or Azurite's own
// GET /_emu/sas?blob=NAME&sp=cw|r returns a signed URL for any blob (benchmarks use it for a
// plain curl of the same data).
// Magic keys: a key containing "emu-slow-finalize" makes finalize wait 1.5 s (to widen the
// window for concurrent saves). GET /_emu/stats returns request counters; POST /_emu/reset
// clears entries, faults and counters. POST /_emu/container creates the blob container
// again (after a restart of Azurite). GET /_emu/entries lists every entry (id, key, version,
// scope, size, final, finalized: the order of the commits, blob: its name in Azurite).
//
// The repository's REST API for caches (not part of the cache service; GitHub's REST
// reference, "GitHub Actions cache"), which bkcache uses to list and delete:
//   GET    /repos/OWNER/REPO/actions/caches?key=&ref=&sort=&direction=&per_page=&page=
//          -> {"total_count", "actions_caches": [{id, ref, key, version, last_accessed_at,
//             created_at, size_in_bytes}]}; key is an exact key or a prefix; sort is
//             created_at, last_accessed_at (default) or size_in_bytes; direction desc
//             (default) or asc; per_page at most 100 (default 30)
//   DELETE /repos/OWNER/REPO/actions/caches/ID -> 204, 404 {"message":"Not Found"}
// Tokens (Authorization: Bearer): "ghs-emu-write" may list and delete (actions: write),
// "ghs-emu-read" may only list (403 on delete); anything else is 401 "Bad credentials".
// A lookup that finds an entry records its last_accessed_at.
//
// Environment: EMU_PORT (0: any; the port is printed as "emulator listening on PORT"),
// AZURITE_URL (http://127.0.0.1:10000/devstoreaccount1), EMU_DIR (temp dir for v1 data).

'use strict';
const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ACCOUNT = 'devstoreaccount1';
// Azurite's well-known development account key (public, documented by Microsoft).
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const CONTAINER = 'actions-cache';
const SV = '2020-12-06';
const TWIRP = '/twirp/github.actions.results.api.v1.CacheService/';

const azuriteUrl = new URL(process.env.AZURITE_URL || `http://127.0.0.1:10000/${ACCOUNT}`);
const dataDir = process.env.EMU_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'gh-emu-'));
const secret = crypto.randomBytes(32);

let entries = [];
let nextId = 1;
let nextFinal = 1; // the order entries were committed in (finalized), for /_emu/entries
let faults = {};
let proxy = true;
let stats = {};
let selfOrigin = '';

function count(name) {
  stats[name] = (stats[name] || 0) + 1;
}

// ---- SAS (spec §8.3) ----

function hmac(str) {
  return crypto.createHmac('sha256', Buffer.from(ACCOUNT_KEY, 'base64')).update(str, 'utf8')
    .digest('base64');
}

function isoNoMs(d) {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function blobSas(blob, perms) {
  const se = isoNoMs(new Date(Date.now() + 6 * 3600 * 1000));
  const canon = `/blob/${ACCOUNT}/${CONTAINER}/${blob}`;
  const toSign = [perms, '', se, canon, '', '', '', SV, 'b', '', '', '', '', '', '', ''].join('\n');
  const q = new URLSearchParams({ sv: SV, se, sr: 'b', sp: perms, sig: hmac(toSign) });
  return q.toString();
}

function accountSas(perms, srt) {
  const se = isoNoMs(new Date(Date.now() + 3600 * 1000));
  const toSign = [ACCOUNT, perms, 'b', srt, '', se, '', '', SV, '', ''].join('\n');
  return new URLSearchParams({ sv: SV, ss: 'b', srt, sp: perms, se, sig: hmac(toSign) })
    .toString();
}

function blobUrl(blob, perms) {
  const base = proxy ? `${selfOrigin}/${ACCOUNT}` : azuriteUrl.href.replace(/\/$/, '');
  return `${base}/${CONTAINER}/${blob}?${blobSas(blob, perms)}`;
}

// ---- tokens (spec §2) ----

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

function mintToken(ac, ttl) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ ac: JSON.stringify(ac), iat: now, nbf: now - 5,
    exp: now + ttl, repository_id: '1' }));
  const sig = b64url(crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest());
  return `${head}.${body}.${sig}`;
}

// Returns {scopes:[{scope,perm}], write:scope|null} or {error}.
function checkToken(req) {
  const auth = req.headers.authorization || '';
  const m = /^Bearer (.+)$/.exec(auth);
  if (!m) return { error: 'no bearer token' };
  const parts = m[1].split('.');
  if (parts.length !== 3) return { error: 'malformed token' };
  const want = b64url(crypto.createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`)
    .digest());
  if (want !== parts[2]) return { error: 'token signature is invalid' };
  let claims;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  } catch (e) {
    return { error: 'malformed token' };
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp < now) return { error: 'token is expired' };
  let ac = [];
  try {
    ac = JSON.parse(claims.ac || '[]');
  } catch (e) {
    return { error: 'malformed ac claim' };
  }
  const list = ac.map((s) => ({ scope: s.Scope, perm: s.Permission }));
  const ordered = list.filter((s) => s.perm & 2).concat(list.filter((s) => !(s.perm & 2)));
  const w = list.find((s) => s.perm & 2);
  return { scopes: ordered.filter((s) => s.perm & 1), write: w ? w.scope : null };
}

// ---- entries and lookup (spec §3.8) ----

function sameKey(a, b) {
  return a.toLowerCase() === b.toLowerCase();
}

function lookup(scopes, keys, version) {
  const seen = [];
  for (const k of keys) if (!seen.some((s) => sameKey(s, k))) seen.push(k);
  const newest = (list) => list.sort((a, b) => b.created - a.created || b.id - a.id)[0];
  for (const s of scopes) {
    const pool = entries.filter((e) => e.final && e.scope === s.scope && e.version === version);
    for (const k of seen) {
      const exact = pool.filter((e) => sameKey(e.key, k));
      const hit = exact.length ? newest(exact)
        : newest(pool.filter((e) => e.key.toLowerCase().startsWith(k.toLowerCase())));
      if (hit) {
        hit.accessed = Date.now();
        return hit;
      }
    }
  }
  return null;
}

// ---- the REST API for caches (list and delete) ----

function restCaches(req, res, url, id) {
  const auth = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  const perm = auth && { 'ghs-emu-write': 'write', 'ghs-emu-read': 'read' }[auth[1]];
  count(`rest.${req.method}`);
  if (!perm) return send(res, 401, { message: 'Bad credentials' });
  const iso = (ms) => new Date(ms).toISOString();
  if (id !== undefined) {
    if (req.method !== 'DELETE') return send(res, 404, { message: 'Not Found' });
    if (perm !== 'write') return send(res, 403, { message: 'Resource not accessible by integration' });
    const i = entries.findIndex((e) => e.final && String(e.id) === id);
    if (i < 0) return send(res, 404, { message: 'Not Found' });
    entries.splice(i, 1);
    return send(res, 204, null);
  }
  if (req.method !== 'GET') return send(res, 404, { message: 'Not Found' });
  const q = url.searchParams;
  const key = (q.get('key') || '').toLowerCase();
  const ref = q.get('ref');
  const field = { created_at: 'created', size_in_bytes: 'size' }[q.get('sort')] || 'accessed';
  const dir = q.get('direction') === 'asc' ? 1 : -1;
  const perPage = Math.min(Math.max(Number(q.get('per_page') || 30), 1), 100);
  const page = Math.max(Number(q.get('page') || 1), 1);
  const all = entries.filter((e) => e.final && e.key.toLowerCase().startsWith(key) &&
    (!ref || e.scope === ref))
    .map((e) => Object.assign({ accessed: e.accessed || e.created }, e))
    .sort((a, b) => dir * (a[field] - b[field]) || dir * (a.id - b.id));
  return send(res, 200, {
    total_count: all.length,
    actions_caches: all.slice((page - 1) * perPage, page * perPage).map((e) => ({
      id: e.id, ref: e.scope, key: e.key, version: e.version,
      last_accessed_at: iso(e.accessed), created_at: iso(e.created), size_in_bytes: e.size })),
  });
}

function findEntry(scope, key, version) {
  return entries.find((e) => e.scope === scope && sameKey(e.key, key) && e.version === version);
}

// ---- HTTP helpers ----

function send(res, status, obj, headers = {}) {
  const body = obj === null ? '' : JSON.stringify(obj);
  res.writeHead(status, Object.assign(obj === null ? {} : { 'Content-Type': 'application/json' },
    headers));
  res.end(body);
}

function twirpError(res, status, code, msg, headers) {
  send(res, status, { code, msg }, headers);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function pick(obj, snake, camel) {
  return obj[snake] !== undefined ? obj[snake] : obj[camel];
}

function azuriteRequest(method, blobPathAndQuery, headers = {}, body = null) {
  return new Promise((resolve, reject) => {
    const u = new URL(`${azuriteUrl.href.replace(/\/$/, '')}/${blobPathAndQuery}`);
    const r = http.request(u, { method, headers }, (resp) => {
      const chunks = [];
      resp.on('data', (c) => chunks.push(c));
      resp.on('end', () => resolve({ status: resp.statusCode, headers: resp.headers,
        body: Buffer.concat(chunks) }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

function takeFault(name) {
  const f = faults[name];
  if (!f) return null;
  const n = typeof f === 'number' ? f : f.count;
  if (!n) return null;
  if (typeof f === 'number') faults[name] = n - 1;
  else f.count = n - 1;
  return typeof f === 'number' ? {} : f;
}

// ---- service v2 ----

async function twirp(req, res, method) {
  count(`twirp.${method}`);
  let f;
  if ((f = takeFault('twirp429'))) {
    count('fault.twirp429');
    return twirpError(res, 429, 'resource_exhausted', 'rate limited',
      { 'Retry-After': String(f.retryAfter || 1) });
  }
  if (takeFault('twirp503')) {
    count('fault.twirp503');
    return twirpError(res, 503, 'unavailable', 'service unavailable');
  }
  const tok = checkToken(req);
  if (tok.error) return twirpError(res, 401, 'unauthenticated', tok.error);
  let body;
  try {
    body = JSON.parse((await readBody(req)).toString() || '{}');
  } catch (e) {
    return twirpError(res, 400, 'malformed', 'request body is not JSON');
  }
  const key = pick(body, 'key', 'key') || '';
  const version = pick(body, 'version', 'version') || '';
  if (method === 'CreateCacheEntry') {
    if (!tok.write) return send(res, 200, { ok: false,
      message: 'cache write denied: token has no writable scopes' });
    if (findEntry(tok.write, key, version)) {
      count('v2.conflict');
      return twirpError(res, 409, 'already_exists',
        'cache entry with the same key, version, and scope already exists');
    }
    const id = nextId++;
    const blob = `entries/${crypto.randomUUID()}`;
    entries.push({ id, key, version, scope: tok.write, blob, final: false, created: Date.now(),
      size: 0 });
    return send(res, 200, { ok: true, signed_upload_url: blobUrl(blob, 'cw') });
  }
  if (method === 'FinalizeCacheEntryUpload') {
    const e = tok.write && findEntry(tok.write, key, version);
    if (!e || e.final) return twirpError(res, 404, 'not_found', 'no pending cache entry');
    if (key.includes('emu-slow-finalize')) await new Promise((r) => setTimeout(r, 1500));
    const size = Number(pick(body, 'size_bytes', 'sizeBytes'));
    const head = await azuriteRequest('HEAD', `${CONTAINER}/${e.blob}?${blobSas(e.blob, 'r')}`);
    if (head.status !== 200) return send(res, 200, { ok: false,
      message: `blob not uploaded (HEAD ${head.status})` });
    if (Number(head.headers['content-length']) !== size) return send(res, 200, { ok: false,
      message: `size mismatch: blob has ${head.headers['content-length']}, size_bytes ${size}` });
    e.final = true;
    e.finalized = nextFinal++;
    e.size = size;
    e.created = Date.now();
    return send(res, 200, { ok: true, entry_id: String(e.id) });
  }
  if (method === 'GetCacheEntryDownloadURL') {
    const restore = pick(body, 'restore_keys', 'restoreKeys') || [];
    const e = lookup(tok.scopes, [key].concat(restore), version);
    if (!e) return send(res, 200, { ok: false });
    count('v2.hit');
    return send(res, 200, { ok: true, signed_download_url: blobUrl(e.blob, 'r'),
      matched_key: e.key });
  }
  return twirpError(res, 404, 'bad_route', `no handler for ${method}`);
}

// ---- service v1 (spec §5) ----

function v1Error(res, status, message, typeKey) {
  send(res, status, { message, typeKey: typeKey || 'ArtifactCacheException' });
}

async function v1(req, res, rest, query) {
  count(`v1.${req.method}.${rest.split('/')[0]}`);
  const tok = checkToken(req);
  if (rest.startsWith('artifacts/')) return serveArtifact(req, res, Number(rest.slice(10)));
  if (tok.error) return v1Error(res, 401, tok.error);
  if (req.method === 'GET' && rest === 'cache') {
    const keys = (query.get('keys') || '').split(',').filter((k) => k);
    const e = lookup(tok.scopes, keys, query.get('version') || '');
    if (!e) return send(res, 204, null);
    return send(res, 200, { cacheKey: e.key, scope: e.scope, cacheVersion: e.version,
      creationTime: new Date(e.created).toISOString(),
      archiveLocation: `${selfOrigin}/_apis/artifactcache/artifacts/${e.id}` });
  }
  if (req.method === 'POST' && rest === 'caches') {
    const body = JSON.parse((await readBody(req)).toString() || '{}');
    if (!tok.write) return v1Error(res, 403, 'cache write denied: token has no writable scopes');
    if (findEntry(tok.write, body.key, body.version))
      return v1Error(res, 409, `Cache already exists. Scope: ${tok.write}, Key: ${body.key}, ` +
        `Version: ${body.version}`, 'ArtifactCacheItemAlreadyExistsException');
    const id = nextId++;
    const file = path.join(dataDir, `v1-${id}`);
    fs.writeFileSync(file, '');
    entries.push({ id, key: body.key, version: body.version, scope: tok.write, file,
      final: false, created: Date.now(), size: 0 });
    return send(res, 201, { cacheId: id });
  }
  const m = /^caches\/(\d+)$/.exec(rest);
  const e = m && entries.find((x) => x.id === Number(m[1]) && x.file);
  if (!e) return v1Error(res, 404, 'no such cache');
  if (req.method === 'PATCH') {
    const cr = /^bytes (\d+)-(\d+)\/\*$/.exec(req.headers['content-range'] || '');
    if (!cr) return v1Error(res, 400, 'bad Content-Range');
    const data = await readBody(req);
    if (data.length !== Number(cr[2]) - Number(cr[1]) + 1)
      return v1Error(res, 400, 'chunk length does not match Content-Range');
    const fd = fs.openSync(e.file, 'r+');
    fs.writeSync(fd, data, 0, data.length, Number(cr[1]));
    fs.closeSync(fd);
    return send(res, 204, null);
  }
  if (req.method === 'POST') {
    const body = JSON.parse((await readBody(req)).toString() || '{}');
    const size = fs.statSync(e.file).size;
    if (size !== body.size) return v1Error(res, 400, `size mismatch: got ${size}, want ${body.size}`);
    e.final = true;
    e.finalized = nextFinal++;
    e.size = size;
    e.created = Date.now();
    return send(res, 204, null);
  }
  return v1Error(res, 405, 'method not allowed');
}

function serveArtifact(req, res, id) {
  const e = entries.find((x) => x.id === id && x.final && x.file);
  if (!e) return v1Error(res, 404, 'no such artifact');
  const size = e.size;
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
  let start = 0;
  let end = size - 1;
  let status = 200;
  if (m) {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    status = 206;
  }
  const headers = { 'Content-Length': String(end - start + 1), 'Accept-Ranges': 'bytes',
    'Content-Type': 'application/octet-stream' };
  if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) return res.end();
  fs.createReadStream(e.file, { start, end }).pipe(res);
}

// ---- blob proxy ----

function blobKind(req, query) {
  const comp = query.get('comp');
  if (req.method === 'PUT' && comp === 'block') return 'putblock';
  if (req.method === 'PUT' && comp === 'blocklist') return 'blocklist';
  if (req.method === 'PUT') return 'putblob';
  if (req.method === 'HEAD') return 'head';
  if (req.method === 'GET') return req.headers.range || req.headers['x-ms-range'] ? 'getrange' : 'get';
  return req.method.toLowerCase();
}

function proxyBlob(req, res, url) {
  const kind = blobKind(req, url.searchParams);
  count(`blob.${kind}`);
  let f;
  if ((f = takeFault('blob429'))) {
    count('fault.blob429');
    res.writeHead(429, { 'Retry-After': String(f.retryAfter || 1), 'Content-Type': 'application/xml' });
    return res.end('<?xml version="1.0"?><Error><Code>ServerBusy</Code></Error>');
  }
  if (takeFault('blob503')) {
    count('fault.blob503');
    res.writeHead(503, { 'Content-Type': 'application/xml' });
    return res.end('<?xml version="1.0"?><Error><Code>ServerBusy</Code></Error>');
  }
  const cut = req.method === 'GET' && takeFault('blobCut');
  const target = new URL(`${azuriteUrl.origin}${url.pathname}${url.search}`);
  const headers = Object.assign({}, req.headers, { host: target.host });
  const up = http.request(target, { method: req.method, headers }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers);
    if (!cut) return ur.pipe(res);
    count('fault.blobCut');
    const total = Number(ur.headers['content-length'] || 0);
    let sent = 0;
    ur.on('data', (c) => {
      if (sent >= total / 2) return;
      const room = Math.ceil(total / 2) - sent;
      const piece = c.length > room ? c.subarray(0, room) : c;
      sent += piece.length;
      res.write(piece);
      if (sent >= total / 2) {
        ur.destroy();
        setTimeout(() => res.socket && res.socket.destroy(), 50);
      }
    });
  });
  up.on('error', () => res.socket && res.socket.destroy());
  req.pipe(up);
}

// ---- server ----

async function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  if (p.startsWith(TWIRP)) {
    if (req.method !== 'POST') return twirpError(res, 404, 'bad_route', 'POST only');
    return twirp(req, res, p.slice(TWIRP.length));
  }
  if (p.startsWith('/_apis/artifactcache/'))
    return v1(req, res, p.slice('/_apis/artifactcache/'.length), url.searchParams);
  if (p.startsWith(`/${ACCOUNT}/`)) return proxyBlob(req, res, url);
  const rest = /^\/repos\/[^/]+\/[^/]+\/actions\/caches(?:\/(\d+))?$/.exec(p);
  if (rest) return restCaches(req, res, url, rest[1]);
  if (p === '/_emu/token') {
    const ac = JSON.parse(url.searchParams.get('ac') ||
      '[{"Scope":"refs/heads/main","Permission":3}]');
    const tok = mintToken(ac, Number(url.searchParams.get('ttl') || 3600));
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end(tok);
  }
  if (p === '/_emu/faults' && req.method === 'POST') {
    const f = JSON.parse((await readBody(req)).toString() || '{}');
    if (f.proxy !== undefined) proxy = !!f.proxy;
    delete f.proxy;
    Object.assign(faults, f);
    return send(res, 200, { ok: true });
  }
  if (p === '/_emu/sas') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end(blobUrl(url.searchParams.get('blob') || 'bench/blob', url.searchParams.get('sp') || 'r'));
  }
  if (p === '/_emu/container' && req.method === 'POST') {
    // after Azurite was restarted (benchmarks do, to drop deleted blobs): the container again
    return createContainer().then(() => send(res, 200, { ok: true }),
      (e) => send(res, 502, { error: String(e) }));
  }
  if (p === '/_emu/stats') return send(res, 200, stats);
  if (p === '/_emu/entries') return send(res, 200, entries.map((e) => ({ id: e.id, key: e.key,
    version: e.version, scope: e.scope, size: e.size, final: e.final, finalized: e.finalized || null, blob: e.blob || null })));
  if (p === '/_emu/reset' && req.method === 'POST') {
    entries = [];
    faults = {};
    stats = {};
    proxy = true;
    return send(res, 200, { ok: true });
  }
  return twirpError(res, 404, 'bad_route', `no route for ${req.method} ${p}`);
}

async function createContainer() {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await azuriteRequest('PUT',
        `${CONTAINER}?restype=container&${accountSas('wc', 'c')}`);
      if (r.status === 201 || r.status === 409) return;
      throw new Error(`create container: HTTP ${r.status} ${r.body}`);
    } catch (e) {
      if (i === 99) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function main() {
  await createContainer();
  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) twirpError(res, 500, 'internal', String(e && e.message));
    });
  });
  server.keepAliveTimeout = 30000;
  server.listen(Number(process.env.EMU_PORT || 0), '127.0.0.1', () => {
    const port = server.address().port;
    selfOrigin = `http://127.0.0.1:${port}`;
    console.log(`emulator listening on ${port}`);
  });
}

main().catch((e) => {
  console.error(`emulator: ${e.stack || e}`);
  process.exit(1);
});
