#!/usr/bin/env node
// Runs the node:test suites: compiled under dist/test by default, or with --ts the TypeScript
// sources through tsx (what `npm test` runs, after `npm run build` has type-checked everything:
// tests spawn the CLI and fixtures from their .ts sources).
// Usage: node scripts/run-tests.mjs [--ts] [path-prefix ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const ts = args.includes('--ts');
const prefixes = args.filter((a) => !a.startsWith('--'));
const root = ts ? 'test' : 'dist/test';
const suffix = ts ? '.test.ts' : '.test.js';
if (!existsSync(root)) {
  console.error(`no ${root}: run \`npm run build\` first (or pass --ts)`);
  process.exit(2);
}
function walk(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(suffix) ? [p] : [];
  });
}
const files = walk(root).filter((f) =>
  prefixes.length === 0 || prefixes.some((p) => f.includes(p.replace(/^test\//, '').replace(/\.ts$/, ''))));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(2);
}
const nodeArgs = [...(ts ? ['--import', 'tsx'] : ['--enable-source-maps']), '--test', '--test-concurrency=2', ...files];
const r = spawnSync(process.execPath, nodeArgs, { stdio: 'inherit' });
process.exit(r.status ?? 1);
