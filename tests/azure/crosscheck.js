#!/usr/bin/env node
// crosscheck.js - read what bkcache saved with Microsoft's own Node client
// (azure-devops-node-api), so the emulator and the C client cannot agree on
// a private misreading of the wire format.
//
//   node crosscheck.js COLLECTION_URL PROJECT DEFINITION BRANCH KEY FILE
//
// Lists the definition's completed builds on BRANCH with the Build API,
// finds the artifact named KEY among their artifacts, downloads its file
// with the FileContainer API (the artifact's "#/<container>/<folder>") and
// compares SHA-256 with FILE. Prints "crosscheck ok build=<id>" or fails.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const azdev = require('azure-devops-node-api');

async function streamHash(stream) {
  const h = crypto.createHash('sha256');
  for await (const chunk of stream) h.update(chunk);
  return h.digest('hex');
}

async function main() {
  const [url, project, definition, branch, key, file] = process.argv.slice(2);
  const conn = new azdev.WebApi(url, azdev.getBearerHandler(process.env.SYSTEM_ACCESSTOKEN));
  const build = await conn.getBuildApi();
  // getBuilds(project, definitions, queues, buildNumber, minTime, maxTime, requestedFor,
  //   reasonFilter, statusFilter, resultFilter, tagFilters, properties, top, continuationToken,
  //   maxBuildsPerDefinition, deletedFilter, queryOrder, branchName)
  const builds = await build.getBuilds(project, [Number(definition)], undefined, undefined,
    undefined, undefined, undefined, undefined, 2 /* completed */, undefined, undefined,
    undefined, 50, undefined, undefined, undefined, 3 /* finishTimeDescending */, branch);
  if (!builds.length) throw new Error(`no builds of definition ${definition} on ${branch}`);
  for (const b of builds) {
    const arts = await build.getArtifacts(project, b.id);
    const a = arts.find((x) => x.name === key);
    if (!a) continue;
    if (a.resource.type !== 'Container') throw new Error(`artifact type ${a.resource.type}`);
    const m = /^#\/(\d+)\/(.+)$/.exec(a.resource.data);
    if (!m) throw new Error(`resource.data ${a.resource.data}`);
    const fc = await conn.getFileContainerApi();
    const items = await fc.getItems(Number(m[1]), undefined, m[2]);
    // the client maps enum names to numbers: itemType file = 2, status created = 1
    const files = items.filter((i) => (i.itemType === 2 || i.itemType === 'file') &&
      (i.status === 1 || i.status === 'created'));
    if (!files.length) throw new Error(`no complete file under ${m[2]}`);
    const local = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const scope = b.project && b.project.id;
    const res = await fc.getItem(Number(m[1]), scope, files[files.length - 1].path);
    if (res.statusCode !== 200) throw new Error(`getItem: HTTP ${res.statusCode}`);
    const remote = await streamHash(res.result);
    if (remote !== local) throw new Error(`sha256 ${remote} != local ${local}`);
    if (String(a.resource.properties.artifactsize) !== String(fs.statSync(file).size)) {
      throw new Error(`artifactsize ${a.resource.properties.artifactsize}`);
    }
    console.log(`crosscheck ok build=${b.id} artifact=${a.name} path=${files[files.length - 1].path}`);
    return;
  }
  throw new Error(`no artifact ${key} in ${builds.length} builds`);
}

main().catch((e) => { console.error(`crosscheck failed: ${e.message || e}`); process.exit(1); });
