import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AssertionFailure, CorruptionError, DecodeError, EntryType, encodeBatch } from '../../src/core/index.js';
import { KvStateMachine, encodeCommand, type KvCommand, type KvOp, type KvResult } from '../../src/kv/index.js';

const cmd = (clientId: string, seq: number, op: KvOp): Uint8Array => encodeCommand({ clientId, seq, op });

const arbOp: fc.Arbitrary<KvOp> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: fc.constantFrom('a', 'b', 'c'), value: fc.constantFrom('1', '2', '3') }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom('a', 'b', 'c') }),
  fc.record({
    op: fc.constant('cas' as const), key: fc.constantFrom('a', 'b', 'c'),
    expected: fc.constantFrom(null, '1', '2'), value: fc.constantFrom('1', '2', '3'),
  }),
  fc.record({ op: fc.constant('get' as const), key: fc.constantFrom('a', 'b', 'c') }),
);
const arbCommands: fc.Arbitrary<KvCommand[]> = fc.array(
  fc.record({ clientId: fc.constantFrom('', 'c1', 'c2', 'c3'), op: arbOp }), { maxLength: 60 },
).map((xs) => {
  const seqs = new Map<string, number>();
  return xs.map(({ clientId, op }) => {
    const seq = (seqs.get(clientId) ?? 0) + 1;
    seqs.set(clientId, seq);
    return { clientId, seq, op };
  });
});

/** The obvious model: a Map, no sessions. */
function modelApply(model: Map<string, { value: string; revision: number }>, index: number, op: KvOp): KvResult {
  const prev = model.get(op.key);
  switch (op.op) {
    case 'put':
      model.set(op.key, { value: op.value, revision: index });
      return { ok: true, value: op.value, revision: index };
    case 'delete':
      model.delete(op.key);
      return { ok: true, value: prev?.value ?? null, revision: index };
    case 'get':
      return { ok: true, value: prev?.value ?? null, revision: prev?.revision ?? 0 };
    case 'cas':
      if ((prev?.value ?? null) !== op.expected) {
        return { ok: false, reason: 'cas_mismatch', value: prev?.value ?? null, revision: prev?.revision ?? 0 };
      }
      model.set(op.key, { value: op.value, revision: index });
      return { ok: true, value: op.value, revision: index };
  }
}

test('the state machine agrees with a map model on every result', () => {
  fc.assert(fc.property(arbCommands, (cs) => {
    const sm = new KvStateMachine();
    const model = new Map<string, { value: string; revision: number }>();
    cs.forEach((c, i) => assert.deepEqual(sm.apply(i + 1, encodeCommand(c)), modelApply(model, i + 1, c.op as KvOp)));
    assert.equal(sm.size, model.size);
    for (const [k, v] of model) assert.deepEqual(sm.get(k), v);
    assert.equal(sm.appliedIndex, cs.length);
  }));
});

test('determinism: the same log gives the same bytes and hash', () => {
  fc.assert(fc.property(arbCommands, (cs) => {
    const a = new KvStateMachine();
    const b = new KvStateMachine();
    cs.forEach((c, i) => {
      a.apply(i + 1, encodeCommand(c));
      b.apply(i + 1, encodeCommand(c));
    });
    assert.deepEqual(a.snapshot(), b.snapshot());
    assert.equal(a.stateHash(), b.stateHash());
    assert.match(a.stateHash(), /^[0-9a-f]{32}$/);
  }));
});

test('snapshot and restore round-trip, and the restored machine continues identically', () => {
  fc.assert(fc.property(arbCommands, arbCommands, fc.integer({ min: 1, max: 4 }), (before, after, sessionsMax) => {
    const a = new KvStateMachine({ sessionsMax });
    before.forEach((c, i) => a.apply(i + 1, encodeCommand(c)));
    const b = KvStateMachine.restore(a.snapshot(), { sessionsMax });
    assert.deepEqual(b.snapshot(), a.snapshot());
    assert.equal(b.stateHash(), a.stateHash());
    assert.equal(b.appliedIndex, a.appliedIndex);
    // Continue both with retries of the earlier commands and new ones: same results throughout.
    const tail = [...before.slice(-5), ...after];
    tail.forEach((c, i) => {
      const idx = before.length + i + 1;
      assert.deepEqual(b.apply(idx, encodeCommand(c)), a.apply(idx, encodeCommand(c)));
    });
    assert.equal(b.stateHash(), a.stateHash());
  }));
});

