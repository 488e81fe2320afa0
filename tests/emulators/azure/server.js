#!/usr/bin/env node
// server.js - a loopback emulator of the Azure DevOps REST endpoints that
// bkcache's Azure Pipelines provider and the official Node client use:
//
//   OPTIONS {org}/_apis/{area}                       resource locations (Node client)
//   GET     {org}/_apis/ResourceAreas                empty list: "on-premises" style
//   GET     {org}/{project}/_apis/build/builds       definitions, branchName, statusFilter,
//                                                    resultFilter, queryOrder, $top,
//                                                    continuationToken (x-ms-continuationtoken)
//   GET     {org}/{project}/_apis/build/definitions/{id}
//   GET/POST {org}/{project}/_apis/build/builds/{id}/artifacts[?artifactName=]
//   PUT/GET/DELETE {org}/_apis/resources/Containers/{cid}?itemPath=&scope=
//
// following ../shared/specs/azure-pipelines.md (sections 2.3, 3, 7): chunked
// uploads with an inclusive Content-Range (202 until complete, 201 then),
// gzip chunks with x-tfs-filelength, 404 for an unknown container or a
// read-only token, 404 for a pending item, 409 for a duplicate artifact name,
// 401 JSON or 203 HTML sign-in page for bad credentials.
//
// Test control (no auth) under /_emulator/: POST reset, project, definition,
// build, faults, config, delete-artifact ({build, name}: as retention would);
// GET state, requests. A fault is
//   {method, path (substring of the path), query (substring), times, action,
//    status, headers, body}
// with action "status" (send status/headers/body), "reset" (destroy the
// socket: after reading half the request body, or after half the response
// body for downloads), "html203" (a sign-in page), "ok-retry-after" (serve
// normally with Retry-After and X-RateLimit-Delay headers).
//
// Usage: node server.js [--port N]  (0 or unset: a free port; printed as
// "PORT=<n>" on stdout). Binds 127.0.0.1 only.
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');
const zlib = require('node:zlib');

let state;
function reset() {
  state = {
    projects: [{ id: '6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c', name: 'Fabrikam Fiber' }],
    tokens: { 'test-token': 'rw', 'test-pat': 'rw', 'reader-token': 'ro', 'expired-token': 'expired' },
    definitions: {},
    builds: [],
    containers: {},
    artifacts: {},
    faults: [],
    requests: [],
    nextArtifactId: 1,
    // hashOnly: keep only the SHA-256 of uploaded files (large-file benchmarks)
    config: { gzipDownloads: false, redirectDownloads: false, duplicateStatus: 409, repeatPages: false,
      hashOnly: false },
  };
}
reset();

const LOCATIONS = {
  build: [
    { id: '0cd358e1-9217-4d94-8269-1c1ee6f93dcf', area: 'build', resourceName: 'builds',
      routeTemplate: '{project}/_apis/build/builds/{buildId}', resourceVersion: 7,
      minVersion: '1.0', maxVersion: '7.2', releasedVersion: '7.1' },
    { id: '1db06c96-014e-44e1-ac91-90b2d4b3e984', area: 'build', resourceName: 'artifacts',
      routeTemplate: '{project}/_apis/build/builds/{buildId}/artifacts', resourceVersion: 5,
      minVersion: '2.0', maxVersion: '7.2', releasedVersion: '7.1' },
    { id: 'dbeaf647-6167-421a-bda9-c9327b25e2e6', area: 'build', resourceName: 'definitions',
      routeTemplate: '{project}/_apis/build/definitions/{definitionId}', resourceVersion: 7,
      minVersion: '2.0', maxVersion: '7.2', releasedVersion: '7.1' },
  ],
  container: [
    { id: 'e4f5c81e-e250-447b-9fef-bd48471bea5e', area: 'Container', resourceName: 'Containers',
      routeTemplate: '_apis/resources/{resource}/{containerId}', resourceVersion: 4,
      minVersion: '3.0', maxVersion: '7.2', releasedVersion: '0.0' },
  ],
  location: [
    { id: 'e81700f7-3be2-46de-8624-2eb35882fcaa', area: 'Location', resourceName: 'ResourceAreas',
      routeTemplate: '_apis/{resource}/{areaId}', resourceVersion: 1,
      minVersion: '3.2', maxVersion: '7.2', releasedVersion: '0.0' },
  ],
};

function vssError(res, status, typeKey, message, extraHeaders) {
  const body = JSON.stringify({ $id: '1', innerException: null, message, typeName: typeKey,
    typeKey, errorCode: 0, eventId: 3000 });
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json; charset=utf-8' },
    extraHeaders || {}));
  res.end(body);
}

