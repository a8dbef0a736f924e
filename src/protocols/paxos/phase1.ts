import type { Entry, NodeId } from '../../core/index.js';
import { acceptedBallot, valueOf } from './value.js';
import type { Value } from './value.js';

/**
 * A proposer's tally of phase 1 (Paxos Made Simple §2.2, step 1(b); PMMC "Scout"). Promises may
 * arrive in pages; an acceptor counts toward the quorum once its last page is in. For every slot
 * the value accepted at the highest ballot is kept, because that is the value phase 2 must
 * re-propose.
 */
export class PrepareTally {
  private readonly complete = new Set<NodeId>();
  /** Next page to ask for, per acceptor still paging. */
  private readonly paging = new Map<NodeId, number>();
  /** Per slot: the value to re-propose and the ballot it was accepted at (Infinity once known chosen). */
  private readonly values = new Map<number, { ballot: number; value: Value }>();
  private highest = 0;
  /** Highest compaction point reported: the proposer must hold every slot through it first. */
  private snapshotIndexMax = 0;
  private snapshotHolder: NodeId | null = null;

  constructor(
    readonly ballot: number,
    readonly fromSlot: number,
    /** Whether accepted values from other acceptors are used (false only for the ignore-accepted mutant). */
    private readonly useOthers: boolean,
    private readonly self: NodeId,
  ) {}

  /** Adds one page of a promise. Returns the next slot to ask `from` for, or 0 when it is complete. */
  add(from: NodeId, entries: readonly Entry[], next: number, snapshotIndex: number): number {
    if (this.complete.has(from)) return 0;
    if (from === this.self || this.useOthers) {
      for (const e of entries) this.merge(e);
    }
    if (snapshotIndex > this.snapshotIndexMax) {
      this.snapshotIndexMax = snapshotIndex;
      this.snapshotHolder = from;
    }
    if (next === 0) {
      this.paging.delete(from);
      this.complete.add(from);
      return 0;
    }
    this.paging.set(from, next);
    return next;
  }

  /**
   * A chosen-form entry is the chosen value and wins outright; otherwise the value accepted at the
   * highest ballot wins (Paxos Made Simple §2.2, P2c).
   */
  private merge(e: Entry): void {
    if (e.index < this.fromSlot || e.id === 0) return;
    const ballot = acceptedBallot(e) ?? Number.POSITIVE_INFINITY;
    const prev = this.values.get(e.index);
    if (prev === undefined || ballot > prev.ballot) this.values.set(e.index, { ballot, value: valueOf(e) });
    this.highest = Math.max(this.highest, e.index);
  }

  get promised(): number {
    return this.complete.size;
  }

  hasPromised(id: NodeId): boolean {
    return this.complete.has(id);
  }

  /** The value with the highest accepted ballot at `slot`, if any acceptor in the tally had one. */
  valueAt(slot: number): Value | undefined {
    return this.values.get(slot)?.value;
  }

  /** Highest slot any promise reported an accepted value for (0 when none). */
  get maxSlot(): number {
    return this.highest;
  }

  get compactedThrough(): { index: number; holder: NodeId | null } {
    return { index: this.snapshotIndexMax, holder: this.snapshotHolder };
  }
}
