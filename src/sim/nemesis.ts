import type { NodeId, Rng } from '../core/index.js';
import type { SimEvent } from './events.js';
import type { NetworkParams, SimNetwork } from './network.js';
import { calmNetwork } from './network.js';
import type { SimNode } from './node.js';
import { FaultKind } from './options.js';

/**
 * The fault injector of the safety phase. Continuous faults (loss, duplication, reordering,
 * delay, slow disk) are network and disk parameters; discrete faults (partitions, one-way cuts,
 * clogs, crashes, pauses, skew, bit flips, wipes) are injected at random times and healed after a
 * random while. `healAll` ends the safety phase: every fault is undone at once.
 */

export interface NemesisHost {
  now(): number;
  schedule(at: number, ev: SimEvent): void;
  readonly nodes: readonly SimNode[];
  readonly network: SimNetwork;
  leaderIndex(): number | null;
  crash(node: number, tear: boolean): void;
  trace(line: string): void;
}

export type FaultCounts = Record<string, number>;

export class Nemesis {
  readonly counts: FaultCounts = {};
  /** Bumped when cuts heal so that an older partition's heal event does not cut short a newer one. */
  cutGeneration = 0;
  private active = true;

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

  /** Simulated fsync latency: usually fast, with a heavy tail when the disk is slow. */
  fsyncUs(): number {
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

  /**
   * Node faults are bounded so that a majority stays up and able to vote: a node counts as
   * degraded while down, paused or (after a wipe) not yet allowed to vote. More than that loses
   * the cluster's state for good (a majority of wiped disks), which no protocol can survive.
   */
  get isActive(): boolean {
    return this.active;
  }

  mayTakeDown(): boolean {
    const n = this.host.nodes.length;
    const degraded = this.host.nodes.filter((x) => x.state !== 'up' || x.replica === null || !x.replica.status().canVote).length;
    return degraded + 1 <= Math.max(1, Math.floor((n - 1) / 2)) && (n > 1 || degraded === 0);
  }

  onNemesis(): void {
    if (!this.active) return;
    const discrete = [
      FaultKind.Partition, FaultKind.OneWay, FaultKind.Clog, FaultKind.Crash, FaultKind.Pause, FaultKind.Skew,
      FaultKind.BitFlip, FaultKind.Wipe,
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
        const victim = leader !== null && this.rng.chance(0.4) ? leader : this.rng.pick(up);
        const node = host.nodes[victim] as SimNode;
        if (node.state !== 'up') return;
        const tear = this.has(FaultKind.Torn) && this.rng.chance(0.5);
        host.crash(victim, tear);
        this.count(kind === FaultKind.Crash ? 'crash' : kind);
        if (kind === FaultKind.BitFlip) {
          const what = node.disk.flipBit(this.rng);
          host.trace(`nemesis bit flip on ${node.id}: ${what ?? 'nothing to flip'}`);
          if (what !== null) this.count('bitflip-injected');
        }
        host.schedule(now + this.rng.int(20_000, 1_000_000), { k: 'restart', node: victim, inc: node.incarnation, wipe: kind === FaultKind.Wipe });
        return;
      }
      case FaultKind.Pause: {
        if (!this.mayTakeDown()) return;
        const up = this.healthy();
        if (up.length === 0) return;
        const victim = this.rng.pick(up);
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
        return; // continuous: parameters, not events
    }
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