function sendJson(res, status, obj, headers) {
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json; charset=utf-8' },
    headers || {}));
  res.end(JSON.stringify(obj));
}

function signInPage(res) {
  res.writeHead(203, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end('<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head>' +
    '<body>Sign in to your account</body></html>');
}

function apiVersion(req, url) {
  const q = url.searchParams.get('api-version');
  if (q) return q;
  const m = /api-version=([^;,\s]+)/.exec(req.headers.accept || '');
  return m ? m[1] : null;
}

// 'rw', 'ro', 'expired' or null
function authLevel(req) {
  const h = req.headers.authorization || '';
  let token = null;
  if (h.startsWith('Bearer ')) token = h.slice(7);
  else if (h.startsWith('Basic ')) {
    const dec = Buffer.from(h.slice(6), 'base64').toString('utf8');
    token = dec.slice(dec.indexOf(':') + 1);
  }
  return token && state.tokens[token] ? state.tokens[token] : null;
}

function findProject(p) {
  const d = decodeURIComponent(p);
  return state.projects.find((x) => x.id === d || x.name.toLowerCase() === d.toLowerCase());
}

function takeFault(req, url) {
  for (const f of state.faults) {
    if (f.times <= 0) continue;
    if (f.method && f.method !== req.method) continue;
    if (f.path && !url.pathname.includes(f.path)) continue;
    if (f.query && !decodeURIComponent(url.search).includes(f.query)) continue;
    f.times--;
    return f;
  }
  return null;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

// ---- builds ----

function buildJson(b, base) {
  return { id: b.id, buildNumber: String(b.id), status: b.status, result: b.result,
    sourceBranch: b.sourceBranch, finishTime: b.finishTime, queueTime: b.finishTime,
    definition: { id: b.definition }, project: { id: b.project }, deleted: false,
    url: `${base}/_apis/build/Builds/${b.id}` };
}

// Enum query values come as names ("completed", "succeeded,partiallySucceeded")
// or as numbers (flags for status and result), as the Node client sends them.
const STATUS = { inprogress: 1, completed: 2, cancelling: 4, postponed: 8, notstarted: 32, all: 47 };
const RESULT = { succeeded: 2, partiallysucceeded: 4, failed: 8, canceled: 32 };
const ORDER = { finishtimeascending: 2, finishtimedescending: 3, queuetimedescending: 4,
  queuetimeascending: 5, starttimedescending: 6, starttimeascending: 7 };
function enumNames(v, table) {
  if (!v) return null;
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (table === ORDER) return Object.keys(table).filter((k) => table[k] === n);
    return Object.keys(table).filter((k) => k !== 'all' && (table[k] & n));
  }
  return v.toLowerCase().split(',');
}

function listBuilds(req, res, url, project, base) {
  const q = url.searchParams;
  let v = state.builds.filter((b) => b.project === project.id);
  if (q.get('definitions')) {
    const defs = q.get('definitions').split(',').map(Number);
    v = v.filter((b) => defs.includes(b.definition));
  }
  if (q.get('branchName')) v = v.filter((b) => b.sourceBranch === q.get('branchName'));
  const sf = enumNames(q.get('statusFilter'), STATUS);
  if (sf && !sf.includes('all')) v = v.filter((b) => sf.includes(b.status.toLowerCase()));
  const rf = enumNames(q.get('resultFilter'), RESULT);
  if (rf) v = v.filter((b) => b.result && rf.includes(b.result.toLowerCase()));
  const order = (enumNames(q.get('queryOrder'), ORDER) || ['queuetimedescending'])[0];
  const desc = order.endsWith('descending');
  v.sort((a, b) => (desc ? -1 : 1) * (Date.parse(a.finishTime) - Date.parse(b.finishTime) || a.id - b.id));
  const top = q.get('$top') ? Number(q.get('$top')) : 1000;
  let start = 0;
  const token = q.get('continuationToken');
  if (token && !state.config.repeatPages) {
    start = Number(Buffer.from(token, 'base64').toString('utf8').split(':')[1]) || 0;
  }
  const page = v.slice(start, start + top);
  const headers = {};
  if (start + top < v.length) {
    headers['x-ms-continuationtoken'] = Buffer.from(`${Date.now()}:${start + top}`).toString('base64');
  }
  sendJson(res, 200, { count: page.length, value: page.map((b) => buildJson(b, base)) }, headers);
}

// ---- artifacts ----

async function artifacts(req, res, url, project, buildId, base) {
  const build = state.builds.find((b) => b.id === buildId && b.project === project.id);
  if (!build) return vssError(res, 404, 'BuildNotFoundException', `TF215080: build ${buildId} was not found`);
  const list = state.artifacts[buildId] || (state.artifacts[buildId] = []);
  if (req.method === 'GET') {
    const name = url.searchParams.get('artifactName');
    if (name !== null) {
      const a = list.find((x) => x.name === name);
      if (!a) return vssError(res, 404, 'ArtifactNotFoundException', `artifact ${name} not found for build ${buildId}`);
      return sendJson(res, 200, a);
    }
    return sendJson(res, 200, { count: list.length, value: list });
  }
  if (req.method !== 'POST') return vssError(res, 405, 'MethodNotAllowed', 'method not allowed');
  if (authLevel(req) !== 'rw') return vssError(res, 403, 'AccessDeniedException', 'no build execute permission');
  let body;
  try { body = JSON.parse((await readBody(req)).toString('utf8')); } catch (e) {
    return vssError(res, 400, 'InvalidArgumentValueException', 'body is not JSON');
  }
  const r = body.resource || {};
  if (!body.name || !r.type || !r.data) return vssError(res, 400, 'ArgumentNullException', 'name, resource.type and resource.data are required');
  if (list.find((x) => x.name.toLowerCase() === body.name.toLowerCase())) {
    return vssError(res, state.config.duplicateStatus, 'ArtifactExistsException',
      `Artifact ${body.name} already exists for build ${buildId}.`);
  }
  const enc = encodeURIComponent(body.name);
  const a = { id: state.nextArtifactId++, name: body.name, source: body.source || null,
    resource: { type: r.type, data: r.data, properties: r.properties || {},
      url: `${base}/_apis/build/builds/${buildId}/artifacts?artifactName=${enc}&api-version=7.1`,
      downloadUrl: `${base}/_apis/build/builds/${buildId}/artifacts?artifactName=${enc}&api-version=7.1&%24format=zip` } };
  list.push(a);
  sendJson(res, 200, a);
}

// ---- file containers ----

function normPath(p) {
  return p.replace(/\\/g, '/').split('/').filter((s) => s.length).join('/');
}

function itemJson(c, it) {
  return { containerId: c.id, scopeIdentifier: c.scope, path: it.path, itemType: it.itemType,
    status: it.status, fileLength: it.itemType === 'file' ? it.fileLength : undefined,
    dateCreated: it.dateCreated, dateLastModified: it.dateLastModified,
    contentLocation: it.itemType === 'file' ? `${c.base}/_apis/resources/Containers/${c.id}?itemPath=${encodeURIComponent(it.path)}` : undefined };
}

function ensureFolders(c, path) {
  const segs = path.split('/');
  for (let i = 1; i < segs.length; i++) {
    const p = segs.slice(0, i).join('/');
    if (!c.items[p]) {
      const now = new Date().toISOString();
      c.items[p] = { path: p, itemType: 'folder', status: 'created', dateCreated: now, dateLastModified: now };
    }
  }
}

async function containerPut(req, res, url, c, itemPath, fault) {
  const ver = apiVersion(req, url);
  if (!ver || !/-preview\.4$/.test(ver)) return vssError(res, 400, 'VssVersionOutOfRangeException', `api-version '${ver}' is not a -preview.4 version`);
  if (!url.searchParams.get('scope')) return vssError(res, 400, 'ArgumentNullException', 'scope is required');
  if (url.searchParams.get('scope') !== c.scope) return vssError(res, 404, 'ContainerNotFoundException', `container ${c.id} not found in scope`);
  if (authLevel(req) !== 'rw') return vssError(res, 404, 'ContainerWriteAccessDeniedException', `no write access to container ${c.id}`);
  if (fault && fault.action === 'reset') {
    // read part of the body, then cut the connection
    let got = 0;
    const want = Number(req.headers['content-length'] || 0) / 2;
    req.on('data', (d) => { got += d.length; if (got >= want) req.socket.destroy(); });
    req.on('end', () => req.socket.destroy());
    return undefined;
  }
  const body = await readBody(req);
  const now = new Date().toISOString();
  const existing = c.items[itemPath];
  if (existing && existing.itemType === 'folder') return vssError(res, 400, 'ContainerItemExistsException', `${itemPath} is a folder`);
  if (Object.keys(c.items).some((p) => p.startsWith(itemPath + '/'))) return vssError(res, 400, 'ContainerItemExistsException', `${itemPath} is a folder`);
  const range = req.headers['content-range'];
  if (!range) {
    if (body.length) return vssError(res, 400, 'InvalidArgumentValueException', 'Content-Range is required');
    if (existing) return vssError(res, 409, 'ContainerItemExistsException', `${itemPath} exists`);
    ensureFolders(c, itemPath);
    const it = c.items[itemPath] = { path: itemPath, itemType: 'file', status: 'created', fileLength: 0,
      data: Buffer.alloc(0), received: 0, dateCreated: now, dateLastModified: now };
    return sendJson(res, 201, itemJson(c, it), { Location: url.href });
  }
  const gz = (req.headers['content-encoding'] || '').toLowerCase() === 'gzip';
  const flen = Number(req.headers['x-tfs-filelength'] || 0);
  if (gz && !(flen > 0)) return vssError(res, 400, 'InvalidArgumentValueException', 'x-tfs-filelength is required with gzip');
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range);
  if (!m) return vssError(res, 400, 'InvalidArgumentValueException', `bad Content-Range '${range}'`);
  const first = Number(m[1]); const last = Number(m[2]); const total = Number(m[3]);
  if (last < first || last >= total || body.length !== last - first + 1) {
    return vssError(res, 400, 'InvalidArgumentValueException', `Content-Range '${range}' does not match ${body.length} body bytes`);
  }
  let it = existing;
  if (first === 0) {
    if (it && it.status === 'created') return vssError(res, 409, 'ContainerItemExistsException', `${itemPath} already exists`);
    ensureFolders(c, itemPath);
    it = c.items[itemPath] = { path: itemPath, itemType: 'file', status: 'pendingUpload', total,
      gzip: gz, fileLength: gz ? flen : total, parts: [], received: 0, dateCreated: now, dateLastModified: now };
  } else {
    if (!it) return vssError(res, 400, 'PendingUploadNotFoundException', `no pending upload for ${itemPath}`);
    if (it.status === 'created') return vssError(res, 400, 'ContainerItemContentException', 'content already complete');
    if (first !== it.received || total !== it.total) {
      return vssError(res, 400, 'ContainerItemContentException', `chunk at ${first} but ${it.received} bytes received of ${it.total}`);
    }
  }
  it.received += body.length;
  it.dateLastModified = now;
  if (state.config.hashOnly && !it.gzip) { // large-file benchmarks: keep a digest, not the bytes
    it.hash = it.hash || crypto.createHash('sha256');
    it.hash.update(body);
    if (it.received < it.total) return sendJson(res, 202, itemJson(c, it), { Location: url.href });
    it.sha256 = it.hash.digest('hex');
    delete it.hash;
    delete it.parts;
    it.data = null;
    it.fileLength = it.total;
    it.status = 'created';
    return sendJson(res, 201, itemJson(c, it), { Location: url.href });
  }
  it.parts.push(body);
  if (it.received < it.total) return sendJson(res, 202, itemJson(c, it), { Location: url.href });
  let data = Buffer.concat(it.parts);
  delete it.parts;
  if (it.gzip) {
    try { data = zlib.gunzipSync(data); } catch (e) { delete c.items[itemPath]; return vssError(res, 400, 'InvalidArgumentValueException', 'bad gzip stream'); }
    if (data.length !== it.fileLength) { delete c.items[itemPath]; return vssError(res, 400, 'InvalidArgumentValueException', 'x-tfs-filelength mismatch'); }
  }
  it.data = data;
  it.fileLength = data.length;
  it.status = 'created';
  return sendJson(res, 201, itemJson(c, it), { Location: url.href });
}

