/**
 * `npm run bench`: runs every bench/*.bench.js (compiled) in its own process, one after another,
 * so one benchmark's heap and JIT state do not colour the next. Each prints its own table and
 * writes JSON to out/bench/<name>.json. Pass names to run a subset: npm run bench -- wal sim
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
if (files.length === 0) {
  console.error('no benchmarks matched');
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f.replace(/\.bench\.js$/, '')} ===`);
  const r = spawnSync(process.execPath, ['--enable-source-maps', join(here, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`benchmark ${f} failed with status ${r.status}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
