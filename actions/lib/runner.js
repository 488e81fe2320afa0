// runner.js - the GitHub Actions runner's interface for a JavaScript action, without
// dependencies: inputs (INPUT_* variables), outputs, state and environment for later steps
// (the GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV and GITHUB_PATH files), the job summary
// (GITHUB_STEP_SUMMARY) and workflow commands on stdout (::add-mask::, ::group::,
// ::warning::, ::error::).
//
// Values written to the files use the multi-line form `name<<DELIM\nvalue\nDELIM` with a
// random delimiter, so a value can hold anything. When a file variable is unset (a local
// run outside a runner), the value is printed as a debug line instead.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');

function escapeData(s) {
  return String(s).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function command(name, message) {
  process.stdout.write(`::${name}::${escapeData(message)}${os.EOL}`);
}

function getInput(name, opts = {}) {
  const v = (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '').trim();
  if (opts.required && !v) throw new Error(`input required and not supplied: ${name}`);
  return v;
}

// A multi-line input as a list: one item per line, trimmed, blank lines dropped.
function getMultilineInput(name) {
  return getInput(name).split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

function getBooleanInput(name, fallback = false) {
  const v = getInput(name).toLowerCase();
  if (v === '') return fallback;
  if (['true', 'yes', 'on', '1'].includes(v)) return true;
  if (['false', 'no', 'off', '0'].includes(v)) return false;
  throw new Error(`input ${name}: expected true or false, got '${v}'`);
}

function appendFileCommand(envName, name, value) {
  const file = process.env[envName];
  if (!file) {
    command('debug', `${envName} is not set: ${name}=${value}`);
    return;
  }
  const delim = `ghadelimiter_${crypto.randomUUID()}`;
  fs.appendFileSync(file, `${name}<<${delim}${os.EOL}${value}${os.EOL}${delim}${os.EOL}`);
}

const setOutput = (name, value) => appendFileCommand('GITHUB_OUTPUT', name, value);
const saveState = (name, value) => appendFileCommand('GITHUB_STATE', name, value);
const exportVariable = (name, value) => {
  process.env[name] = value;
  appendFileCommand('GITHUB_ENV', name, value);
};
const getState = (name) => process.env[`STATE_${name}`] || '';

function addPath(dir) {
  if (process.env.GITHUB_PATH) fs.appendFileSync(process.env.GITHUB_PATH, `${dir}${os.EOL}`);
  process.env.PATH = `${dir}:${process.env.PATH || ''}`;
}

function appendSummary(markdown) {
  if (process.env.GITHUB_STEP_SUMMARY) fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, markdown);
}

const setSecret = (value) => value && command('add-mask', value);
const startGroup = (title) => command('group', title);
const endGroup = () => process.stdout.write(`::endgroup::${os.EOL}`);
const info = (msg) => process.stdout.write(`${msg}${os.EOL}`);
const warning = (msg) => command('warning', msg);
const error = (msg) => command('error', msg);

function setFailed(msg) {
  process.exitCode = 1;
  error(msg);
}

module.exports = {
  getInput, getMultilineInput, getBooleanInput, setOutput, saveState, getState, exportVariable,
  addPath, appendSummary, setSecret, startGroup, endGroup, info, warning, error, setFailed,
};
