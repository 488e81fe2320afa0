#!/usr/bin/env node
// check.js - every CI wrapper file against its ecosystem's published schema, with ajv
// (make test-schemas, part of make test). Prints "ok - FILE" or "FAIL - FILE: errors" per
// file and "schemas: N passed, N failed" last; exits 1 on any failure.
//
//   node check.js [FILE...]      (default: every wrapper file of the repository)
//
// Where each schema comes from (all pinned in package-lock.json, none committed here):
//   - GitHub action metadata (actions/*/action.yml): SchemaStore's github-action.json as the
//     npm package @action-validator/core carries it (embedded verbatim in its WebAssembly
//     module; read out by its "$id"). That copy predates `node24`, which GitHub's runners
//     accept for runs.using since 2025 (SchemaStore's current schema lists it); the one
//     value is added to the enum before checking, nothing else is changed.
//   - GitLab CI (gitlab/**.yml): GitLab's ci.json as the npm package gitlab-ci-local bundles
//     it (an object literal in dist/index.js; read out by its "$id" and evaluated in an
//     empty context, so it can only be data). A component's spec header is checked as its
//     own document, and its body after the inputs are replaced by their defaults, as GitLab
//     does before it reads the file. !reference [...] reads as the list it is. ci.json lets a
//     hidden key (.name) hold anything, since it may be a YAML anchor; ours are job templates
//     to extend, so each is also checked as ci.json's job_template.
//   - Azure Pipelines task manifest (azure-tasks/*/task.json): azure-pipelines-task-lib keeps
//     its tasks.schema.json in its repository, not in its npm package, so azure-task.schema.json
//     beside this file is our own, written from the documented facts (see its $comment).
//     One rule no schema states is checked too: minimumAgentVersion must be at least the
//     version that brought the oldest handler the task declares, or agents in between
//     accept the task and then fail with "A supported task execution handler was not found".
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');
const YAML = require('yaml');

const HERE = __dirname;
const ROOT = path.resolve(HERE, '../..');
const MODULES = path.join(HERE, 'node_modules');

// The index just past the object that opens at text[start] ('{'), skipping quoted strings.
function objectEnd(text, start) {
  let depth = 0;
  let quote = null;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c;
    } else if (c === '{') {
      depth++;
    } else if (c === '}' && --depth === 0) {
      return i + 1;
    }
  }
  throw new Error('unbalanced braces');
}

function githubActionSchema() {
  const pkg = path.join(MODULES, '@action-validator/core');
  const wasm = fs.readdirSync(pkg).find((f) => f.endsWith('.wasm'));
  const bytes = fs.readFileSync(path.join(pkg, wasm)).toString('latin1');
  const id = bytes.indexOf('"$id": "https://json.schemastore.org/github-action.json"');
  if (id < 0) throw new Error(`${wasm}: SchemaStore's github-action.json not found`);
  const start = bytes.lastIndexOf('{\n  "', id); // the schema's opening brace
  const schema = JSON.parse(Buffer.from(bytes.slice(start, objectEnd(bytes, start)), 'latin1').toString('utf8'));
  const using = schema.definitions['runs-javascript'].properties.using.enum;
  if (!using.includes('node24')) using.push('node24');
  return schema;
}

function gitlabCiSchema() {
  const bundle = fs.readFileSync(path.join(MODULES, 'gitlab-ci-local/dist/index.js'), 'utf8');
  const at = bundle.indexOf('$id:"https://gitlab.com/.gitlab-ci.yml"');
  if (at < 0) throw new Error("gitlab-ci-local: GitLab's ci.json not found in the bundle");
  const start = bundle.lastIndexOf('{$schema:', at);
  const literal = bundle.slice(start, objectEnd(bundle, start));
  return vm.runInNewContext(`(${literal})`, Object.create(null), { timeout: 5000 });
}

// YAML with GitLab's !reference tag read as a plain list.
const referenceTag = { tag: '!reference', collection: 'seq', resolve: (seq) => seq };
function yamlDocs(text, file) {
  const docs = YAML.parseAllDocuments(text, { customTags: [referenceTag] });
  for (const d of docs) if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
  return docs.map((d) => d.toJS());
}

