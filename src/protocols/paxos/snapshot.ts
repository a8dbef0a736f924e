import type { NodeId, SnapshotInstall, SnapshotMeta, SnapshotSource } from '../../core/index.js';

/** Largest snapshot a replica will assemble from chunks (1 GiB); a larger claim is ignored. */
export const snapshotBytesMax = 1 << 30;
/** Snapshot streams one replica serves at a time; further requests wait for the next retry. */
export const snapshotStreamsMax = 4;

interface Stream {
  readonly source: SnapshotSource;
  offset: number;
  sentTick: number;
  /** When the receiver last acknowledged new bytes (or the stream started). */
  progressTick: number;
}

/** One chunk to send: the caller wraps it in a `snap` message. */
export interface Chunk {
  readonly to: NodeId;
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
}

/**
 * Streams snapshots to replicas behind the compaction point (PROTOCOLS.md rule 8), one chunk in
 * flight per receiver: the next chunk goes when the previous one is acknowledged, and an
 * unacknowledged chunk is resent after `resendTicks`.
 *
 * A stream keeps its source to the end while the receiver makes progress: a newer checkpoint
 * (compact) taken meanwhile does not restart it at offset 0, or a receiver that needs longer than
 * the interval between checkpoints to take one snapshot would never finish any. The receiver asks
 * for the rest (by slot, or the newer snapshot) once it has installed this one. Only a stream that
 * made no progress for `staleTicks` gives way to the newer source. The driver keeps the bytes of a
 * source handed out here readable while its stream lasts (src/node owns the files).
 */
export class SnapshotSender {
  private readonly streams = new Map<NodeId, Stream>();
  private readonly staleTicks: number;

  constructor(private readonly chunkBytes: number, private readonly resendTicks: number) {
    this.staleTicks = 4 * resendTicks;
  }

  /** Starts (or keeps) a stream to `to`; returns its first chunk, or null if none is due. */
  start(to: NodeId, source: SnapshotSource, now: number): Chunk | null {
    const s = this.streams.get(to);
    if (s !== undefined && (s.source.meta.index === source.meta.index || now - s.progressTick < this.staleTicks)) return null;
    if (s === undefined && this.streams.size >= snapshotStreamsMax) return null;
    const stream = { source, offset: 0, sentTick: now, progressTick: now };
    this.streams.set(to, stream);
    return this.chunk(to, stream);
  }

  onAck(from: NodeId, index: number, nextOffset: number, now: number): Chunk | null {
    const s = this.streams.get(from);
    if (s === undefined || s.source.meta.index !== index) return null;
    if (nextOffset >= s.source.sizeBytes) {
      this.streams.delete(from);
      return null;
    }
    // The chunk at s.offset is in flight: leave it to the resend timer. Any other position (the
    // receiver moved on, or restarted and starts over) is served at once.
    if (nextOffset === s.offset && now - s.sentTick < this.resendTicks) return null;
    if (nextOffset > s.offset) s.progressTick = now;
    s.offset = nextOffset;
    s.sentTick = now;
    return this.chunk(from, s);
  }

  /** Chunks whose acknowledgement is overdue, resent. */
  resend(now: number): Chunk[] {
    const out: Chunk[] = [];
    for (const [to, s] of [...this.streams].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (now - s.sentTick < this.resendTicks) continue;
      s.sentTick = now;
      out.push(this.chunk(to, s));
    }
    return out;
  }

  private chunk(to: NodeId, s: Stream): Chunk {
    const data = s.source.read(s.offset, this.chunkBytes);
    return { to, meta: s.source.meta, offset: s.offset, totalBytes: s.source.sizeBytes, data: data.slice() };
  }
}

/** Assembles one incoming snapshot from in-order chunks. */
export class SnapshotReceiver {
  private meta: SnapshotMeta | null = null;
  private buf = new Uint8Array(0);
  private received = 0;
  private progressTick = Number.NEGATIVE_INFINITY;

  /** @param staleTicks a stream that made no progress for this long may be replaced by another */
  constructor(private readonly staleTicks: number) {}

  /**
   * Takes a chunk; returns how far the snapshot is received (the ack to send) and the complete
   * snapshot once the last chunk is in. Out-of-order chunks are ignored (the ack asks again).
   */
  onChunk(meta: SnapshotMeta, offset: number, totalBytes: number, data: Uint8Array, now: number): { nextOffset: number; done: SnapshotInstall | null } {
    if (totalBytes > snapshotBytesMax) return { nextOffset: 0, done: null };
    const current = this.meta !== null && this.meta.index === meta.index && this.buf.length === totalBytes;
    if (!current) {
      // Two peers may stream different snapshots at once. While one stream makes progress, the
      // other's sender is told it is done (it is asked again later if still needed); otherwise the
      // two would reset each other forever.
      if (this.meta !== null && now - this.progressTick < this.staleTicks) return { nextOffset: totalBytes, done: null };
      if (offset !== 0) return { nextOffset: 0, done: null };
      this.meta = meta;
      this.buf = new Uint8Array(totalBytes);
      this.received = 0;
    }
    if (offset === this.received && offset + data.length <= totalBytes) {
      this.buf.set(data, offset);
      this.received += data.length;
      this.progressTick = now;
    }
    if (this.received < totalBytes) return { nextOffset: this.received, done: null };
    const done = { meta, data: this.buf };
    this.meta = null;
    this.buf = new Uint8Array(0);
    this.received = 0;
    return { nextOffset: totalBytes, done };
  }
}
