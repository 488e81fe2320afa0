// tls-front.js - a TLS front for one loopback server, for the release tests.
//
// Terminates TLS with the given certificate and key and pipes each
// connection, byte for byte, to the upstream HTTP server: the client speaks
// real HTTPS (certificate verification, SNI), the server behind it needs no
// TLS of its own.
//
//   node tls-front.js --cert CERT.pem --key KEY.pem --upstream 127.0.0.1:PORT
//
// Prints "tls-front listening on 127.0.0.1:PORT" once ready (a free port).
'use strict';
const fs = require('fs');
const net = require('net');
const tls = require('tls');

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.cert || !args.key || !args.upstream) {
  console.error('usage: tls-front.js --cert CERT --key KEY --upstream HOST:PORT');
  process.exit(2);
}
const [upHost, upPort] = args.upstream.split(':');

const server = tls.createServer(
  { cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) },
  (client) => {
    const up = net.connect(Number(upPort), upHost);
    client.pipe(up);
    up.pipe(client);
    const close = () => { client.destroy(); up.destroy(); };
    client.on('error', close);
    up.on('error', close);
    client.on('close', close);
    up.on('close', close);
  });
server.on('tlsClientError', (err) => console.error('tls-front: ' + err.message));
server.listen(0, '127.0.0.1', () => {
  console.log('tls-front listening on 127.0.0.1:' + server.address().port);
});
