import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, defaultLimits } from '../../../src/core/index.js';
import type { ReplicaOptions } from '../../../src/core/index.js';
import { paxos } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';

const three = ['n1', 'n2', 'n3'];

function cluster(opts: { voters?: string[]; learners?: string[]; seed?: number; replica?: Partial<ReplicaOptions> } = {}): TestCluster<PaxosMessage> {
  return new TestCluster<PaxosMessage>(paxos, {
    voters: opts.voters ?? three, learners: opts.learners ?? [], seed: opts.seed ?? 1, replica: () => opts.replica ?? {},
  });
}

function commit(c: TestCluster<PaxosMessage>, texts_: string[]): string {
  const l = c.electLeader();
  for (const t of texts_) assert.deepEqual(c.propose(l, cmd(t)), { ok: true });
  assert.ok(c.tickUntil(() => c.appliedCommands(l).length >= texts_.length, 200), 'committed');
  return l;
}

const others = (l: string, ids = three): [string, string] => ids.filter((x) => x !== l) as [string, string];

test('hot recovery: the leader crashes, another takes over within bounded ticks and nothing chosen is lost', () => {
  const c = cluster();
  const l = commit(c, ['a', 'b', 'c']);
  c.crash(l);
  assert.ok(c.tickUntil(() => c.leader() !== null && c.leader() !== l, 100), 'a new leader within 100 ticks');
  const l2 = c.leader() as string;
  assert.ok(c.replica(l2).status().term > 0);
  c.propose(l2, cmd('d'));
  const [f, g] = others(l);
  assert.ok(c.tickUntil(() => c.appliedCommands(f).length === 4 && c.appliedCommands(g).length === 4, 200));
  for (const id of [f, g]) assert.deepEqual(texts(c.appliedCommands(id)), ['a', 'b', 'c', 'd']);
  c.restart(l);
  assert.ok(c.tickUntil(() => c.appliedCommands(l).length === 4, 200), 'the old leader rejoins and catches up');
});

test('cold recovery: every node crashes and restarts from its log; executed state is rebuilt and work continues', () => {
  const c = cluster({ seed: 4 });
  commit(c, ['a', 'b']);
  for (const id of three) c.crash(id);
  for (const id of three) c.restart(id);
  const l = c.electLeader();
  c.propose(l, cmd('c'));
  assert.ok(c.tickUntil(() => three.every((id) => c.appliedCommands(id).length === 3), 300));
  for (const id of three) assert.deepEqual(texts(c.appliedCommands(id)), ['a', 'b', 'c']);
});

test('duelling proposers: after everyone campaigned alone for a while, preemption and backoff converge on one leader', () => {
  const c = cluster({ voters: ['n1', 'n2', 'n3', 'n4', 'n5'], seed: 4 });
  c.partition(); // everyone alone: each times out and bumps its ballot again and again
  for (let i = 0; i < 80; i++) {
    c.tick();
    c.stabilize();
  }
  const candidates = ['n1', 'n2', 'n3', 'n4', 'n5'].filter((id) => c.replica(id).status().role === 'candidate');
  assert.ok(candidates.length >= 3, `several proposers at once (${candidates.length})`);
  c.heal();
  const before = c.sent.length;
  const l = c.electLeader(400);
  c.propose(l, cmd('after-the-duel'));
  assert.ok(c.tickUntil(() => ['n1', 'n2', 'n3', 'n4', 'n5'].every((id) => c.appliedCommands(id).length === 1), 400));
  assert.ok(c.sent.slice(before).some((m) => m.type === 'nack'), 'a higher ballot preempted a lower one');
});

test('catch-up by slot: a replica cut off while values were chosen learns them from the leader', () => {
  const c = cluster({ seed: 6 });
  const l = c.electLeader();
  const [f] = others(l);
  c.isolate(f);
  const want = Array.from({ length: 30 }, (_, i) => `v${i}`);
  for (const t of want) {
    c.propose(l, cmd(t));
    c.stabilize();
  }
  c.heal();
  assert.ok(c.tickUntil(() => c.appliedCommands(f).length === 30, 300));
  assert.deepEqual(texts(c.appliedCommands(f)), want);
  assert.ok(c.sent.some((m) => m.type === 'learnReq' && m.from === f), 'it asked by slot');
  assert.ok(c.sent.some((m) => m.type === 'learn' && m.to === f && m.entries.length > 0), 'and was answered with chosen values');
});

