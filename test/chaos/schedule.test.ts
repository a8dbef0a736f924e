import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/core/index.js';
import { faketimeLibrary } from '../../src/chaos/clock.js';
import { chaosDefaults, nemesisVariants, parseNemesis, unsupportedNemeses, validateChaosOptions } from '../../src/chaos/options.js';
import type { ChaosOptions } from '../../src/chaos/options.js';
import { planSchedule, timingFor } from '../../src/chaos/schedule.js';

const nodes = ['n1', 'n2', 'n3'];

test('a seed names the same schedule every time; another seed another one', () => {
  const all = parseNemesis(chaosDefaults.nemesis);
  const a = planSchedule(7, nodes, 60_000, all);
  assert.deepEqual(planSchedule(7, nodes, 60_000, all), a);
  assert.notDeepEqual(planSchedule(8, nodes, 60_000, all), a);
  assert.ok(a.length >= 5, `a minute holds several windows, got ${a.length}`);
});

test('windows come one at a time, inside the phase, with a healed gap between them', () => {
  for (const duration of [10_000, 20_000, 60_000, 300_000]) {
    const t = timingFor(duration);
    const plans = planSchedule(3, nodes, duration, parseNemesis('kill,partition,loss'));
    assert.ok(plans.length >= 1, `${duration} ms plans at least one fault`);
    let prevEnd = 0;
    for (const p of plans) {
      assert.ok(p.startMs >= prevEnd + (prevEnd === 0 ? t.warmupMs : t.gapMinMs), 'a gap (or the warm-up) before every window');
      assert.ok(p.endMs > p.startMs && p.endMs <= duration);
      assert.deepEqual([...p.order].sort(), nodes);
      prevEnd = p.endMs;
    }
  }
});

test('only the faults and shapes asked for are planned', () => {
  const plans = planSchedule(11, nodes, 120_000, parseNemesis('kill:all+majority,pause:leader'));
  assert.ok(plans.length > 5);
  for (const p of plans) {
    if (p.kind === 'kill') assert.ok(p.variant === 'all' || p.variant === 'majority');
    else assert.deepEqual([p.kind, p.variant], ['pause', 'leader']);
  }
  assert.ok(plans.some((p) => p.kind === 'kill') && plans.some((p) => p.kind === 'pause'));
});

test('clock is planned where faketime is installed, in every shape, and refused (never claimed) where it is not', () => {
  const clockOnly = planSchedule(1, nodes, 120_000, parseNemesis('clock'));
  const mixed = planSchedule(1, nodes, 60_000, parseNemesis('clock,pause'));
  if (faketimeLibrary() === null) {
    assert.ok(unsupportedNemeses.has('clock'));
    assert.deepEqual(clockOnly, []);
    assert.ok(mixed.length > 0 && mixed.every((p) => p.kind === 'pause'));
    assert.ok(!chaosDefaults.nemesis.split(',').includes('clock'));
    return;
  }
  assert.ok(!unsupportedNemeses.has('clock') && chaosDefaults.nemesis.split(',').includes('clock'));
  assert.ok(clockOnly.length > 5 && clockOnly.every((p) => p.kind === 'clock'));
  assert.deepEqual(new Set(clockOnly.map((p) => p.variant)), new Set(nemesisVariants.clock), 'two minutes meet every shape');
  assert.ok(mixed.some((p) => p.kind === 'clock') && mixed.some((p) => p.kind === 'pause'));
});

test('every fault kind has shapes, and a bad --nemesis is a ConfigError naming it', () => {
  for (const [k, v] of Object.entries(nemesisVariants)) assert.ok(v.length > 0, k);
  assert.throws(() => parseNemesis('kill,meteor'), (e: unknown) => e instanceof ConfigError && /meteor/.test(e.message));
  assert.throws(() => parseNemesis('kill:sometimes'), (e: unknown) => e instanceof ConfigError && /sometimes/.test(e.message));
  assert.throws(() => parseNemesis('kill,kill'), ConfigError);
  assert.throws(() => parseNemesis(' , '), ConfigError);
  assert.deepEqual(parseNemesis('pause').map((s) => s.variants), [nemesisVariants.pause]);
});

test('options out of bounds are refused with the flag named', () => {
  const good: ChaosOptions = {
    protocol: 'raft', nodes: 3, durationMs: 20_000, quietMs: 3_000, nemesis: parseNemesis('kill'), clients: 8, seed: 1,
    outDir: '/tmp/x', keys: 8, opTimeoutMs: 3_000, nodeEnv: {}, echo: false, checkpointEvery: 500, leaseReads: false, tls: false, auth: false,
  };
  assert.equal(validateChaosOptions(good), good);
  for (const [bad, flag] of [
    [{ nodes: 4 }, '--nodes'], [{ clients: 0 }, '--clients'], [{ clients: 10_000 }, '--clients'], [{ durationMs: 10 }, '--duration'],
    [{ keys: 0 }, '--keys'], [{ seed: -1 }, '--seed'], [{ nemesis: [] }, '--nemesis'],
    ...(unsupportedNemeses.has('clock') ? [[{ nemesis: parseNemesis('clock') }, '--nemesis'] as const] : []),
  ] as const) {
    assert.throws(() => validateChaosOptions({ ...good, ...bad }), (e: unknown) => e instanceof ConfigError && e.message.includes(flag));
  }
});
