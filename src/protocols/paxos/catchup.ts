import { entrySizeBytes } from '../../core/index.js';
import type { Entry, NodeId, SnapshotInstall, SnapshotSource } from '../../core/index.js';
import type { SlotLog } from './log.js';
import type { Learn, LearnReq, Snap, SnapAck } from './messages.js';
import { SnapshotReceiver, SnapshotSender } from './snapshot.js';
import { toWire } from './value.js';
import type { Chunk } from './snapshot.js';

/**
 * Catch-up of a lagging replica (PROTOCOLS.md Multi-Paxos rule 8): it asks any peer for chosen
 * values from a slot on (`learnReq`); the peer answers with chosen values (`learn`, bounded by
 * `budgetBytes`) or, when the slot is below its compaction point, streams its snapshot (`snap`),
 * after which the requester asks again for the suffix. This class builds those messages; the
 * replica applies what they carry.
 */
export class CatchUp {
  private readonly sender: SnapshotSender;
  private readonly receiver: SnapshotReceiver;
  private requestTick = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly self: NodeId,
    chunkBytes: number,
    private readonly budgetBytes: number,
    private readonly resendTicks: number,
  ) {
    this.sender = new SnapshotSender(chunkBytes, resendTicks);
    this.receiver = new SnapshotReceiver(4 * resendTicks);
  }

  /** A request for slots above `chosen`, unless one went out within resendTicks (or `now` forces one). */
  request(peer: NodeId, chosen: number, now: number, force = false): LearnReq | null {
    if (!force && now - this.requestTick < this.resendTicks) return null;
    this.requestTick = now;
    return { type: 'learnReq', from: this.self, to: peer, fromSlot: chosen + 1 };
  }

  /** Answers a request from what this replica holds chosen: values, a snapshot chunk, or nothing. */
  serve(m: LearnReq, log: SlotLog, chosen: number, source: SnapshotSource | null, now: number): Learn | Snap | null {
    if (m.fromSlot <= log.snapshotIndex && source !== null) {
      const chunk = this.sender.start(m.from, source, now);
      return chunk === null ? null : this.snap(chunk);
    }
    if (m.fromSlot > chosen) return null;
    const entries: Entry[] = [];
    let bytes = 0;
    for (const stored of log.slice(m.fromSlot, chosen)) {
      const e = toWire(stored);
      const size = entrySizeBytes(e);
      if (entries.length > 0 && bytes + size > this.budgetBytes) break;
      entries.push(e);
      bytes += size;
    }
    return { type: 'learn', from: this.self, to: m.from, commit: chosen, entries };
  }

  /** Takes a snapshot chunk: the ack to send, and the whole snapshot once it is in. */
  receive(m: Snap, chosen: number, now: number): { ack: SnapAck; done: SnapshotInstall | null } {
    const ack = (nextOffset: number): SnapAck => ({ type: 'snapAck', from: this.self, to: m.from, index: m.meta.index, nextOffset });
    if (m.meta.index <= chosen) return { ack: ack(m.totalBytes), done: null };
    const r = this.receiver.onChunk(m.meta, m.offset, m.totalBytes, m.data, now);
    return { ack: ack(r.nextOffset), done: r.done };
  }

  onAck(m: SnapAck, now: number): Snap | null {
    const chunk = this.sender.onAck(m.from, m.index, m.nextOffset, now);
    return chunk === null ? null : this.snap(chunk);
  }

  /** Snapshot chunks whose acknowledgement is overdue. */
  resend(now: number): Snap[] {
    return this.sender.resend(now).map((c) => this.snap(c));
  }

  private snap(c: Chunk): Snap {
    return { type: 'snap', from: this.self, to: c.to, meta: c.meta, offset: c.offset, totalBytes: c.totalBytes, data: c.data };
  }
}
