import { assert } from '../../core/index.js';
import type { SnapshotSource } from '../../core/index.js';

/**
 * The leader's view of one follower (etcd-io/raft's tracker.Progress):
 * - probe: we do not know where the follower's log matches ours; send one AppendEntries and wait
 *   for its answer (or a heartbeat answer) before sending another.
 * - replicate: the follower is in sync; stream entries optimistically (pipelining), bounded by the
 *   inflight window (count and bytes).
 * - snapshot: the follower is behind our compacted log; a snapshot is being streamed in chunks.
 * Invariant: match < next.
 */
export const ProgressState = { Probe: 'probe', Replicate: 'replicate', Snapshot: 'snapshot' } as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** Appends sent but not yet acknowledged, bounded by count (inflightMax) and bytes (inflightBytesMax). */
export class Inflights {
  private readonly items: Array<{ index: number; bytes: number }> = [];
  private bytesTotal = 0;

  constructor(
    private readonly countMax: number,
    private readonly bytesMax: number,
  ) {
    assert(countMax > 0 && bytesMax > 0, 'inflight bounds must be positive');
  }

  get count(): number {
    return this.items.length;
  }

  get bytes(): number {
    return this.bytesTotal;
  }

  full(): boolean {
    return this.items.length >= this.countMax || this.bytesTotal >= this.bytesMax;
  }

  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), 'adding to a full inflight window');
    const last = this.items[this.items.length - 1];
    assert(last === undefined || last.index < lastIndex, 'inflight indexes must increase');
    this.items.push({ index: lastIndex, bytes });
    this.bytesTotal += bytes;
  }

  /** Everything through `index` was acknowledged. */
  freeTo(index: number): void {
    let n = 0;
    while (n < this.items.length && (this.items[n] as { index: number }).index <= index) {
      this.bytesTotal -= (this.items[n] as { bytes: number }).bytes;
      n++;
    }
    if (n > 0) this.items.splice(0, n);
  }

  reset(): void {
    this.items.length = 0;
    this.bytesTotal = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In probe state: an append is outstanding, wait for an answer before sending another. */
  probeSent = false;
  /** Heard from in the current check-quorum period (§6.2 CheckQuorum). */
  recentActive = false;
  /** Highest heartbeat round this follower acknowledged in our term (ReadIndex, §6.4). */
  ackedRound = 0;
  /** Our tick when the newest heartbeat this follower acknowledged was sent (lease reads). */
  ackedSentAt = Number.NEGATIVE_INFINITY;
  /**
   * In snapshot state (stop-and-wait, one chunk in flight): the snapshot index being sent, the
   * offset the follower asked for last, and the offset its answer to the chunk in flight will
   * carry. Only that answer sends the next chunk at once; any other (a duplicate, a gap) waits for
   * the idle resend, so duplicated answers cannot multiply chunks.
   */
  snapshotIndex = 0;
  /** The snapshot in flight: kept until the transfer ends, whatever compact() does meanwhile. */
  snapshotSource: SnapshotSource | null = null;
  snapshotRequested = 0;
  snapshotExpected = 0;
  /**
   * The last heartbeat round sent and the last index sent before it. Links are FIFO, so when that
   * round's answer arrives every append sent before it has been answered: if match is still below
   * sentThrough, an append was lost and replicate falls back to probe.
   */
  heartbeatRound = 0;
  heartbeatSentThrough = 0;
  /** Ticks since the last snapshot chunk was sent, to resend a lost one. */
  snapshotIdleTicks = 0;
  readonly inflights: Inflights;

  constructor(
    next: number,
    readonly isLearner: boolean,
    inflightMax: number,
    inflightBytesMax: number,
  ) {
    this.next = next;
    this.inflights = new Inflights(inflightMax, inflightBytesMax);
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      this.next = Math.max(this.match + 1, this.snapshotIndex + 1);
    } else {
      this.next = this.match + 1;
    }
    this.snapshotSource = null;
    this.state = ProgressState.Probe;
    this.probeSent = false;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.snapshotSource = null;
    this.state = ProgressState.Replicate;
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflights.reset();
  }

  becomeSnapshot(source: SnapshotSource): void {
    this.state = ProgressState.Snapshot;
    this.snapshotSource = source;
    this.snapshotIndex = source.meta.index;
    this.snapshotRequested = 0;
    this.snapshotExpected = 0;
    this.snapshotIdleTicks = 0;
    this.inflights.reset();
  }

  /**
   * The follower's log ends below what it once acknowledged: its storage was wiped. Forget the
   * match (commits already made stand) and find the follower's log again by probing.
   */
  lostLog(lastIndex: number): void {
    this.match = lastIndex;
    if (this.state === ProgressState.Snapshot) this.snapshotIndex = 0;
    this.state = ProgressState.Probe;
    this.becomeProbe();
  }

  /**
   * The follower spoke from a newer life (an incarnation after lost state): what its older life
   * acknowledged says nothing of its log now. Forget the match and probe after our last entry:
   * the follower's rejection hint then backs us up a term at a time.
   */
  newLife(lastIndex: number): void {
    this.match = 0;
    this.ackedRound = 0;
    this.ackedSentAt = Number.NEGATIVE_INFINITY;
    if (this.state === ProgressState.Snapshot) this.snapshotIndex = 0;
    this.state = ProgressState.Probe;
    this.becomeProbe();
    this.next = lastIndex + 1;
  }

  /** An acknowledgement through `index`; returns whether it told us something new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    this.inflights.freeTo(index);
    return updated;
  }

  /** Whether we must wait before sending this follower more entries. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }
}
