import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError, DecodeError, QuorateError } from '../../src/core/index.js';
import {
  RefuseReason, decodeHello, decodeProof, decodeReply, encodeHello, encodeProof, encodeReply, handshakeProof, helloVersion, judgeAccept,
  judgeHello, newNonce, nonceBytes, proofBytes, proofMatches, publicDetail, wireVersion, type LocalIdentity,
} from '../../src/transport/handshake.js';
import { Backoff } from '../../src/transport/backoff.js';
import { LogThrottle } from '../../src/transport/log-throttle.js';

const local: LocalIdentity = { version: wireVersion, clusterId: 'prod', id: 'n1', members: new Set(['n2', 'n3']) };
const hello = { version: wireVersion, clusterId: 'prod', from: 'n2', to: 'n1', nonce: new Uint8Array(nonceBytes).fill(7) };

test('hello, replies and proofs round-trip; a refusal carries no cluster id or node id', () => {
  assert.deepEqual(decodeHello(encodeHello(hello)), hello);
  assert.equal(helloVersion(encodeHello(hello)), wireVersion);
  const accept = { kind: 'accept', version: wireVersion, clusterId: 'prod', id: 'n1' } as const;
  assert.deepEqual(decodeReply(encodeReply(accept)), accept);
  const challenge = { kind: 'challenge', nonce: new Uint8Array(nonceBytes).fill(1), proof: new Uint8Array(proofBytes).fill(2) } as const;
  assert.deepEqual(decodeReply(encodeReply(challenge)), challenge);
  const refuse = { kind: 'refuse', version: wireVersion, reason: RefuseReason.WrongCluster, detail: publicDetail(RefuseReason.WrongCluster) } as const;
  assert.deepEqual(decodeReply(encodeReply(refuse)), refuse);
  const wire = Buffer.from(encodeReply(refuse)).toString('latin1');
  assert.ok(!wire.includes('prod') && !wire.includes('n1'), wire);
  for (const reason of Object.values(RefuseReason)) assert.doesNotMatch(publicDetail(reason), /prod|n1|n2/);
  const proof = new Uint8Array(proofBytes).fill(9);
  assert.deepEqual(decodeProof(encodeProof(proof)), proof);
});

test('handshake proofs: the secret, the role, both nonces, both ids and the cluster id all count', () => {
  const secret = new TextEncoder().encode('a-cluster-secret-of-some-length');
  const t = { clusterId: 'prod', dialer: 'n2', listener: 'n1', dialerNonce: new Uint8Array(nonceBytes).fill(1), listenerNonce: new Uint8Array(nonceBytes).fill(2) };
  const p = handshakeProof(secret, 'dialer', t);
  assert.equal(p.length, proofBytes);
  assert.equal(proofMatches(secret, 'dialer', t, p), true);
  assert.equal(proofMatches(secret, 'listener', t, p), false, 'a dialer proof is no listener proof (no reflection)');
  assert.equal(proofMatches(new TextEncoder().encode('another-secret-of-some-length!'), 'dialer', t, p), false);
  for (const change of [{ clusterId: 'staging' }, { dialer: 'n3' }, { listener: 'n3' },
    { dialerNonce: new Uint8Array(nonceBytes).fill(3) }, { listenerNonce: new Uint8Array(nonceBytes).fill(3) }]) {
    assert.equal(proofMatches(secret, 'dialer', { ...t, ...change }, p), false, JSON.stringify(Object.keys(change)));
  }
  assert.equal(proofMatches(secret, 'dialer', t, p.subarray(0, 16)), false);
  assert.notDeepEqual(newNonce(), newNonce());
});

test('garbage handshakes are DecodeErrors (or other named errors), never crashes', () => {
  assert.throws(() => decodeHello(new TextEncoder().encode('GET / HTTP/1.1')), DecodeError);
  assert.throws(() => decodeHello(encodeHello(hello).subarray(0, 10)), DecodeError);
  assert.throws(() => decodeHello(new Uint8Array([...encodeHello(hello), 0])), DecodeError);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
    for (const decode of [decodeHello, decodeReply, decodeProof, helloVersion]) {
      try {
        decode(b);
      } catch (e) {
        assert.ok(e instanceof QuorateError, String(e));
      }
    }
  }));
});

test('the listener judges version, cluster, membership, target and certificate identity', () => {
  assert.equal(judgeHello(hello, local, null), null);
  assert.equal(judgeHello(hello, local, ['n2']), null);
  const reason = (h: Partial<typeof hello>, certs: string[] | null = null): string | undefined =>
    judgeHello({ ...hello, ...h }, local, certs)?.reason;
  assert.equal(reason({ version: wireVersion + 1 }), RefuseReason.VersionMismatch);
  assert.equal(reason({ clusterId: 'staging' }), RefuseReason.WrongCluster);
  assert.equal(reason({ from: 'n9' }), RefuseReason.UnknownNode);
  assert.equal(reason({ from: 'n1' }), RefuseReason.UnknownNode, 'a node does not accept itself');
  assert.equal(reason({ to: 'n3' }), RefuseReason.WrongTarget);
  assert.equal(reason({}, ['n3']), RefuseReason.CertIdentity);
  assert.equal(reason({}, []), RefuseReason.CertIdentity);
});

test('the dialer checks that it reached the node it meant', () => {
  const expected = { version: wireVersion, clusterId: 'prod', id: 'n2' };
  const accept = { kind: 'accept', version: wireVersion, clusterId: 'prod', id: 'n2' } as const;
  assert.equal(judgeAccept(accept, expected), null);
  assert.equal(judgeAccept({ ...accept, id: 'n3' }, expected)?.reason, RefuseReason.WrongTarget);
  assert.equal(judgeAccept({ ...accept, clusterId: 'x' }, expected)?.reason, RefuseReason.WrongCluster);
  assert.equal(judgeAccept({ ...accept, version: 7 }, expected)?.reason, RefuseReason.VersionMismatch);
});

test('backoff grows exponentially with jitter inside [d/2, d], is capped, and resets', () => {
  const lo = new Backoff({ initialMs: 10, maxMs: 100 }, () => 0);
  const hi = new Backoff({ initialMs: 10, maxMs: 100 }, () => 0.999999);
  const los = Array.from({ length: 8 }, () => lo.next());
  const his = Array.from({ length: 8 }, () => hi.next());
  assert.deepEqual(los, [5, 10, 20, 40, 50, 50, 50, 50]);
  his.forEach((d, i) => assert.ok(d <= Math.min(100, 10 * 2 ** i) && d > 0.99 * Math.min(100, 10 * 2 ** i)));
  assert.equal(lo.attempts, 8);
  lo.reset();
  assert.equal(lo.next(), 5);
  for (let i = 0; i < 1000; i++) assert.ok(hi.next() <= 100, 'never past maxMs');
  assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }, Math.random), ConfigError);
});

test('log throttle: first report of a key per window warns, repeats do not; keys are bounded', () => {
  let now = 0;
  const t = new LogThrottle(1000, 3, () => now);
  assert.equal(t.shouldWarn('a'), true);
  assert.equal(t.shouldWarn('a'), false);
  assert.equal(t.shouldWarn('b'), true);
  now = 999;
  assert.equal(t.shouldWarn('a'), false);
  now = 1000;
  assert.equal(t.shouldWarn('a'), true);
  t.shouldWarn('c');
  t.shouldWarn('d'); // past maxKeys: forgets, so memory stays bounded
  assert.equal(t.shouldWarn('a'), true);
});
