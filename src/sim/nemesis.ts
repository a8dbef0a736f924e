import type { NodeId, Rng } from '../core/index.js';
import type { SimEvent } from './events.js';
import type { NetworkParams, SimNetwork } from './network.js';
import { calmNetwork } from './network.js';
import type { CrashKind, SimNode } from './node.js';
import { FaultKind } from './options.js';

/**
 * The fault injector of the safety phase. Continuous faults (loss, duplication, reordering,
 * delay, slow disk, fsync stalls) are network and disk parameters; discrete faults (partitions,
 * one-way cuts, clogs, process crashes, power loss of one machine up to all of them, pauses, skew,
 * bit flips, wipes, messages held past their sender's restart) are injected at random times and
 * healed after a random while. `healAll` ends the safety phase: every fault is undone at once.
 */

/** Fsync stalls (the stall fault): far longer than an election, sync or stuck timeout (0.1-0.4 s). */
const stallUs = { min: 300_000, max: 3_000_000 } as const;
/** Probability of a stall for an fsync that persists a new promise (a handshake step), and for any other. */
const stallPromiseP = 0.05;
const stallOtherP = 0.002;
/** A proxy holds a node's outbound frames this long before the node crashes (the outlive fault). */
const outliveHoldUs = { min: 2_000, max: 40_000 } as const;
/** Machines that lost power come back within this (each on its own). */
const powerRestartUs = { min: 20_000, max: 1_000_000 } as const;

export interface NemesisHost {
  now(): number;
  schedule(at: number, ev: SimEvent): void;
  readonly nodes: readonly SimNode[];
  readonly network: SimNetwork;
  leaderIndex(): number | null;
  crash(node: number, kind: CrashKind, tear: boolean): void;
  /** A proxy holds what `node` sends until `until`; held frames arrive only after its next restart. */
  holdOutbound(node: number, until: number): void;
  trace(line: string): void;
}

export type FaultCounts = Record<string, number>;

export class Nemesis {
  readonly counts: FaultCounts = {};
  /** Bumped when cuts heal so that an older partition's heal event does not cut short a newer one. */
  cutGeneration = 0;
  private active = true;
  /**
   * Nodes that lost their state or will at their restart: wiped, or with a bit flip that
   * recovery will refuse (lostMember is set only once the restart happens).
   */
  private readonly doomed = new Set<number>();
  /**
   * Nodes whose last write a power loss tore and that have not restarted yet. A torn write may cost
   * a member its state (Paxos: a torn rewrite below the acknowledged end), which only its restart
   * tells, so until then it counts against the lost-state budget like a doomed one.
   */
  private readonly tornPending = new Set<number>();

  constructor(
    private readonly host: NemesisHost,
    private readonly rng: Rng,
    private readonly faults: ReadonlySet<FaultKind>,
    private readonly intervalUs: number,
    private readonly delayTailP = 0.02,
    /** Tick-rate factors the skew fault draws from (narrower when leases assume bounded drift). */
    private readonly skewFactors: readonly number[] = [0.5, 0.7, 1.3, 2],
  ) {}

  private has(f: FaultKind): boolean {
    return this.faults.has(f);
  }

  private count(what: string): void {
    this.counts[what] = (this.counts[what] ?? 0) + 1;
  }

  networkParams(): NetworkParams {
    return {
      delayMinUs: 200,
      delayMaxUs: 2_000,
      tailP: this.has(FaultKind.Delay) ? this.delayTailP : 0,
      tailMaxUs: 100_000,
      lossP: this.has(FaultKind.Loss) ? 0.03 : 0,
      duplicateP: this.has(FaultKind.Duplicate) ? 0.02 : 0,
      reorderP: this.has(FaultKind.Reorder) ? 0.03 : 0,
      reorderMaxUs: 20_000,
    };
  }

  /**
   * Simulated fsync latency: usually fast, with a heavy tail when the disk is slow, and now and then
   * a stall of seconds, mostly while a handshake persists a promise (vote, promise, epoch): the
   * peers' sync and stuck timeouts run out while this member still means to answer.
   */
  fsyncUs(promised = false): number {
    if (this.active && this.has(FaultKind.Stall) && this.rng.chance(promised ? stallPromiseP : stallOtherP)) {
      this.count(promised ? 'fsync-stall-promise' : 'fsync-stall');
      return this.rng.int(stallUs.min, stallUs.max);
    }
    if (this.active && this.has(FaultKind.SlowDisk) && this.rng.chance(0.05)) {
      this.count('slow-fsync');
      return this.rng.int(20_000, 200_000);
    }
    return this.rng.int(100, 2_000);
  }

