#!/usr/bin/env node
// server.js - a loopback emulator of the GitLab REST endpoints bkcache's
// gitlab provider uses: the generic package registry (PUT/GET files), the
// packages API (list with filters and offset pagination, get, package
// files, delete) and an "object storage" host that downloads may be
// redirected to. Wire format per ../shared/specs/gitlab.md §3, §6 and §7.
//
// Usage: node server.js [--port-file FILE]
//   Listens on 127.0.0.1, port $GITLAB_EMU_PORT or a free one, and prints
//   "gitlab-emulator listening on PORT storage STORAGE_PORT" (also written
//   to --port-file as "PORT STORAGE_PORT"). Files live in $GITLAB_EMU_DIR
//   (default: a new temporary directory). Stops on SIGTERM/SIGINT.
//
// Fixtures: project 42, path group/app. Tokens (any header form: JOB-TOKEN,
// PRIVATE-TOKEN, DEPLOY-TOKEN, Basic with the token as password, Bearer):
//   job-maintainer  may upload and delete         job-developer  may upload, not delete
//   job-reporter    may read only                 job-expired    401 (job ended/cancelled)
//   glpat-maintainer  a personal access token with maintainer role
// Anonymous requests are 401 unless the project is public (settings).
//
// Switches (test control, not GitLab):
//   POST /_emu/settings {maxFileSize, allowDuplicates, redirect, omitTotals,
//                        public, protectedNames: [..], corruptChecksum}
//   POST /_emu/fault {match, status, times, retryAfter, kind}
//        kind: "status" (default; 429 gets Retry-After + RateLimit-* and a
//        plain "Retry later" body, 5xx an HTML body), "reset" (cut the
//        connection mid-body), "noheaders" (429 without any header)
//   POST /_emu/seed {name, versions: [..]}  create packages directly (pagination)
//   POST /_emu/reset    forget packages, faults, settings and the log
//   GET  /_emu/state    packages and files as JSON
//   GET  /_emu/log      every request: method, url, auth header names
"use strict";

const http = require("node:http");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const crypto = require("node:crypto");

const NAME_RE = /^[A-Za-z0-9._+-]+$/;
const VERSION_RE = /^(?!.*\.\.)[\w+.-]+$/;
const PROJECT = { id: 42, path: "group/app" };
const TOKENS = {
  "job-maintainer": 40,
  "job-developer": 30,
  "job-reporter": 20,
  "glpat-maintainer": 40,
  "job-expired": -1,
};
const ROLE_WRITE = 30;
const ROLE_DELETE = 40;

const dataDir = process.env.GITLAB_EMU_DIR || fs.mkdtempSync(path.join(os.tmpdir(), "gl-emu-"));
fs.mkdirSync(dataDir, { recursive: true });

let state;
function resetState() {
  state = {
    packages: [], // {id, name, version, status, created_at, files: [...]}
    nextPackageId: 1,
    nextFileId: 1,
    clock: Date.now() - 86400 * 1000, // advances 1 s per created record: stable ordering
    faults: [],
    log: [],
    settings: {
      maxFileSize: 5 * 1024 * 1024 * 1024,
      allowDuplicates: true,
      redirect: false,
      omitTotals: false,
      public: false,
      protectedNames: [],
      corruptChecksum: false,
    },
  };
}
resetState();

function tick() {
  state.clock += 1000;
  return new Date(state.clock).toISOString();
}

// ---- responses ----

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function message(res, status, text) {
  json(res, status, { message: text });
}

function drainThen(req, fn) {
  // answer only after the request body is consumed, so the client sees the status
  req.on("data", () => {});
  req.on("end", fn);
  req.on("error", () => {});
}

// ---- faults ----

function takeFault(req) {
  for (const f of state.faults) {
    if (f.times > 0 && req.url.includes(f.match) && (!f.method || f.method === req.method)) {
      f.times--;
      return f;
    }
  }
  return null;
}

