import { EntryType, assert, encodeBatch, quorumMin, quorumSize } from '../../core/index.js';
import type { Limits, NodeId } from '../../core/index.js';
import type { Value } from './value.js';

/** Per-command overhead counted against byte bounds, so that even empty commands are bounded. */
export const commandOverheadBytes = 16;

/**
 * What a distinguished proposer (Paxos Made Simple §3, "the leader") tracks in phase 2: the window
 * of slots proposed but not yet chosen with the acceptors that accepted each, the queue of client
 * commands not yet in a slot, and the acknowledgements that keep its lease and its quorum check.
 *
 * Bounds: slots in flight <= limits.inflightMax and their bytes <= limits.inflightBytesMax (the
 * window); queued plus in-flight bytes <= limits.uncommittedBytesMax (propose answers overloaded).
 */
export class LeaderState {
  /** Slots in (chosen, nextSlot): who accepted each at this ballot, when it was last sent, its bytes. */
  private readonly acks = new Map<number, Set<NodeId>>();
  private readonly sentTick = new Map<number, number>();
  private readonly slotBytes = new Map<number, number>();
  private windowBytes = 0;
  /** First slot not yet used by this leader. */
  nextSlot: number;
  /**
   * Quorum reads finished with a read point this high: the leader proposes no-ops through it
   * when no command gets there first (reads.ts, "Filling the read point").
   */
  fillThrough = 0;
  /** Every slot through this one is re-proposed from phase 1 (or was already chosen). */
  readonly establishedEnd: number;
  /**
   * The re-proposals still to make, a window at a time (replica.ts `reproposeWindow`): the next
   * slot, and phase 1's value for each slot (a no-op where none was reported). Null once done.
   */
  reproposal: { next: number; readonly valueAt: (slot: number) => Value | undefined } | null = null;
  /** Peers heard from in the current quorum-check period. */
  readonly active = new Set<NodeId>();
  /** Latest leader tick each peer echoed (a P2b at this ballot): the lease is held from these. */
  private readonly echoedTick = new Map<NodeId, number>();

  constructor(readonly ballot: number, establishedEnd: number) {
    this.establishedEnd = establishedEnd;
    this.nextSlot = establishedEnd + 1;
  }

  /** Starts tracking a slot just proposed at this ballot. */
  track(slot: number, bytes: number, now: number): void {
    assert(!this.acks.has(slot), () => `slot ${slot} proposed twice at ballot ${this.ballot}`);
    this.acks.set(slot, new Set());
    this.sentTick.set(slot, now);
    this.slotBytes.set(slot, bytes);
    this.windowBytes += bytes;
  }

  /** Records that `from` accepted `slot`; returns whether a quorum of `voters` now has it. */
  ack(slot: number, from: NodeId, voters: readonly NodeId[]): boolean {
    const set = this.acks.get(slot);
    if (set === undefined) return false;
    if (voters.includes(from)) set.add(from);
    return set.size >= quorumSize(voters.length);
  }

  hasQuorum(slot: number, voters: readonly NodeId[]): boolean {
    return (this.acks.get(slot)?.size ?? 0) >= quorumSize(voters.length);
  }

  /** Forgets a chosen slot; returns its command bytes (to release from the uncommitted budget). */
  release(slot: number): number {
    const bytes = this.slotBytes.get(slot) ?? 0;
    this.acks.delete(slot);
    this.sentTick.delete(slot);
    this.slotBytes.delete(slot);
    this.windowBytes -= bytes;
    return bytes;
  }

  /**
   * Forgets every tracked slot <= chosen (learned by other means, e.g. a late catch-up answer from
   * the time this leader was a proposer) and makes sure new slots go above it. Returns the bytes freed.
   */
  releaseThrough(chosen: number): number {
    let bytes = 0;
    for (const slot of [...this.acks.keys()]) if (slot <= chosen) bytes += this.release(slot);
    this.nextSlot = Math.max(this.nextSlot, chosen + 1);
    return bytes;
  }

  /** Whether one more slot fits in the window above `chosen`. */
  windowOpen(chosen: number, limits: Limits): boolean {
    return this.nextSlot - 1 - chosen < limits.inflightMax && this.windowBytes < limits.inflightBytesMax;
  }

  /** Slots `peer` has not accepted that were last sent at least `resendTicks` ago, ascending. */
  overdueFor(peer: NodeId, now: number, resendTicks: number): number[] {
    const out: number[] = [];
    for (const [slot, set] of this.acks) {
      if (!set.has(peer) && now - (this.sentTick.get(slot) ?? 0) >= resendTicks) out.push(slot);
    }
    return out.sort((a, b) => a - b);
  }

  markSent(slot: number, now: number): void {
    if (this.sentTick.has(slot)) this.sentTick.set(slot, now);
  }

  echoed(from: NodeId, tick: number): void {
    this.echoedTick.set(from, Math.max(this.echoedTick.get(from) ?? 0, tick));
  }

  /**
   * The tick from which a quorum (the leader counting itself at `now`) has acknowledged this
   * leader; a lease of L ticks is held until that tick + L.
   */
  quorumEchoTick(self: NodeId, voters: readonly NodeId[], now: number): number {
    return quorumMin(voters.map((v) => (v === self ? now : this.echoedTick.get(v) ?? Number.NEGATIVE_INFINITY)));
  }
}

/**
 * Packs queued commands into one slot's value: one command as a Normal entry, several as a Batch
 * (PROTOCOLS.md rule 5), at most `maxBytes` of commands (always at least one). Returns the entry
 * data and how many commands it took.
 */
export function packSlot(queue: readonly Uint8Array[], maxBytes: number): { type: EntryType; data: Uint8Array; count: number; bytes: number } {
  assert(queue.length > 0, 'packSlot of an empty queue');
  let count = 0;
  let bytes = 0;
  for (const c of queue) {
    const size = c.length + commandOverheadBytes;
    if (count > 0 && bytes + size > maxBytes) break;
    count++;
    bytes += size;
  }
  if (count === 1) return { type: EntryType.Normal, data: queue[0] as Uint8Array, count, bytes };
  return { type: EntryType.Batch, data: encodeBatch(queue.slice(0, count)), count, bytes };
}

