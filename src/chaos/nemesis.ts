import { statSync } from 'node:fs';
import { assert, assertNever } from '../core/index.js';
import type { NodeId } from '../core/index.js';
import { flipBit, snapshotFiles, tearLastWalRecord, walRecords } from '../storage/damage.js';
import { clockRates } from './clock.js';
import type { ClockControl } from './clock.js';
import type { ChaosCluster } from './cluster.js';
import type { FaultPlan } from './schedule.js';

/**
 * Puts one planned fault on the real cluster and takes it off again. Kills and pauses are real
 * signals, network faults are proxy settings, disk faults damage a SIGKILLed node's files. A
 * damaged node restarted must either refuse (a clear corruption error, non-zero exit) — then it is
 * wiped and re-added as a member that lost its state, so the cluster heals — or start having
 * repaired what it may (a torn tail); the final convergence check then proves it serves nothing
 * the others do not hold. A member wiped either way has lost its vote for good (the project's
 * rule for a member that lost its state), so the nemesis keeps count and never takes away the
 * voting majority (see diskTarget).
 */
export interface ActiveFault {
  readonly plan: FaultPlan;
  readonly nodes: readonly NodeId[];
  readonly startedAtMs: number;
  /** What was done, in words, for the report. */
  readonly detail: string;
  /** A node stopped by this fault (kill, wipe, damage): restarted at heal. */
  readonly stopped: readonly NodeId[];
  readonly damage: DamageDone | null;
}

export interface DamageDone {
  readonly node: NodeId;
  readonly what: string;
}

export type DamageOutcome = 'refused' | 'started';

export interface CorruptionRecord {
  readonly node: NodeId;
  readonly kind: string;
  readonly what: string;
  /** refused: the node would not start on the damaged files; started: it recovered (e.g. trimmed a torn tail). */
  readonly outcome: DamageOutcome;
  readonly detail: string;
  readonly rejoinedAs: 'same-data' | 'wiped';
}

/**
 * A member that lost its state in this run (its data directory wiped by the nemesis, or wiped
 * after it refused its damaged files). By the project's rule it never votes, promises or
 * acknowledges toward a quorum again; it still catches up and applies as a non-voter.
 */
export interface LostVoter {
  readonly node: NodeId;
  readonly atMs: number;
  readonly why: string;
}

export interface HealResult {
  readonly healedAtMs: number;
  readonly corruption: CorruptionRecord | null;
  /** Nodes that did not come back (a crash at start-up after a plain kill is a recovery bug). */
  readonly restartFailures: readonly string[];
}

type Done = (nodes: readonly NodeId[], detail: string, stopped?: readonly NodeId[], damage?: DamageDone | null) => ActiveFault;

/**
 * Forward steps of the `jump` shape: at least a second (beyond every lease and election
 * timeout), at most a third of `chaos --auth`'s 15 s token life, so a stepped node does not
 * find every token expired (steps add up: the heal keeps the reading, see ClockControl.normal).
 */
const clockStepMsMin = 1_000;
const clockStepMsMaxPlanned = 5_000;

/** How long a restarted node may take to answer /healthz (tsx start-up on a loaded machine). */
const restartTimeoutMs = 60_000;

export class Nemesis {
  /** Members that lost their vote, in order. */
  readonly lostVoters: LostVoter[] = [];
  /**
   * How many members may lose their vote: the voters left must still be a majority of the
   * members, or no write could ever commit again (⌊(n−1)/2⌋: one of 3, two of 5).
   */
  readonly lostVotersMax: number;

  constructor(private readonly cluster: ChaosCluster, private readonly nowMs: () => number) {
    this.lostVotersMax = Math.floor((cluster.ids.length - 1) / 2);
  }

  isVoter(id: NodeId): boolean {
    return !this.lostVoters.some((l) => l.node === id);
  }

  async apply(plan: FaultPlan): Promise<ActiveFault> {
    const startedAtMs = this.nowMs();
    const done: Done = (nodes, detail, stopped = [], damage = null) => ({ plan, nodes, startedAtMs, detail, stopped, damage });
    switch (plan.kind) {
      case 'kill':
      case 'pause':
        return this.applyProcess(plan, done);
      case 'partition':
      case 'one-way':
      case 'loss':
        return this.applyNetwork(plan, done);
      case 'disk-wipe':
      case 'torn-write':
      case 'bitflip':
        return this.applyDisk(plan, done);
      case 'clock':
        return this.applyClock(plan, done);
      default:
        return assertNever(plan.kind);
    }
  }

  /** The node a shape aims at: the current leader for the leader shapes (the first in order if none), else the first in order. */
  private async target(plan: FaultPlan): Promise<NodeId> {
    const first = plan.order[0] as NodeId;
    if (plan.variant !== 'leader' && plan.variant !== 'isolate-leader' && plan.variant !== 'leader-mute'
      && plan.variant !== 'leader-fast' && plan.variant !== 'leader-slow') return first;
    return (await this.cluster.leader(1_000)) ?? first;
  }