function applyStatusFault(res, f) {
  if (f.status === 429 && f.kind === "noheaders") {
    res.writeHead(429, { "Content-Type": "text/plain" });
    return res.end("Retry later\n");
  }
  if (f.status === 429) {
    const reset = Math.floor(Date.now() / 1000) + (f.retryAfter || 1);
    res.writeHead(429, {
      "Content-Type": "text/plain",
      "Retry-After": String(f.retryAfter || 1),
      "RateLimit-Limit": "1000",
      "RateLimit-Name": "throttle_authenticated_packages_api",
      "RateLimit-Observed": "1001",
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": String(reset),
      "RateLimit-ResetTime": new Date(reset * 1000).toUTCString(),
    });
    return res.end("Retry later\n");
  }
  if (f.status >= 500) {
    res.writeHead(f.status, { "Content-Type": "text/html" });
    return res.end(`<html><body><h1>${f.status} Bad Gateway</h1>GitLab is not responding</body></html>\n`);
  }
  return message(res, f.status, `${f.status} Injected`);
}

// ---- auth ----

function tokenOf(req) {
  const h = req.headers;
  if (h["job-token"]) return h["job-token"];
  if (h["private-token"]) return h["private-token"];
  if (h["deploy-token"]) return h["deploy-token"];
  const a = h["authorization"] || "";
  if (a.startsWith("Bearer ")) return a.slice(7);
  if (a.startsWith("Basic ")) {
    const dec = Buffer.from(a.slice(6), "base64").toString();
    return dec.slice(dec.indexOf(":") + 1);
  }
  return null;
}

// Role of the caller, or null after answering 401.
function authorize(req, res, need) {
  const tok = tokenOf(req);
  if (tok === null) {
    if (state.settings.public && need <= 10) return 10;
    message(res, 401, "401 Unauthorized");
    return null;
  }
  const role = TOKENS[tok];
  if (role === undefined || role < 0) {
    message(res, 401, "401 Unauthorized");
    return null;
  }
  if (role < need) {
    message(res, 403, "403 Forbidden");
    return null;
  }
  return role;
}

function projectOk(id) {
  return id === String(PROJECT.id) || decodeURIComponent(id) === PROJECT.path;
}

// ---- handlers ----

function handleUpload(req, res, name, version, fileName, query) {
  if (authorize(req, res, ROLE_WRITE) === null) return drainThen(req, () => {});
  if (!NAME_RE.test(name) || !NAME_RE.test(fileName))
    return drainThen(req, () => message(res, 400, "400 Bad request - package_name is invalid"));
  if (!VERSION_RE.test(version))
    return drainThen(req, () => message(res, 400, "400 Bad request - package_version is invalid"));
  const status = query.get("status") || "default";
  if (status !== "default" && status !== "hidden")
    return drainThen(req, () => message(res, 400, "400 Bad request - status does not have a valid value"));
  if (state.settings.protectedNames.includes(name))
    return drainThen(req, () => message(res, 403, "403 Forbidden - Package protected."));
  const declared = Number(req.headers["content-length"] || 0);
  if (state.settings.maxFileSize && declared > state.settings.maxFileSize)
    return drainThen(req, () => message(res, 400, "400 Bad request - File is too large"));
  let pkg = state.packages.find((p) => p.name === name && p.version === version && p.status !== "pending_destruction");
  if (pkg && !state.settings.allowDuplicates && pkg.files.some((f) => f.file_name === fileName))
    return drainThen(req, () => message(res, 400, "400 Bad request - Duplicate package is not allowed"));

  const fileId = state.nextFileId++;
  const diskPath = path.join(dataDir, `file-${fileId}`);
  const out = fs.createWriteStream(diskPath);
  out.on("error", () => {}); // the client may vanish mid-body (reset faults)
  const sha256 = crypto.createHash("sha256");
  const sha1 = crypto.createHash("sha1");
  const md5 = crypto.createHash("md5");
  let size = 0;
  const fault = takeFault(req);
  req.on("data", (chunk) => {
    size += chunk.length;
    sha256.update(chunk);
    sha1.update(chunk);
    md5.update(chunk);
    if (!out.destroyed) out.write(chunk);
    if (fault && fault.kind === "reset" && size > 0) req.socket.destroy();
  });
  req.on("error", () => out.destroy());
  req.on("end", () => {
    out.end(() => {
      if (fault && fault.kind === "reset") return;
      if (fault) return applyStatusFault(res, fault);
      if (state.settings.maxFileSize && size > state.settings.maxFileSize) {
        fs.unlinkSync(diskPath);
        return message(res, 400, "400 Bad request - File is too large");
      }
      if (!pkg) {
        pkg = {
          id: state.nextPackageId++,
          name,
          version,
          package_type: "generic",
          status,
          created_at: tick(),
          files: [],
        };
        state.packages.push(pkg);
      }
      const file = {
        id: fileId,
        package_id: pkg.id,
        created_at: tick(),
        file_name: fileName,
        size,
        file_md5: md5.digest("hex"),
        file_sha1: sha1.digest("hex"),
        file_sha256: sha256.digest("hex"),
        diskPath,
      };
      pkg.files.push(file);
      if (query.get("select") === "package_file") {
        const { diskPath: _d, ...pub } = file;
        return json(res, 201, { ...pub, pipelines: [] });
      }
      return message(res, 201, "201 Created");
    });
  });
}

