import { quorumSize } from '../../core/index.js';
import type { NodeId, ReadFailure, ReadState } from '../../core/index.js';

interface PendingRead {
  readonly ctx: number;
  readonly startTick: number;
  readonly highest: Map<NodeId, number>;
}

/**
 * Quorum reads (PROTOCOLS.md Multi-Paxos rule 9): ask a quorum of acceptors for the highest slot
 * each has accepted; the largest answer is at least every chosen slot, because a chosen value was
 * accepted by a majority and every two majorities meet. The read may be served once that slot is
 * executed. No leader is needed, so any replica can serve reads this way.
 */
export class QuorumReads {
  private readonly pending = new Map<number, PendingRead>();
  private nextSeq: number;

  constructor(
    /**
     * First sequence number: random per incarnation, so that answers still in flight to a crashed
     * incarnation of this replica are not taken for answers to the restarted one's reads.
     */
    seqBase: number,
    /** Bound on reads waiting for their quorum (limits.pendingReadsMax). */
    private readonly pendingMax: number,
    /** Ticks a read waits for its quorum before it is dropped (the client retries). */
    private readonly timeoutTicks: number,
  ) {
    this.nextSeq = seqBase;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Starts a read; returns its sequence number, or null when the bound is reached. */
  start(ctx: number, now: number): number | null {
    if (this.pending.size >= this.pendingMax) return null;
    const seq = this.nextSeq++;
    this.pending.set(seq, { ctx, startTick: now, highest: new Map() });
    return seq;
  }

  /** Records an answer; returns the read state once a quorum of `voters` answered. */
  answer(seq: number, from: NodeId, highest: number, voters: readonly NodeId[]): ReadState | null {
    const r = this.pending.get(seq);
    if (r === undefined || !voters.includes(from)) return null;
    r.highest.set(from, highest);
    if (r.highest.size < quorumSize(voters.length)) return null;
    this.pending.delete(seq);
    return { ctx: r.ctx, index: Math.max(...r.highest.values()) };
  }

  /** Sequence numbers still waiting, oldest first (for retransmission). */
  waiting(): number[] {
    return [...this.pending.keys()];
  }

  answered(seq: number, from: NodeId): boolean {
    return this.pending.get(seq)?.highest.has(from) ?? false;
  }

  /** Drops reads older than the timeout. */
  expire(now: number): ReadFailure[] {
    const out: ReadFailure[] = [];
    for (const [seq, r] of this.pending) {
      if (now - r.startTick < this.timeoutTicks) continue;
      this.pending.delete(seq);
      out.push({ ctx: r.ctx, reason: 'dropped', leaderHint: null });
    }
    return out;
  }
}
