import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation, type SimResult } from '../../src/sim/index.js';

// Every fault kind must actually happen in an all-faults run (counted, not assumed), and none in
// a no-faults run.

function total(results: SimResult[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of results) {
    for (const [k, v] of Object.entries({ ...r.stats.faults, ...r.stats.network })) t[k] = (t[k] ?? 0) + v;
  }
  return t;
}

const expected = [
  'partition-majority', 'partition-isolate', 'partition-bridge', 'partition-ring', 'oneway', 'clog', 'clogHeld', 'crash',
  'torn-write', 'torn-tail-trimmed', 'pause', 'skew', 'bitflip-injected', 'corruption-detected', 'wipe-after-corruption',
  'wipe-restart', 'slow-fsync', 'crash-after-promise', 'crash-after-durable', 'crash-during-fsync', 'lost', 'duplicated', 'reordered',
  'delayedTail', 'partitionDropped',
  // power loss vs process crash, messages outliving an incarnation, fsync stalls
  'process-crash', 'power-loss', 'page-cache-recovered', 'powerloss-one', 'powerloss-majority', 'powerloss-all',
  'outlive', 'outlive-held', 'outlived-delivered', 'fsync-stall-promise',
];

test('with all faults on, every fault kind happens within 40 seeds, and the runs stay safe', () => {
  const results: SimResult[] = [];
  for (let seed = 0; seed < 40; seed++) {
    const r = runSimulation(seed, { protocol: 'raft' });
    assert.equal(r.violation, null, `seed ${seed}: ${JSON.stringify(r.violation)}`);
    results.push(r);
    const t = total(results);
    if (expected.every((k) => (t[k] ?? 0) > 0)) break;
  }
  const t = total(results);
  const missing = expected.filter((k) => (t[k] ?? 0) === 0);
  assert.deepEqual(missing, [], `never happened: ${missing.join(', ')} (counts ${JSON.stringify(t)})`);
});

test('with no faults, nothing is injected, the cluster converges and the history is linearizable', () => {
  const r = runSimulation(3, { protocol: 'raft', faults: new Set() });
  assert.equal(r.violation, null);
  const t = total([r]);
  for (const k of expected.filter((x) => x !== 'reordered')) assert.equal(t[k] ?? 0, 0, k);
  assert.equal(t.reordered ?? 0, 0, 'links are FIFO without the reorder fault');
  assert.equal(r.linearizability?.verdict, 'linearizable');
  assert.ok(r.convergedAtUs !== null);
  assert.ok(r.stats.workload.ok > 100, `ops ${JSON.stringify(r.stats.workload)}`);
});

test('fail-stop on corruption: the corrupt node stays out until the operator replaces it at the heal', () => {
  let detected = 0;
  for (let seed = 0; seed < 20 && detected === 0; seed++) {
    const r = runSimulation(seed, { protocol: 'raft', corruptionPolicy: 'fail-stop', faults: new Set(['bitflip']) });
    assert.equal(r.violation, null, `seed ${seed}: ${JSON.stringify(r.violation)}`);
    detected += r.stats.faults['corruption-detected'] ?? 0;
    assert.equal(r.stats.faults['wipe-after-corruption'] ?? 0, 0);
  }
  assert.ok(detected > 0);
});
