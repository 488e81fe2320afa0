// azsas.js - print an account SAS for the blob service, signed with an
// account key, for the azblob suite's SAS cases.
//   node azsas.js ACCOUNT KEY_BASE64 EXPIRY_ISO [PERMISSIONS]
// String to sign (version 2020-12-06): account, permissions, services,
// resource types, start, expiry, IP range, protocol, version, encryption
// scope, each followed by a newline.
'use strict';
const crypto = require('node:crypto');
const [account, key, expiry, perms = 'rwdlac'] = process.argv.slice(2);
const v = { sv: '2020-12-06', ss: 'b', srt: 'sco', sp: perms, se: expiry, spr: 'https,http' };
const sts = [account, v.sp, v.ss, v.srt, '', v.se, '', v.spr, v.sv, '', ''].join('\n');
const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(sts, 'utf8').digest('base64');
const q = new URLSearchParams({ ...v, sig });
console.log(q.toString());