test('exactly-once: retrying every session command anywhere later changes nothing', () => {
  fc.assert(fc.property(arbCommands, fc.array(fc.nat(), { maxLength: 30 }), (cs, retryPicks) => {
    const once = new KvStateMachine();
    cs.forEach((c, i) => once.apply(i + 1, encodeCommand(c)));
    // Interleave: after each command, maybe retry the latest command of some session.
    const twice = new KvStateMachine();
    const latest = new Map<string, KvCommand>();
    const firstResult = new Map<string, KvResult>();
    let index = 0;
    let pick = 0;
    for (const c of cs) {
      const r = twice.apply(++index, encodeCommand(c));
      if (c.clientId !== '') {
        latest.set(c.clientId, c);
        firstResult.set(c.clientId, r);
      }
      const p = retryPicks[pick++];
      if (p === undefined || latest.size === 0) continue;
      const ids = [...latest.keys()].sort();
      const id = ids[p % ids.length]!;
      assert.deepEqual(twice.apply(++index, encodeCommand(latest.get(id)!)), firstResult.get(id));
    }
    for (const k of ['a', 'b', 'c']) assert.equal(twice.get(k)?.value ?? null, once.get(k)?.value ?? null);
  }));
});

test('a retried put is applied once even after another client overwrote the key', () => {
  const sm = new KvStateMachine();
  assert.deepEqual(sm.apply(1, cmd('c1', 1, { op: 'put', key: 'x', value: 'A' })), { ok: true, value: 'A', revision: 1 });
  sm.apply(2, cmd('c2', 1, { op: 'put', key: 'x', value: 'B' }));
  assert.deepEqual(sm.apply(3, cmd('c1', 1, { op: 'put', key: 'x', value: 'A' })), { ok: true, value: 'A', revision: 1 });
  assert.deepEqual(sm.get('x'), { value: 'B', revision: 2 });
  // An older seq than the last one applied is a late retry: nothing changes.
  sm.apply(4, cmd('c1', 2, { op: 'delete', key: 'y' }));
  assert.deepEqual(sm.apply(5, cmd('c1', 1, { op: 'put', key: 'x', value: 'A' })), { ok: true, value: 'B', revision: 2 });
  assert.deepEqual(sm.get('x'), { value: 'B', revision: 2 });
  // No session: applied every time.
  sm.apply(6, cmd('', 1, { op: 'put', key: 'x', value: 'C' }));
  sm.apply(7, cmd('c2', 2, { op: 'put', key: 'x', value: 'D' }));
  sm.apply(8, cmd('', 1, { op: 'put', key: 'x', value: 'C' }));
  assert.deepEqual(sm.get('x'), { value: 'C', revision: 8 });
});

test('cas compares against absent and present values', () => {
  const sm = new KvStateMachine();
  assert.deepEqual(sm.apply(1, cmd('', 0, { op: 'cas', key: 'k', expected: 'v', value: 'w' })),
    { ok: false, reason: 'cas_mismatch', value: null, revision: 0 });
  assert.deepEqual(sm.apply(2, cmd('', 0, { op: 'cas', key: 'k', expected: null, value: 'v' })), { ok: true, value: 'v', revision: 2 });
  assert.deepEqual(sm.apply(3, cmd('', 0, { op: 'cas', key: 'k', expected: null, value: 'z' })),
    { ok: false, reason: 'cas_mismatch', value: 'v', revision: 2 });
  assert.deepEqual(sm.apply(4, cmd('', 0, { op: 'delete', key: 'k' })), { ok: true, value: 'v', revision: 4 });
  assert.equal(sm.get('k'), null);
});

