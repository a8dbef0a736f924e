import { join } from 'node:path';
import { TooLargeError, Writer, assert, decodeEntry, encodeEntry, encodeHardState } from '../../core/index.js';
import type { Entry, HardState } from '../../core/index.js';
import { planAppend } from '../log-rules.js';
import { Failpoint, type Failpoints } from './failpoints.js';
import { Extender, NextSegment, preallocMinBytes } from './preallocate.js';
import type { FileLayer, WritableFile } from './fs-layer.js';
import { RecordType, RecordWriter, recordHeaderBytes, verifyRecord } from './record.js';
import { segmentName } from './segment-names.js';
import { corrupt, encodeSegmentHeader, type Location, type ReplayedLog, type Segment, type WalOptions, type WalScan } from './wal-replay.js';

/**
 * The most bytes unsynced saves may leave to be written again by the next synced save; past it,
 * the unsynced save fsyncs (durable early is allowed) and the writer's buffer is let go.
 */
export const unsyncedBytesMax = 1 << 20;

/** A Truncate record from this index cuts every entry, whatever snapshot recovery replays from. */
export const discardAllFrom = 1;

/**
 * The write-ahead log: numbered segment files of bounded size, append-only. A conflict is cut
 * with a Truncate record rather than by rewriting the file, so every save is one append, made
 * durable by one O_DSYNC write (or write + fdatasync). Each segment opens with a header record (its number and the chain value it
 * continues from) and a copy of the hard state, so deleting old segments never loses the latest
 * hard state.
 *
 * The live log is (base, last]: `base` is the snapshot index. Replay skips entries at or below
 * it, and a Truncate record never cuts below it.
 */
export class Wal {
  private readonly segments: Segment[];
  private activeFile: WritableFile | null;
  private readonly writer: RecordWriter;
  private readonly readers = new Map<number, WritableFile>();
  /** locations[i] is entry base + 1 + i. */
  private locations: Location[];
  private base: number;
  private hardState: HardState | null;
  /**
   * Bytes at the start of the writer that unsynced saves wrote to the active segment and that
   * are not durable yet; the writer's byte 0 sits at tail.size - unsynced in the file.
   */
  private unsynced = 0;
  /** Fills the active segment with zeros ahead of its writes (preallocate.ts). */
  private extender: Extender;
  /** Prepares the next segment's file before the roll that needs it. */
  private readonly nextSegment: NextSegment;

  private constructor(
    private readonly dir: string,
    private readonly layer: FileLayer,
    private readonly failpoints: Failpoints,
    private readonly opts: WalOptions,
    state: { segments: Segment[]; active: WritableFile | null; crc: number; base: number; log: ReplayedLog },
  ) {
    this.segments = state.segments;
    this.activeFile = state.active;
    this.writer = new RecordWriter(state.crc, 64 * 1024);
    this.base = state.base;
    this.locations = state.log.locations;
    this.hardState = state.log.hardState;
    this.nextSegment = new NextSegment(layer, dir, Math.min(preallocMinBytes, opts.preallocateBytes, opts.segmentBytesMax), opts.preallocateMode);
    // With no segment yet (a fresh log), start() rolls before any write, and the roll replaces
    // this extender, which never extends: it is only ever asked to stop.
    const last = state.segments.at(-1);
    this.extender = this.extenderFor(last?.path ?? '', last?.fileBytes ?? 0);
  }

  private extenderFor(path: string, allocated: number): Extender {
    return new Extender(this.layer, path, allocated, this.opts.segmentBytesMax, this.opts.preallocateBytes, this.opts.preallocateMode);
  }

  /** Opens the log for appending after recovery chose `base` and replayed `log`. */
  static async start(dir: string, layer: FileLayer, failpoints: Failpoints, opts: WalOptions, scan: WalScan, base: number, log: ReplayedLog): Promise<Wal> {
    const segments = scan.segments.slice();
    const last = segments.at(-1);
    const active = last === undefined ? null : await layer.openFile(last.path, 'existing', true);
    const wal = new Wal(dir, layer, failpoints, opts, { segments, active, crc: scan.crc, base, log });
    if (last === undefined) await wal.roll();
    return wal;
  }

