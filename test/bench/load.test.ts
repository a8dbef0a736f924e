import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BenchClient } from '../../src/bench/driver.js';
import { keyBytes, makeKeys, makeValue, runLoad } from '../../src/bench/load.js';
import { toRow } from '../../src/bench/row.js';
import { formatMarkdown, formatTable } from '../../src/bench/table.js';
import { renderHtml, rowsTableHtml } from '../../src/bench/html.js';

/** An in-process key-value client: the load generator's accounting, without any server. */
function memoryClient(store: Map<string, Uint8Array>, log: string[], failEvery = 0): BenchClient {
  let n = 0;
  const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  return {
    put: async (key, value) => {
      await tick();
      if (failEvery > 0 && ++n % failEvery === 0) throw new Error('injected failure');
      store.set(key, value);
      log.push(`put ${key}`);
    },
    get: async (key) => {
      await tick();
      log.push(`get ${key}`);
    },
    close: () => Promise.resolve(),
  };
}

test('keys are 16 distinct bytes each and values are seeded', () => {
  const keys = makeKeys(1000);
  assert.equal(new Set(keys).size, 1000);
  assert.ok(keys.every((k) => Buffer.byteLength(k) === keyBytes));
  assert.deepEqual(makeValue(100, 4), makeValue(100, 4));
  assert.notDeepEqual(makeValue(100, 4), makeValue(100, 5));
  assert.equal(makeValue(7).length, 7);
});

test('the closed loop counts only the measured window and honours the read fraction', async () => {
  const store = new Map<string, Uint8Array>();
  const log: string[] = [];
  const r = await runLoad([memoryClient(store, log), memoryClient(store, log)], {
    concurrency: 8, warmupMs: 100, durationMs: 300, keys: makeKeys(50), value: makeValue(10), readFraction: 0.3, seed: 1, opsMin: 400,
  }, () => [process.pid]);
  assert.equal(r.errors, 0);
  assert.equal(r.ops, r.reads + r.writes);
  assert.equal(r.latencyNs.count, r.ops);
  assert.ok(r.ops < log.length, 'warm-up operations must not be counted');
  const readShare = r.reads / r.ops;
  // At least 400 seeded draws at p = 0.3: outside [0.15, 0.45] is beyond 6 standard deviations.
  assert.ok(readShare > 0.15 && readShare < 0.45, `read share ${readShare}`);
  assert.ok(r.elapsedSeconds > 0 && r.elapsedSeconds <= 60, `elapsed ${r.elapsedSeconds}`);
  assert.ok(r.clientCpuSeconds > 0 && r.serverCpuSeconds > 0);
  assert.ok(store.size > 0 && store.size <= 50);
  const row = toRow('memory', 8, r);
  assert.equal(row.ops, r.ops);
  assert.ok(row.p50Ms <= row.p99Ms && row.p99Ms <= row.p999Ms && row.p999Ms <= row.maxMs);
});

test('write-only and read-only mixes', async () => {
  for (const readFraction of [0, 1]) {
    const log: string[] = [];
    const r = await runLoad([memoryClient(new Map(), log)], {
      concurrency: 2, warmupMs: 0, durationMs: 100, keys: makeKeys(5), value: makeValue(1), readFraction, seed: 2, opsMin: 10,
    }, () => []);
    assert.equal(readFraction === 0 ? r.reads : r.writes, 0);
    assert.ok(r.ops > 0);
  }
});

test('failures are counted, and too many abandon the run with the first error', async () => {
  const spec = { concurrency: 2, warmupMs: 0, durationMs: 200, keys: makeKeys(5), value: makeValue(1), readFraction: 0, seed: 3, opsMin: 50 };
  const r = await runLoad([memoryClient(new Map(), [], 10)], spec, () => []);
  assert.ok(r.errors > 0);
  assert.equal(r.firstError, 'Error: injected failure');
  await assert.rejects(runLoad([memoryClient(new Map(), [], 1)], { ...spec, errorsMax: 5 }, () => []), /more than 5 failed operations; first: Error: injected failure/);
});

