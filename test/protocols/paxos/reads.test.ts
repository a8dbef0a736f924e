import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultLimits } from '../../../src/core/index.js';
import type { ReadFailure, ReadState, Ready } from '../../../src/core/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { enc } from './helpers.js';
import { Net } from './net.js';

/** Quorum reads are batched: the reads queued between two Readies share one round (reads.ts). */

const voters = ['n1', 'n2', 'n3'];

/** Collects the read states and failures n1 hands out. */
function watch(net: Net): { states: ReadState[]; failures: ReadFailure[] } {
  const seen = { states: [] as ReadState[], failures: [] as ReadFailure[] };
  const r = net.r('n1');
  const ready = r.ready.bind(r);
  r.ready = (): Ready | null => {
    const rd = ready();
    if (rd !== null) {
      seen.states.push(...rd.readStates);
      seen.failures.push(...rd.readFailures);
    }
    return rd;
  };
  return seen;
}

const readReqs = (msgs: readonly PaxosMessage[]): { to: string; seq: number }[] =>
  msgs.flatMap((m) => (m.type === 'readReq' ? [{ to: m.to, seq: m.seq }] : []));

test('reads queued between two Readies share one quorum round', () => {
  const net = new Net(voters);
  net.elect('n1');
  net.r('n1').propose(enc('x'));
  net.settle();
  const seen = watch(net);
  for (let ctx = 1; ctx <= 10; ctx++) net.r('n1').read(ctx);
  net.pump('n1');
  const reqs = readReqs(net.queue);
  assert.equal(reqs.length, 2, 'one readReq per other acceptor for ten reads');
  assert.equal(new Set(reqs.map((q) => q.seq)).size, 1);
  net.settle();
  assert.deepEqual(seen.states.map((s) => s.ctx), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const index = net.r('n1').status().lastIndex;
  assert.ok(seen.states.every((s) => s.index === index), 'every read waits for the highest accepted slot');
});

test('a read that arrives while a round is under way waits for the next round', () => {
  const net = new Net(voters);
  net.elect('n1');
  const seen = watch(net);
  net.r('n1').read(1);
  net.pump('n1');
  const first = readReqs(net.queue);
  net.r('n1').read(2); // the round for read 1 has left; its answers may predate read 2
  net.deliver();
  net.pump('n2');
  net.pump('n3');
  net.deliver();
  net.pump('n1');
  assert.deepEqual(seen.states.map((s) => s.ctx), [1], 'the first round answers only the read it started for');
  const second = readReqs(net.queue);
  assert.equal(second.length, 2);
  assert.notEqual(second[0]?.seq, first[0]?.seq);
  net.settle();
  assert.deepEqual(seen.states.map((s) => s.ctx), [1, 2]);
});

test('waiting reads are bounded by pendingReadsMax (overloaded) and dropped after their timeout', () => {
  const net = new Net(voters, [], { limits: { ...defaultLimits, pendingReadsMax: 3 } });
  net.elect('n1');
  const seen = watch(net);
  net.cuts.add('n1>n2');
  net.cuts.add('n1>n3');
  for (let ctx = 1; ctx <= 4; ctx++) net.r('n1').read(ctx);
  net.pump('n1');
  assert.deepEqual(seen.failures.map((f) => [f.ctx, f.reason]), [[4, 'overloaded']]);
  for (let i = 0; i < 20; i++) {
    net.tick('n1');
    net.pump('n1');
    net.deliver();
  }
  assert.deepEqual(seen.failures.map((f) => [f.ctx, f.reason]), [[4, 'overloaded'], [1, 'dropped'], [2, 'dropped'], [3, 'dropped']]);
  net.r('n1').read(5);
  net.pump('n1');
  assert.deepEqual(seen.failures.length, 4, 'room again once they are dropped');
});