function wantsOctet(req, url) {
  const f = (url.searchParams.get('$format') || '').toLowerCase();
  if (f) return f === 'octetstream';
  return /application\/octet-stream/.test(req.headers.accept || '');
}

function containerGet(req, res, url, c, itemPath, fault) {
  const it = c.items[itemPath];
  if (it && it.itemType === 'file' && wantsOctet(req, url)) {
    if (it.status !== 'created') return vssError(res, 404, 'ContainerItemNotFoundException', `cannot download partial file ${itemPath}`);
    if (state.config.redirectDownloads && !url.searchParams.get('blob')) {
      const port = req.socket.localPort;
      const key = crypto.randomBytes(8).toString('hex');
      state.blobs = state.blobs || {};
      state.blobs[key] = it.data;
      res.writeHead(302, { Location: `http://localhost:${port}/_blob/${key}` });
      return res.end();
    }
    return sendFile(req, res, it.data, it.path, fault);
  }
  const items = Object.values(c.items).filter((x) => {
    if (!itemPath) return !state.config.shallowRootOnly || !x.path.includes('/');
    if (x.path === itemPath) return true;
    if (!x.path.startsWith(itemPath + '/')) return false;
    return url.searchParams.get('isShallow') !== 'true' || !x.path.slice(itemPath.length + 1).includes('/');
  }).sort((a, b) => (a.path < b.path ? -1 : 1));
  if (itemPath && !items.length) return vssError(res, 404, 'ContainerItemNotFoundException', `${itemPath} not found`);
  sendJson(res, 200, { count: items.length, value: items.map((x) => itemJson(c, x)) });
}