  start(): void {
    this.host.network.params = this.networkParams();
    this.scheduleNext();
  }

  private scheduleNext(): void {
    this.host.schedule(this.host.now() + this.rng.int(this.intervalUs / 2, this.intervalUs * 2), { k: 'nemesis' });
  }

  /** Nodes that are not down, paused or failed. */
  private healthy(): number[] {
    return this.host.nodes.flatMap((n, i) => (n.state === 'up' ? [i] : []));
  }

  get isActive(): boolean {
    return this.active;
  }

  /** The largest number of members a quorum can do without. */
  private get tolerated(): number {
    return Math.floor((this.host.nodes.length - 1) / 2);
  }

  /**
   * One more node may go down for a while (a process crash, a pause): at most a minority is down
   * at once from these faults, so the cluster keeps making progress most of the time. Power loss
   * is not bounded by this: it takes down a majority or every machine, which all come back.
   */
  mayTakeDown(): boolean {
    const n = this.host.nodes.length;
    const down = this.host.nodes.filter((x) => x.state !== 'up').length;
    return down + 1 <= Math.max(1, this.tolerated) && (n > 1 || down === 0);
  }

  /**
   * Whether node i may lose its state (a wipe, or a bit flip that recovery will refuse). A member
   * that lost its state never votes again (the project's decision), so this budget is for the
   * whole run: at most a minority of members may ever be lost, counting the ones already lost and
   * those whose disks were corrupted, or the healed cluster could never form a quorum again.
   */
  mayLoseState(i: number): boolean {
    const lost = new Set([...this.doomed, ...this.tornPending]);
    this.host.nodes.forEach((x, j) => {
      if (x.lostMember) lost.add(j);
    });
    if (lost.has(i)) return true;
    return lost.size + 1 <= this.tolerated;
  }

  /**
   * Whether a power loss may tear node i's last write now, with probability p while the lost-state
   * budget allows (counted until its restart says more).
   */
  mayTear(i: number, p = 0.5): boolean {
    if (!this.has(FaultKind.Torn) || !this.rng.chance(p) || !this.mayLoseState(i)) return false;
    this.tornPending.add(i);
    return true;
  }

  /** Node i restarted: whether a torn write cost it its state is now known (SimNode.lostMember). */
  onRestarted(i: number): void {
    this.tornPending.delete(i);
  }

  onNemesis(): void {
    if (!this.active) return;
    const discrete = [
      FaultKind.Partition, FaultKind.OneWay, FaultKind.Clog, FaultKind.Crash, FaultKind.PowerLoss, FaultKind.Pause, FaultKind.Skew,
      FaultKind.BitFlip, FaultKind.Wipe, FaultKind.Outlive,
    ].filter((f) => this.has(f));
    if (discrete.length > 0) this.inject(this.rng.pick(discrete));
    this.scheduleNext();
  }