  get lastIndex(): number {
    return this.base + this.locations.length;
  }

  get snapshotIndex(): number {
    return this.base;
  }

  private get active(): WritableFile {
    assert(this.activeFile !== null, 'the WAL always has an active segment');
    return this.activeFile;
  }

  private get tail(): Segment {
    const s = this.segments.at(-1);
    assert(s !== undefined, 'the WAL always has an active segment');
    return s;
  }

  /**
   * Starts a new segment. The segment left behind is cut to its records and fsynced first, so
   * that only the last segment may end in preallocated zeros. The new one is the prepared file:
   * header and hard state written and fsynced under its temporary name, then renamed, then the
   * directory fsynced, so a segment file never exists without a durable header.
   */
  private async roll(): Promise<void> {
    const prev = this.segments.at(-1);
    const seq = prev === undefined ? 1 : prev.seq + 1;
    const path = join(this.dir, segmentName(seq));
    assert(this.writer.length === 0 && this.unsynced === 0, 'roll with records not durable');
    this.writer.append(RecordType.SegmentHeader, encodeSegmentHeader(seq, this.writer.crc));
    if (this.hardState !== null) this.writer.append(RecordType.HardState, encodeHardState(this.hardState));
    await this.extender.stop();
    if (prev !== undefined && this.activeFile !== null) {
      await this.activeFile.truncate(prev.size);
      await this.activeFile.sync();
      prev.fileBytes = prev.size;
    }
    const next = await this.nextSegment.take();
    await next.file.write(this.writer.bytes(), 0);
    this.failpoints.hit(Failpoint.WalRollBeforeSync);
    await next.file.sync();
    await this.layer.rename(next.path, path);
    await this.layer.syncDir(this.dir);
    if (prev !== undefined && this.activeFile !== null) this.readers.set(prev.seq, this.activeFile);
    this.activeFile = next.file;
    this.segments.push({ seq, path, size: this.writer.length, fileBytes: Math.max(next.allocated, this.writer.length), maxIndex: 0 });
    this.extender = this.extenderFor(path, Math.max(next.allocated, this.writer.length));
    this.writer.reset();
  }

  /**
   * Writes what the writer holds to the active segment and, when `sync`, makes it durable with
   * what earlier unsynced saves wrote. An unsynced save's bytes stay in the writer after their
   * plain write, so that the next synced save writes them again with its own in one O_DSYNC
   * write (one thread-pool hop; an O_DSYNC write makes durable its own bytes only). Beyond
   * unsyncedBytesMax, or without O_DSYNC, it is write + fdatasync. Every path but an unsynced
   * save syncs, and a roll syncs the old segment before leaving it, so unsynced bytes only ever
   * sit in the active one.
   */
  private async flush(sync = true): Promise<void> {
    const base = this.tail.size - this.unsynced;
    const end = base + this.writer.length;
    const fresh = this.writer.bytes().subarray(this.unsynced);
    if (fresh.length > 0) await this.extender.beforeWrite(end);
    if (!sync || this.writer.length === 0) {
      if (fresh.length === 0) return;
      this.failpoints.hit(Failpoint.WalBeforeWrite);
      if (this.opts.unsyncedWritesOnLoop) this.active.writeNow(fresh, this.tail.size);
      else await this.active.write(fresh, this.tail.size);
      this.wrote(end);
      this.unsynced = this.writer.length;
      if (this.unsynced <= unsyncedBytesMax) return;
    }
    if (this.opts.dsyncWrites && this.writer.length <= unsyncedBytesMax && !this.failpoints.isArmed(Failpoint.WalAfterWriteBeforeFsync)) {
      // Failpoints name the moment between write and fsync; with that one armed the two stay apart.
      if (fresh.length > 0) this.failpoints.hit(Failpoint.WalBeforeWrite);
      await this.active.writeDurable(this.writer.bytes(), base);
    } else {
      if (this.tail.size < end) {
        this.failpoints.hit(Failpoint.WalBeforeWrite);
        await this.active.write(this.writer.bytes().subarray(this.tail.size - base), this.tail.size);
      }
      this.failpoints.hit(Failpoint.WalAfterWriteBeforeFsync);
      await this.active.sync();
    }
    this.failpoints.hit(Failpoint.WalAfterFsync);
    if (this.tail.size < end) this.wrote(end);
    this.unsynced = 0;
    this.writer.reset();
  }

