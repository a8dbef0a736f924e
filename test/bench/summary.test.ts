import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BenchRow } from '../../src/bench/row.js';
import { formatRatios, ratios } from '../../src/bench/summary.js';

function row(system: string, concurrency: number, opsPerSec: number, p50Ms: number, p99Ms: number): BenchRow {
  return {
    system, concurrency, opsPerSec, p50Ms, p90Ms: p99Ms, p99Ms, p999Ms: p99Ms, maxMs: p99Ms, meanMs: p50Ms, ops: opsPerSec,
    reads: 0, writes: opsPerSec, errors: 0, firstError: null, durationSeconds: 1, serverCpuSeconds: 1, clientCpuSeconds: 1,
    serverCpuUsPerOp: 1, internals: null,
  };
}

const rows = [
  row('quorate-raft', 1, 2000, 0.4, 1), row('quorate-raft', 64, 30000, 2, 5), row('quorate-raft', 256, 12000, 20, 50),
  row('etcd', 1, 800, 1.2, 3), row('etcd', 64, 4400, 14, 34), row('etcd', 256, 5600, 45, 93),
  row('zookeeper', 1, 1350, 0.7, 2), row('zookeeper', 64, 10000, 6, 12), row('zookeeper', 256, 15000, 17, 36),
];

test('ratios divide quorate by each other system at the same concurrency', () => {
  const r = ratios(rows);
  assert.equal(r.length, 6);
  assert.deepEqual(r.find((x) => x.concurrency === 64 && x.versus === 'etcd'), { system: 'quorate-raft', concurrency: 64, versus: 'etcd', throughputRatio: 6.82, p99Ratio: 0.15 });
  assert.deepEqual(r.find((x) => x.concurrency === 256 && x.versus === 'zookeeper'), { system: 'quorate-raft', concurrency: 256, versus: 'zookeeper', throughputRatio: 0.8, p99Ratio: 1.39 });
});

test('the goal check says met and MISSED as measured', () => {
  const md = formatRatios(rows);
  assert.match(md, /met at 64 vs zookeeper \(3× of 1.5×, p99 ratio 0.42\)/);
  assert.match(md, /MISSED at 256 vs zookeeper \(0.8× of 1.5×, p99 ratio 1.39\)/);
  assert.match(md, /MISSED at 256 vs etcd/);
  assert.match(md, /met one-client p50 0.4 ms/);
  assert.match(md, /\| quorate-raft \| 2.5× \(0.33\) \| 6.82× \(0.15\) \| 2.14× \(0.54\) \|/);
  assert.equal(formatRatios(rows.filter((r) => r.system === 'etcd')), 'No ratios: the run has no quorate rows or no comparison rows.');
});