function handleDownload(req, res, name, version, fileName) {
  if (authorize(req, res, 10) === null) return;
  const pkg = state.packages.find((p) => p.name === name && p.version === version && p.status !== "pending_destruction");
  const files = pkg ? pkg.files.filter((f) => f.file_name === fileName) : [];
  if (!files.length) return message(res, 404, "404 Package Not Found");
  const file = files[files.length - 1]; // the newest of duplicates
  const sum = state.settings.corruptChecksum ? "0".repeat(64) : file.file_sha256;
  if (state.settings.redirect) {
    res.writeHead(302, {
      Location: `http://127.0.0.1:${storagePort}/bucket/${file.id}?X-Amz-Signature=sig`,
      "X-Checksum-SHA256": sum,
      "Content-Length": "0",
    });
    return res.end();
  }
  sendFile(req, res, file, sum);
}

function sendFile(req, res, file, sum) {
  const fault = req.fault;
  res.writeHead(200, {
    "Content-Type": "application/octet-stream",
    "Content-Disposition": `attachment; filename="${file.file_name}"`,
    "Content-Length": String(file.size),
    ...(sum ? { "X-Checksum-SHA256": sum } : {}),
  });
  const stream = fs.createReadStream(file.diskPath);
  stream.on("error", () => res.destroy());
  if (fault && fault.kind === "reset") {
    let sent = 0;
    stream.on("data", (chunk) => {
      const half = Math.max(1, Math.floor(file.size / 2)) - sent;
      if (half > 0) res.write(chunk.subarray(0, half));
      sent += chunk.length;
      stream.destroy();
      res.socket.destroy();
    });
    return;
  }
  stream.pipe(res);
}

function publicPackage(p) {
  return {
    id: p.id,
    name: p.name,
    version: p.version,
    package_type: p.package_type,
    status: p.status,
    created_at: p.created_at,
    _links: { web_path: `/${PROJECT.path}/-/packages/${p.id}`, delete_api_path: `/api/v4/projects/${PROJECT.id}/packages/${p.id}` },
    pipelines: [],
  };
}

function paginate(req, res, items, basePath, query) {
  const perPage = Math.min(100, Math.max(1, Number(query.get("per_page") || 20)));
  const page = Math.max(1, Number(query.get("page") || 1));
  const totalPages = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const link = (p) => {
    const q = new URLSearchParams(query);
    q.set("page", String(p));
    q.set("per_page", String(perPage));
    return `<http://${req.headers.host}${basePath}?${q}>`;
  };
  const headers = {
    "X-Page": String(page),
    "X-Per-Page": String(perPage),
    "X-Next-Page": page < totalPages ? String(page + 1) : "",
    "X-Prev-Page": page > 1 ? String(page - 1) : "",
  };
  const links = [];
  if (page < totalPages) links.push(`${link(page + 1)}; rel="next"`);
  if (page > 1) links.push(`${link(page - 1)}; rel="prev"`);
  links.push(`${link(1)}; rel="first"`);
  if (!state.settings.omitTotals) {
    headers["X-Total"] = String(items.length);
    headers["X-Total-Pages"] = String(totalPages);
    links.push(`${link(totalPages)}; rel="last"`);
  }
  headers.Link = links.join(", ");
  json(res, 200, slice, headers);
}