  /** Bytes up to `end` of the active segment are written: room ahead and the next segment follow. */
  private wrote(end: number): void {
    this.tail.size = end;
    this.extender.afterWrite(end);
    if (end > this.opts.segmentBytesMax / 2) this.nextSegment.prepare();
  }

  /** fsyncs what unsynced saves left in the active segment, if anything. */
  sync(): Promise<void> {
    return this.flush(true);
  }

  /** Appends one record, rolling to a new segment first when it would overflow this one. */
  private put(type: RecordType, payload: Uint8Array, id = 0): Location | Promise<Location> {
    if (payload.length > this.opts.recordBytesMax) {
      throw new TooLargeError(`a WAL record of ${payload.length} bytes exceeds recordBytesMax ${this.opts.recordBytesMax}`);
    }
    const size = this.tail.size - this.unsynced + this.writer.length;
    // Roll when this record would overflow the segment, unless the segment holds no more than
    // its header and hard state (well under 256 bytes): a record bigger than a segment gets a
    // segment of its own instead of rolling forever. Only a roll awaits: the common case stays
    // synchronous, with no promise per record.
    if (size + recordHeaderBytes + payload.length > this.opts.segmentBytesMax && size > 256) {
      return this.flush().then(() => this.roll()).then(() => this.putNow(type, payload, id));
    }
    return this.putNow(type, payload, id);
  }

  private putNow(type: RecordType, payload: Uint8Array, id: number): Location {
    const prevCrc = this.writer.crc;
    const at = this.writer.append(type, payload);
    return { id, seq: this.tail.seq, offset: this.tail.size - this.unsynced + at, length: payload.length, prevCrc };
  }

  /**
   * One save: [Truncate] Entry* [HardState], one durable write (more only when the batch crosses
   * into a new segment). Entries go before the hard state, so a torn write can keep entries
   * without the hard state, never the reverse. With `sync` false durability is left to the next
   * synced call: the records are written and read back, but may not survive.
   */
  async append(hardState: HardState | null, entries: readonly Entry[], sync = true): Promise<void> {
    const cut = planAppend(entries, this.base, this.lastIndex);
    const payloads = entries.map(encodeEntry);
    for (const p of payloads) {
      if (p.length > this.opts.recordBytesMax) throw new TooLargeError(`an entry of ${p.length} bytes exceeds recordBytesMax ${this.opts.recordBytesMax}`);
    }
    const added: Location[] = [];
    if (cut <= this.lastIndex) await this.put(RecordType.Truncate, new Writer(10).uvarint(cut).finish());
    for (let i = 0; i < payloads.length; i++) {
      const put = this.put(RecordType.Entry, payloads[i] as Uint8Array, (entries[i] as Entry).id);
      const loc = put instanceof Promise ? await put : put;
      added.push(loc);
      const seg = this.tail;
      seg.maxIndex = Math.max(seg.maxIndex, (entries[i] as Entry).index);
    }
    if (hardState !== null) await this.put(RecordType.HardState, encodeHardState(hardState));
    await this.flush(sync);
    if (entries.length > 0) {
      this.locations.length = cut - this.base - 1;
      for (const loc of added) this.locations.push(loc);
    }
    if (hardState !== null) this.hardState = hardState;
  }

