// proxy.js - a fault-injecting HTTP proxy for the object store suites.
//
// Sits on 127.0.0.1 in front of a real server (s3rver, Azurite) and
// forwards every request unchanged, except when a fault rule matches.
// It also keeps a log of requests so tests can assert how a transfer went
// (multipart or not, ranged GETs, aborts).
//
//   node proxy.js --upstream http://127.0.0.1:PORT [--port N] [--verify-sigv4 AK:SECRET[:TOKEN]]
//
// Prints "faultproxy listening on 127.0.0.1:PORT" once ready (--port 0 or
// none: a free port).
//
// --verify-sigv4 checks every request's AWS Signature Version 4 with
// @smithy/signature-v4 (the AWS SDK's signer, an independent
// implementation; found through NODE_PATH) before forwarding: a bad
// signature gets 403 SignatureDoesNotMatch, a missing or wrong
// x-amz-security-token 403 InvalidToken, as S3 answers. s3rver itself does
// not check SigV4.
//
// Control endpoints (not forwarded):
//   POST /__fault  {"method":"PUT","match":"partNumber=2","times":1, action...}
//       match: substring of the request's path+query ("" for any)
//       actions: {"status":503,"code":"SlowDown","retryAfter":"1"} answer with
//       that status (S3-style XML error body, or Azure-style with "azure":true);
//       {"cut":N} forward, but drop the connection after N response body
//       bytes (download) or after N request body bytes (upload);
//       {"delayMs":N} hold the request N ms before forwarding.
//   POST /__reset  drop all rules and the log
//   GET  /__log    JSON array of {method, url, range, ifMatch, status, fault}
'use strict';

const http = require('node:http');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const upstream = new URL(arg('--upstream', 'http://127.0.0.1:4568'));
const port = Number(arg('--port', process.env.FAULTPROXY_PORT || 0));
const verify = arg('--verify-sigv4', null);
let rules = [];
let log = [];

let signer = null;
let sigCreds = null;
if (verify) {
  const [accessKeyId, secretAccessKey, sessionToken] = verify.split(':');
  sigCreds = { accessKeyId, secretAccessKey, sessionToken };
  const { SignatureV4 } = require('@smithy/signature-v4');
  const { Hash } = require('@smithy/hash-node');
  signer = (region) =>
    new SignatureV4({
      credentials: sigCreds,
      region,
      service: 's3',
      sha256: Hash.bind(null, 'sha256'),
      uriEscapePath: false,
      applyChecksum: false,
    });
}

function errorBody(rule) {
  const code = rule.code || 'InternalError';
  if (rule.azure)
    return {
      type: 'application/xml',
      body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code>` +
        `<Message>injected by faultproxy</Message></Error>`,
    };
  return {
    type: 'application/xml',
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code>` +
      `<Message>injected by faultproxy</Message></Error>`,
  };
}

function takeRule(req) {
  for (const r of rules) {
    if (r.times !== undefined && r.times <= 0) continue;
    if (r.method && r.method !== req.method) continue;
    if (r.match && !req.url.includes(r.match)) continue;
    if (r.times !== undefined) r.times--;
    return r;
  }
  return null;
}