function sendFile(req, res, data, name, fault) {
  const headers = { 'Content-Type': 'application/octet-stream',
    'Content-Disposition': `attachment; filename=${name.split('/').pop()}` };
  let body = data;
  if (state.config.gzipDownloads && /gzip/.test(req.headers['accept-encoding'] || '')) {
    body = zlib.gzipSync(data);
    headers['Content-Encoding'] = 'gzip';
  }
  headers['Content-Length'] = body.length;
  res.writeHead(200, headers);
  if (fault && fault.action === 'reset') {
    res.write(body.subarray(0, Math.floor(body.length / 2)));
    setTimeout(() => res.socket.destroy(), 20);
    return;
  }
  res.end(body);
}

async function container(req, res, url, cid, base) {
  const c = state.containers[cid];
  const level = authLevel(req);
  if (!c) return vssError(res, 404, 'ContainerNotFoundException', `container ${cid} not found`);
  const itemPath = normPath(url.searchParams.get('itemPath') || '');
  const fault = req.fault;
  if (req.method === 'PUT') {
    if (!url.searchParams.has('itemPath')) return vssError(res, 400, 'ArgumentNullException', 'itemPath is required');
    return containerPut(req, res, url, c, itemPath, fault);
  }
  if (req.method === 'GET') return containerGet(req, res, url, c, itemPath, fault);
  if (req.method === 'DELETE') {
    if (level !== 'rw') return vssError(res, 404, 'ContainerWriteAccessDeniedException', 'no write access');
    for (const p of Object.keys(c.items)) if (p === itemPath || p.startsWith(itemPath + '/')) delete c.items[p];
    res.writeHead(204); return res.end();
  }
  return vssError(res, 405, 'MethodNotAllowed', 'method not allowed');
}

