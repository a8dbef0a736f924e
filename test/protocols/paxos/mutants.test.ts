import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paxos, PaxosMutant, paxosUnobservableMutants } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { HarnessViolation, TestCluster, cmd, texts } from '../../harness/cluster.js';

/**
 * Each known-bad variant misbehaves in a deterministic scenario that the correct protocol
 * survives: the harness (one entry per index across the cluster, execution in order) catches it.
 */
function cluster(mutants: readonly string[], seed = 5): TestCluster<PaxosMessage> {
  return new TestCluster<PaxosMessage>(paxos, { voters: ['n1', 'n2', 'n3'], seed, replica: () => ({ mutants: new Set(mutants) }) });
}

test('paxos.mutants lists the observable known-bad variants; the unobservable one is kept apart', () => {
  assert.deepEqual(paxos.mutants.map((m) => m.name).sort(),
    ['accept-below-promise', 'execute-out-of-order', 'fill-once', 'forget-promise', 'ignore-accepted', 'learn-without-ballot-check', 'read-point-unfilled', 'readmit-wiped', 'torn-append-costs-vote']);
  assert.deepEqual(paxosUnobservableMutants.map((m) => m.name), ['count-own-unsynced']);
});

/** Slot s is lost on its way out; slot s+1 reaches a quorum first. */
function outOfOrder(mutants: readonly string[]): TestCluster<PaxosMessage> {
  const c = cluster(mutants);
  const l = c.electLeader();
  const first = c.replica(l).status().lastIndex + 1;
  c.filter = (m) => !(m.type === 'p2a' && m.entries.some((e) => e.index === first));
  c.propose(l, cmd('a'));
  c.stabilize();
  c.filter = null;
  c.propose(l, cmd('b'));
  c.stabilize();
  assert.ok(c.tickUntil(() => ['n1', 'n2', 'n3'].every((id) => c.appliedCommands(id).length === 2), 200));
  return c;
}

test('execute-out-of-order: a slot executed before an earlier one is chosen is caught', () => {
  assert.throws(() => outOfOrder([PaxosMutant.ExecuteOutOfOrder]), (e: unknown) => e instanceof HarnessViolation && /applied \d+ after/.test(e.message));
  const c = outOfOrder([]);
  for (const id of ['n1', 'n2', 'n3']) assert.deepEqual(texts(c.appliedCommands(id)), ['a', 'b']);
});

/** x is chosen by {leader, f} and executed only by the leader, which then crashes; g takes over. */
function ignoreAccepted(mutants: readonly string[]): TestCluster<PaxosMessage> {
  const c = cluster(mutants, 9);
  const l = c.electLeader();
  const [f, g] = ['n1', 'n2', 'n3'].filter((x) => x !== l) as [string, string];
  c.cutOneWay(l, g);
  c.propose(l, cmd('x'));
  c.stabilize();
  assert.deepEqual(texts(c.appliedCommands(l)), ['x']);
  c.crash(l);
  c.heal();
  c.filter = (m) => !(m.type === 'p1a' && m.from === f); // g must be the next proposer: it never saw x
  assert.ok(c.tickUntil(() => c.leader() === g, 500));
  c.filter = null;
  c.propose(g, cmd('y'));
  assert.ok(c.tickUntil(() => c.appliedCommands(f).length >= 2, 500));
  return c;
}

test('ignore-accepted: a new leader that drops phase-1 values overwrites a chosen value, and is caught', () => {
  assert.throws(() => ignoreAccepted([PaxosMutant.IgnoreAccepted]), (e: unknown) => e instanceof HarnessViolation && /applied \(1,/.test(e.message));
  const c = ignoreAccepted([]);
  assert.deepEqual(texts(c.appliedCommands(c.leader() as string)), ['x', 'y']);
});

/**
 * The classic promise violation. Old leader L (ballot B1) is cut off with x unsent; N wins B2 with
 * P's promise and logs y at the same slot, unsent; P restarts; L reaches P: a correct P refuses B1
 * (it promised B2), a broken one accepts x, which is then chosen by {L, P}; then N reaches P and
 * y is chosen at the same slot by {N, P}.
 */
function promiseBroken(mutants: readonly string[]): { x: boolean } {
  const c = cluster(mutants, 21);
  const ids = ['n1', 'n2', 'n3'];
  const l = c.electLeader();
  c.isolate(l);
  c.propose(l, cmd('x'));
  c.stabilize();
  const [a, b] = ids.filter((id) => id !== l) as [string, string];
  for (let i = 0; i < 300 && ![a, b].some((id) => c.replica(id).status().role === 'leader'); i++) {
    c.tick(a);
    c.tick(b);
    c.stabilize();
  }
  const n = [a, b].find((id) => c.replica(id).status().role === 'leader');
  assert.ok(n !== undefined, 'a new leader among the connected pair');
  const p = n === a ? b : a;
  c.cut(n, p);
  c.propose(n, cmd('y'));
  c.stabilize();
  c.restart(p);
  c.heal();
  c.cut(l, n);
  c.cut(n, p);
  for (let i = 0; i < 20 && c.appliedCommands(l).length === 0; i++) {
    c.tick(l);
    c.stabilize();
  }
  const x = texts(c.appliedCommands(l)).includes('x');
  c.crash(l);
  c.heal();
  for (let i = 0; i < 40 && c.appliedCommands(n).length === 0; i++) {
    c.tick(n);
    c.tick(p);
    c.stabilize();
  }
  assert.deepEqual(texts(c.appliedCommands(n)).slice(0, 1), ['y']);
  return { x };
}

test('forget-promise: an acceptor that forgets its promise on restart lets two values be chosen, and is caught', () => {
  assert.throws(() => promiseBroken([PaxosMutant.ForgetPromise]), (e: unknown) => e instanceof HarnessViolation && /applied \(1,/.test(e.message));
  assert.deepEqual(promiseBroken([]), { x: false }, 'the correct acceptor refuses the old ballot after restart');
});

test('accept-below-promise: an acceptor that accepts below its promise lets two values be chosen, and is caught', () => {
  assert.throws(() => promiseBroken([PaxosMutant.AcceptBelowPromise]), (e: unknown) => e instanceof HarnessViolation && /applied \(1,/.test(e.message));
  assert.deepEqual(promiseBroken([]), { x: false });
});
