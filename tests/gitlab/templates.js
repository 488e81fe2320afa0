#!/usr/bin/env node
// templates.js - read GitLab CI YAML the way GitLab does, for the template
// tests (tests/gitlab/templates.sh). Uses the `yaml` package (npm ci here).
//
//   node templates.js check
//       Structural checks of gitlab/bkcache.gitlab-ci.yml (classic template),
//       gitlab/templates/bkcache.yml (component) and gitlab/examples/*.yml;
//       prints "ok - ..." / "FAIL - ..." lines, exits 1 on any failure.
//   node templates.js script FILE JOB [NAME=VALUE...]
//       Print JOB as the shell script a runner would run: its variables
//       exported, then before_script and script, with `include: local`,
//       `extends` (deep merge, arrays replaced) and `!reference` resolved.
//       NAME=VALUE are component inputs (FILE with spec: inputs).
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const YAML = require("yaml");

const ROOT = path.resolve(__dirname, "../..");
const CLASSIC = "gitlab/bkcache.gitlab-ci.yml";
const COMPONENT = "gitlab/templates/bkcache.yml";
const GLOBAL_KEYWORDS = ["default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script", "after_script"];

class Ref {
  constructor(parts) {
    this.parts = parts;
  }
}

const referenceTag = {
  tag: "!reference",
  collection: "seq",
  resolve: (seq) => seq,
};

// yaml nodes to plain values, keeping !reference as Ref
function toValue(node) {
  if (node === null || node === undefined) return null;
  if (YAML.isMap(node)) {
    const o = {};
    for (const pair of node.items) o[toValue(pair.key)] = toValue(pair.value);
    return o;
  }
  if (YAML.isSeq(node)) {
    const items = node.items.map(toValue);
    return node.tag === "!reference" ? new Ref(items) : items;
  }
  if (YAML.isScalar(node)) return node.value;
  if (YAML.isAlias(node)) throw new Error("aliases are not used in these templates");
  return node;
}

function parseDocs(text, file) {
  const docs = YAML.parseAllDocuments(text, { customTags: [referenceTag] });
  for (const d of docs)
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
  return docs.map((d) => toValue(d.contents));
}

// The component's inputs interpolated into its second document.
function interpolate(text, spec, given, file) {
  const inputs = (spec && spec.spec && spec.spec.inputs) || {};
  return text.replace(/\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]/g, (_, name) => {
    if (!(name in inputs)) throw new Error(`${file}: input '${name}' is used but not declared`);
    if (name in given) {
      // as GitLab does when it creates the pipeline: a given value must fit options and regex
      const { options, regex } = inputs[name];
      if (options && !options.map(String).includes(given[name]))
        throw new Error(`${file}: input '${name}': '${given[name]}' is not one of its options`);
      if (regex && !new RegExp(regex).test(given[name]))
        throw new Error(`${file}: input '${name}': '${given[name]}' does not match ${regex}`);
      return given[name];
    }
    if (!("default" in inputs[name])) throw new Error(`${file}: input '${name}' has no default`);
    return String(inputs[name].default);
  });
}

function loadFile(file, given = {}) {
  const text = fs.readFileSync(path.join(ROOT, file), "utf8");
  const sep = text.search(/^---\s*$/m);
  if (sep >= 0 && /^spec:/m.test(text.slice(0, sep))) {
    const [spec] = parseDocs(text.slice(0, sep), file);
    const [body] = parseDocs(interpolate(text.slice(sep).replace(/^---\s*\n/, ""), spec, given, file), file);
    return { spec, config: body || {} };
  }
  const docs = parseDocs(text, file);
  return { spec: null, config: docs[0] || {} };
}