  private inject(kind: FaultKind): void {
    const host = this.host;
    const now = host.now();
    const ids = host.nodes.map((n) => n.id);
    switch (kind) {
      case FaultKind.Partition: {
        const groups = this.partitionShape(ids);
        host.network.partition(groups.cut);
        this.count(`partition-${groups.shape}`);
        host.trace(`nemesis partition ${groups.shape} ${JSON.stringify(groups.cut)}`);
        this.scheduleCutHeal(now);
        return;
      }
      case FaultKind.OneWay: {
        const leader = host.leaderIndex();
        const from = leader !== null && this.rng.chance(0.5) ? leader : this.rng.int(0, ids.length - 1);
        const outbound = this.rng.chance(0.5);
        for (const to of ids) {
          if (to === ids[from] || !this.rng.chance(0.7)) continue;
          if (outbound) host.network.cutLink(ids[from] as NodeId, to);
          else host.network.cutLink(to, ids[from] as NodeId);
        }
        this.count('oneway');
        host.trace(`nemesis one-way ${outbound ? 'from' : 'to'} ${ids[from]}`);
        this.scheduleCutHeal(now);
        return;
      }
      case FaultKind.Clog: {
        const links: string[] = [];
        for (const a of ids) for (const b of ids) if (a !== b && this.rng.chance(0.3)) links.push(`${a}>${b}`);
        for (const l of links) {
          const [a, b] = l.split('>') as [NodeId, NodeId];
          host.network.clog(a, b);
          host.schedule(now + this.rng.int(50_000, 1_500_000), { k: 'unclog', link: l });
        }
        this.count('clog');
        host.trace(`nemesis clog ${links.join(' ')}`);
        return;
      }
      case FaultKind.Crash:
      case FaultKind.BitFlip:
      case FaultKind.Wipe: {
        if (!this.mayTakeDown()) return;
        const leader = host.leaderIndex();
        const up = this.healthy();
        if (up.length === 0) return;
        let victim = leader !== null && this.rng.chance(0.4) ? leader : this.rng.pick(up);
        const losesState = kind !== FaultKind.Crash;
        if (losesState && !this.mayLoseState(victim)) {
          // Out of budget: only a member that already lost its state may lose it again.
          const lost = up.filter((i) => this.mayLoseState(i) && (host.nodes[i] as SimNode).lostMember);
          if (lost.length === 0) return;
          victim = this.rng.pick(lost);
        }
        const node = host.nodes[victim] as SimNode;
        if (node.state !== 'up') return;
        // A process crash keeps the page cache; a bit flip or a wipe happens to a disk at rest,
        // after the machine went off.
        // A process crash keeps its page cache and tears nothing.
        host.crash(victim, losesState ? 'power' : 'process', losesState && this.mayTear(victim));
        this.count(kind === FaultKind.Crash ? 'crash' : kind);
        if (kind === FaultKind.BitFlip) {
          const what = node.disk.flipBit(this.rng);
          host.trace(`nemesis bit flip on ${node.id}: ${what ?? 'nothing to flip'}`);
          if (what !== null) {
            this.count('bitflip-injected');
            this.doomed.add(victim);
          }
        }
        if (kind === FaultKind.Wipe) this.doomed.add(victim);
        host.schedule(now + this.rng.int(20_000, 1_000_000), { k: 'restart', node: victim, inc: node.incarnation, wipe: kind === FaultKind.Wipe });
        return;
      }
      case FaultKind.PowerLoss: {
        this.powerLoss();
        return;
      }
      case FaultKind.Outlive: {
        // A proxy sits on one node's frames for a moment, then the node crashes (maybe losing its
        // disk too); the frames reach their peers after it restarted, behind its new life's own.
        if (!this.mayTakeDown()) return;
        const up = this.healthy();
        if (up.length === 0) return;
        const leader = host.leaderIndex();
        const victim = leader !== null && this.rng.chance(0.3) ? leader : this.rng.pick(up);
        const node = host.nodes[victim] as SimNode;
        const wipe = this.has(FaultKind.Wipe) && this.rng.chance(0.3) && this.mayLoseState(victim);
        // Counted now: if the crash does not happen after all, the budget is only conservative.
        if (wipe) this.doomed.add(victim);
        const at = now + this.rng.int(outliveHoldUs.min, outliveHoldUs.max);
        host.holdOutbound(victim, at);
        host.schedule(at, { k: 'crash', node: victim, inc: node.incarnation, point: wipe ? 'outlive-wipe' : 'outlive', wipe });
        this.count('outlive');
        host.trace(`nemesis outlive ${node.id}${wipe ? ' (then wiped)' : ''}`);
        return;
      }
      case FaultKind.Pause: {
        if (!this.mayTakeDown()) return;
        const up = this.healthy();
        if (up.length === 0) return;
        // A paused leader is the case that matters most (FAULTS.md #9: a lease must not outlive it).
        const leader = host.leaderIndex();
        const victim = leader !== null && this.rng.chance(0.5) ? leader : this.rng.pick(up);
        const node = host.nodes[victim] as SimNode;
        node.state = 'paused';
        this.count('pause');
        host.trace(`nemesis pause ${node.id}`);
        host.schedule(now + this.rng.int(50_000, 1_500_000), { k: 'resume', node: victim, inc: node.incarnation });
        return;
      }
      case FaultKind.Skew: {
        const node = this.rng.pick(host.nodes);
        node.tickFactor = this.rng.pick(this.skewFactors);
        this.count('skew');
        host.trace(`nemesis skew ${node.id} x${node.tickFactor}`);
        return;
      }
      case FaultKind.Loss:
      case FaultKind.Duplicate:
      case FaultKind.Reorder:
      case FaultKind.Delay:
      case FaultKind.Torn:
      case FaultKind.SlowDisk:
      case FaultKind.Stall:
        return; // continuous: parameters, not events
    }
  }