test('catch-up by snapshot: below the compaction point a lagging replica gets the snapshot in chunks, then the suffix', () => {
  const c = cluster({ seed: 8, replica: { limits: { ...defaultLimits, snapshotChunkBytes: 16 } } });
  const l = c.electLeader();
  const [f, g] = others(l);
  c.isolate(f);
  for (let i = 0; i < 20; i++) {
    c.propose(l, cmd(`s${i}`));
    c.stabilize();
  }
  c.tickUntil(() => c.appliedCommands(g).length === 20, 100);
  c.compact(l);
  c.compact(g);
  assert.ok(c.replica(l).status().snapshotIndex >= 20);
  c.propose(l, cmd('after-snapshot'));
  c.stabilize();
  c.heal();
  assert.ok(c.tickUntil(() => c.appliedCommands(f).length === 21, 400));
  assert.deepEqual(texts(c.appliedCommands(f)), [...Array.from({ length: 20 }, (_, i) => `s${i}`), 'after-snapshot']);
  const chunks = c.sent.filter((m) => m.type === 'snap' && m.to === f);
  assert.ok(chunks.length > 3, `snapshot streamed in chunks (${chunks.length})`);
  assert.equal(c.persisted(f).snapshot?.meta.index, c.persisted(l).snapshot?.meta.index);
});

test('Paxos Made Live §5.1 and the project decision: a wiped replica never promises, accepts or answers a read again; it catches up and executes as a non-voter', () => {
  const c = cluster({ seed: 12 });
  const l = commit(c, ['a', 'b', 'c']);
  const [f, g] = others(l);
  c.wipe(f);
  c.restart(f);
  assert.equal(c.replica(f).status().canVote, false);
  assert.equal(c.replica(f).status().protocolRole, 'lost');
  const mark = c.sent.length;
  // With the only other acceptor down, the leader and the wiped replica are not a quorum.
  c.crash(g);
  c.propose(l, cmd('d'));
  for (let i = 0; i < 60; i++) {
    c.tick();
    c.stabilize();
  }
  assert.ok(c.appliedCommands(l).length <= 3 && !texts(c.appliedCommands(l)).includes('d'), 'nothing chosen with a wiped acceptor');
  c.restart(g);
  assert.ok(c.tickUntil(() => three.every((id) => texts(c.appliedCommands(id)).includes('d')), 400), 'd is chosen by the leader and g');
  const l2 = c.electLeader();
  c.propose(l2, cmd('e'));
  assert.ok(c.tickUntil(() => three.every((id) => texts(c.appliedCommands(id)).includes('e')), 300));
  const ref = texts(c.appliedCommands(l2));
  for (const id of three) assert.deepEqual(texts(c.appliedCommands(id)), ref, id);
  for (let i = 0; i < 200; i++) {
    c.tick();
    c.stabilize();
  }
  assert.equal(c.replica(f).status().canVote, false, 'caught up, and still no vote: it cannot know what it promised before the wipe');
  const spoke = c.sent.slice(mark).filter((m) => m.from === f && (m.type === 'p1a' || m.type === 'p1b' || m.type === 'p2b' || m.type === 'readResp'));
  assert.deepEqual(spoke, [], 'the wiped replica never campaigned, promised, accepted or answered a read');
  assert.ok(c.sent.slice(mark).some((m) => m.type === 'lost' && m.from === f), 'it tells the voters it lost its state');
});

test('learners receive every chosen value and never vote', () => {
  const c = cluster({ learners: ['l1'], seed: 17 });
  const l = commit(c, ['a', 'b']);
  c.crash(l);
  const l2 = c.electLeader();
  c.propose(l2, cmd('c'));
  assert.ok(c.tickUntil(() => c.appliedCommands('l1').length === 3, 300));
  assert.deepEqual(texts(c.appliedCommands('l1')), ['a', 'b', 'c']);
  const s = c.replica('l1').status();
  assert.equal(s.role, 'learner');
  assert.equal(s.canVote, false);
  assert.deepEqual(c.sent.filter((m) => m.from === 'l1' && ['p1a', 'p1b', 'p2b', 'readResp'].includes(m.type)), []);
  assert.deepEqual(c.propose('l1', cmd('x')), { ok: false, reason: 'not_leader', leaderHint: l2 });
});