// The whole pipeline config: the file plus its `include: local` files.
function loadPipeline(file, given) {
  const { spec, config } = loadFile(file, given);
  let merged = {};
  const includes = [].concat(config.include || []);
  for (const inc of includes) {
    const local = typeof inc === "string" ? inc : inc.local;
    if (!local) continue; // project/remote/component: not resolvable offline
    Object.assign(merged, loadPipeline(local.replace(/^\//, ""), inc.inputs || {}).config);
  }
  merged = { ...merged, ...config };
  delete merged.include;
  return { spec, config: merged };
}

function deepMerge(base, over) {
  if (over === undefined) return base;
  if (base && over && typeof base === "object" && typeof over === "object" && !Array.isArray(base) && !Array.isArray(over) && !(base instanceof Ref) && !(over instanceof Ref)) {
    const out = { ...base };
    for (const k of Object.keys(over)) out[k] = deepMerge(base[k], over[k]);
    return out;
  }
  return over;
}

function resolveExtends(config, name, seen = new Set()) {
  const job = config[name];
  if (!job) throw new Error(`no job '${name}'`);
  if (seen.has(name)) throw new Error(`extends loop at '${name}'`);
  const chain = new Set(seen).add(name);
  let result = {};
  for (const parent of [].concat(job.extends || [])) result = deepMerge(result, resolveExtends(config, parent, chain));
  const own = { ...job };
  delete own.extends;
  return deepMerge(result, own);
}

function resolveRefs(config, value, depth = 0) {
  if (depth > 10) throw new Error("!reference nested more than 10 levels");
  if (value instanceof Ref) {
    let v = resolveExtends(config, value.parts[0]);
    for (const k of value.parts.slice(1)) {
      if (!v || !(k in v)) throw new Error(`!reference [${value.parts.join(", ")}]: not found`);
      v = v[k];
    }
    return resolveRefs(config, v, depth + 1);
  }
  if (Array.isArray(value)) {
    // a referenced list inside a script list is flattened, as GitLab does
    return value.flatMap((x) => {
      const r = resolveRefs(config, x, depth);
      return x instanceof Ref && Array.isArray(r) ? r : [r];
    });
  }
  if (value && typeof value === "object") {
    const o = {};
    for (const k of Object.keys(value)) o[k] = resolveRefs(config, value[k], depth);
    return o;
  }
  return value;
}

function jobOf(config, name) {
  return resolveRefs(config, resolveExtends(config, name));
}

function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

// The script a runner runs for `job`: variables (expanded by the shell, like
// GitLab's expansion of $VAR in variables; a variable already in the
// environment wins, as project and pipeline variables win over the YAML),
// then before_script and script.
function jobScript(job) {
  const lines = [];
  for (const [k, v] of Object.entries(job.variables || {})) {
    const value = typeof v === "object" && v !== null ? v.value : v;
    lines.push(`[ -n "\${${k}+x}" ] || export ${k}="${String(value ?? "").replace(/(["\\`])/g, "\\$1")}"`);
  }
  for (const part of ["before_script", "script"])
    for (const l of [].concat(job[part] || [])) lines.push(l);
  return lines.join("\n") + "\n";
}

// ---- checks ----

let failures = 0;
function ok(cond, what, detail) {
  if (cond) console.log(`ok   - ${what}`);
  else {
    failures++;
    console.log(`FAIL - ${what}${detail ? `: ${detail}` : ""}`);
  }
}
function attempt(what, fn) {
  try {
    fn();
  } catch (e) {
    ok(false, what, e.message);
  }
}

function refsIn(value, out = []) {
  if (value instanceof Ref) out.push(value.parts);
  else if (Array.isArray(value)) value.forEach((v) => refsIn(v, out));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => refsIn(v, out));
  return out;
}

function flatScript(job, part) {
  return [].concat(job[part] || []).join("\n");
}

function checkClassic() {
  const { config } = loadFile(CLASSIC);
  const names = Object.keys(config);
  ok(names.length > 0 && names.every((n) => n.startsWith(".")), "classic template: only hidden jobs", names.filter((n) => !n.startsWith(".")).join(" "));
  ok(!names.some((n) => GLOBAL_KEYWORDS.includes(n)), "classic template: no global keywords");
  for (const n of [".bkcache", ".bkcache-install", ".bkcache-restore", ".bkcache-save", ".bkcache-buildx", ".bkcache-buildctl", ".bkcache-packages"])
    ok(n in config, `classic template: defines ${n}`);
  const refs = refsIn(config);
  ok(refs.every((r) => r[0] in config), "classic template: every !reference names a job in it", refs.map((r) => r[0]).filter((j) => !(j in config)).join(" "));
  attempt("classic template: every job resolves", () => names.forEach((n) => jobOf(config, n)));
  const base = jobOf(config, ".bkcache");
  ok(base.artifacts && base.artifacts.reports && base.artifacts.reports.dotenv === base.variables.BKCACHE_OUTPUT, "outputs: a dotenv report named by BKCACHE_OUTPUT");
  ok([].concat(base.cache).every((c) => !String(c.key).includes("/") && c.paths.includes(`${base.variables.BKCACHE_DIR}/`)), "runner cache: key without '/', paths hold BKCACHE_DIR");
  ok([].concat(base.cache).every((c) => (c.fallback_keys || []).length <= 5), "runner cache: at most 5 fallback keys");
  ok(Array.isArray(jobOf(config, ".bkcache-packages").cache) && jobOf(config, ".bkcache-packages").cache.length === 0, "packages store: runner cache turned off");
  for (const n of [".bkcache-buildx", ".bkcache-buildctl"]) {
    const raw = config[n];
    const last = raw.script[raw.script.length - 1];
    ok(last instanceof Ref && last.parts[0] === ".bkcache-save", `${n}: the save is the last step of script`);
    ok(raw.script[0] instanceof Ref && raw.script[0].parts[0] === ".bkcache-build", `${n}: the BKCACHE_RUN build (.bkcache-build) is the first step of script`);
    ok(raw.script[1] instanceof Ref && raw.script[1].parts[0] === ".bkcache-restore", `${n}: the restore comes next`);
    const job = jobOf(config, n);
    ok(!/bkcache_run save/.test(flatScript(job, "after_script")), `${n}: nothing is saved in after_script`);
  }
  for (const n of [".bkcache-restore", ".bkcache-save"]) {
    const s = flatScript(jobOf(config, n), "script");
    const starts = [...s.matchAll(/bkcache_section start (\w+)/g)].map((m) => m[1]);
    const ends = [...s.matchAll(/bkcache_section end (\w+)/g)].map((m) => m[1]);
    ok(starts.length === 1 && starts.join() === ends.join(), `${n}: one collapsible log section, closed`);
    ok(/bkcache_section\(\)/.test(s), `${n}: defines its own helpers (usable alone)`);
  }
  return config;
}

