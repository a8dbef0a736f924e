import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SendQueue, batchBytes } from '../../src/transport/send-queue.js';
import { decodeFrames } from '../../src/transport/frame.js';
import { resolveLimits } from '../../src/transport/limits.js';

const limits = resolveLimits({ maxFrameBytes: 200_000, maxQueuedFrames: 1000, maxQueuedBytes: 1_000_000 });

function drain(q: SendQueue): Buffer[] {
  const out: Buffer[] = [];
  for (let b = q.take(); b !== null; b = q.take()) out.push(Buffer.from(b));
  return out;
}

test('property: whatever is pushed comes out as the same frames, in order, with exact accounting', () => {
  const arbOp = fc.oneof(
    fc.record({ push: fc.uint8Array({ maxLength: 3000 }), group: fc.nat({ max: 0xfffffffe }) }),
    fc.record({ big: fc.integer({ min: batchBytes - 20, max: batchBytes + 20 }) }),
    fc.constant({ take: true }),
  );
  fc.assert(fc.property(fc.array(arbOp, { maxLength: 60 }), (ops) => {
    const q = new SendQueue(limits);
    const want: Array<{ group: number; payload: Buffer }> = [];
    const wire: Buffer[] = [];
    let frames = 0;
    let bytes = 0;
    for (const op of ops) {
      if ('take' in op) {
        const b = q.take();
        if (b !== null) wire.push(Buffer.from(b));
        continue;
      }
      const payload = 'push' in op ? op.push : new Uint8Array(op.big).fill(3);
      const group = 'push' in op ? op.group : 1;
      const ok = q.push(group, payload);
      assert.equal(ok, frames + 1 <= 1000 && bytes + payload.length <= 1_000_000);
      if (ok) {
        want.push({ group, payload: Buffer.from(payload) });
        frames++;
        bytes += payload.length;
      }
      // Accounting covers only what has not been taken yet.
      assert.ok(q.frames <= frames && q.payloadBytes <= bytes);
    }
    wire.push(...drain(q));
    assert.equal(q.frames, 0);
    assert.equal(q.payloadBytes, 0);
    const got = decodeFrames(wire, limits.maxFrameBytes);
    assert.equal(got.length, want.length);
    got.forEach((f, i) => {
      assert.equal(f.group, want[i]!.group);
      assert.ok(want[i]!.payload.equals(f.payload), `payload ${i}`);
    });
  }), { numRuns: 150 });
});

test('the caller may reuse its buffer right after push', () => {
  const q = new SendQueue(limits);
  const buf = new Uint8Array([1, 2, 3]);
  q.push(0, buf);
  buf.fill(9);
  const f = decodeFrames(drain(q), 100);
  assert.deepEqual([...f[0]!.payload], [1, 2, 3]);
});

test('bounds refuse and change nothing; clear reports what it dropped', () => {
  const q = new SendQueue(resolveLimits({ maxFrameBytes: 10, maxQueuedFrames: 3, maxQueuedBytes: 20 }));
  assert.equal(q.push(0, new Uint8Array(11)), false);
  assert.equal(q.push(0, new Uint8Array(10)), true);
  assert.equal(q.push(0, new Uint8Array(10)), true);
  assert.equal(q.push(0, new Uint8Array(1)), false, 'bytes bound');
  assert.equal(q.push(0, new Uint8Array(0)), true);
  assert.equal(q.push(0, new Uint8Array(0)), false, 'frames bound');
  assert.equal(q.frames, 3);
  assert.equal(q.payloadBytes, 20);
  assert.equal(q.clear(), 3);
  assert.equal(q.take(), null);
});

test('small frames share a batch: a thousand frames are one buffer', () => {
  const q = new SendQueue(limits);
  for (let i = 0; i < 1000; i++) q.push(0, new Uint8Array(20));
  const out = drain(q);
  assert.equal(out.length, 1);
  assert.equal(decodeFrames(out, 100).length, 1000);
});

test('taken bytes are never overwritten by later pushes (the spare tail is reused safely)', () => {
  const q = new SendQueue(limits);
  q.push(1, new Uint8Array([1, 1, 1]));
  const first = q.take()!;
  const copy = Buffer.from(first);
  for (let i = 0; i < 100; i++) q.push(2, new Uint8Array(100).fill(i));
  const rest = drain(q);
  assert.ok(first.equals(copy), 'the taken view is untouched');
  assert.equal(decodeFrames([first, ...rest], 1000).length, 101);
});
