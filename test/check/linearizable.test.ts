import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkHistory, checkOperations, reportHtml, type HistoryEvent, type Scalar } from '../../src/check/index.js';
import { HistoryBuilder } from './histories.js';

const verdict = (h: HistoryBuilder | HistoryEvent[]): string =>
  checkHistory(Array.isArray(h) ? h : h.events()).verdict;

test('concurrent write and reads may see either value', () => {
  const h = new HistoryBuilder()
    .write(0, 'x', 1, 0, 10)
    .write(1, 'x', 2, 20, 60)
    .read(2, 'x', 2, 25, 35)
    .read(3, 'x', 2, 40, 50)
    .read(4, 'x', 2, 70, 80);
  assert.equal(verdict(h), 'linearizable');
  const h2 = new HistoryBuilder().write(0, 'x', 1, 0, 10).write(1, 'x', 2, 20, 60).read(2, 'x', 1, 25, 35).read(3, 'x', 2, 40, 50);
  assert.equal(verdict(h2), 'linearizable');
});

test('stale read fails', () => {
  const h = new HistoryBuilder().write(0, 'x', 1, 0, 10).write(0, 'x', 2, 20, 30).read(1, 'x', 1, 40, 50);
  const r = checkHistory(h.events());
  assert.equal(r.verdict, 'not_linearizable');
  assert.equal(r.failure?.key, 'x');
  assert.equal(r.failure?.stuck?.f, 'read');
});

test('a read that un-sees a newer value fails (reads must not go backwards)', () => {
  const h = new HistoryBuilder().write(0, 'x', 1, 0, 10).write(1, 'x', 2, 20, 100).read(2, 'x', 2, 30, 40).read(3, 'x', 1, 50, 60);
  assert.equal(verdict(h), 'not_linearizable');
});

test('lost write fails', () => {
  const h = new HistoryBuilder().write(0, 'x', 1, 0, 10).read(1, 'x', null, 20, 30);
  assert.equal(verdict(h), 'not_linearizable');
});

test('write-after-read reorder fails: a read cannot see a write invoked after it returned', () => {
  const h = new HistoryBuilder().write(0, 'x', 1, 0, 10).read(1, 'x', 2, 20, 30).write(2, 'x', 2, 40, 50);
  assert.equal(verdict(h), 'not_linearizable');
});

test('cas anomaly fails: two successful cas from the same expected value', () => {
  const h = new HistoryBuilder().write(0, 'x', 1, 0, 10)
    .op(1, 'cas', 'x', [1, 2], 20, 30)
    .op(2, 'cas', 'x', [1, 3], 40, 50);
  assert.equal(verdict(h), 'not_linearizable');
  const ok = new HistoryBuilder().write(0, 'x', 1, 0, 10)
    .op(1, 'cas', 'x', [1, 2], 20, 30)
    .op(2, 'cas', 'x', [2, 3], 40, 50)
    .op(3, 'cas', 'x', [1, 4], 60, 70, 'fail')
    .read(4, 'x', 3, 80, 90);
  assert.equal(verdict(ok), 'linearizable');
});

test('cas from absent and delete make the key absent again', () => {
  const h = new HistoryBuilder().op(0, 'cas', 'x', [null, 'a'], 0, 10)
    .op(1, 'delete', 'x', null, 20, 30)
    .read(2, 'x', null, 40, 50)
    .op(3, 'cas', 'x', [null, 'b'], 60, 70)
    .read(4, 'x', 'b', 80, 90);
  assert.equal(verdict(h), 'linearizable');
  const bad = new HistoryBuilder().write(0, 'x', 'a', 0, 10).op(1, 'delete', 'x', null, 20, 30).read(2, 'x', 'a', 40, 50);
  assert.equal(verdict(bad), 'not_linearizable');
});

