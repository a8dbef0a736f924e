import assert from 'node:assert/strict';
import { Rng } from '../../../src/core/index.js';
import { paxos } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';

/**
 * Randomized Paxos runs: a safety phase with drops, cuts (two-way and one-way), crashes, wipes and
 * compactions, then a liveness phase with every fault healed. The harness checks, after every
 * event, at most one leader per ballot, one entry per index across the cluster, the Ready contract
 * and in-order execution; here we also check that quorum reads are never stale, that every
 * acknowledged write is on every node at the end, and that no command is executed twice.
 * Acknowledged = executed by the replica the client proposed it to.
 */
export interface RunResult {
  acked: number;
  reads: number;
  ballots: number;
  snapshotChunks: number;
  learns: number;
}

export interface RunOptions {
  size: number;
  ticks: number;
  learners?: number;
  leaseReads?: boolean;
  mutants?: readonly string[];
}

export const smallLimits = {
  maxMessageBytes: 200,
  inflightMax: 4,
  inflightBytesMax: 2000,
  uncommittedBytesMax: 4000,
  pendingReadsMax: 16,
  snapshotChunkBytes: 64,
  maxCommandBytes: 100,
};

export function run(seed: number, o: RunOptions, trace?: (line: string) => void, expose?: (c: TestCluster<PaxosMessage>) => void): RunResult {
  const ids = Array.from({ length: o.size }, (_, i) => `n${i + 1}`);
  const learners = Array.from({ length: o.learners ?? 0 }, (_, i) => `l${i + 1}`);
  const all = [...ids, ...learners];
  const c = new TestCluster<PaxosMessage>(paxos, {
    voters: ids,
    learners,
    seed,
    replica: () => ({ limits: { ...smallLimits }, leaseReads: o.leaseReads ?? false, mutants: new Set(o.mutants ?? []) }),
  });
  expose?.(c);
  const rng = new Rng(seed * 7919 + 3);
  const proposed = new Map<string, string>();
  const acked = new Set<string>();
  const readsIssued = new Map<string, number>();
  let readsOk = 0;
  let nextCmd = 0;
  let nextCtx = 1;
  /** Voters wiped: they never vote again (the project's decision), but catch up and execute. */
  const wiped = new Set<string>();
  const maxAppliedAnywhere = (): number => Math.max(0, ...c.appliedByIndex.keys());

  const checkAcks = (): void => {
    for (const id of all) {
      if (!c.isUp(id)) continue;
      for (const t of texts(c.appliedCommands(id))) if (proposed.get(t) === id) acked.add(t);
    }
  };
  const checkReads = (): void => {
    for (const id of all) {
      for (const rs of c.readStates(id)) {
        const key = `${id}:${rs.ctx}`;
        const floor = readsIssued.get(key);
        if (floor === undefined) continue;
        assert.ok(rs.index >= floor, `seed ${seed}: read ${key} served at ${rs.index} below ${floor} executed before it was issued`);
        readsIssued.delete(key);
        readsOk++;
      }
    }
  };

  for (let t = 0; t < o.ticks; t++) {
    const roll = rng.float();
    const live = all.filter((id) => c.isUp(id));
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
      const [a, b] = rng.shuffle(all) as [string, string];
      if (rng.chance(0.5)) c.cut(a, b);
      else c.cutOneWay(a, b);
    } else if (roll < 0.5) {
      c.heal();
    } else if (roll < 0.53) {
      c.setDropRate(rng.chance(0.5) ? 0 : 0.1);
    } else if (roll < 0.57 && down.length < Math.floor((o.size - 1) / 2)) {
      c.crash(rng.pick(live.filter((id) => ids.includes(id))));
    } else if (roll < 0.62 && down.length > 0) {
      c.restart(rng.pick(down));
    } else if (roll < 0.63 && t > o.ticks / 2 && down.length === 0 && ids.every((id) => c.replica(id).status().canVote)) {
      // A wiped voter never votes again (the project's decision), which leaves the cluster one
      // voter short for good: the wipe comes in the second half, after the leadership churn.
      const victim = rng.pick(ids);
      c.wipe(victim);
      c.restart(victim);
      wiped.add(victim);
    } else if (roll < 0.67) {
      c.compact(rng.pick(live));
    }
    trace?.(`t${t} roll=${roll.toFixed(3)} leader=${c.leader()} ` + all.map((id) => {
      if (!c.isUp(id)) return `${id}:down`;
      const s = c.replica(id).status();
      return `${id}:${s.term}/${s.protocolRole}/${s.commitIndex}/${s.lastIndex}/${s.snapshotIndex}`;
    }).join(' '));
    c.tick();
    c.stabilize();
    checkAcks();
    checkReads();
  }

  c.heal();
  c.setDropRate(0);
  for (const id of all) if (!c.isUp(id)) c.restart(id);
  c.electLeader(3000);
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
    return all.every((id) => c.appliedIndex(id) === commit && done(id)) && ids.every((id) => c.replica(id).status().canVote !== wiped.has(id));
  }, 4000);
  if (!converged) trace?.(c.sent.slice(-40).map((m) => JSON.stringify(m, (k, v: unknown) => (k === 'data' ? undefined : v))).join('\n'));
  assert.ok(converged, `seed ${seed}: did not converge after healing`);
  checkAcks();
  const reference = texts(c.appliedCommands(ids[0] as string));
  for (const id of all) assert.deepEqual(texts(c.appliedCommands(id)), reference, `seed ${seed}: ${id} differs`);
  const present = new Set(reference);
  for (const a of acked) assert.ok(present.has(a), `seed ${seed}: acknowledged ${a} lost`);
  assert.equal(present.size, reference.length, `seed ${seed}: a command executed twice`);
  return {
    acked: acked.size,
    reads: readsOk,
    ballots: c.leadersByTerm.size,
    snapshotChunks: c.sent.filter((m) => m.type === 'snap').length,
    learns: c.sent.filter((m) => m.type === 'learn').length,
  };
}
