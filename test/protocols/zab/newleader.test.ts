import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Ready } from '../../../src/core/index.js';
import type { ZabMessage } from '../../../src/protocols/zab/index.js';
import { PeerViolation } from '../../../src/core/index.js';
import { ZabNet } from './net.js';

/**
 * The follower's NEWLEADER order (Zab §IV-C; PROTOCOLS.md Zab 5): (a) install the truncation or
 * snapshot, (b) log the synced txns durably, (c) persist currentEpoch = e', (d) only then ACK.
 * ZooKeeper lost committed txns when (c) reached the disk before (b) (ZOOKEEPER-4643) or the ACK
 * left before (b) (ZOOKEEPER-3911). Here a crash falls between every pair of steps.
 *
 * Scenario: L commits x1 everywhere and x2 with P only (Q is down); L crashes; P leads epoch 2 and
 * syncs Q with a DIFF carrying x2. Q crashes at the chosen point and restarts; then P crashes and
 * L returns, so that the new election is between L and Q: whatever Q kept decides who wins. Then
 * a new txn z is committed. Nothing committed may be lost and no index may hold two txns.
 */
interface Outcome {
  violations: string[];
  texts: Map<string, string[]>;
  startError: unknown;
  /** What was thrown after the crash (e.g. a PeerViolation: a TRUNC below the commit index). */
  failure: unknown;
}

const isTxnsReady = (rd: Ready): boolean => rd.entries.some((e) => e.index === 2 && e.id === 1);
const isEpochReady = (rd: Ready): boolean => rd.hardState?.kind === 'zab' && rd.hardState.currentEpoch === 2;
const sendsAck = (rd: Ready): boolean => (rd.messages as ZabMessage[]).some((m) => m.type === 'ack' && m.newLeader);

function run(seed: number, crash: { when: (rd: Ready) => boolean; mode: 'before-write' | 'after-write' } | 'after-ack',
  mutants: string[] = []): Outcome {
  const net = new ZabNet(['a', 'b', 'c'], { seed, replica: () => ({ mutants: new Set(mutants) }) });
  net.startAll();
  const l = net.electLeader();
  const [p, q] = net.ids.filter((id) => id !== l) as [string, string];
  assert.ok(net.commit('x1'));
  assert.ok(net.tickUntil(() => net.ids.every((id) => net.node(id).appliedIndex === 1)));
  net.crash(q);
  assert.ok(net.commit('x2'));
  assert.ok(net.tickUntil(() => net.node(p).appliedIndex === 2));
  net.crash(l);
  net.start(q);
  if (crash !== 'after-ack') net.crashPlan = { id: q, ...crash };
  const from = net.delivered.length;
  const acked = (): boolean => net.delivered.slice(from).some((m) => m.type === 'ack' && m.newLeader && m.from === q);
  assert.ok(net.tickUntil(() => !net.isUp(q) || acked()), 'q neither crashed nor acked');
  assert.ok(crash === 'after-ack' || !net.isUp(q), 'the crash point was never reached');
  if (net.isUp(q)) net.crash(q);
  let startError: unknown = null;
  try {
    net.start(q);
  } catch (err) {
    startError = err;
  }
  net.crash(p);
  net.start(l);
  let failure: unknown = null;
  if (startError === null) {
    try {
      net.electLeader();
      net.commit('z');
      net.tickUntil(() => net.isUp(l) && net.isUp(q) && net.node(l).appliedIndex === net.node(q).appliedIndex &&
        net.node(l).appliedIndex >= 3);
    } catch (err) {
      failure = err;
    }
  }
  return {
    violations: net.violations,
    texts: new Map(net.ids.filter((id) => net.isUp(id)).map((id) => [id, net.appliedTexts(id)])),
    startError,
    failure,
  };
}

function assertSafe(o: Outcome): void {
  assert.equal(o.startError, null);
  assert.equal(o.failure, null);
  assert.deepEqual(o.violations, []);
  for (const [id, t] of o.texts) assert.deepEqual(t.slice(0, 2), ['x1', 'x2'], `${id} lost a committed txn: ${t.join(',')}`);
}

test('crash before the synced txns are written: nothing committed is lost', () => {
  assertSafe(run(21, { when: isTxnsReady, mode: 'before-write' }));
});

test('crash after the txns are durable, before currentEpoch is written (between b and c)', () => {
  assertSafe(run(22, { when: isEpochReady, mode: 'before-write' }));
});

test('crash after currentEpoch is durable, before the ACK leaves (between c and d)', () => {
  assertSafe(run(23, { when: isEpochReady, mode: 'after-write' }));
});

test('crash after the ACK left', () => {
  assertSafe(run(24, 'after-ack'));
});

test('the txns and currentEpoch are written by separate Readies, the ACK only with or after the epoch', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 25 });
  net.startAll();
  const l = net.electLeader();
  const [p, q] = net.ids.filter((id) => id !== l) as [string, string];
  assert.ok(net.commit('x1'));
  net.crash(q);
  assert.ok(net.commit('x2'));
  net.crash(l);
  net.start(q);
  const seen: Ready[] = [];
  net.crashPlan = { id: q, when: (rd) => (seen.push(rd), false), mode: 'after-write' };
  const record = (): void => {
    if (net.crashPlan === null) net.crashPlan = { id: q, when: (rd) => (seen.push(rd), false), mode: 'after-write' };
  };
  const from = net.delivered.length;
  assert.ok(net.tickUntil(() => (record(), net.delivered.slice(from).some((m) => m.type === 'ack' && m.newLeader && m.from === q))));
  const txns = seen.findIndex(isTxnsReady);
  const epoch = seen.findIndex(isEpochReady);
  const ack = seen.findIndex(sendsAck);
  assert.ok(txns >= 0 && epoch > txns, `txns in Ready ${txns}, currentEpoch in Ready ${epoch}`);
  assert.ok(ack >= epoch, `ACK in Ready ${ack} before currentEpoch in Ready ${epoch}`);
  assert.equal(seen[epoch]?.entries.some((e) => e.index <= 2), false);
  void p;
});

/** The mutant's damage: a committed txn gone, two txns at one index, or a TRUNC below commit. */
function assertCaught(o: Outcome): void {
  const lost = [...o.texts.values()].some((t) => t[1] !== undefined && t[1] !== 'x2');
  const cut = o.failure instanceof PeerViolation && /TRUNC to \d+ below commit/.test(o.failure.message);
  assert.ok(o.violations.length > 0 || lost || cut, `the mutant went unnoticed: ${JSON.stringify([...o.texts])} ${String(o.failure)}`);
}

test('mutant epoch-before-txns (ZOOKEEPER-4643): currentEpoch without its txns makes Q win and cut committed x2', () => {
  // Q restarts with currentEpoch 2 but without x2, outranks L in the election, and syncs L by
  // cutting x2, which L had applied: L refuses that TRUNC as a rule no honest leader breaks.
  assertCaught(run(21, { when: isTxnsReady, mode: 'before-write' }, ['epoch-before-txns']));
});

test('mutant ack-before-durable (ZOOKEEPER-3911): the NEWLEADER ACK leaves before the txns are written', () => {
  assertCaught(run(21, { when: isTxnsReady, mode: 'before-write' }, ['ack-before-durable']));
});
