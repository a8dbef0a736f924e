import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { availableProtocols } from '../../src/protocols/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// The codec micro-benchmark drives three in-memory replicas of every protocol to capture real
// messages; a change to how a Ready's messages leave (earlyMessages) once made it capture nothing.
// Run it briefly here so `npm run bench` cannot break unnoticed; its numbers are not looked at.
test('the codec micro-benchmark runs for every protocol and writes its rows', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'quorate-codec-bench-'));
  try {
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'bench', 'codec.bench.ts')], {
      cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, QUORATE_BENCH_MS: '2' },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(readFileSync(join(cwd, 'out', 'bench', 'codec.json'), 'utf8')) as { rows: { subject: string; kind: string }[] };
    for (const p of availableProtocols()) {
      const kinds = out.rows.filter((row) => row.subject === p).map((row) => row.kind);
      assert.ok(kinds.length >= 4, `${p}: only ${kinds.join(', ')}`);
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
