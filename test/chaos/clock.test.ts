import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkHistory } from '../../src/check/index.js';
import { ClockControl, faketimeLibrary, faketimeMissing } from '../../src/chaos/clock.js';
import { ChaosCluster, sleep } from '../../src/chaos/cluster.js';
import { HistoryLog } from '../../src/chaos/workload.js';

/**
 * Clock faults on real processes (FAULTS row 17): libfaketime under a running Node process, its
 * rate and steps changed from outside while it runs; then what they guard against — a Raft
 * leader serving lease reads whose clock runs far slower than the lease margin allows.
 */
/**
 * These measure rates and race a lease against an election on real time: on a machine loaded by
 * the rest of the suite (CI runs two test files per core) a starved child misses its samples and
 * an isolation ends before the stale read lands, so they fail for the load, not the code. Run on
 * purpose: `QUORATE_CLOCK_TESTS=1 node --import tsx --test test/chaos/clock.test.ts` (about 60 s;
 * docs/TESTING.md). CI keeps test/chaos/run-clock.test.ts, the default configuration through
 * every clock fault, whose verdict does not depend on timing.
 */
const onPurpose = process.env['QUORATE_CLOCK_TESTS'] === '1' ? false : 'timing-sensitive: run on purpose with QUORATE_CLOCK_TESTS=1';
const skip = faketimeLibrary() === null ? faketimeMissing : onPurpose;

interface Sample { readonly realMs: number; readonly fakeMs: number; readonly wallMs: number }

/** A child that prints performance.now and Date.now every 50 ms of its own (fake) time. */
const childSource = 'setInterval(() => process.stdout.write(`${performance.now()} ${Date.now()}\\n`), 50);';
/** A clock that moved this much more than the fastest rate explains, between two samples, jumped. */
const jumpSlackMs = 100;

/** Least squares slope of the child's clock against real time over the samples in [fromMs, toMs). */
function rate(samples: readonly Sample[], fromMs: number, toMs: number, clock: 'fakeMs' | 'wallMs' = 'fakeMs'): number {
  const s = samples.filter((x) => x.realMs >= fromMs && x.realMs < toMs);
  assert.ok(s.length >= 5, `samples in ${fromMs}..${toMs}: ${s.length}`);
  const mx = s.reduce((a, x) => a + x.realMs, 0) / s.length;
  const my = s.reduce((a, x) => a + x[clock], 0) / s.length;
  const num = s.reduce((a, x) => a + (x.realMs - mx) * (x[clock] - my), 0);
  const den = s.reduce((a, x) => a + (x.realMs - mx) ** 2, 0);
  return num / den;
}