test('proposals: followers answer not_leader with a hint; oversized and over-budget commands are refused', () => {
  const c = cluster({ seed: 18, replica: { limits: { ...defaultLimits, maxCommandBytes: 10, uncommittedBytesMax: 100 } } });
  const l = c.electLeader();
  const [f] = others(l);
  assert.deepEqual(c.propose(f, cmd('x')), { ok: false, reason: 'not_leader', leaderHint: l });
  assert.deepEqual(c.propose(l, new Uint8Array(11)), { ok: false, reason: 'too_large' });
  c.isolate(l);
  const results = Array.from({ length: 10 }, () => c.propose(l, new Uint8Array(10)));
  assert.ok(results.some((r) => !r.ok && r.reason === 'overloaded'), 'the uncommitted budget is bounded');
  assert.ok(results.filter((r) => r.ok).length <= 100 / 26 + 1);
});

test('batching and the window: commands queued together share a slot; slots in flight stay within inflightMax', () => {
  const c = cluster({ seed: 19, replica: { limits: { ...defaultLimits, inflightMax: 2 } } });
  const l = c.electLeader();
  const base = c.replica(l).status().lastIndex;
  for (let i = 0; i < 5; i++) c.propose(l, cmd(`b${i}`));
  c.stabilize();
  const applied = c.applied(l).filter((e) => e.index > base);
  assert.equal(applied.length, 1);
  assert.equal(applied[0]?.type, EntryType.Batch);
  c.isolate(l);
  for (let i = 0; i < 6; i++) {
    c.propose(l, cmd(`w${i}`));
    c.stabilize();
    const s = c.replica(l).status();
    assert.ok(s.lastIndex - s.commitIndex <= 2, `window ${s.lastIndex - s.commitIndex} exceeds inflightMax`);
  }
  c.heal();
  assert.ok(c.tickUntil(() => three.every((id) => c.appliedCommands(id).length === 11), 300));
  assert.deepEqual(texts(c.appliedCommands(l)).slice(5), ['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
});

test('a replica wiped twice stays a non-voter in both lives, and the cluster keeps choosing with the others', () => {
  const c = cluster({ seed: 12 });
  const l = commit(c, ['a']);
  const [f] = others(l);
  c.wipe(f);
  c.restart(f);
  c.propose(l, cmd('b'));
  assert.ok(c.tickUntil(() => texts(c.appliedCommands(f)).includes('b'), 300));
  c.wipe(f);
  c.restart(f);
  c.propose(l, cmd('c'));
  assert.ok(c.tickUntil(() => three.every((id) => texts(c.appliedCommands(id)).includes('c')), 300));
  assert.equal(c.replica(f).status().canVote, false);
  assert.deepEqual(texts(c.appliedCommands(f)), ['a', 'b', 'c']);
});

test('a replica back from a partition with a high ballot does not unseat a healthy leader for long', () => {
  const c = cluster({ seed: 21 });
  const l = commit(c, ['a']);
  const [f] = others(l);
  c.isolate(f);
  for (let i = 0; i < 100; i++) {
    c.tick();
    c.stabilize();
  }
  assert.ok(c.replica(f).status().term > c.replica(l).status().term, 'f campaigned alone to a higher ballot');
  c.heal();
  let leaderless = 0;
  for (let i = 0; i < 40; i++) {
    c.tick();
    c.stabilize();
    if (c.leader() === null) leaderless++;
  }
  assert.equal(c.leader(), l, 'the same leader, at a ballot above the partitioned one');
  assert.ok(leaderless <= 2, `leaderless for ${leaderless} ticks`);
  c.propose(l, cmd('b'));
  assert.ok(c.tickUntil(() => three.every((id) => c.appliedCommands(id).length === 2), 100));
});
