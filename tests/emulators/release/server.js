// server.js - a release host on loopback for the wrapper tests: serves the files under DIR the
// way GitHub serves release assets. GET /<path> of an existing file DIR/<path> answers 302 to
// /objects/<path> (as the real host hands downloads to its object storage), which serves the
// bytes; a missing file is 404 at the first URL. Every request is appended to DIR/../requests.log
// as "METHOD /path STATUS". Prints "release host listening on PORT" once ready.
//
//   node server.js DIR
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const root = path.resolve(process.argv[2] || '.');
const log = path.join(path.dirname(root), 'requests.log');

function fileOf(urlPath) {
  const p = path.resolve(root, `.${decodeURIComponent(urlPath)}`);
  if (!p.startsWith(`${root}${path.sep}`)) return null; // nothing outside DIR
  try {
    return fs.statSync(p).isFile() ? p : null;
  } catch (e) {
    return null;
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let status = 404;
  const objects = url.pathname.startsWith('/objects/');
  const file = fileOf(objects ? url.pathname.slice('/objects'.length) : url.pathname);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    status = 405;
    res.writeHead(status).end();
  } else if (!file) {
    res.writeHead(status, { 'Content-Type': 'text/plain' }).end('Not Found');
  } else if (!objects) {
    status = 302;
    res.writeHead(status, { Location: `/objects${url.pathname}` }).end();
  } else {
    status = 200;
    const body = fs.readFileSync(file);
    res.writeHead(status, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
  fs.appendFileSync(log, `${req.method} ${url.pathname} ${status}\n`);
});

server.listen(0, '127.0.0.1', () => console.log(`release host listening on ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