function handleList(req, res, query, basePath) {
  if (authorize(req, res, 10) === null) return;
  const type = query.get("package_type");
  if (type && !["generic", "maven", "npm", "conan", "nuget", "pypi", "composer", "golang", "debian", "helm", "terraform_module"].includes(type))
    return json(res, 400, { error: "package_type does not have a valid value" });
  const status = query.get("status");
  let items = state.packages.filter((p) => {
    if (p.status === "pending_destruction") return false;
    if (status ? p.status !== status : p.status === "hidden") return false;
    if (type && p.package_type !== type) return false;
    const name = query.get("package_name");
    if (name && !p.name.toLowerCase().includes(name.toLowerCase())) return false; // fuzzy
    const version = query.get("package_version");
    if (version && p.version !== version) return false;
    return true;
  });
  const orderBy = query.get("order_by") || "created_at";
  const dir = (query.get("sort") || "asc") === "desc" ? -1 : 1;
  items.sort((a, b) => (a[orderBy] < b[orderBy] ? -dir : a[orderBy] > b[orderBy] ? dir : (a.id - b.id) * dir));
  paginate(req, res, items.map(publicPackage), basePath, query);
}

function findPackage(id) {
  return state.packages.find((p) => p.id === Number(id) && p.status !== "pending_destruction");
}

function handleApi(req, res, url) {
  const m = url.pathname.match(/^\/api\/v4\/projects\/([^/]+)\/packages(\/.*)?$/);
  if (!m) return message(res, 404, "404 Not Found");
  if (!projectOk(m[1])) return drainThen(req, () => message(res, 404, "404 Project Not Found"));
  const rest = m[2] || "";
  const q = url.searchParams;
  let g;
  if ((g = rest.match(/^\/generic\/([^/]+)\/([^/]+)\/(.+)$/))) {
    const [name, version, filePath] = [decodeURIComponent(g[1]), decodeURIComponent(g[2]), g[3]];
    const fileName = decodeURIComponent(filePath.split("/").pop());
    if (req.method === "PUT") return handleUpload(req, res, name, version, fileName, q);
    if (req.method === "GET") return handleDownload(req, res, name, version, fileName);
    return message(res, 405, "405 Method Not Allowed");
  }
  if (rest === "" && req.method === "GET") return handleList(req, res, q, url.pathname);
  if ((g = rest.match(/^\/(\d+)$/))) {
    const need = req.method === "DELETE" ? ROLE_DELETE : 10;
    if (authorize(req, res, need) === null) return;
    const pkg = findPackage(g[1]);
    if (!pkg) return message(res, 404, "404 Package Not Found");
    if (req.method === "GET") return json(res, 200, { ...publicPackage(pkg), last_downloaded_at: null });
    if (req.method === "DELETE") {
      pkg.status = "pending_destruction"; // deleted later, asynchronously
      res.writeHead(204);
      return res.end();
    }
  }
  if ((g = rest.match(/^\/(\d+)\/package_files(?:\/(\d+))?$/))) {
    const need = req.method === "DELETE" ? ROLE_DELETE : 10;
    if (authorize(req, res, need) === null) return;
    const pkg = findPackage(g[1]);
    if (!pkg) return message(res, 404, "404 Package Not Found");
    if (!g[2] && req.method === "GET") {
      const files = pkg.files.map(({ diskPath: _d, ...f }) => ({ ...f, pipelines: [] }));
      return paginate(req, res, files, url.pathname, q);
    }
    if (g[2] && req.method === "DELETE") {
      const i = pkg.files.findIndex((f) => f.id === Number(g[2]));
      if (i < 0) return message(res, 404, "404 Package File Not Found");
      pkg.files.splice(i, 1);
      res.writeHead(204);
      return res.end();
    }
  }
  return message(res, 404, "404 Not Found");
}

