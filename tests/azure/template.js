#!/usr/bin/env node
// template.js - run one bash step of azure-tasks/templates/bkcache-steps.yml
// the way the agent would after template expansion: ${{ parameters.X }} in
// the step's env replaced by the given parameters (over the template's
// defaults), $(System.AccessToken) by SYSTEM_ACCESSTOKEN, then the script
// run with bash in that environment.
//
//   node template.js restore|save '{"dockerfile": "...", ...}'
//
// Prints the step's condition (save) on stderr as "condition: ...", exits
// with the script's status.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const YAML = require('yaml');

const [which, json] = process.argv.slice(2);
const file = path.join(__dirname, '../../azure-tasks/templates/bkcache-steps.yml');
const doc = YAML.parse(fs.readFileSync(file, 'utf8'));
const params = {};
for (const p of doc.parameters) params[p.name] = p.default;
Object.assign(params, JSON.parse(json || '{}'));
// boolean parameters expand to True / False in the agent's environment
const show = (v) => (typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v));
const steps = doc.steps.filter((s) => s && s.bash);
const step = which === 'restore' ? steps[0] : steps[steps.length - 1];
const env = Object.assign({}, process.env);
for (const [k, v] of Object.entries(step.env || {})) {
  env[k] = String(v)
    .replace(/\$\{\{ parameters\.(\w+) \}\}/g, (_, n) => show(params[n]))
    .replace('$(System.AccessToken)', process.env.SYSTEM_ACCESSTOKEN || '');
}
// the save step's `${{ if eq(parameters.saveOnFailure, true) }}` / `${{ else }}` pair
for (const k of Object.keys(step).filter((x) => x.startsWith('${{'))) {
  const isIf = /^\$\{\{ if eq\(parameters\.saveOnFailure, true\) \}\}$/.test(k);
  if (isIf === (params.saveOnFailure === true)) process.stderr.write(`condition: ${step[k].condition}\n`);
}
const r = spawnSync('bash', ['-c', step.bash], { env, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