test('table, markdown and HTML report carry every row and a chart per system', async () => {
  const r = await runLoad([memoryClient(new Map(), [])], {
    concurrency: 1, warmupMs: 0, durationMs: 50, keys: makeKeys(5), value: makeValue(1), readFraction: 0, seed: 4, opsMin: 5,
  }, () => []);
  const rows = [toRow('alpha', 1, r), toRow('alpha', 16, r), toRow('beta<&>', 1, r)];
  const table = formatTable(rows).split('\n');
  assert.equal(table.length, 2 + rows.length);
  assert.match(table[0]!, /system\s+clients\s+ops\/s\s+p50 ms/);
  assert.equal(formatMarkdown(rows).split('\n').length, 2 + rows.length);
  const html = renderHtml({ title: 't', lines: ['a <b>'] }, rows, rowsTableHtml(rows));
  assert.equal((html.match(/<svg /g) ?? []).length, 2 + 2, 'throughput, p99, and one percentile chart per system');
  assert.ok(html.includes('beta&lt;&amp;&gt;: latency percentiles'));
  assert.ok(html.includes('a &lt;b&gt;'));
  assert.ok(!/<script/i.test(html) && !/https?:\/\/(?!www\.w3\.org)/.test(html), 'self-contained');
});

test('internals are ratios of counter differences, null without committed commands', async () => {
  const { internalsFrom } = await import('../../src/bench/row.js');
  const before = { saves: 10, saveMsTotal: 5, entriesPersisted: 10, messagesSent: 4, leaderCommandsApplied: 100, leaderEntriesApplied: 50 };
  const after = { saves: 70, saveMsTotal: 35, entriesPersisted: 40, messagesSent: 124, leaderCommandsApplied: 400, leaderEntriesApplied: 70 };
  assert.deepEqual(internalsFrom(before, after), {
    fsyncsPerCommand: 0.2, saveMs: 0.5, commandsPerEntry: 15, entriesPerSave: 0.5, messagesPerCommand: 0.4,
  });
  assert.equal(internalsFrom(after, after), null);
});

test('opsMin keeps the window open until enough operations completed, within the cap', async () => {
  const slow: BenchClient = {
    put: () => new Promise((resolve) => setTimeout(resolve, 20)),
    get: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const r = await runLoad([slow], {
    concurrency: 1, warmupMs: 0, durationMs: 10, keys: makeKeys(3), value: makeValue(1), readFraction: 0, seed: 6, opsMin: 5,
  }, () => []);
  assert.ok(r.ops >= 5, `ops ${r.ops}`);
  const capped = await runLoad([slow], {
    concurrency: 1, warmupMs: 0, durationMs: 10, keys: makeKeys(3), value: makeValue(1), readFraction: 0, seed: 6, opsMin: 1_000_000, opsMinWaitMs: 100,
  }, () => []);
  assert.ok(capped.ops < 1_000_000 && capped.elapsedSeconds < 60);
});

test('an operation that never answers counts as a failure after opTimeoutMs, and an empty window says so', async () => {
  const hung: BenchClient = { put: () => new Promise(() => undefined), get: () => new Promise(() => undefined), close: () => Promise.resolve() };
  const r = await runLoad([hung], {
    concurrency: 1, warmupMs: 0, durationMs: 50, keys: makeKeys(3), value: makeValue(1), readFraction: 0, seed: 7, opTimeoutMs: 100,
  }, () => []);
  assert.equal(r.ops, 0);
  assert.ok(r.errors >= 1);
  assert.match(r.firstError ?? '', /write timed out after 100 ms/);
  const quiet = toRow('hung', 1, { ...r, firstError: null });
  assert.equal(quiet.firstError, 'no operation completed in the measured window');
});