async function checkSigV4(req) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { code: 'AccessDenied', msg: 'no SigV4 Authorization header' };
  const [, ak, , region, signedList, sig] = m;
  if (ak !== sigCreds.accessKeyId) return { code: 'InvalidAccessKeyId', msg: 'unknown key' };
  if (sigCreds.sessionToken && req.headers['x-amz-security-token'] !== sigCreds.sessionToken)
    return { code: 'InvalidToken', msg: 'missing or wrong session token' };
  const signed = signedList.split(';');
  if (sigCreds.sessionToken && !signed.includes('x-amz-security-token'))
    return { code: 'AccessDenied', msg: 'x-amz-security-token is not signed' };
  const headers = {};
  for (const h of signed) {
    if (req.headers[h] === undefined) return { code: 'AccessDenied', msg: `signed header ${h} missing` };
    headers[h] = req.headers[h];
  }
  const u = new URL(req.url, 'http://' + req.headers.host);
  const query = {};
  for (const [k, v] of u.searchParams) query[k] = v;
  const amzDate = req.headers['x-amz-date'] || '';
  const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!d) return { code: 'AccessDenied', msg: 'bad x-amz-date' };
  const when = new Date(Date.UTC(+d[1], +d[2] - 1, +d[3], +d[4], +d[5], +d[6]));
  const request = {
    method: req.method,
    protocol: 'http:',
    hostname: u.hostname,
    port: u.port ? Number(u.port) : undefined,
    path: req.url.split('?')[0],
    query,
    headers,
  };
  const signedReq = await signer(region).sign(request, {
    signingDate: when,
    signableHeaders: new Set(signed),
    unsignableHeaders: new Set(),
  });
  const want = /Signature=([0-9a-f]{64})/.exec(signedReq.headers.authorization || '');
  if (!want || want[1] !== sig) return { code: 'SignatureDoesNotMatch', msg: 'signature does not match' };
  return null;
}

function sendError(res, status, code, msg, entry) {
  entry.status = status;
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${msg}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function control(req, res) {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url === '/__fault' && req.method === 'POST') {
      rules.push(JSON.parse(body));
      res.end('ok\n');
    } else if (req.url === '/__reset') {
      rules = [];
      log = [];
      res.end('ok\n');
    } else if (req.url === '/__log') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(log));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
}

function forward(req, res, rule, entry) {
  const opts = {
    hostname: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: req.headers,
  };
  const up = http.request(opts, (ur) => {
    entry.status = ur.statusCode;
    res.writeHead(ur.statusCode, ur.headers);
    if (rule && rule.cut !== undefined && req.method === 'GET') {
      let sent = 0;
      ur.on('data', (chunk) => {
        if (sent >= rule.cut) return;
        const part = chunk.subarray(0, Math.max(0, rule.cut - sent));
        sent += part.length;
        res.write(part);
        if (sent >= rule.cut) {
          ur.destroy();
          res.socket.destroy();
        }
      });
      ur.on('end', () => res.end());
      return;
    }
    ur.pipe(res);
  });
  up.on('error', () => res.socket && res.socket.destroy());
  if (rule && rule.cut !== undefined && req.method !== 'GET') {
    let got = 0;
    req.on('data', (chunk) => {
      got += chunk.length;
      if (got >= rule.cut) {
        up.destroy();
        req.socket.destroy();
      }
    });
  }
  req.pipe(up);
}

const server = http.createServer(async (req, res) => {
  if (req.url.startsWith('/__')) return control(req, res);
  const entry = {
    method: req.method,
    url: req.url,
    range: req.headers.range || null,
    ifMatch: req.headers['if-match'] || null,
    status: 0,
    fault: null,
  };
  log.push(entry);
  if (signer) {
    const bad = await checkSigV4(req).catch((e) => ({ code: 'AccessDenied', msg: String(e) }));
    if (bad) {
      req.resume();
      entry.fault = 'sigv4';
      return sendError(res, 403, bad.code, bad.msg, entry);
    }
  }
  const rule = takeRule(req);
  if (rule) entry.fault = JSON.stringify(rule);
  if (rule && rule.status) {
    req.resume();
    const { type, body } = errorBody(rule);
    const headers = { 'content-type': type, 'content-length': Buffer.byteLength(body) };
    if (rule.retryAfter) headers['retry-after'] = rule.retryAfter;
    entry.status = rule.status;
    res.writeHead(rule.status, headers);
    return res.end(req.method === 'HEAD' ? undefined : body);
  }
  if (rule && rule.delayMs) await new Promise((r) => setTimeout(r, rule.delayMs));
  forward(req, res, rule, entry);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`faultproxy listening on 127.0.0.1:${server.address().port}`);
});
