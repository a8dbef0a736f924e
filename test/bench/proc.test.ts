import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, processCpuSeconds, spawnServer, stopServer, waitUntil } from '../../src/bench/proc.js';
import { findExecutable } from '../../src/bench/which.js';

test('CPU seconds come from /proc and grow with work; a missing pid gives null', () => {
  const before = processCpuSeconds(process.pid);
  assert.ok(before !== null && before >= 0);
  const until = process.cpuUsage().user + 150_000;
  let x = 0;
  while (process.cpuUsage().user < until) x += Math.sqrt(x + 1);
  const after = processCpuSeconds(process.pid);
  assert.ok(after !== null && after > before, `cpu ${before} -> ${after} (${x > 0})`);
  assert.equal(processCpuSeconds(2 ** 30), null);
});

test('a spawned server is stopped by SIGTERM, and by SIGKILL when it ignores SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-proc-'));
  try {
    const polite = spawnServer('sleeper', 'sleep', ['60'], { logFile: join(dir, 'a.log') });
    const stubborn = spawnServer('stubborn', 'sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], { logFile: join(dir, 'b.log') });
    await new Promise((r) => setTimeout(r, 200));
    await stopServer(polite);
    assert.equal(polite.exited?.signal, 'SIGTERM');
    await stopServer(stubborn, 300);
    assert.equal(stubborn.exited?.signal, 'SIGKILL');
    assert.equal(processCpuSeconds(stubborn.pid), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('waitUntil fails fast, naming the log, when a watched server exits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-proc-'));
  try {
    const s = spawnServer('crasher', 'sh', ['-c', 'exit 3'], { logFile: join(dir, 'c.log') });
    await assert.rejects(
      waitUntil('never', () => Promise.resolve(false), { timeoutMs: 30_000, intervalMs: 20, servers: [s] }),
      /crasher exited \(code 3, signal null\) while waiting for never: see .*c\.log/,
    );
    await assert.rejects(
      waitUntil('a failing probe', () => Promise.reject(new Error('refused')), { timeoutMs: 100, intervalMs: 20 }),
      (err: Error) => /timed out after 100 ms waiting for a failing probe/.test(err.message) && (err.cause as Error).message === 'refused',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('free ports are distinct and findExecutable searches PATH', async () => {
  const ports = await freePorts(6);
  assert.equal(new Set(ports).size, 6);
  assert.ok(ports.every((p) => p > 0 && p < 65536));
  assert.ok(findExecutable('sh') !== null);
  assert.equal(findExecutable('sh', '/nonexistent-dir'), null);
  assert.equal(findExecutable('definitely-not-a-binary-xyz'), null);
});
