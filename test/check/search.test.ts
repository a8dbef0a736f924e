import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkOperations, type Operation, type Scalar } from '../../src/check/index.js';
import { prepare, segments } from '../../src/check/register.js';
import { referenceLinearizable } from './reference.js';

/**
 * The checker's verdict against a brute-force reference (test/check/reference.ts) on small
 * random histories: every rule that shrinks a history before the search (register.ts), the cut
 * at quiescent points, and the prunings inside the search (search.ts) must keep the verdict
 * exactly. Histories are arbitrary, not made from a legal execution, so both verdicts come up;
 * values come from a tiny domain, so reads of unwritten values, repeated values and chains of
 * info ops are common.
 */

interface RawOp { f: Operation['f']; a: number; b: number; call: number; len: number; info: boolean; key: number }

const arbOp = (values: number, keys = 2): fc.Arbitrary<RawOp> => fc.record({
  f: fc.constantFrom<Operation['f']>('read', 'read', 'write', 'write', 'cas', 'delete'),
  a: fc.nat(values),
  b: fc.nat(values),
  call: fc.nat(24),
  len: fc.nat(10),
  info: fc.boolean().chain((x) => (x ? fc.boolean() : fc.constant(false))),
  key: fc.nat(keys - 1),
});

/** Value 0 stands for absent. Unique mode: each write or cas writes its own value. */
function toOps(raw: readonly RawOp[], unique: boolean): Operation[] {
  const v = (n: number): Scalar => (n === 0 ? null : n);
  return raw.map((r, i) => {
    const written = unique ? 100 + i : r.b === 0 ? 1 : r.b;
    const value: Operation['value'] = r.f === 'read' ? (r.info ? null : v(r.a))
      : r.f === 'write' ? written
        : r.f === 'cas' ? [unique && r.a !== 0 ? 100 + (r.a % Math.max(1, i)) : v(r.a), written] as const
          : null;
    return {
      id: i, process: i, f: r.f, key: `k${r.key}`, value, status: r.info ? 'info' : 'ok',
      call: r.call, ret: r.info ? Number.POSITIVE_INFINITY : r.call + r.len,
    };
  });
}

function agrees(ops: Operation[]): void {
  const want = referenceLinearizable(ops) ? 'linearizable' : 'not_linearizable';
  const got = checkOperations(ops, { shrinkChecksMax: 0 }).verdict;
  assert.equal(got, want, JSON.stringify(ops.map((o) => ({ ...o, ret: Number.isFinite(o.ret) ? o.ret : 'inf' }))));
}

test('property: the verdict equals the brute-force reference (small value domain)', () => {
  fc.assert(fc.property(fc.array(arbOp(3), { minLength: 1, maxLength: 8 }), (raw) => agrees(toOps(raw, false))), { numRuns: 4000 });
});

test('property: the verdict equals the brute-force reference (unique values, as in chaos)', () => {
  fc.assert(fc.property(fc.array(arbOp(6), { minLength: 1, maxLength: 8 }), (raw) => agrees(toOps(raw, true))), { numRuns: 4000 });
});

test('property: the verdict equals the brute-force reference (one key, more overlap)', () => {
  fc.assert(fc.property(fc.array(arbOp(3, 1), { minLength: 6, maxLength: 10 }), (raw) => agrees(toOps(raw, false))), { numRuns: 3000 });
});

const op = (id: number, f: Operation['f'], value: Operation['value'], call: number, ret: number, status: Operation['status'] = 'ok'): Operation =>
  ({ id, process: id, f, key: 'x', value, status, call, ret: status === 'info' ? Number.POSITIVE_INFINITY : ret });

test('an info op nobody observes is dropped; one an ok read observes gets that read\'s return as its deadline', () => {
  const ops = [
    op(0, 'write', 'a', 0, 0, 'info'),
    op(1, 'write', 'b', 5, 0, 'info'),
    op(2, 'read', 'b', 10, 20),
  ];
  const p = prepare(ops);
  assert.deepEqual(p.origin, [1, 2]);
  assert.equal(p.ops[0]?.status, 'ok');
  assert.equal(p.ops[0]?.ret, 20);
  // Observed only by a read that returned before the write was called: impossible.
  assert.deepEqual(prepare([op(0, 'read', 'b', 0, 3), op(1, 'write', 'b', 5, 0, 'info')]).impossible, { stuck: 0 });
});

test('an unread write that encloses another write is dropped; two such writes never justify each other', () => {
  const enclosing = prepare([op(0, 'write', 'a', 0, 100), op(1, 'write', 'b', 10, 20), op(2, 'read', 'b', 30, 40)]);
  assert.deepEqual(enclosing.origin, [1, 2]);
  const twins = prepare([op(0, 'write', 'a', 0, 100), op(1, 'write', 'b', 0, 100)]);
  assert.equal(twins.ops.length, 1, 'one of the twins rests on the other, which stays');
});

test('segments are cut where no ok op is open; info ops go to the segment they were called in', () => {
  const ops = [
    op(0, 'write', 'a', 0, 10),
    op(1, 'read', 'a', 5, 12),
    op(2, 'write', 'b', 11, 0, 'info'),
    op(3, 'write', 'c', 13, 20), // starts after every ok op so far returned: a cut
    op(4, 'read', 'c', 20, 30), // touches op 3's return: no cut
    op(5, 'read', 'c', 31, 40),
  ];
  assert.deepEqual(segments(ops), [[0, 1, 2], [3, 4], [5]]);
});

test('how many info deletes are still pending at a cut matters: a configuration with fewer never stands for one with more', () => {
  // Before the cut, both unknown deletes may still be pending, or the first may have landed
  // between the write and the acknowledged delete. After it, the key must become absent twice
  // more, which only both unknown deletes can do.
  const ops = [
    op(0, 'write', 'a', 0, 10),
    op(1, 'delete', null, 1, 0, 'info'),
    op(2, 'delete', null, 2, 0, 'info'),
    op(3, 'delete', null, 11, 20),
    op(4, 'write', 'b', 30, 40),
    op(5, 'read', null, 41, 42),
    op(6, 'write', 'c', 43, 44),
    op(7, 'read', null, 45, 46),
  ];
  assert.equal(checkOperations(ops).verdict, 'linearizable');
  assert.equal(referenceLinearizable(ops), true);
  assert.equal(checkOperations(ops.filter((o) => o.id !== 2)).verdict, 'not_linearizable');
});
