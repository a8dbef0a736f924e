import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BenchRow } from '../../src/bench/row.js';
import { formatRatios, formatTlsCost, ratios, tlsCosts } from '../../src/bench/summary.js';

function row(system: string, concurrency: number, opsPerSec: number, p50Ms: number, p99Ms: number, serverCpuUsPerOp = 1): BenchRow {
  return {
    system, concurrency, opsPerSec, p50Ms, p90Ms: p99Ms, p99Ms, p999Ms: p99Ms, maxMs: p99Ms, meanMs: p50Ms, ops: opsPerSec,
    reads: 0, writes: opsPerSec, errors: 0, firstError: null, durationSeconds: 1, serverCpuSeconds: 1, clientCpuSeconds: 1,
    serverCpuUsPerOp, internals: null,
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

const withTls = [
  row('quorate-raft', 1, 2000, 0.4, 1), row('quorate-raft+tls', 1, 1500, 0.5, 1.5), row('quorate-raft', 64, 30000, 2, 5, 100), row('quorate-raft+tls', 64, 24000, 3, 6, 125),
  row('etcd', 1, 800, 1.2, 3), row('etcd+tls', 1, 600, 1.6, 4), row('etcd', 64, 4400, 14, 34),
];

test('with TLS rows, quorate is compared with the others under the same security only', () => {
  const r = ratios(withTls);
  assert.deepEqual(r.map((x) => `${x.system}/${x.versus}/${x.concurrency}`).sort(),
    ['quorate-raft+tls/etcd+tls/1', 'quorate-raft/etcd/1', 'quorate-raft/etcd/64']);
});

test('the cost of TLS pairs each system\'s plain and TLS rows at the same concurrency', () => {
  assert.deepEqual(tlsCosts(withTls), [
    { system: 'quorate-raft', concurrency: 1, plain: { opsPerSec: 2000, p99Ms: 1, serverCpuUsPerOp: 1 }, tls: { opsPerSec: 1500, p99Ms: 1.5, serverCpuUsPerOp: 1 } },
    { system: 'quorate-raft', concurrency: 64, plain: { opsPerSec: 30000, p99Ms: 5, serverCpuUsPerOp: 100 }, tls: { opsPerSec: 24000, p99Ms: 6, serverCpuUsPerOp: 125 } },
    { system: 'etcd', concurrency: 1, plain: { opsPerSec: 800, p99Ms: 3, serverCpuUsPerOp: 1 }, tls: { opsPerSec: 600, p99Ms: 4, serverCpuUsPerOp: 1 } },
  ]);
  const md = formatTlsCost(withTls);
  assert.match(md, /^\| system \| clients \| ops\/s plain \| ops\/s TLS \| change \| p99 ms plain \| p99 ms TLS \| change \| server µs\/op plain \| TLS \| change \|$/m);
  assert.match(md, /^\| quorate-raft \| 64 \| 30,000 \| 24,000 \| -20% \| 5 \| 6 \| \+20% \| 100 \| 125 \| \+25% \|$/m);
  assert.match(md, /^\| etcd \| 1 \| 800 \| 600 \| -25% \| 3 \| 4 \| \+33% \| 1 \| 1 \| \+0% \|$/m);
  assert.equal(formatTlsCost(rows), 'No TLS cost: no system was measured both without and with TLS.');
});