  private async applyProcess(plan: FaultPlan, done: Done): Promise<ActiveFault> {
    const c = this.cluster;
    if (plan.kind === 'pause') {
      const id = await this.target(plan);
      await c.local.freeze(id);
      return done([id], `SIGSTOP ${id}`);
    }
    const targets = plan.variant === 'majority' ? plan.order.slice(0, Math.floor(c.ids.length / 2) + 1)
      : plan.variant === 'all' ? [...plan.order] : [await this.target(plan)];
    // Signals sent in one tick: the nodes die together, as in a power cut.
    await Promise.all(targets.map((id) => c.local.kill(id)));
    return done(targets, `SIGKILL ${targets.join(', ')}`, targets);
  }

  private async applyNetwork(plan: FaultPlan, done: Done): Promise<ActiveFault> {
    const c = this.cluster;
    const id = await this.target(plan);
    const others = c.ids.filter((o) => o !== id);
    if (plan.kind === 'partition') {
      const isolated = plan.variant === 'majority-minority' ? plan.order.slice(0, Math.floor((c.ids.length - 1) / 2)) : [id];
      const rest = c.ids.filter((o) => !isolated.includes(o));
      c.mesh.partition(isolated, rest);
      return done(isolated, `partition {${isolated.join(', ')}} | {${rest.join(', ')}}`);
    }
    if (plan.variant === 'one-deaf') {
      for (const o of others) c.mesh.cutOneWay(o, id);
      return done([id], `one-way: frames to ${id} dropped (it still sends)`);
    }
    if (plan.kind === 'one-way') {
      for (const o of others) c.mesh.cutOneWay(id, o);
      return done([id], `one-way: frames from ${id} dropped (it still hears)`);
    }
    if (plan.variant === 'clog-one') {
      // A clogged node: its links stop moving bytes (held, not lost) until the heal releases them.
      for (const o of others) {
        c.mesh.pause(id, o);
        c.mesh.pause(o, id);
      }
      return done([id], `links of ${id} clogged (bytes held, released at heal)`);
    }
    const all = plan.variant !== 'one-node';
    const links = all ? c.ids.flatMap((a) => c.ids.filter((b) => b !== a).map((b) => [a, b] as const))
      : others.flatMap((o) => [[id, o], [o, id]] as const);
    for (const [a, b] of links) {
      c.mesh.link(a, b).setFaults('both', { resetProbability: plan.resetProbability, delayMs: plan.delayMs, jitterMs: plan.jitterMs });
    }
    return done(all ? [...c.ids] : [id],
      `${all ? 'every link' : `links of ${id}`}: reset ${plan.resetProbability * 100}% of chunks, delay ${plan.delayMs}+U(0,${plan.jitterMs}) ms`);
  }

  /** One node's clock runs fast or slow, or steps forward; the heal puts its rate back to x1. */
  private async applyClock(plan: FaultPlan, done: Done): Promise<ActiveFault> {
    const clock = this.clock();
    const id = await this.target(plan);
    if (plan.variant === 'jump') {
      const stepMs = clockStepMsMin + (plan.draw % (clockStepMsMaxPlanned - clockStepMsMin + 1));
      clock.step(id, stepMs);
      return done([id], `clock of ${id} stepped ${stepMs} ms forward (every clock it reads)`);
    }
    const rate = plan.variant === 'fast' || plan.variant === 'leader-fast' ? clockRates.fast : clockRates.slow;
    clock.setRate(id, rate);
    return done([id], `clock of ${id} runs at x${rate} (timers included)`);
  }

  private clock(): ClockControl {
    const c = this.cluster.clock;
    assert(c !== null, 'a clock fault was planned for a cluster started without fake clocks');
    return c;
  }

  /**
   * The node a disk fault hits. A wipe, and damage the node may refuse (then it is wiped), costs
   * a voter; once no more can be lost, a fault aimed at a voter goes to a member that already
   * lost its vote instead (in the plan's order), so wipes and damage are still exercised.
   */
  private async diskTarget(plan: FaultPlan): Promise<{ id: NodeId; note: string }> {
    const aimed = await this.target(plan);
    if (!this.isVoter(aimed) || this.lostVoters.length < this.lostVotersMax) return { id: aimed, note: '' };
    const spare = plan.order.find((id) => !this.isVoter(id)) as NodeId;
    return { id: spare, note: ` (aimed at ${aimed}, a voter; ${this.lostVoters.map((l) => l.node).join(', ')} already lost the vote and no more can go)` };
  }

  private loseVoter(id: NodeId, why: string): void {
    if (!this.isVoter(id)) return;
    assert(this.lostVoters.length < this.lostVotersMax, `${id} would be one lost voter too many: no voting majority would be left`);
    this.lostVoters.push({ node: id, atMs: this.nowMs(), why });
  }

