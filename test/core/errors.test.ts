import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, PeerViolation, QuorateError, peerRule } from '../../src/core/index.js';

test('peerRule passes a kept rule and throws PeerViolation naming the peer for a broken one', () => {
  peerRule(true, 'n2', 'never thrown');
  assert.throws(() => peerRule(false, 'n2', () => 'two leaders in term 3'), (err: unknown) => {
    assert.ok(err instanceof PeerViolation && err instanceof QuorateError);
    assert.equal(err.code, ErrorCode.PeerViolation);
    assert.equal(err.peer, 'n2');
    assert.equal(err.message, 'n2: two leaders in term 3');
    return true;
  });
});