// A GitLab file as the documents GitLab validates: a component's header, then its body with
// $[[ inputs.X ]] replaced by the defaults. Like GitLab, this interpolates the parsed values,
// not the text: a value that is one interpolation takes the input's typed default.
function gitlabDocs(text, file) {
  const sep = text.search(/^---\s*$/m);
  if (sep < 0 || !/^spec:/m.test(text.slice(0, sep))) return yamlDocs(text, file);
  const [header] = yamlDocs(text.slice(0, sep), file);
  const inputs = (header.spec && header.spec.inputs) || {};
  const RE = /\$\[\[\s*inputs\.([\w-]+)\s*\]\]/g;
  const valueOf = (n) => (n in inputs && 'default' in inputs[n] ? inputs[n].default : `MISSING_INPUT_${n}`);
  const interpolate = (v) => {
    if (typeof v === 'string') {
      const whole = /^\$\[\[\s*inputs\.([\w-]+)\s*\]\]$/.exec(v);
      return whole ? valueOf(whole[1]) : v.replace(RE, (_, n) => String(valueOf(n)));
    }
    if (Array.isArray(v)) return v.map(interpolate);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [interpolate(k), interpolate(x)]));
    }
    return v;
  };
  return [header, ...yamlDocs(text.slice(sep).replace(/^---\s*\n/, ''), file).map(interpolate)];
}

const HANDLER_AGENT = { Node: '2.0.0', Node10: '2.144.0', Node16: '2.206.1', Node20_1: '3.232.1', Node24: '4.265.1' };
const versionKey = (v) => v.split('.').map((n) => n.padStart(6, '0')).join('.');

function taskAgentRule(task) {
  const errors = [];
  const min = task.minimumAgentVersion || '0.0.0';
  for (const stage of ['prejobexecution', 'execution', 'postjobexecution']) {
    const handlers = Object.keys(task[stage] || {}).filter((h) => h in HANDLER_AGENT);
    if (!handlers.length) continue;
    const oldest = handlers.map((h) => HANDLER_AGENT[h]).sort((a, b) => (versionKey(a) < versionKey(b) ? -1 : 1))[0];
    if (versionKey(min) < versionKey(oldest)) {
      errors.push(`minimumAgentVersion ${min} is older than ${oldest}, the first agent with any of ` +
        `${stage}'s handlers (${handlers.join(', ')})`);
    }
  }
  return errors;
}

function wrapperFiles() {
  const list = (dir, re) => fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? list(path.join(dir, e.name), re)
      : re.test(e.name) ? [path.join(dir, e.name)] : []));
  return [
    ...list('actions', /^action\.ya?ml$/),
    ...fs.readdirSync(path.join(ROOT, 'azure-tasks')).filter((d) => fs.existsSync(path.join(ROOT, 'azure-tasks', d, 'task.json')))
      .map((d) => path.join('azure-tasks', d, 'task.json')),
    ...list('gitlab', /\.ya?ml$/).filter((f) => !f.startsWith(path.join('gitlab', 'src'))),
    ...list('tests/gitlab/fixtures', /\.ya?ml$/),
  ].sort();
}

function main() {
  const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
  addFormats(ajv);
  const gitlab = gitlabCiSchema();
  ajv.addSchema(gitlab);
  const hiddenJob = ajv.getSchema(`${gitlab.$id}#/definitions/job_template`);
  const validators = {
    github: ajv.compile(githubActionSchema()),
    gitlab: ajv.getSchema(gitlab.$id),
    azure: ajv.compile(JSON.parse(fs.readFileSync(path.join(HERE, 'azure-task.schema.json'), 'utf8'))),
  };
  const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => path.relative(ROOT, path.resolve(f)))
    : wrapperFiles();
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    const errors = [];
    try {
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      let kind;
      let docs;
      if (/(^|\/)action\.ya?ml$/.test(file)) [kind, docs] = ['github', yamlDocs(text, file)];
      else if (/task\.json$/.test(file)) [kind, docs] = ['azure', [JSON.parse(text)]];
      else [kind, docs] = ['gitlab', gitlabDocs(text, file)];
      for (const doc of docs) {
        if (!validators[kind](doc)) {
          for (const e of validators[kind].errors.slice(0, 5)) errors.push(`${e.instancePath || '/'} ${e.message}`);
        }
        if (kind === 'azure') errors.push(...taskAgentRule(doc));
        if (kind !== 'gitlab' || !doc) continue;
        for (const [name, job] of Object.entries(doc).filter(([k, v]) => k.startsWith('.') && v && typeof v === 'object')) {
          if (!hiddenJob(job)) {
            for (const e of hiddenJob.errors.slice(0, 5)) errors.push(`/${name}${e.instancePath} ${e.message}`);
          }
        }
      }
      if (/MISSING_INPUT_/.test(JSON.stringify(docs))) errors.push('an input without a default is used');
    } catch (e) {
      errors.push(e.message);
    }
    if (errors.length) {
      failed++;
      console.log(`FAIL - ${file}: ${errors.join('; ')}`);
    } else {
      passed++;
      console.log(`ok   - ${file}`);
    }
  }
  console.log(`schemas: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
