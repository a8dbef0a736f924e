import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allFaults, runSimulation, swarmFeatures, swarmMix } from '../../src/sim/index.js';

// Swarm testing (Groce et al., ISSTA 2012): each seed its own subset of faults and features.

test('a seed\'s swarm mix is a pure function of the seed; seeds differ; every fault and feature is on in some and off in others', () => {
  const base = { faults: new Set(allFaults) };
  const on = new Map<string, number>();
  const labels = new Set<string>();
  const seeds = 200;
  for (let seed = 0; seed < seeds; seed++) {
    const a = swarmMix(seed, base);
    assert.deepEqual(swarmMix(seed, base), a);
    labels.add(a.label);
    const faults = a.options.faults ?? new Set();
    assert.ok(faults.size > 0, 'at least one fault kind stays on');
    for (const f of faults) on.set(f, (on.get(f) ?? 0) + 1);
    for (const f of swarmFeatures) if (a.label.includes(`+${f.name}`)) on.set(f.name, (on.get(f.name) ?? 0) + 1);
  }
  assert.ok(labels.size > seeds * 0.95, `mixes repeat too often: ${labels.size} distinct in ${seeds}`);
  for (const name of [...allFaults, ...swarmFeatures.map((f) => f.name)]) {
    const n = on.get(name) ?? 0;
    assert.ok(n > seeds * 0.3 && n < seeds * 0.7, `${name} on in ${n} of ${seeds} seeds`);
  }
});

test('the draw stays inside --faults', () => {
  for (let seed = 0; seed < 50; seed++) {
    const faults = swarmMix(seed, { faults: new Set(['crash', 'pause'] as const) }).options.faults ?? new Set();
    for (const f of faults) assert.ok(f === 'crash' || f === 'pause', f);
  }
});

test('a swarm run replays bit for bit, and differs from the same seed without swarm', () => {
  const a = runSimulation(11, { protocol: 'zab', swarm: true, safetyUs: 1_500_000 });
  const b = runSimulation(11, { protocol: 'zab', swarm: true, safetyUs: 1_500_000 });
  assert.equal(a.traceHash, b.traceHash);
  assert.equal(a.swarm, swarmMix(11, { faults: new Set(allFaults) }).label);
  assert.notEqual(runSimulation(11, { protocol: 'zab', safetyUs: 1_500_000 }).traceHash, a.traceHash);
});
