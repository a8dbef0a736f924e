import { test } from 'node:test';
import assert from 'node:assert/strict';
import { raft } from '../../src/protocols/raft/index.js';
import { HarnessViolation, TestCluster, cmd, texts } from './cluster.js';

// The harness's own self-test, run against Raft (the first protocol to land).

test('harness: elects a leader and replicates to every node', () => {
  const c = new TestCluster(raft, { voters: ['n1', 'n2', 'n3'], seed: 1 });
  const leader = c.electLeader();
  assert.deepEqual(c.propose(leader, cmd('a')), { ok: true });
  assert.deepEqual(c.propose(leader, cmd('b')), { ok: true });
  c.stabilize();
  c.tickUntil(() => c.ids.every((id) => c.appliedCommands(id).length === 2), 50);
  for (const id of c.ids) assert.deepEqual(texts(c.appliedCommands(id)), ['a', 'b']);
  assert.ok(c.sent.length > 0);
});

test('harness: same seed gives the same message trace', () => {
  const run = (): string => {
    const c = new TestCluster(raft, { voters: ['a', 'b', 'c'], seed: 42 });
    c.setDropRate(0.2);
    c.electLeader();
    return c.sent.map((m) => `${m.type}:${m.from}>${m.to}`).join(',');
  };
  assert.equal(run(), run());
});

test('harness: a cut link blocks delivery until heal', () => {
  const c = new TestCluster(raft, { voters: ['n1', 'n2', 'n3'], seed: 2 });
  const leader = c.electLeader();
  const [f1, f2] = c.ids.filter((id) => id !== leader) as [string, string];
  c.isolate(f1);
  c.propose(leader, cmd('x'));
  c.tickUntil(() => c.appliedCommands(f2).length === 1, 50);
  assert.equal(c.appliedCommands(f1).length, 0);
  assert.equal(c.appliedCommands(f2).length, 1);
  c.heal();
  assert.ok(c.tickUntil(() => c.appliedCommands(f1).length === 1, 100));
});

test('harness: crash and restart recovers persisted state; wipe loses it', () => {
  const c = new TestCluster(raft, { voters: ['n1', 'n2', 'n3'], seed: 3 });
  const leader = c.electLeader();
  c.propose(leader, cmd('x'));
  c.tickUntil(() => c.ids.every((id) => c.appliedCommands(id).length === 1), 50);
  const f = c.ids.find((id) => id !== leader) as string;
  c.crash(f);
  assert.throws(() => c.replica(f));
  c.restart(f);
  assert.ok(c.persisted(f).entries.length >= 2);
  assert.ok(c.tickUntil(() => c.appliedCommands(f).length === 1, 100));
  c.wipe(f);
  assert.equal(c.persisted(f).entries.length, 0);
  c.restart(f);
  assert.equal(c.replica(f).status().canVote, false);
  assert.ok(c.tickUntil(() => c.appliedCommands(f).length === 1, 100));
});

test('harness: compact snapshots the command list and a lagging node catches up from it', () => {
  const c = new TestCluster(raft, { voters: ['n1', 'n2', 'n3'], seed: 4 });
  const leader = c.electLeader();
  const f = c.ids.find((id) => id !== leader) as string;
  c.isolate(f);
  for (let i = 0; i < 5; i++) c.propose(leader, cmd(`v${i}`));
  c.tickUntil(() => c.appliedCommands(leader).length === 5, 50);
  c.compact(leader);
  assert.equal(c.persisted(leader).snapshot?.meta.index, c.replica(leader).status().appliedIndex);
  c.heal();
  assert.ok(c.tickUntil(() => c.appliedCommands(f).length === 5, 200));
  assert.deepEqual(texts(c.appliedCommands(f)), ['v0', 'v1', 'v2', 'v3', 'v4']);
  assert.ok(c.sent.some((m) => m.type === 'snap'));
});

test('harness: detects two replicas applying different entries at one index', () => {
  const c = new TestCluster(raft, { voters: ['n1'], seed: 5 });
  c.electLeader();
  c.appliedByIndex.set(2, { index: 2, id: 99, type: 0, data: cmd('bogus') });
  c.propose('n1', cmd('y'));
  assert.throws(() => c.tickUntil(() => c.appliedCommands('n1').length === 1, 10), HarnessViolation);
});
