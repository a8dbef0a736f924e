import type { NodeId, Rng } from '../core/index.js';

/**
 * The simulated network between replicas: per-message latency, loss, duplication and reordering
 * drawn from the network's own Rng; a link matrix for partitions (symmetric or one-way cuts drop
 * messages) and clogs (held messages, released when the link is unclogged).
 */

export interface NetworkParams {
  readonly delayMinUs: number;
  readonly delayMaxUs: number;
  /** Probability of a heavy-tail delay, and its bound. */
  readonly tailP: number;
  readonly tailMaxUs: number;
  readonly lossP: number;
  readonly duplicateP: number;
  /** Probability of an extra delay large enough to let later messages overtake. */
  readonly reorderP: number;
  readonly reorderMaxUs: number;
}

export const calmNetwork: NetworkParams = {
  delayMinUs: 200, delayMaxUs: 2_000, tailP: 0, tailMaxUs: 0, lossP: 0, duplicateP: 0, reorderP: 0, reorderMaxUs: 0,
};

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  partitionDropped: number;
  lost: number;
  duplicated: number;
  reordered: number;
  delayedTail: number;
  clogHeld: number;
  clogDropped: number;
}

/** One in-flight message. */
export interface Packet {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly bytes: Uint8Array;
}

export class SimNetwork {
  params: NetworkParams = calmNetwork;
  private readonly cut = new Set<string>();
  private readonly clogs = new Map<string, Packet[]>();
  /** Latest in-order arrival per link (FIFO). */
  private readonly lastArrival = new Map<string, number>();
  readonly stats: NetworkStats = {
    sent: 0, delivered: 0, dropped: 0, partitionDropped: 0, lost: 0, duplicated: 0, reordered: 0, delayedTail: 0, clogHeld: 0, clogDropped: 0,
  };

  constructor(
    private readonly rng: Rng,
    /** Messages one clogged link holds; beyond it they are dropped (counted). */
    readonly clogQueueMax = 1024,
  ) {}

  private static link(from: NodeId, to: NodeId): string {
    return `${from}>${to}`;
  }

  /** Arrival times for a message sent now: none (dropped or held), one, or two (duplicated). */
  send(p: Packet, now: number): number[] {
    this.stats.sent++;
    const link = SimNetwork.link(p.from, p.to);
    if (this.cut.has(link)) {
      this.stats.partitionDropped++;
      this.stats.dropped++;
      return [];
    }
    const held = this.clogs.get(link);
    if (held !== undefined) {
      if (held.length >= this.clogQueueMax) {
        this.stats.clogDropped++;
        this.stats.dropped++;
      } else {
        held.push(p);
        this.stats.clogHeld++;
      }
      return [];
    }
    if (this.rng.chance(this.params.lossP)) {
      this.stats.lost++;
      this.stats.dropped++;
      return [];
    }
    const out = [this.arrival(link, now)];
    if (this.rng.chance(this.params.duplicateP)) {
      this.stats.duplicated++;
      out.push(this.arrival(link, now));
    }
    return out;
  }

  /**
   * Links are FIFO, as TCP connections are, unless the reorder fault strikes: such a message is
   * held back out of band (it does not hold back the ones after it), so later ones overtake it.
   */
  private arrival(link: string, now: number): number {
    const p = this.params;
    let d = this.rng.int(p.delayMinUs, p.delayMaxUs);
    if (this.rng.chance(p.tailP)) {
      d += this.rng.int(0, p.tailMaxUs);
      this.stats.delayedTail++;
    }
    if (this.rng.chance(p.reorderP)) {
      this.stats.reordered++;
      return now + d + this.rng.int(p.reorderMaxUs / 2, p.reorderMaxUs);
    }
    const at = Math.max(now + d, this.lastArrival.get(link) ?? 0);
    this.lastArrival.set(link, at);
    return at;
  }

  /**
   * A node crashed: its connections are gone, and the new incarnation's connections are new ones.
   * Nothing orders a message still in flight on an old connection before one sent on a new
   * connection, so a restart is no barrier (FAULTS.md #21).
   */
  resetLinks(node: NodeId): void {
    for (const link of [...this.lastArrival.keys()]) {
      const [a, b] = link.split('>');
      if (a === node || b === node) this.lastArrival.delete(link);
    }
  }

  // ---- the link matrix ----

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(SimNetwork.link(from, to));
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(SimNetwork.link(from, to));
  }

  /** Symmetric partition into groups: links between different groups are cut both ways. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i] as readonly NodeId[]) for (const b of groups[j] as readonly NodeId[]) this.cutLink(a, b);
      }
    }
  }

  healCuts(): void {
    this.cut.clear();
  }

  get cutCount(): number {
    return this.cut.size;
  }

  clog(from: NodeId, to: NodeId): void {
    const link = SimNetwork.link(from, to);
    if (!this.clogs.has(link)) this.clogs.set(link, []);
  }

  get clogged(): string[] {
    return [...this.clogs.keys()].sort();
  }

  /** Unclogs one link ("a>b"): its held messages leave now, each with a fresh delay. */
  unclog(link: string, now: number): { packet: Packet; at: number }[] {
    const held = this.clogs.get(link);
    if (held === undefined) return [];
    this.clogs.delete(link);
    return held.map((packet) => ({ packet, at: this.arrival(link, now) }));
  }
}
