import { assert } from '../../core/index.js';
import type { NodeId, Rng } from '../../core/index.js';

/**
 * Reads waiting on the leader for a ReadIndex confirmation (dissertation §6.4). A read records
 * the commit index when it arrived (`index`, -1 until the leader has committed an entry of its
 * own term) and the heartbeat `round` that confirms it (0 until one is sent). It is answered once
 * a quorum acknowledged a round >= its own: leadership was confirmed after the read arrived.
 * Rounds only grow along the queue, so confirmation pops from the front.
 */
export interface PendingRead {
  readonly ctx: number;
  /** The replica that asked: the leader itself, or a follower that forwarded it. */
  readonly origin: NodeId;
  index: number;
  round: number;
  ageTicks: number;
}

export class ReadQueue {
  private readonly reads: PendingRead[] = [];

  constructor(private readonly max: number) {
    assert(max > 0, 'pendingReadsMax must be positive');
  }

  get size(): number {
    return this.reads.length;
  }

  full(): boolean {
    return this.reads.length >= this.max;
  }

  push(r: PendingRead): void {
    assert(!this.full(), 'read queue over its bound');
    this.reads.push(r);
  }

  /** The leader committed an entry of its term: every waiting read gets the commit index. */
  startWaiting(commit: number): boolean {
    let started = false;
    for (const r of this.reads) {
      if (r.index < 0) {
        r.index = commit;
        started = true;
      }
    }
    return started;
  }

  /** Give every started read without a round the round about to be sent. */
  assignRound(round: number): boolean {
    let any = false;
    for (const r of this.reads) {
      if (r.index >= 0 && r.round === 0) {
        r.round = round;
        any = true;
      }
    }
    return any;
  }

  /** Pop the reads confirmed by a quorum acknowledging `round`. */
  confirm(round: number): PendingRead[] {
    let n = 0;
    while (n < this.reads.length) {
      const r = this.reads[n] as PendingRead;
      if (r.round === 0 || r.round > round) break;
      n++;
    }
    return this.reads.splice(0, n);
  }

  /** Age every read by a tick; pop those older than `maxTicks` (never answered: dropped). */
  expire(maxTicks: number): PendingRead[] {
    for (const r of this.reads) r.ageTicks++;
    let n = 0;
    while (n < this.reads.length && (this.reads[n] as PendingRead).ageTicks > maxTicks) n++;
    return this.reads.splice(0, n);
  }

  drain(): PendingRead[] {
    return this.reads.splice(0, this.reads.length);
  }
}

/**
 * Reads a follower forwarded to its leader. Each forward gets a fresh sequence number on the wire,
 * never the client's ctx, so a late answer to an expired read cannot satisfy a retry that reuses
 * the same ctx (the etcd #20418 trap: the retried read would be served at a stale index).
 * The numbers start at a random point of a 52-bit space drawn from the replica's Rng, so an answer
 * addressed to an earlier life of this replica (sent before a crash, delivered after the restart)
 * matches no read of this one: counting from 1 on every start, such an answer served a new read
 * at the old, stale index (simulator seed 937).
 */
export class ForwardedReads {
  private readonly bySeq = new Map<number, { ctx: number; ageTicks: number }>();
  private nextSeq: number;

  constructor(private readonly max: number, rng: Rng) {
    this.nextSeq = rng.int(0, 0xfffff) * 0x100000000 + rng.int(0, 0xffffffff) + 1;
  }

  full(): boolean {
    return this.bySeq.size >= this.max;
  }

  add(ctx: number): number {
    assert(!this.full(), 'forwarded reads over their bound');
    const seq = this.nextSeq++;
    this.bySeq.set(seq, { ctx, ageTicks: 0 });
    return seq;
  }

  take(seq: number): number | null {
    const r = this.bySeq.get(seq);
    if (r === undefined) return null;
    this.bySeq.delete(seq);
    return r.ctx;
  }

  expire(maxTicks: number): number[] {
    const out: number[] = [];
    for (const [seq, r] of this.bySeq) {
      r.ageTicks++;
      if (r.ageTicks > maxTicks) {
        out.push(r.ctx);
        this.bySeq.delete(seq);
      }
    }
    return out;
  }

  drain(): number[] {
    const out = [...this.bySeq.values()].map((r) => r.ctx);
    this.bySeq.clear();
    return out;
  }
}