function readJson(req, fn) {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => fn(body ? JSON.parse(body) : {}));
}

function handleControl(req, res, url) {
  if (url.pathname === "/_emu/settings" && req.method === "POST")
    return readJson(req, (b) => {
      Object.assign(state.settings, b);
      json(res, 200, state.settings);
    });
  if (url.pathname === "/_emu/fault" && req.method === "POST")
    return readJson(req, (b) => {
      state.faults.push({ match: "", times: 1, kind: "status", status: 500, ...b });
      json(res, 200, { faults: state.faults.length });
    });
  if (url.pathname === "/_emu/seed" && req.method === "POST")
    return readJson(req, (b) => {
      // {name, versions: [..]}: packages with one small file each, oldest first
      for (const version of b.versions) {
        const id = state.nextFileId++;
        const diskPath = path.join(dataDir, `file-${id}`);
        const body = Buffer.from(`seed ${version}\n`);
        fs.writeFileSync(diskPath, body);
        const pkg = { id: state.nextPackageId++, name: b.name, version, package_type: "generic", status: "default", created_at: tick(), files: [] };
        const sha256 = crypto.createHash("sha256").update(body).digest("hex");
        pkg.files.push({ id, package_id: pkg.id, created_at: pkg.created_at, file_name: b.file || "cache.tar.zst", size: body.length, file_sha256: sha256, diskPath });
        state.packages.push(pkg);
      }
      json(res, 200, { packages: state.packages.length });
    });
  if (url.pathname === "/_emu/reset" && req.method === "POST") {
    resetState();
    return json(res, 200, {});
  }
  if (url.pathname === "/_emu/state")
    return json(res, 200, state.packages.map((p) => ({ ...publicPackage(p), files: p.files.map(({ diskPath: _d, ...f }) => f) })));
  if (url.pathname === "/_emu/log") return json(res, 200, state.log);
  return message(res, 404, "404 Not Found");
}

function authNames(req) {
  return ["job-token", "private-token", "deploy-token", "authorization"].filter((h) => req.headers[h]);
}

const api = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname.startsWith("/_emu/")) return handleControl(req, res, url);
  state.log.push({ host: "api", method: req.method, url: req.url, auth: authNames(req) });
  // uploads take their fault after the body; everything else before answering
  if (!(req.method === "PUT" && url.pathname.includes("/packages/generic/"))) {
    req.fault = takeFault(req);
    if (req.fault && req.fault.kind !== "reset") return drainThen(req, () => applyStatusFault(res, req.fault));
  }
  handleApi(req, res, url);
});

// The object storage a download may be redirected to: it refuses GitLab credentials.
const storage = http.createServer((req, res) => {
  state.log.push({ host: "storage", method: req.method, url: req.url, auth: authNames(req) });
  if (authNames(req).length) {
    res.writeHead(400, { "Content-Type": "application/xml" });
    return res.end("<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>");
  }
  req.fault = takeFault(req);
  if (req.fault && req.fault.kind !== "reset") return applyStatusFault(res, req.fault);
  const m = req.url.match(/^\/bucket\/(\d+)\?/);
  const file = m && state.packages.flatMap((p) => p.files).find((f) => f.id === Number(m[1]));
  if (!file) {
    res.writeHead(404);
    return res.end();
  }
  sendFile(req, res, file, null);
});

let storagePort = 0;
const portFile = process.argv.indexOf("--port-file") > 0 ? process.argv[process.argv.indexOf("--port-file") + 1] : null;

storage.listen(0, "127.0.0.1", () => {
  storagePort = storage.address().port;
  api.listen(Number(process.env.GITLAB_EMU_PORT || 0), "127.0.0.1", () => {
    const port = api.address().port;
    if (portFile) fs.writeFileSync(portFile, `${port} ${storagePort}\n`);
    console.log(`gitlab-emulator listening on ${port} storage ${storagePort}`);
  });
});

function stop() {
  api.close();
  storage.close();
  if (!process.env.GITLAB_EMU_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