test('a running process\'s clocks and timers change rate and step forward, continuously, when the nemesis says', { skip, timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-clock-'));
  const clock = new ClockControl(faketimeLibrary() as string, dir);
  const child = spawn(process.execPath, ['-e', childSource], { env: { ...process.env, ...clock.envFor('c') }, stdio: ['ignore', 'pipe', 'inherit'] });
  const samples: Sample[] = [];
  let buf = '';
  child.stdout.on('data', (c: Buffer) => {
    const now = performance.now();
    buf += c.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) {
      const [p, d] = l.split(' ').map(Number) as [number, number];
      samples.push({ realMs: now, fakeMs: p, wallMs: d });
    }
  });
  try {
    const t0 = performance.now();
    await sleep(800);
    clock.setRate('c', 1.5);
    const fastAt = performance.now() - t0;
    await sleep(1_200);
    clock.setRate('c', 0.5);
    const slowAt = performance.now() - t0;
    await sleep(1_200);
    clock.normal('c');
    const normalAt = performance.now() - t0;
    await sleep(800);
    clock.step('c', 2_000);
    const stepAt = performance.now() - t0;
    await sleep(600);
    const rel = samples.map((x) => ({ ...x, realMs: x.realMs - t0 }));
    // Rates, a little inside each phase (the child's output reaches us within a few ms).
    const margin = 100;
    const r1 = rate(rel, margin, fastAt);
    const rFast = rate(rel, fastAt + margin, slowAt);
    const rSlow = rate(rel, slowAt + margin, normalAt);
    const rBack = rate(rel, normalAt + margin, stepAt);
    const wallFast = rate(rel, fastAt + margin, slowAt, 'wallMs');
    const why = `rates ${r1} ${rFast} ${rSlow} ${rBack}, wall ${wallFast}`;
    assert.ok(Math.abs(r1 - 1) < 0.1 && Math.abs(rBack - 1) < 0.1, why);
    assert.ok(Math.abs(rFast - 1.5) < 0.15 && Math.abs(wallFast - 1.5) < 0.15, why);
    assert.ok(Math.abs(rSlow - 0.5) < 0.1, why);
    // Timers follow: the child's 50 ms interval fires 1.5× as often when fast, half when slow.
    const count = (a: number, b: number): number => rel.filter((x) => x.realMs >= a && x.realMs < b).length;
    assert.ok(count(fastAt + margin, slowAt) > count(slowAt + margin, normalAt) * 2.2, why);
    // Continuous across rate changes: between two samples the child's clock moved no more than
    // the fastest rate allows for the real time between them (a starved child delays both alike),
    // and never back. Without the offset kept with each rate change, the first change would jump
    // it by 0.5 × 0.8 s, the second back by 1.2 s. The one step is the one asked for.
    const gaps = rel.slice(1).map((x, i) => {
      const prev = rel[i] as Sample;
      return { at: x.realMs, d: x.fakeMs - prev.fakeMs, excess: x.fakeMs - prev.fakeMs - 1.5 * (x.realMs - prev.realMs) };
    });
    assert.ok(gaps.every((g) => g.d > 0), 'the monotonic clock never went back');
    const big = gaps.filter((g) => g.excess > jumpSlackMs);
    assert.equal(big.length, 1, `one jump, the step: ${JSON.stringify(big)}`);
    assert.ok((big[0]?.excess ?? 0) >= 2_000 - jumpSlackMs && (big[0]?.at ?? 0) >= stepAt, JSON.stringify(big));
    assert.ok(Math.abs(clock.aheadMs('c') - (2_000 + 0.5 * (slowAt - fastAt) - 0.5 * (normalAt - slowAt))) < 1, 'the books agree with the rates set');
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Raft's lease is electionTicks − ⌈electionTicks/5⌉ ticks (9 of 12 by default): safe while no
 * clock runs more than 12/9 ≈ 1.33× another. The leader here runs at x0.2 — five times slower
 * than the followers, far beyond that margin — and is cut off from them, so its lease outlives,
 * in real time, the followers' promise not to elect another leader: they elect one, it commits a
 * write, and the old leader, still holding its lease by its slow clock, answers reads with the
 * value before the write. The checker must call that history not linearizable. With the default
 * ReadIndex path the old leader cannot confirm its leadership with a quorum, so the same fault
 * gives no stale read.
 */
const leaderRate = 0.2;
/**
 * Tries at most this many isolations before deciding (each about 1.5 s); the lease run stops at
 * the first stale read, usually the first or second isolation. At x0.5 — beyond the margin too —
 * no stale read came in 12 isolations here: the followers' randomized election timeout (120–240
 * ms), the election and the write took longer than the 180 ms the lease then outlives.
 */
const trialsMax = 8;
/** How long the cut-off leader is read from, per trial: past its lease and its step-down at x0.2. */
const readWindowMs = 1_200;
const readAttemptMs = 300;

async function leaseUnderDrift(leaseReads: boolean): Promise<{ verdict: string; isolations: number; readsOk: number; explanation: string }> {
  const dir = mkdtempSync(join(tmpdir(), `quorate-clock-lease-${leaseReads}-`));
  const cluster = await ChaosCluster.create({
    protocol: 'raft', nodes: 3, dataDir: dir, seed: 1, env: { QUORATE_TEST_MODE: '1' }, echo: false, checkpointEvery: 500,
    leaseReads, tls: false, auth: false, fakeClocks: true,
  });
  const clock = cluster.clock as ClockControl;
  const h = new HistoryLog(performance.now());
  let proc = 0;
  let readsOk = 0;
  const key = 'x';
  // One write, recorded as the client can know it: a refusal (not leader) did nothing, any other
  // failure may have applied (info).
  const put = async (endpoint: string, value: string): Promise<boolean> => {
    const p = proc++;
    h.record(p, 'invoke', 'write', key, value);
    try {
      const r = await fetch(`${endpoint}/v1/kv/${key}`, { method: 'PUT', body: JSON.stringify({ value }), signal: AbortSignal.timeout(1_000) });
      await r.text();
      h.record(p, r.ok ? 'ok' : r.status === 503 ? 'fail' : 'info', 'write', key, value);
      return r.ok;
    } catch {
      h.record(p, 'info', 'write', key, value);
      return false;
    }
  };
  const get = async (endpoint: string): Promise<void> => {
    const p = proc++;
    h.record(p, 'invoke', 'read', key, null);
    try {
      const r = await fetch(`${endpoint}/v1/kv/${key}`, { signal: AbortSignal.timeout(readAttemptMs) });
      const body = await r.json() as { value?: string };
      if (r.ok) readsOk++;
      h.record(p, r.ok ? 'ok' : r.status === 404 ? 'ok' : 'fail', 'read', key, r.ok ? (body.value ?? null) : null);
    } catch {
      h.record(p, 'fail', 'read', key, null);
    }
  };
  try {
    await cluster.start();
    for (let trial = 0; trial < trialsMax; trial++) {
      const old = await cluster.leader(20_000);
      assert.ok(old !== null, 'a leader');
      const endpointOf = (id: string): string => cluster.local.endpoint(id);
      assert.ok(await put(endpointOf(old), `before-${trial}`), 'the first write commits');
      await get(endpointOf(old));
      const others = cluster.ids.filter((id) => id !== old);
      clock.setRate(old, leaderRate);
      cluster.mesh.partition([old], others);
      const cutAt = performance.now();
      // Readers on the old leader, back to back, while a writer finds the new leader.
      const readers = (async () => {
        while (performance.now() - cutAt < readWindowMs) await get(endpointOf(old));
      })();
      const writer = (async () => {
        for (let i = 0; performance.now() - cutAt < readWindowMs; i++) {
          if (await put(endpointOf(others[i % others.length] as string), `after-${trial}`)) return;
          await sleep(5);
        }
      })();
      await Promise.all([readers, writer]);
      clock.normal(old);
      cluster.mesh.heal();
      const r = checkHistory(h.events);
      if (r.verdict === 'not_linearizable') return { verdict: r.verdict, isolations: trial + 1, readsOk, explanation: r.failure?.explanation ?? '' };
      await sleep(300);
    }
    const r = checkHistory(h.events);
    return { verdict: r.verdict, isolations: trialsMax, readsOk, explanation: r.failure?.explanation ?? '' };
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('lease reads with the leader\'s clock at x0.2 (beyond the margin): the checker catches the stale read', { skip, timeout: 120_000 }, async (t) => {
  const r = await leaseUnderDrift(true);
  t.diagnostic(`caught after ${r.isolations} isolation(s), ${r.readsOk} reads answered: ${r.explanation}`);
  assert.equal(r.verdict, 'not_linearizable', `no stale read caught in ${trialsMax} isolations (${r.readsOk} reads answered)`);
  assert.match(r.explanation, /read/);
});

test('the default ReadIndex path under the same drift and cut: every read linearizable', { skip, timeout: 120_000 }, async (t) => {
  const r = await leaseUnderDrift(false);
  t.diagnostic(`${r.isolations} isolations, ${r.readsOk} reads answered`);
  // One read per isolation, before the cut, was answered: the reads were really tried.
  assert.ok(r.readsOk >= r.isolations, `${r.readsOk} reads answered`);
  assert.equal(r.verdict, 'linearizable', r.explanation);
});