test('info writes may take effect any time after their call, or never', () => {
  const late = new HistoryBuilder().write(0, 'x', 1, 0, 5, 'info').read(1, 'x', null, 10, 20).read(2, 'x', 1, 30, 40);
  assert.equal(verdict(late), 'linearizable');
  const never = new HistoryBuilder().write(0, 'x', 1, 0, 5, 'info').read(1, 'x', null, 10, 20);
  assert.equal(verdict(never), 'linearizable');
  // Once seen it stays: a later read of the older value is a violation.
  const flicker = new HistoryBuilder().write(9, 'x', 0, 0, 1).write(0, 'x', 1, 2, 5, 'info').read(1, 'x', 1, 10, 20).read(2, 'x', 0, 30, 40);
  assert.equal(verdict(flicker), 'not_linearizable');
  // Not before its call.
  const early = new HistoryBuilder().read(1, 'x', 1, 0, 10).write(0, 'x', 1, 20, 25, 'info');
  assert.equal(verdict(early), 'not_linearizable');
});

test('an invocation never completed counts as info', () => {
  const events: HistoryEvent[] = [
    { process: 0, type: 'invoke', f: 'write', key: 'x', value: 7, time: 0 },
    { process: 1, type: 'invoke', f: 'read', key: 'x', value: null, time: 10 },
    { process: 1, type: 'ok', f: 'read', key: 'x', value: 7, time: 20 },
  ];
  assert.equal(verdict(events), 'linearizable');
});

test('failed operations are dropped', () => {
  assert.equal(verdict(new HistoryBuilder().write(0, 'x', 1, 0, 10, 'fail').read(1, 'x', null, 20, 30)), 'linearizable');
  assert.equal(verdict(new HistoryBuilder().write(0, 'x', 1, 0, 10, 'fail').read(1, 'x', 1, 20, 30)), 'not_linearizable');
});

test('keys are independent registers', () => {
  const h = new HistoryBuilder().write(0, 'x', 1, 0, 10).write(1, 'y', 2, 0, 10).read(2, 'x', 1, 20, 30).read(3, 'y', 2, 20, 30).read(4, 'z', null, 20, 30);
  const r = checkHistory(h.events());
  assert.equal(r.verdict, 'linearizable');
  assert.equal(r.keys, 3);
  const bad = new HistoryBuilder().write(0, 'x', 1, 0, 10).read(1, 'y', 1, 20, 30);
  assert.equal(checkHistory(bad.events()).failure?.key, 'y');
});

test('the witness is small and itself not linearizable; the HTML draws it', () => {
  const b = new HistoryBuilder();
  for (let i = 0; i < 40; i++) b.write(i, 'x', i, i * 10, i * 10 + 5).read(100 + i, 'x', i, i * 10 + 6, i * 10 + 8);
  b.read(500, 'x', 3, 1000, 1010); // stale
  const r = checkHistory(b.events());
  assert.equal(r.verdict, 'not_linearizable');
  const w = r.failure!.operations;
  assert.ok(w.length <= 3, `witness of ${w.length} ops`);
  const html = reportHtml(r);
  assert.match(html, /<svg/);
  assert.match(html, /process 500/);
  assert.match(html, /stroke="#d00"/);
});

/**
 * Histories from a sequential execution on one register: each op takes effect at time 10*i and
 * its interval is stretched randomly around that point, so intervals overlap. info ops may or may
 * not have taken effect; fail ops did not.
 */
interface GenOp { kind: 'read' | 'write' | 'delete' | 'cas'; val: number; exp: number | null; before: number; after: number; outcome: 'ok' | 'info' | 'fail' }
const arbGen = fc.array(fc.record({
  kind: fc.constantFrom<GenOp['kind']>('read', 'write', 'delete', 'cas', 'read'),
  val: fc.nat(5),
  exp: fc.option(fc.nat(5), { nil: null }),
  before: fc.nat(25),
  after: fc.nat(25),
  outcome: fc.constantFrom<GenOp['outcome']>('ok', 'ok', 'ok', 'info', 'fail'),
}), { minLength: 1, maxLength: 40 });