function checkComponent() {
  const text = fs.readFileSync(path.join(ROOT, COMPONENT), "utf8");
  const { spec, config } = loadFile(COMPONENT);
  const inputs = spec.spec.inputs;
  ok(inputs && Object.keys(inputs).length > 0, "component: spec: inputs");
  const used = new Set([...text.matchAll(/\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]/g)].map((m) => m[1]));
  ok(Object.keys(inputs).every((k) => used.has(k)), "component: every input is used", Object.keys(inputs).filter((k) => !used.has(k)).join(" "));
  ok(Object.values(inputs).every((i) => "default" in i), "component: every input has a default");
  ok(Object.values(inputs).every((i) => typeof i.description === "string" && i.description.length > 0), "component: every input has a description", Object.keys(inputs).filter((k) => !inputs[k].description).join(" "));
  ok(Object.values(inputs).every((i) => !i.options || (i.options.length <= 50 && i.options.includes(i.default))), "component: options include their defaults");
  ok(Object.values(inputs).every((i) => !i.regex || new RegExp(i.regex).test(String(i.default))), "component: defaults match their regex");
  ok(!Object.keys(config).some((n) => GLOBAL_KEYWORDS.includes(n)), "component: no global keywords");
  for (const driver of inputs.driver.options) {
    for (const store of inputs.store.options) {
      attempt(`component: driver=${driver} store=${store} resolves`, () => {
        const c = loadFile(COMPONENT, { driver, store, "job-name": "build" }).config;
        const job = jobOf(c, "build");
        if (job.variables.BKCACHE_STORE !== store) throw new Error("store input not applied");
        if (!job.image) throw new Error("no image");
        ok(true, `component: driver=${driver} store=${store} resolves`);
      });
    }
  }
}

function checkExamples() {
  const dir = path.join(ROOT, "gitlab/examples");
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".yml"))) {
    attempt(`example ${f}: parses and every job resolves`, () => {
      const file = `gitlab/examples/${f}`;
      const { config } = loadFile(file);
      // examples include the template by project/component; resolve against it
      const merged = { ...loadFile(CLASSIC).config, ...config };
      const jobs = Object.keys(merged).filter((n) => !n.startsWith(".") && !GLOBAL_KEYWORDS.includes(n) && n !== "include");
      if (!jobs.length) throw new Error("no job");
      for (const j of jobs) {
        const job = jobOf(merged, j);
        if (!job.script) throw new Error(`${j}: no script`);
      }
      ok(true, `example ${f}: parses and every job resolves`);
    });
  }
}

function main() {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === "check") {
    attempt("classic template parses", checkClassic);
    attempt("component parses", checkComponent);
    attempt("examples parse", checkExamples);
    process.exit(failures ? 1 : 0);
  }
  if (cmd === "script") {
    const [file, jobName, ...kv] = args;
    const given = Object.fromEntries(kv.map((x) => [x.slice(0, x.indexOf("=")), x.slice(x.indexOf("=") + 1)]));
    const { config } = loadPipeline(file, given);
    process.stdout.write(jobScript(jobOf(config, jobName)));
    return;
  }
  console.error("usage: templates.js check | script FILE JOB [INPUT=VALUE...]");
  process.exit(2);
}

main();