// ---- test control ----

async function control(req, res, url) {
  const what = url.pathname.slice('/_emulator/'.length);
  const body = req.method === 'POST' ? JSON.parse((await readBody(req)).toString('utf8') || '{}') : {};
  switch (what) {
  case 'reset': reset(); return sendJson(res, 200, {});
  case 'config': Object.assign(state.config, body); return sendJson(res, 200, state.config);
  case 'project': state.projects.push(body); return sendJson(res, 200, body);
  case 'definition':
    state.definitions[body.id] = { id: body.id, name: body.name || `def-${body.id}`,
      repository: { defaultBranch: body.defaultBranch || 'refs/heads/main' } };
    return sendJson(res, 200, state.definitions[body.id]);
  case 'build': {
    const b = { id: body.id, definition: body.definition || 1, project: body.project || state.projects[0].id,
      sourceBranch: body.branch || 'refs/heads/main', status: body.status || 'completed',
      result: body.result === undefined ? 'succeeded' : body.result,
      finishTime: body.finishTime || new Date(Date.now() - 1000 * (1000 - body.id)).toISOString(),
      containerId: body.containerId || 1000 + body.id };
    state.builds = state.builds.filter((x) => x.id !== b.id);
    state.builds.push(b);
    if (!state.containers[b.containerId]) {
      state.containers[b.containerId] = { id: b.containerId, scope: b.project, items: {},
        base: `http://${req.headers.host}/${body.org || 'org'}` };
    }
    return sendJson(res, 200, b);
  }
  case 'faults':
    for (const f of [].concat(body)) state.faults.push(Object.assign({ times: 1, action: 'status' }, f));
    return sendJson(res, 200, state.faults);
  case 'delete-artifact': { // {build, name}: gone, as when retention deletes it
    const list = state.artifacts[body.build] || [];
    const i = list.findIndex((a) => a.name === body.name);
    if (i < 0) return sendJson(res, 404, { message: `no artifact ${body.name} in build ${body.build}` });
    list.splice(i, 1);
    return sendJson(res, 200, {});
  }
  case 'requests': return sendJson(res, 200, state.requests);
  case 'state': {
    const containers = {};
    for (const [id, c] of Object.entries(state.containers)) {
      containers[id] = Object.values(c.items).map((it) => ({ path: it.path, itemType: it.itemType,
        status: it.status, fileLength: it.fileLength, received: it.received,
        sha256: it.data ? crypto.createHash('sha256').update(it.data).digest('hex') : it.sha256 }));
    }
    return sendJson(res, 200, { builds: state.builds, artifacts: state.artifacts, containers, faults: state.faults });
  }
  default: return sendJson(res, 404, { message: `unknown control ${what}` });
  }
}