function generate(gen: GenOp[], perturb: number | null): HistoryEvent[] {
  let state: Scalar = null;
  let writes = 0;
  const events: HistoryEvent[] = [];
  gen.forEach((g, i) => {
    const t = 10 * i + 30;
    const call = t - g.before;
    const ret = t + g.after;
    const p = i;
    if (g.kind === 'read') {
      let saw: Scalar = state;
      if (perturb === i) saw = 'never-written';
      events.push({ process: p, type: 'invoke', f: 'read', key: 'k', value: null, time: call });
      events.push({ process: p, type: g.outcome === 'info' && perturb !== i ? 'info' : 'ok', f: 'read', key: 'k', value: g.outcome === 'info' && perturb !== i ? null : saw, time: ret });
      return;
    }
    const value = `w${writes++}`;
    const happens = g.outcome === 'ok' || (g.outcome === 'info' && g.val % 2 === 0);
    if (g.kind === 'cas') {
      const expected: Scalar = g.exp === null ? null : state;
      const succeeds = expected === state && g.outcome !== 'fail';
      events.push({ process: p, type: 'invoke', f: 'cas', key: 'k', value: [expected, value], time: call });
      events.push({ process: p, type: succeeds ? g.outcome : 'fail', f: 'cas', key: 'k', value: [expected, value], time: ret });
      if (succeeds && happens) state = value;
      return;
    }
    const f = g.kind;
    events.push({ process: p, type: 'invoke', f, key: 'k', value: f === 'write' ? value : null, time: call });
    events.push({ process: p, type: g.outcome, f, key: 'k', value: f === 'write' ? value : null, time: ret });
    if (happens) state = f === 'write' ? value : null;
  });
  return events.sort((a, b) => a.time - b.time);
}

test('property: histories from a sequential execution with random overlaps are linearizable', () => {
  fc.assert(fc.property(arbGen, (gen) => {
    const r = checkHistory(generate(gen, null));
    assert.equal(r.verdict, 'linearizable', JSON.stringify(r.failure));
  }), { numRuns: 300 });
});

test('property: a read of a value never current makes the history fail', () => {
  fc.assert(fc.property(arbGen, fc.nat(), (gen, pick) => {
    const reads = gen.flatMap((g, i) => (g.kind === 'read' ? [i] : []));
    fc.pre(reads.length > 0);
    const target = reads[pick % reads.length]!;
    const r = checkHistory(generate(gen, target));
    assert.equal(r.verdict, 'not_linearizable');
    assert.equal(checkOperations(r.failure!.operations).verdict, 'not_linearizable');
  }), { numRuns: 300 });
});

test('property: a stale read (a value overwritten before the read began) fails', () => {
  fc.assert(fc.property(fc.integer({ min: 2, max: 30 }), fc.nat(), (n, pick) => {
    const b = new HistoryBuilder();
    for (let i = 0; i < n; i++) b.write(i, 'k', i, i * 10, i * 10 + 5);
    const stale = pick % (n - 1);
    b.read(100, 'k', stale, n * 10, n * 10 + 5);
    assert.equal(checkHistory(b.events()).verdict, 'not_linearizable');
  }));
});

test('the search gives up with unknown past its step budget rather than running forever', () => {
  // 20 concurrent writes, each read by a concurrent read: any order of the 40 is possible, so
  // proving that no order ends in 3 with 5 still to come means visiting exponentially many.
  const b = new HistoryBuilder();
  for (let i = 0; i < 20; i++) b.write(i, 'k', i, 0, 1000).read(100 + i, 'k', i, 0, 1000);
  b.read(98, 'k', 3, 1001, 1002).read(99, 'k', 5, 1003, 1004);
  const r = checkHistory(b.events(), { stepsMaxPerKey: 1000 });
  assert.equal(r.verdict, 'unknown');
  assert.deepEqual(r.unknownKeys, ['k']);
  assert.equal(r.ok, false);
});