test('sessions are bounded and the least recently used is evicted deterministically', () => {
  const sm = new KvStateMachine({ sessionsMax: 2 });
  sm.apply(1, cmd('a', 1, { op: 'put', key: 'k', value: '1' }));
  sm.apply(2, cmd('b', 1, { op: 'put', key: 'k', value: '2' }));
  sm.apply(3, cmd('a', 2, { op: 'put', key: 'k', value: '3' })); // a is now the most recent
  sm.apply(4, cmd('c', 1, { op: 'put', key: 'k', value: '4' })); // evicts b
  assert.equal(sm.sessionCount, 2);
  // a's retry is still deduplicated; b's is not (its session is gone), so it applies again.
  sm.apply(5, cmd('a', 2, { op: 'put', key: 'k', value: '3' }));
  assert.equal(sm.get('k')?.value, '4');
  sm.apply(6, cmd('b', 1, { op: 'put', key: 'k', value: '2' }));
  assert.equal(sm.get('k')?.value, '2');
});

test('indexes must increase; skip advances without a command', () => {
  const sm = new KvStateMachine();
  sm.skip(3);
  assert.equal(sm.appliedIndex, 3);
  assert.throws(() => sm.apply(3, cmd('', 0, { op: 'get', key: 'k' })), AssertionFailure);
  assert.throws(() => sm.skip(2), AssertionFailure);
  sm.apply(5, cmd('', 0, { op: 'put', key: 'k', value: 'v' }));
  assert.deepEqual(sm.get('k'), { value: 'v', revision: 5 });
});

test('malformed command bytes throw DecodeError and change nothing', () => {
  const sm = new KvStateMachine();
  sm.apply(1, cmd('c', 1, { op: 'put', key: 'k', value: 'v' }));
  const before = sm.stateHash();
  assert.throws(() => sm.apply(2, new Uint8Array([1, 99])), DecodeError);
  assert.throws(() => sm.applyEntry({ index: 2, id: 1, type: EntryType.Batch, data: new Uint8Array([5, 1]) }), DecodeError);
  assert.equal(sm.stateHash(), before);
  assert.equal(sm.appliedIndex, 1);
});

test('applyEntry handles normal, batch, no-op and config entries', () => {
  const sm = new KvStateMachine();
  const put = (k: string, v: string): Uint8Array => cmd('', 0, { op: 'put', key: k, value: v });
  assert.equal(sm.applyEntry({ index: 1, id: 1, type: EntryType.Noop, data: new Uint8Array() }).length, 0);
  assert.equal(sm.applyEntry({ index: 2, id: 1, type: EntryType.Normal, data: put('a', '1') }).length, 1);
  const rs = sm.applyEntry({ index: 3, id: 1, type: EntryType.Batch, data: encodeBatch([put('a', '2'), put('b', '3')]) });
  assert.deepEqual(rs, [{ ok: true, value: '2', revision: 3 }, { ok: true, value: '3', revision: 3 }]);
  assert.equal(sm.appliedIndex, 3);
  sm.applyEntry({ index: 4, id: 1, type: EntryType.Config, data: new Uint8Array() });
  assert.equal(sm.appliedIndex, 4);
});

test('every single bit flip in a snapshot is detected', () => {
  const sm = new KvStateMachine();
  sm.apply(1, cmd('c1', 1, { op: 'put', key: 'alpha', value: 'one' }));
  sm.apply(2, cmd('c2', 1, { op: 'cas', key: 'beta', expected: null, value: 'two' }));
  const snap = sm.snapshot();
  for (let bit = 0; bit < snap.length * 8; bit++) {
    const bad = snap.slice();
    bad[bit >> 3]! ^= 1 << (bit & 7);
    assert.throws(() => KvStateMachine.restore(bad), CorruptionError, `bit ${bit}`);
  }
  for (let n = 0; n < snap.length; n++) {
    assert.throws(() => KvStateMachine.restore(snap.subarray(0, n)), (e) => e instanceof DecodeError || e instanceof CorruptionError);
  }
});

test('different states hash differently', () => {
  const a = new KvStateMachine();
  const b = new KvStateMachine();
  a.apply(1, cmd('', 0, { op: 'put', key: 'k', value: 'v1' }));
  b.apply(1, cmd('', 0, { op: 'put', key: 'k', value: 'v2' }));
  assert.notEqual(a.stateHash(), b.stateHash());
});