  /**
   * Power fails on one machine, a minority, a majority or all of them at once (FAULTS.md #7): each
   * loses what it had not fsynced, maybe with a torn last record, whether its process was running,
   * paused or already down after a process crash (its page cache goes too). Every one of them is
   * restarted, each after its own delay.
   */
  private powerLoss(): void {
    const host = this.host;
    const now = host.now();
    const n = host.nodes.length;
    const f = this.tolerated;
    const shapes = n === 1 ? ['all'] : ['one', ...(f > 1 ? ['minority'] : []), 'majority', 'all'];
    const shape = this.rng.pick(shapes);
    const count = shape === 'one' ? 1 : shape === 'minority' ? this.rng.int(2, f) : shape === 'majority' ? this.rng.int(f + 1, n) : n;
    const candidates = host.nodes.flatMap((x, i) => (x.state === 'failed' ? [] : [i]));
    const victims = this.rng.shuffle(candidates).slice(0, count).sort((a, b) => a - b);
    if (victims.length === 0) return;
    for (const i of victims) {
      const node = host.nodes[i] as SimNode;
      host.crash(i, 'power', this.mayTear(i));
      host.schedule(now + this.rng.int(powerRestartUs.min, powerRestartUs.max), { k: 'restart', node: i, inc: node.incarnation, wipe: false });
    }
    this.count(`powerloss-${shape}`);
    host.trace(`nemesis power loss (${shape}) ${victims.map((i) => (host.nodes[i] as SimNode).id).join(' ')}`);
  }

  private scheduleCutHeal(now: number): void {
    this.host.schedule(now + this.rng.int(100_000, 1_500_000), { k: 'heal-cuts', generation: this.cutGeneration });
  }

  onHealCuts(generation: number): void {
    if (generation !== this.cutGeneration) return;
    this.cutGeneration++;
    this.host.network.healCuts();
    this.host.trace('nemesis heal cuts');
  }

  /** The partition shapes of FAULTS.md: majority/minority, isolate (maybe the leader), bridge, ring. */
  private partitionShape(ids: readonly NodeId[]): { shape: string; cut: NodeId[][] } {
    const n = ids.length;
    const shuffled = this.rng.shuffle(ids);
    const shapes = ['majority', 'isolate', ...(n >= 3 ? ['bridge'] : []), ...(n >= 5 ? ['ring'] : [])];
    const shape = this.rng.pick(shapes);
    if (shape === 'isolate') {
      const leader = this.host.leaderIndex();
      const victim = leader !== null && this.rng.chance(0.6) ? (ids[leader] as NodeId) : (shuffled[0] as NodeId);
      return { shape, cut: [[victim], ids.filter((i) => i !== victim)] };
    }
    if (shape === 'majority') {
      const minority = this.rng.int(1, Math.max(1, Math.floor(n / 2)));
      return { shape, cut: [shuffled.slice(0, minority), shuffled.slice(minority)] };
    }
    if (shape === 'bridge') {
      // Two halves that only the bridge node sees both of: cut every link across, except the bridge's.
      const half = Math.floor((n - 1) / 2);
      const a = shuffled.slice(1, 1 + half);
      const b = shuffled.slice(1 + half);
      return { shape, cut: [a, b] };
    }
    // Majorities ring: each node keeps links only to the ring neighbours within `reach` hops, the
    // fewest that still show it a majority (for n=5: its two neighbours), so no two nodes see the
    // same majority.
    const reach = Math.ceil(Math.floor(n / 2) / 2);
    const cut: NodeId[][] = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const d = Math.min((i - j + n) % n, (j - i + n) % n);
        if (i !== j && d > reach) {
          this.host.network.cutLink(shuffled[i] as NodeId, shuffled[j] as NodeId);
        }
      }
    }
    return { shape, cut };
  }

  /** The end of the safety phase: every fault is undone. */
  healAll(): void {
    this.active = false;
    this.cutGeneration++;
    this.host.network.healCuts();
    this.host.network.params = calmNetwork;
    for (const link of this.host.network.clogged) this.host.schedule(this.host.now(), { k: 'unclog', link });
    for (const n of this.host.nodes) n.tickFactor = 1;
  }
}
