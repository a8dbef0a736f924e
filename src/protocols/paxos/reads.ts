import { quorumSize } from '../../core/index.js';
import type { NodeId, ReadFailure, ReadState } from '../../core/index.js';

/** One quorum round: the reads it answers and what each acceptor reported. */
interface Round {
  readonly startTick: number;
  readonly ctxs: readonly number[];
  readonly highest: Map<NodeId, number>;
}

interface Queued {
  readonly ctx: number;
  readonly tick: number;
}

/**
 * Quorum reads (PROTOCOLS.md Multi-Paxos rule 9): ask a quorum of acceptors for the highest slot
 * each has accepted; the largest answer is at least every chosen slot, because a chosen value was
 * accepted by a majority and every two majorities meet. The reads may be served once that slot is
 * executed. No leader is needed, so any replica can serve reads this way.
 *
 * Batching: the reads that arrive between two Readies share one round (`flush`), so N concurrent
 * reads cost one readReq per acceptor, not N (etcd batches ReadIndex requests the same way). A
 * read joins only a round that starts after it arrived: a round already under way may have been
 * answered before a write the read must see was chosen.
 */
export class QuorumReads {
  private readonly rounds = new Map<number, Round>();
  private queued: Queued[] = [];
  /** Reads queued or in a round: bounded by pendingMax. */
  private count = 0;
  private nextSeq: number;

  constructor(
    /**
     * First sequence number: random per incarnation, so that answers still in flight to a crashed
     * incarnation of this replica are not taken for answers to the restarted one's rounds.
     */
    seqBase: number,
    /** Bound on reads waiting for their quorum (limits.pendingReadsMax). */
    private readonly pendingMax: number,
    /** Ticks a read waits for its quorum before it is dropped (the client retries). */
    private readonly timeoutTicks: number,
  ) {
    this.nextSeq = seqBase;
  }

  /** Reads waiting (queued or in a round). */
  get size(): number {
    return this.count;
  }

  /** Queues a read for the next round; false when the bound is reached. */
  start(ctx: number, now: number): boolean {
    if (this.count >= this.pendingMax) return false;
    this.queued.push({ ctx, tick: now });
    this.count++;
    return true;
  }

  /** Starts one round for every queued read; returns its sequence number, or null when none waits. */
  flush(now: number): number | null {
    if (this.queued.length === 0) return null;
    const seq = this.nextSeq++;
    this.rounds.set(seq, { startTick: now, ctxs: this.queued.map((q) => q.ctx), highest: new Map() });
    this.queued = [];
    return seq;
  }

  /** Records an answer; returns the read states of the round once a quorum of `voters` answered. */
  answer(seq: number, from: NodeId, highest: number, voters: readonly NodeId[]): ReadState[] {
    const r = this.rounds.get(seq);
    if (r === undefined || !voters.includes(from)) return [];
    r.highest.set(from, highest);
    if (r.highest.size < quorumSize(voters.length)) return [];
    this.rounds.delete(seq);
    this.count -= r.ctxs.length;
    const index = Math.max(...r.highest.values());
    return r.ctxs.map((ctx) => ({ ctx, index }));
  }

  /** Rounds still waiting, oldest first (for retransmission). */
  waiting(): number[] {
    return [...this.rounds.keys()];
  }

  answered(seq: number, from: NodeId): boolean {
    return this.rounds.get(seq)?.highest.has(from) ?? false;
  }

  /** Drops reads (queued or in a round) older than the timeout. */
  expire(now: number): ReadFailure[] {
    const out: ReadFailure[] = [];
    const dropped = (ctx: number): void => {
      out.push({ ctx, reason: 'dropped', leaderHint: null });
    };
    for (const [seq, r] of this.rounds) {
      if (now - r.startTick < this.timeoutTicks) continue;
      this.rounds.delete(seq);
      this.count -= r.ctxs.length;
      r.ctxs.forEach(dropped);
    }
    const keep = this.queued.filter((q) => now - q.tick < this.timeoutTicks);
    if (keep.length < this.queued.length) {
      for (const q of this.queued) if (now - q.tick >= this.timeoutTicks) dropped(q.ctx);
      this.count -= this.queued.length - keep.length;
      this.queued = keep;
    }
    return out;
  }
}
