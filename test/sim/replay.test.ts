import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableProtocols } from '../../src/protocols/index.js';
import { runSimulation } from '../../src/sim/index.js';

// A run is a pure function of (seed, options): the same seed gives a byte-identical trace.

test('raft: the same seed twice gives the same trace hash and history; other seeds differ', () => {
  const hashes = new Set<string>();
  for (const seed of [0, 1, 2]) {
    const a = runSimulation(seed, { protocol: 'raft' });
    const b = runSimulation(seed, { protocol: 'raft' });
    assert.equal(a.traceHash, b.traceHash, `seed ${seed}`);
    assert.deepEqual(a.history, b.history);
    assert.equal(a.events, b.events);
    assert.ok(a.events > 1000, 'a run should do real work');
    hashes.add(a.traceHash);
  }
  assert.equal(hashes.size, 3);
});

test('a mutant changes the trace of the same seed (the options are part of the input)', () => {
  const a = runSimulation(0, { protocol: 'raft' });
  const b = runSimulation(0, { protocol: 'raft', mutants: new Set(['ack-before-fsync']), disabledInvariants: new Set(['ready-order', 'durability']) });
  assert.notEqual(a.traceHash, b.traceHash);
});

for (const protocol of availableProtocols().filter((p) => p !== 'raft')) {
  test(`${protocol}: replay gives the same trace hash`, () => {
    const opts = { protocol, safetyUs: 1_500_000 } as const;
    assert.equal(runSimulation(5, opts).traceHash, runSimulation(5, opts).traceHash);
  });
}
