import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CorruptionError, DecodeError, Reader, Writer, decodeEntry, decodeHardState } from '../../core/index.js';
import type { Entry, HardState } from '../../core/index.js';
import { Failpoint, type Failpoints } from './failpoints.js';
import type { FileLayer } from './fs-layer.js';
import { nextSegmentFileName, type PreallocateMode } from './preallocate.js';
import { RecordType, recordHeaderBytes, scanRecords, type ScannedRecord } from './record.js';
import { parseSegmentName, segmentName } from './segment-names.js';

/**
 * Reading the WAL back at open (cold recovery): scan every segment, verifying framing, checksums
 * and the chain, trimming a torn tail of the last segment; then replay the records after the
 * chosen snapshot index. Wal (wal.ts) appends to what this recovered.
 */

export interface WalOptions {
  readonly segmentBytesMax: number;
  readonly recordBytesMax: number;
  /** The largest step by which a segment file is filled with zeros ahead of its writes (0: none). */
  readonly preallocateBytes: number;
  readonly preallocateMode: PreallocateMode;
  /** Synced saves are one write on an O_DSYNC descriptor instead of write + fdatasync. */
  readonly dsyncWrites: boolean;
  /** An unsynced save's write is a synchronous copy into the page cache, not a thread-pool hop. */
  readonly unsyncedWritesOnLoop: boolean;
}

export interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Where the next record goes: the end of the last record (preallocated zeros may follow). */
  size: number;
  /** The file's length, zero-filled space included (for the active segment's Extender). */
  fileBytes: number;
  /** Highest entry index ever written to this segment (0 if none): compaction's test. */
  maxIndex: number;
}

/** Where a live entry's record lives, to read it back and verify it again. */
export interface Location {
  readonly id: number;
  readonly seq: number;
  readonly offset: number;
  readonly length: number;
  readonly prevCrc: number;
}

/** One record of the replay, in log order across segments. */
export type LogOp =
  | { readonly kind: 'entry'; readonly entry: Entry; readonly loc: Location; readonly file: string }
  | { readonly kind: 'truncate'; readonly from: number }
  | { readonly kind: 'hard'; readonly hardState: HardState };

const segmentVersion = 1;

export function encodeSegmentHeader(seq: number, prevCrc: number): Uint8Array {
  return new Writer(16).u8(segmentVersion).uvarint(seq).u32(prevCrc).finish();
}

function decodeSegmentHeader(b: Uint8Array): { seq: number; prevCrc: number } {
  const r = new Reader(b);
  const version = r.u8();
  if (version !== segmentVersion) throw new DecodeError(`unknown segment version ${version}`);
  const seq = r.uvarint();
  const prevCrc = r.u32();
  r.end('segment header');
  return { seq, prevCrc };
}

export function corrupt(file: string, offset: number, what: string, cause?: unknown): CorruptionError {
  return new CorruptionError(
    `${file}: ${what} at offset ${offset}. Do not edit the file; restore this member from a healthy member's ` +
    'snapshot (quorate snapshot restore) or wipe its data directory so it rejoins and catches up.',
    { file, offset }, cause === undefined ? undefined : { cause });
}

/** The result of scanning every segment, before a snapshot index is chosen. */
export interface WalScan {
  readonly segments: Segment[];
  readonly ops: LogOp[];
  /** Chain value after the last valid record. */
  readonly crc: number;
  /** Whether any entry or hard state record exists (headers do not count). */
  readonly hasRecords: boolean;
}

export async function scanWal(dir: string, layer: FileLayer, failpoints: Failpoints, opts: WalOptions): Promise<WalScan> {
  const names = await layer.readdir(dir);
  // A next segment being prepared when the process died: it holds zeros, never a record.
  if (names.includes(nextSegmentFileName)) await layer.unlink(join(dir, nextSegmentFileName));
  const seqs = names.map(parseSegmentName).filter((s): s is number => s !== null).sort((a, b) => a - b);
  const segments: Segment[] = [];
  const ops: LogOp[] = [];
  let crc = 0;
  let hasRecords = false;
  const fileBytesMax = opts.segmentBytesMax + opts.recordBytesMax + 64 * 1024;
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i] as number;
    const path = join(dir, segmentName(seq));
    const isLast = i === seqs.length - 1;
    const prev = segments.at(-1);
    if (prev !== undefined && seq !== prev.seq + 1) {
      throw corrupt(join(dir, segmentName(prev.seq + 1)), 0, `segment missing (found ${segmentName(prev.seq)} then ${segmentName(seq)})`);
    }
    const size = await layer.size(path);
    if (size > fileBytesMax) throw corrupt(path, fileBytesMax, `segment of ${size} bytes exceeds the bound of ${fileBytesMax}`);
    const b = await layer.readFile(path);
    const seed = segmentSeed(b, path, isLast);
    if (seed === null) {
      // A roll that died before its header was durable: nothing in it was ever acknowledged.
      failpoints.hit(Failpoint.RecoverBeforeTruncate);
      await layer.unlink(path);
      await layer.syncDir(dir);
      continue;
    }
    if (prev !== undefined && seed !== crc) throw corrupt(path, 0, 'segment does not continue the previous segment\'s checksum chain');
    const seg: Segment = { seq, path, size: b.length, fileBytes: b.length, maxIndex: 0 };
    let first = true;
    const onRecord = (rec: ScannedRecord): void => {
      if (first) {
        first = false;
        const h = decodeOrCorrupt(path, rec, decodeSegmentHeader);
        if (rec.type !== RecordType.SegmentHeader || h.seq !== seq) throw corrupt(path, 0, `segment header names segment ${h.seq}`);
        return;
      }
      const op = toOp(path, seq, rec);
      if (op.kind === 'entry') seg.maxIndex = Math.max(seg.maxIndex, op.entry.index);
      if (op.kind !== 'truncate') hasRecords = true;
      ops.push(op);
    };
    const { end, crc: after } = scanRecords(b, path, 0, seed, isLast, opts.recordBytesMax, onRecord);
    if (end.kind === 'torn') {
      failpoints.hit(Failpoint.RecoverBeforeTruncate);
      await trimTornTail(layer, path, end.offset);
      seg.size = end.offset;
      seg.fileBytes = end.offset;
    } else if (end.kind === 'zeros') {
      seg.size = end.offset;
    }
    crc = after;
    segments.push(seg);
  }
  return { segments, ops, crc, hasRecords };
}

