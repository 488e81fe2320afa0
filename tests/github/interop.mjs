// interop.mjs - drive the official @actions/cache client against the emulator, so the tests can
// check that bkcache and actions/cache find and restore each other's entries.
//
//   node interop.mjs save KEY PATH...                  prints "id=<entry id>" (-1: not saved)
//   node interop.mjs restore KEY RESTORE_KEYS PATH...  prints "matched=<key>" or "miss"
//   node interop.mjs lookup KEY RESTORE_KEYS PATH...   the same with lookupOnly (no download)
//
// RESTORE_KEYS is a comma-separated list, or "-" for none. The environment is the runner's:
// ACTIONS_RESULTS_URL (+ ACTIONS_CACHE_SERVICE_V2) or ACTIONS_CACHE_URL, ACTIONS_RUNTIME_TOKEN,
// GITHUB_WORKSPACE and RUNNER_TEMP.
import * as cache from '@actions/cache';

const [cmd, key, ...rest] = process.argv.slice(2);

async function main() {
  if (cmd === 'save') {
    const id = await cache.saveCache(rest, key);
    console.log(`id=${id}`);
    return;
  }
  if (cmd === 'restore' || cmd === 'lookup') {
    const [rk, ...paths] = rest;
    const restoreKeys = rk === '-' ? [] : rk.split(',');
    const hit = await cache.restoreCache(paths, key, restoreKeys, { lookupOnly: cmd === 'lookup' });
    console.log(hit ? `matched=${hit}` : 'miss');
    return;
  }
  throw new Error(`unknown command ${cmd}`);
}

main().catch((e) => {
  console.error(`interop: ${e.stack || e}`);
  process.exit(1);
});
