import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/core/index.js';
import { zab } from '../../../src/protocols/zab/index.js';
import type { ZabMessage } from '../../../src/protocols/zab/index.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';

/**
 * Randomized runs on the shared TestCluster (it throws HarnessViolation on two replicas applying
 * different txns at one index, two established leaders in one epoch, or a committed txn that is
 * not durable). A safety phase with drops, cuts, crashes and wipes, then a liveness phase with
 * every fault healed: the cluster must converge, every replica holding the same committed
 * sequence, and every command any replica applied must survive in it.
 */
const seeds = Number(process.env['ZAB_SEEDS'] ?? 200);
/** ZAB_MUTANT=<name> runs the same faults against a known-bad variant (it should fail). */
const mutants = new Set((process.env['ZAB_MUTANT'] ?? '').split(',').filter((m) => m !== ''));

/** Wiped replicas still catching up count against the failure budget like crashed ones. */
function catchingUp(c: TestCluster<ZabMessage>, voters: string[], down: Set<string>): number {
  return voters.filter((id) => !down.has(id) && c.isUp(id) && !c.replica(id).status().canVote).length;
}

function runSeed(seed: number): void {
  const rng = new Rng(seed);
  const voters = rng.chance(0.3) ? ['a', 'b', 'c', 'd', 'e'] : ['a', 'b', 'c'];
  const maxDown = Math.floor((voters.length - 1) / 2);
  const c = new TestCluster<ZabMessage>(zab, { voters, seed, replica: () => ({ electionTicks: 10, heartbeatTicks: 2, mutants }) });
  const down = new Set<string>();
  const everApplied = new Set<string>();
  let next = 0;
  for (let step = 0; step < 250; step++) {
    const roll = rng.float();
    if (roll < 0.35) {
      const l = c.leader();
      if (l !== null) c.propose(l, cmd(`v${next++}`));
    } else if (roll < 0.40 && down.size + catchingUp(c, voters, down) < maxDown) {
      const id = rng.pick(voters.filter((v) => !down.has(v)));
      if (rng.chance(0.2)) c.wipe(id);
      else c.crash(id);
      down.add(id);
    } else if (roll < 0.46 && down.size > 0) {
      const id = rng.pick([...down].sort());
      c.restart(id);
      down.delete(id);
    } else if (roll < 0.50) {
      c.cut(rng.pick(voters), rng.pick(voters));
    } else if (roll < 0.55) {
      c.heal();
    } else if (roll < 0.58) {
      c.setDropRate(rng.pick([0, 0.05, 0.2]));
    }
    c.tick();
    c.stabilize();
    for (const id of voters) if (c.isUp(id)) for (const t of texts(c.appliedCommands(id))) everApplied.add(t);
  }
  // Liveness: heal everything and restart everyone.
  c.heal();
  c.setDropRate(0);
  for (const id of [...down].sort()) c.restart(id);
  c.propose(c.electLeader(2000), cmd('final'));
  const converged = c.tickUntil(() => {
    const l = c.leader();
    if (l === null) return false;
    const want = texts(c.appliedCommands(l));
    return want.includes('final') && voters.every((id) => texts(c.appliedCommands(id)).join() === want.join());
  }, 2000);
  if (!converged) {
    const l = c.leader();
    if (l !== null) c.propose(l, cmd('final'));
  }
  assert.ok(converged || c.tickUntil(() => {
    const l = c.leader();
    return l !== null && voters.every((id) => texts(c.appliedCommands(id)).join() === texts(c.appliedCommands(l)).join()) &&
      texts(c.appliedCommands(l)).includes('final');
  }, 2000), `seed ${seed}: no convergence after healing`);
  const final = texts(c.appliedCommands(voters[0] as string));
  for (const t of everApplied) assert.ok(final.includes(t), `seed ${seed}: applied command ${t} was lost`);
  assert.equal(new Set(final).size, final.length, `seed ${seed}: a command was applied twice`);
}

test(`randomized faults over ${seeds} seeds: one committed sequence everywhere, nothing applied is lost`, () => {
  for (let seed = 1; seed <= seeds; seed++) {
    try {
      runSeed(seed);
    } catch (err) {
      throw new Error(`seed ${seed} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
});