  idAt(index: number): number | undefined {
    return this.locations[index - this.base - 1]?.id;
  }

  /**
   * Raft §7 "discard the entire log", once a snapshot that conflicts with the log is durable:
   * one durable Truncate record that cuts every entry (from index 1), so that no recovery, even
   * one that falls back to an older snapshot because the new one later rots, can replay an old
   * entry beside the new snapshot's history. The live log then starts after `index`.
   */
  async discard(index: number): Promise<void> {
    assert(index >= this.base, () => `discard at ${index} behind the snapshot at ${this.base}`);
    const put = this.put(RecordType.Truncate, new Writer(10).uvarint(discardAllFrom).finish());
    if (put instanceof Promise) await put;
    await this.flush();
    this.locations = [];
    this.base = index;
  }

  /** The snapshot at `index` is durable: the log now starts after it. */
  rebase(index: number): void {
    assert(index > this.base, 'rebase backwards');
    this.locations = this.locations.slice(Math.min(this.locations.length, index - this.base));
    this.base = index;
  }

  /** Deletes whole segments, oldest first, whose entries all lie at or before `index`. */
  async compact(index: number): Promise<number> {
    let removed = 0;
    while (this.segments.length > 1) {
      const s = this.segments[0] as Segment;
      if (s.maxIndex > index) break;
      const reader = this.readers.get(s.seq);
      if (reader !== undefined) {
        this.readers.delete(s.seq);
        await reader.close();
      }
      await this.layer.unlink(s.path);
      this.segments.shift();
      removed++;
    }
    if (removed > 0) await this.layer.syncDir(this.dir);
    return removed;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Entries lo <= index < hi still in the log, read back from disk and verified again. */
  async read(lo: number, hi: number): Promise<Entry[]> {
    const from = Math.max(lo, this.base + 1);
    const to = Math.min(hi, this.lastIndex + 1);
    const out: Entry[] = [];
    let i = from;
    while (i < to) {
      const first = this.locations[i - this.base - 1] as Location;
      // A run of records that sit back to back in one segment is read with one call.
      let j = i + 1;
      let end = first.offset + recordHeaderBytes + first.length;
      while (j < to && end - first.offset < 1 << 20) {
        const next = this.locations[j - this.base - 1] as Location;
        if (next.seq !== first.seq || next.offset !== end) break;
        end = next.offset + recordHeaderBytes + next.length;
        j++;
      }
      const file = await this.reader(first.seq);
      const bytes = await file.read(end - first.offset, first.offset);
      const path = join(this.dir, segmentName(first.seq));
      let at = 0;
      for (let k = i; k < j; k++) {
        const loc = this.locations[k - this.base - 1] as Location;
        const size = recordHeaderBytes + loc.length;
        const payload = verifyRecord(bytes.subarray(at, at + size), path, loc.offset, loc.prevCrc, this.opts.recordBytesMax);
        const e = decodeEntry(payload);
        if (e.index !== k) throw corrupt(path, loc.offset, `entry ${e.index} found where ${k} was written`);
        out.push({ index: e.index, id: e.id, type: e.type, data: e.data.slice() });
        at += size;
      }
      i = j;
    }
    return out;
  }

  private async reader(seq: number): Promise<WritableFile> {
    if (seq === this.tail.seq) return this.active;
    let r = this.readers.get(seq);
    if (r === undefined) {
      r = await this.layer.openFile(join(this.dir, segmentName(seq)), 'existing');
      this.readers.set(seq, r);
    }
    return r;
  }

  async close(): Promise<void> {
    await this.extender.stop();
    await this.nextSegment.stop();
    for (const r of this.readers.values()) await r.close();
    this.readers.clear();
    await this.activeFile?.close();
    this.activeFile = null;
  }
}