// ---- dispatch ----

async function handle(req, res) {
  const url = new URL(req.url, `http://${req.headers.host}`);
  if (url.pathname.startsWith('/_emulator/')) return control(req, res, url);
  state.requests.push({ method: req.method, path: url.pathname, query: url.search,
    authorization: req.headers.authorization ? req.headers.authorization.split(' ')[0] : null,
    host: req.headers.host, range: req.headers['content-range'] || null });
  if (url.pathname.startsWith('/_blob/')) {
    const data = (state.blobs || {})[url.pathname.slice(7)];
    if (!data) return vssError(res, 404, 'BlobNotFound', 'no such blob');
    return sendFile(req, res, data, 'blob', null);
  }
  const fault = takeFault(req, url);
  if (fault) {
    if (fault.action === 'html203') return signInPage(res);
    if (fault.action === 'status') {
      const headers = Object.assign({ 'Content-Type': 'application/json; charset=utf-8' }, fault.headers || {});
      res.writeHead(fault.status || 500, headers);
      return res.end(fault.body || JSON.stringify({ message: `injected ${fault.status}`, typeKey: 'InjectedFault' }));
    }
    if (fault.action === 'ok-retry-after') {
      res.setHeader('Retry-After', String(fault.retryAfter || 1));
      res.setHeader('X-RateLimit-Delay', '0.500');
      res.setHeader('X-RateLimit-Resource', 'Core');
    }
    req.fault = fault;
  }
  const segs = url.pathname.split('/').filter((s) => s.length);
  const org = segs[0];
  const base = `http://${req.headers.host}/${org}`;
  if (req.method === 'OPTIONS' && segs[1] === '_apis' && segs.length === 3) {
    const v = LOCATIONS[segs[2].toLowerCase()] || [];
    return sendJson(res, 200, { count: v.length, value: v });
  }
  const level = authLevel(req);
  if (level === 'expired') return signInPage(res);
  if (!level) {
    return vssError(res, 401, 'UnauthorizedRequestException',
      'TF400813: The user is not authorized to access this resource.');
  }
  if (segs[1] === '_apis' && segs[2] && segs[2].toLowerCase() === 'resourceareas') {
    return sendJson(res, 200, { count: 0, value: [] });
  }
  if (segs[1] === '_apis' && segs[2] === 'resources' && segs[3] && segs[3].toLowerCase() === 'containers' && segs[4]) {
    return container(req, res, url, Number(segs[4]), base);
  }
  const project = segs[1] && findProject(segs[1]);
  if (!project || segs[2] !== '_apis' || (segs[3] || '').toLowerCase() !== 'build') {
    return vssError(res, 404, 'ProjectDoesNotExistWithNameException', `no route for ${url.pathname}`);
  }
  const pbase = `${base}/${project.id}`;
  const kind = (segs[4] || '').toLowerCase();
  if (kind === 'builds' && segs.length === 5 && req.method === 'GET') return listBuilds(req, res, url, project, pbase);
  if (kind === 'builds' && segs.length === 7 && segs[6].toLowerCase() === 'artifacts') {
    return artifacts(req, res, url, project, Number(segs[5]), pbase);
  }
  if (kind === 'definitions' && segs.length === 6) {
    const d = state.definitions[Number(segs[5])];
    if (!d) return vssError(res, 404, 'DefinitionNotFoundException', `definition ${segs[5]} not found`);
    return sendJson(res, 200, d);
  }
  return vssError(res, 404, 'NotFound', `no route for ${req.method} ${url.pathname}`);
}

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : Number(process.env.AZURE_EMULATOR_PORT || 0);
const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    if (!res.headersSent) vssError(res, 500, 'EmulatorException', String(e && e.stack || e));
  });
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`PORT=${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