/** Cuts a torn tail: it was never acknowledged (its save's fsync never returned). */
async function trimTornTail(layer: FileLayer, path: string, offset: number): Promise<void> {
  const f = await layer.openFile(path, 'existing');
  try {
    await f.truncate(offset);
    await f.sync();
  } finally {
    await f.close();
  }
}

/**
 * The chain seed a segment's header declares, or null for a last segment whose header never
 * became durable (a roll that died before its fsync: nothing after it was ever written).
 */
function segmentSeed(b: Uint8Array, path: string, isLast: boolean): number | null {
  const torn = (): null => {
    if (isLast) return null;
    throw corrupt(path, 0, 'segment header cut short (not the last segment, so not a torn write)');
  };
  if (b.length < recordHeaderBytes || b.every((x) => x === 0)) return torn();
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (crc32(b.subarray(0, 9)) !== view.getUint32(9, false)) throw corrupt(path, 0, 'segment header checksum mismatch');
  const len = view.getUint32(0, false);
  if (b[4] !== RecordType.SegmentHeader || len > 64) throw corrupt(path, 0, 'first record is not a segment header');
  if (b.length < recordHeaderBytes + len) return torn();
  try {
    return decodeSegmentHeader(b.subarray(recordHeaderBytes, recordHeaderBytes + len)).prevCrc;
  } catch (err) {
    throw corrupt(path, 0, 'segment header does not decode', err);
  }
}

function decodeOrCorrupt<T>(file: string, rec: ScannedRecord, fn: (b: Uint8Array) => T): T {
  try {
    return fn(rec.payload);
  } catch (err) {
    throw corrupt(file, rec.offset, `record of type ${rec.type} does not decode (${(err as Error).message})`, err);
  }
}

function toOp(file: string, seq: number, rec: ScannedRecord): LogOp {
  switch (rec.type) {
    case RecordType.Entry: {
      // The entry's data stays a view into the segment's buffer: a copy per entry would cost a
      // backing store each (a million allocations for a million-entry log).
      const entry = decodeOrCorrupt(file, rec, decodeEntry);
      return { kind: 'entry', entry, file, loc: { id: entry.id, seq, offset: rec.offset, length: rec.payload.length, prevCrc: rec.prevCrc } };
    }
    case RecordType.HardState:
      return { kind: 'hard', hardState: decodeOrCorrupt(file, rec, decodeHardState) };
    case RecordType.Truncate:
      return { kind: 'truncate', from: decodeOrCorrupt(file, rec, (b) => { const r = new Reader(b); const v = r.uvarint(); r.end(); return v; }) };
    case RecordType.SegmentHeader:
      throw corrupt(file, rec.offset, 'a segment header in the middle of a segment');
    default:
      throw corrupt(file, rec.offset, 'unknown record type');
  }
}

/** The log as of a chosen snapshot index, or a CorruptionError when the WAL cannot continue it. */
export interface ReplayedLog {
  readonly hardState: HardState | null;
  readonly entries: Entry[];
  readonly locations: Location[];
  /**
   * The id of the live entry at the base index, when the log still holds one: recovery checks it
   * against the snapshot's id (Raft §7), since a crash can fall between a conflicting snapshot
   * becoming durable and the record that discards the old log.
   */
  readonly baseId: number | undefined;
}

export function replay(scan: WalScan, base: number): ReplayedLog {
  let hardState: HardState | null = null;
  const entries: Entry[] = [];
  const locations: Location[] = [];
  let baseId: number | undefined;
  for (const op of scan.ops) {
    switch (op.kind) {
      case 'hard':
        hardState = op.hardState;
        break;
      case 'truncate': {
        if (op.from <= base) baseId = undefined;
        const keep = Math.max(0, op.from - base - 1);
        if (keep < entries.length) {
          entries.length = keep;
          locations.length = keep;
        }
        break;
      }
      case 'entry': {
        const i = op.entry.index;
        if (i <= base && entries.length === 0) {
          if (i === base) baseId = op.entry.id;
          break;
        }
        const expected = base + entries.length + 1;
        if (i !== expected) {
          throw corrupt(op.file, op.loc.offset, entries.length === 0
            ? `the log does not continue from the snapshot at index ${base}: its next entry is ${i} (entries ${base + 1}..${i - 1} are missing)`
            : `entry ${i} where ${expected} was expected (a gap or reordering in the log)`);
        }
        entries.push(op.entry);
        locations.push(op.loc);
        break;
      }
      default:
        op satisfies never;
    }
  }
  return { hardState, entries, locations, baseId };
}

