import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError, TooLargeError } from '../../src/core/index.js';
import { decodeCommand, encodeCommand, kvLimits, KvRequestError, type KvCommand, type KvOp } from '../../src/kv/index.js';

const arbKey = fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' });
const arbValue = fc.string({ maxLength: 40, unit: 'grapheme' });
const arbOp: fc.Arbitrary<KvOp> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: arbKey, value: arbValue }),
  fc.record({ op: fc.constant('delete' as const), key: arbKey }),
  fc.record({ op: fc.constant('cas' as const), key: arbKey, expected: fc.option(arbValue, { nil: null }), value: arbValue }),
  fc.record({ op: fc.constant('get' as const), key: arbKey }),
);
const arbCommand: fc.Arbitrary<KvCommand> = fc.record({
  clientId: fc.string({ maxLength: 12 }),
  seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  op: arbOp,
});

test('commands round-trip through the binary encoding', () => {
  fc.assert(fc.property(arbCommand, (c) => assert.deepEqual(decodeCommand(encodeCommand(c)), { ...c, op: { ...c.op } })));
});

test('every strict prefix of an encoded command is refused with DecodeError', () => {
  fc.assert(fc.property(arbCommand, (c) => {
    const b = encodeCommand(c);
    for (let n = 0; n < b.length; n++) assert.throws(() => decodeCommand(b.subarray(0, n)), DecodeError);
  }));
});

test('trailing bytes are refused', () => {
  const b = encodeCommand({ clientId: 'c', seq: 1, op: { op: 'get', key: 'k' } });
  assert.throws(() => decodeCommand(new Uint8Array([...b, 0])), DecodeError);
});

test('random bytes either decode to a command that re-encodes identically or throw DecodeError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
    let c: KvCommand;
    try {
      c = decodeCommand(b);
    } catch (err) {
      assert.ok(err instanceof DecodeError, `unexpected ${String(err)}`);
      return;
    }
    assert.deepEqual(encodeCommand(c), b);
  }), { numRuns: 2000 });
});

test('unknown op tags and versions are named decode errors', () => {
  const b = encodeCommand({ clientId: '', seq: 0, op: { op: 'delete', key: 'k' } });
  const badTag = b.slice();
  badTag[1] = 9;
  assert.throws(() => decodeCommand(badTag), /unknown kv op tag 9/);
  const badVersion = b.slice();
  badVersion[0] = 7;
  assert.throws(() => decodeCommand(badVersion), /unknown kv command version 7/);
});

test('keys must be 1..1024 bytes of UTF-8 and values are bounded', () => {
  assert.throws(() => encodeCommand({ clientId: '', seq: 0, op: { op: 'get', key: '' } }), KvRequestError);
  const longKey = 'é'.repeat(513); // 1026 bytes in UTF-8 although 513 characters
  assert.throws(() => encodeCommand({ clientId: '', seq: 0, op: { op: 'get', key: longKey } }), KvRequestError);
  encodeCommand({ clientId: '', seq: 0, op: { op: 'get', key: 'k'.repeat(kvLimits.keyBytesMax) } });
  const big = 'v'.repeat(kvLimits.valueBytesMax + 1);
  assert.throws(() => encodeCommand({ clientId: '', seq: 0, op: { op: 'put', key: 'k', value: big } }), TooLargeError);
  assert.throws(() => encodeCommand({ clientId: '', seq: 0, op: { op: 'cas', key: 'k', expected: big, value: '' } }), TooLargeError);
  assert.throws(() => encodeCommand({ clientId: '', seq: -1, op: { op: 'get', key: 'k' } }), KvRequestError);
  assert.throws(() => encodeCommand({ clientId: 'x'.repeat(129), seq: 0, op: { op: 'get', key: 'k' } }), KvRequestError);
});

test('a length field larger than the bound is refused before reading it', () => {
  // version, put, clientId "", seq 0, key "k", then a value length of 2^40.
  const b = new Uint8Array([1, 1, 0, 0, 1, 0x6b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
  assert.throws(() => decodeCommand(b), DecodeError);
});
