import assert from 'node:assert/strict';
import { Rng } from '../../../src/core/index.js';
import type { ReplicaOptions } from '../../../src/core/index.js';
import { raft } from '../../../src/protocols/raft/index.js';
import type { RaftMessage } from '../../../src/protocols/raft/index.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';

/**
 * Randomized runs: a safety phase with drops, cuts, crashes, wipes and compactions, then a
 * liveness phase with every fault healed. The harness itself checks at most one leader per term
 * and one entry per index across the cluster after every event; here we also check that reads are
 * never stale and that every acknowledged write is on every node at the end.
 * Acknowledged = applied by the replica the client proposed it to (committed and applied there).
 */
export interface RunResult {
  acked: number;
  reads: number;
  /** Terms that had a leader: leadership changed hands this many times, minus one. */
  terms: number;
  snapshotChunks: number;
}

export function run(
  seed: number,
  size: number,
  ticks: number,
  trace?: (line: string) => void,
  expose?: (c: TestCluster<RaftMessage>) => void,
  overrides: Partial<ReplicaOptions> = {},
): RunResult {
  const voters = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  // Every fourth seed adds a learner: it must end with the same state, and never vote.
  const learners = seed % 4 === 3 ? ['l1'] : [];
  const ids = [...voters, ...learners];
  const c = new TestCluster<RaftMessage>(raft, {
    voters,
    learners,
    seed,
    // Every third seed reads from leader leases instead of ReadIndex rounds.
    replica: () => ({ limits: { ...smallLimits }, leaseReads: seed % 3 === 2, ...overrides }),
  });
  expose?.(c);
  const rng = new Rng(seed * 7919 + 1);
  const proposed = new Map<string, string>(); // command -> node it was proposed to
  const acked = new Set<string>();
  const readsIssued = new Map<string, number>(); // `${node}:${ctx}` -> highest applied index anywhere when issued
  let readsOk = 0;
  let nextCmd = 0;
  let nextCtx = 1;
  const maxAppliedAnywhere = (): number => Math.max(0, ...c.appliedByIndex.keys());

  const checkAcks = (): void => {
    for (const id of ids) {
      if (!c.isUp(id)) continue;
      for (const t of texts(c.appliedCommands(id))) if (proposed.get(t) === id) acked.add(t);
    }
  };
  const checkReads = (): void => {
    for (const id of ids) {
      for (const rs of c.readStates(id)) {
        const key = `${id}:${rs.ctx}`;
        const floor = readsIssued.get(key);
        if (floor === undefined) continue;
        assert.ok(rs.index >= floor, `seed ${seed}: read ${key} served at ${rs.index} below ${floor} applied before it was issued`);
        readsIssued.delete(key);
        readsOk++;
      }
    }
  };

  for (let t = 0; t < ticks; t++) {
    const roll = rng.float();
    const live = ids.filter((id) => c.isUp(id));
    const down = ids.filter((id) => !c.isUp(id));
    if (roll < 0.3) {
      const target = c.leader() ?? rng.pick(live);
      for (let k = rng.int(1, 3); k > 0; k--) {
        const text = `c${nextCmd++}`;
        if (c.propose(target, cmd(text)).ok) proposed.set(text, target);
      }
    } else if (roll < 0.4) {
      const id = rng.pick(live);
      const ctx = nextCtx++;
      readsIssued.set(`${id}:${ctx}`, maxAppliedAnywhere());
      c.read(id, ctx);
    } else if (roll < 0.45) {
      const [a, b] = rng.shuffle(ids) as [string, string];
      if (rng.chance(0.5)) c.cut(a, b);
      else c.cutOneWay(a, b);
    } else if (roll < 0.5) {
      c.heal();
    } else if (roll < 0.53) {
      c.setDropRate(rng.chance(0.5) ? 0 : 0.1);
      // Odd seeds also duplicate and reorder messages (the simulator's network does).
      if (seed % 2 === 1) {
        c.setDuplicateRate(rng.chance(0.5) ? 0 : 0.05);
        c.setReorderRate(rng.chance(0.5) ? 0 : 0.3);
      }
    } else if (roll < 0.57 && down.filter((id) => voters.includes(id)).length < Math.floor((size - 1) / 2)) {
      c.crash(rng.pick(live));
    } else if (roll < 0.62 && down.length > 0) {
      c.restart(rng.pick(down));
    } else if (roll < 0.63 && down.length === 0 && voters.every((id) => c.replica(id).status().canVote)) {
      const victim = rng.pick(live);
      c.wipe(victim);
      c.restart(victim);
    } else if (roll < 0.67) {
      const id = rng.pick(live);
      c.compact(id);
    } else if (roll < 0.69) {
      const l = c.leader();
      if (l !== null) c.replica(l).transferLeadership(rng.pick(voters));
    }
    trace?.(`t${t} roll=${roll.toFixed(3)} leader=${c.leader()} ` + ids.map((id) => c.isUp(id) ? `${id}:${JSON.stringify(c.replica(id).status().term)}/${c.replica(id).status().role[0]}/${c.replica(id).status().commitIndex}/${c.replica(id).status().lastIndex}/${c.replica(id).status().snapshotIndex}` : `${id}:down`).join(' '));
    c.tick();
    c.stabilize();
    checkAcks();
    checkReads();
  }

  // Liveness phase: heal everything; the cluster must converge and keep every acknowledged write.
  c.heal();
  c.setDropRate(0);
  c.setDuplicateRate(0);
  c.setReorderRate(0);
  for (const id of ids) if (!c.isUp(id)) c.restart(id);
  c.electLeader(2000);
  // A proposal may be dropped if leadership moves before it is logged: propose again, uniquely.
  let finalAt: string | null = null;
  let finals = 0;
  const converged = c.tickUntil(() => {
    const l = c.leader();
    if (l === null) return false;
    const done = (id: string): boolean => texts(c.appliedCommands(id)).some((t) => t.startsWith('final'));
    const at = `${l}@${c.replica(l).status().term}`;
    if (!done(l) && at !== finalAt) {
      if (c.propose(l, cmd(`final${finals++}`)).ok) finalAt = at;
      return false;
    }
    const commit = c.replica(l).status().commitIndex;
    return ids.every((id) => c.appliedIndex(id) === commit && done(id));
  }, 3000);
  assert.ok(converged, `seed ${seed}: did not converge after healing`);
  trace?.('done');
  checkAcks();
  const reference = texts(c.appliedCommands(ids[0] as string));
  for (const id of ids) assert.deepEqual(texts(c.appliedCommands(id)), reference, `seed ${seed}: ${id} differs`);
  const present = new Set(reference);
  for (const a of acked) assert.ok(present.has(a), `seed ${seed}: acknowledged ${a} lost`);
  assert.equal(new Set(reference).size, reference.length, `seed ${seed}: a command applied twice`);
  for (const m of c.sent) {
    if (!learners.includes(m.from)) continue;
    const votes = m.type === 'vote' || m.type === 'prevote' || ((m.type === 'vote_resp' || m.type === 'prevote_resp') && m.granted);
    assert.ok(!votes, `seed ${seed}: learner ${m.from} sent ${m.type}`);
  }
  const snapshotChunks = c.sent.filter((m) => m.type === 'snap').length;
  return { acked: acked.size, reads: readsOk, terms: c.leadersByTerm.size, snapshotChunks };
}

const smallLimits = {
  maxMessageBytes: 200,
  inflightMax: 4,
  inflightBytesMax: 2000,
  uncommittedBytesMax: 4000,
  pendingReadsMax: 16,
  snapshotChunkBytes: 64,
  maxCommandBytes: 100,
};