  private async applyDisk(plan: FaultPlan, done: Done): Promise<ActiveFault> {
    const c = this.cluster;
    const { id, note } = await this.diskTarget(plan);
    await c.local.kill(id);
    const dir = c.local.dataDirOf(id);
    if (plan.kind === 'disk-wipe') {
      c.local.wipe(id);
      this.loseVoter(id, 'disk wiped');
      return done([id], `SIGKILL ${id}, data directory deleted${note}`, [id]);
    }
    if (plan.kind === 'torn-write') {
      try {
        const rec = await tearLastWalRecord(dir, plan.draw % 2 === 0 ? undefined : 1);
        const what = `last WAL record (type ${rec.type}, ${rec.sizeBytes} bytes at ${rec.offset}) torn`;
        return done([id], `SIGKILL ${id}, ${what}${note}`, [id], { node: id, what });
      } catch (err) {
        // Still a crash: the heal restarts the node undamaged.
        return done([id], `SIGKILL ${id}; nothing torn (${(err as Error).message})`, [id]);
      }
    }
    const what = await flipSomeBit(dir, plan.draw).catch((err: unknown) => `no bit flipped (${(err as Error).message})`);
    return done([id], `SIGKILL ${id}, ${what}${note}`, [id], what.startsWith('no ') ? null : { node: id, what });
  }

  async heal(f: ActiveFault): Promise<HealResult> {
    const c = this.cluster;
    const errors: string[] = [];
    let corruption: CorruptionRecord | null = null;
    switch (f.plan.kind) {
      case 'pause':
        for (const id of f.nodes) await c.local.thaw(id);
        break;
      case 'partition':
      case 'one-way':
      case 'loss':
        c.mesh.heal();
        break;
      case 'clock':
        for (const id of f.nodes) if (c.local.isRunning(id)) this.clock().normal(id);
        break;
      case 'kill':
      case 'disk-wipe':
      case 'torn-write':
      case 'bitflip':
        break;
      default:
        assertNever(f.plan.kind);
    }
    await Promise.all(f.stopped.map(async (id) => {
      if (f.damage !== null && f.damage.node === id) {
        corruption = await this.restartDamaged(f, id, errors);
        return;
      }
      c.local.spawnNode(id, f.plan.kind === 'disk-wipe' ? { initialClusterState: 'existing' } : {});
      try {
        await c.local.waitHealthy(id, restartTimeoutMs);
      } catch (err) {
        errors.push(`${id} did not come back after ${f.plan.kind}: ${(err as Error).message}; ${lastLines(c.logTail(id))}`);
      }
    }));
    return { healedAtMs: this.nowMs(), corruption, restartFailures: errors };
  }

  /** Restarts a node on damaged files; a refusal is detection, then the node rejoins wiped. */
  private async restartDamaged(f: ActiveFault, id: NodeId, errors: string[]): Promise<CorruptionRecord> {
    const c = this.cluster;
    const what = f.damage?.what ?? '';
    c.local.spawnNode(id);
    try {
      await c.local.waitHealthy(id, restartTimeoutMs);
      return { node: id, kind: f.plan.kind, what, outcome: 'started', detail: 'recovered on its own files', rejoinedAs: 'same-data' };
    } catch (err) {
      if (c.local.isRunning(id)) {
        errors.push(`${id} neither started nor refused after ${f.plan.kind}: ${(err as Error).message}`);
        await c.local.kill(id);
      }
    }
    const code = c.local.isRunning(id) ? null : await c.local.exitCode(id);
    const detail = `exit ${String(code)}: ${lastLines(c.logTail(id))}`;
    c.local.wipe(id);
    this.loseVoter(id, `refused its damaged files after ${f.plan.kind}, wiped`);
    c.local.spawnNode(id, { initialClusterState: 'existing' });
    try {
      await c.local.waitHealthy(id, restartTimeoutMs);
    } catch (err) {
      errors.push(`${id} did not rejoin wiped after refusing its damaged files: ${(err as Error).message}`);
    }
    return { node: id, kind: f.plan.kind, what, outcome: 'refused', detail, rejoinedAs: 'wiped' };
  }
}

/** Flips one bit in a WAL segment or snapshot file, chosen by `draw`; names what it did. */
async function flipSomeBit(dataDir: string, draw: number): Promise<string> {
  // The written part of a WAL segment only (up to its last record): segments are preallocated,
  // and a flip in the zeros after the last record is damage to nothing (recovery refuses it all
  // the same, as it should).
  const walEnds = new Map<string, number>();
  for (const r of await walRecords(dataDir).catch(() => [])) walEnds.set(r.file, r.offset + r.sizeBytes);
  const snapshots = (await snapshotFiles(dataDir).catch(() => [])).map((f) => ({ f, size: statSync(f).size }));
  const sized = [...[...walEnds].map(([f, size]) => ({ f, size })), ...snapshots].filter((x) => x.size > 0);
  if (sized.length === 0) return 'no bit flipped (no WAL or snapshot file)';
  const pick = sized[draw % sized.length] as { f: string; size: number };
  const offset = Math.floor(draw / sized.length) % pick.size;
  const bit = draw % 8;
  await flipBit(pick.f, offset, bit);
  return `bit ${bit} of byte ${offset} flipped in ${pick.f.split('/').slice(-2).join('/')} (${pick.size} bytes)`;
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ').slice(0, 600);
}
