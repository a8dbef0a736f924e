import { crc32 } from 'node:zlib';
import { CorruptionError } from '../../core/index.js';

/**
 * WAL record framing. Every record is a 13-byte header and a payload:
 *
 *   0  u32 payload length (big-endian)
 *   4  u8  record type
 *   5  u32 crc  = crc32(payload, seeded by crc32(bytes 0..5, seeded by the previous record's crc))
 *   9  u32 hcrc = crc32(bytes 0..9)
 *  13  payload
 *
 * The crc is chained, so a record copied to the wrong place, left over from an older file, or
 * reordered fails its check. The separate header crc lets recovery tell a torn tail (header
 * intact, payload cut short by the end of the file) from a flipped length (header fails): the
 * first may be trimmed, the second must stop the node, since trimming it could drop an
 * acknowledged record.
 */
export const RecordType = { SegmentHeader: 1, Entry: 2, HardState: 3, Truncate: 4 } as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

const recordTypes: ReadonlySet<number> = new Set(Object.values(RecordType));

export const recordHeaderBytes = 13;

/** Appends records into one growing buffer (one write per save). */
export class RecordWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;
  /** The chained crc of the last record appended. */
  crc: number;

  constructor(prevCrc: number, initialBytes = 4096) {
    this.crc = prevCrc;
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.len;
  }

  /** Appends a record; returns its offset within this writer's buffer. */
  append(type: RecordType, payload: Uint8Array): number {
    const at = this.len;
    const need = at + recordHeaderBytes + payload.length;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, at));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.view.setUint32(at, payload.length, false);
    this.buf[at + 4] = type;
    const crc = crc32(payload, crc32(this.buf.subarray(at, at + 5), this.crc));
    this.view.setUint32(at + 5, crc, false);
    this.view.setUint32(at + 9, crc32(this.buf.subarray(at, at + 9)), false);
    this.buf.set(payload, at + recordHeaderBytes);
    this.len = need;
    this.crc = crc;
    return at;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** Starts over (after the bytes were written), keeping the chain. */
  reset(): void {
    this.len = 0;
  }
}

export interface ScannedRecord {
  readonly type: RecordType;
  readonly offset: number;
  readonly payload: Uint8Array;
  /** The chain value before this record (needed to verify it again when read back). */
  readonly prevCrc: number;
  readonly crc: number;
}

export type ScanEnd =
  | { readonly kind: 'clean' }
  /** Nothing but zeros from `offset` to the end: preallocated space (README.md), the log ends there. */
  | { readonly kind: 'zeros'; readonly offset: number }
  /** A record cut short by the end of the file or by zeros the write never reached: trim from `offset`. */
  | { readonly kind: 'torn'; readonly offset: number; readonly why: string };

/**
 * The unit a disk writes atomically, at the least. A write torn by a crash leaves whole sectors
 * unwritten; in a preallocated file they read back as zeros.
 */
export const sectorBytes = 512;

/** Where the run of zeros that ends the file starts (b.length if the last byte is not zero). */
function zeroTailStart(b: Uint8Array, from: number): number {
  let z = b.length;
  while (z > from && b[z - 1] === 0) z--;
  return z;
}

/**
 * Whether the record at `at` (which failed its checks) is a write torn by a crash in a
 * preallocated file: everything after some sector boundary inside the record is zero to the end
 * of the file. A flipped bit in a whole record, or a bad record followed by anything written,
 * does not look like this and stays corruption. `extentEnd` is where the record ends by its
 * header, or the header's own end when the header is what failed.
 */
function tornIntoZeros(b: Uint8Array, at: number, extentEnd: number): boolean {
  const z = zeroTailStart(b, at);
  const boundary = Math.ceil(z / sectorBytes) * sectorBytes;
  return z > at && boundary < Math.min(extentEnd, b.length);
}

/**
 * Reads one record at `at`, or says why not. `undefined` prevCrc means "take it from the record"
 * (only for a segment's first record, whose chain seed is in its payload and checked by the caller).
 */
function readRecordAt(b: Uint8Array, view: DataView, at: number, prevCrc: number, maxPayloadBytes: number):
  { ok: true; rec: ScannedRecord } | { ok: false; torn: boolean; extentEnd: number; why: string } {
  if (b.length - at < recordHeaderBytes) return { ok: false, torn: true, extentEnd: b.length, why: `${b.length - at} bytes left, less than a record header` };
  const len = view.getUint32(at, false);
  const type = b[at + 4] as number;
  const hcrc = view.getUint32(at + 9, false);
  const headerEnd = at + recordHeaderBytes;
  if (crc32(b.subarray(at, at + 9)) !== hcrc) return { ok: false, torn: false, extentEnd: headerEnd, why: 'record header checksum mismatch' };
  // An intact header was written whole: its length and type are what the writer wrote, so a
  // bad one is damage, never a torn write.
  if (len > maxPayloadBytes) return { ok: false, torn: false, extentEnd: at, why: `record length ${len} exceeds the bound of ${maxPayloadBytes}` };
  if (!recordTypes.has(type)) return { ok: false, torn: false, extentEnd: at, why: `unknown record type ${type}` };
  if (b.length - headerEnd < len) return { ok: false, torn: true, extentEnd: b.length, why: `record of ${len} bytes cut short by the end of the file` };
  const payload = b.subarray(headerEnd, headerEnd + len);
  const crc = crc32(payload, crc32(b.subarray(at, at + 5), prevCrc));
  if (crc !== view.getUint32(at + 5, false)) return { ok: false, torn: false, extentEnd: headerEnd + len, why: 'record checksum mismatch (damaged, misplaced or stale record)' };
  return { ok: true, rec: { type: type as RecordType, offset: at, payload, prevCrc, crc } };
}

/**
 * Scans a segment's bytes from `from`, chaining from `seed`. Complete, valid records come back in
 * order. In the last segment, nothing but zeros to the end is where the log ends (preallocated
 * space, or pages the kernel never wrote), and a problem that only a crash mid-write can explain
 * (a record cut short by the end of the file, or by zeros from a sector boundary on) is a torn
 * tail; anything else throws CorruptionError.
 */
export function scanRecords(
  b: Uint8Array, file: string, from: number, seed: number, isLastSegment: boolean, maxPayloadBytes: number,
  onRecord: (rec: ScannedRecord) => void,
): { end: ScanEnd; crc: number } {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = from;
  let crc = seed;
  while (at < b.length) {
    const r = readRecordAt(b, view, at, crc, maxPayloadBytes);
    if (!r.ok) {
      if (isLastSegment && zeroTailStart(b, at) === at) return { end: { kind: 'zeros', offset: at }, crc };
      if (isLastSegment && (r.torn || tornIntoZeros(b, at, r.extentEnd))) return { end: { kind: 'torn', offset: at, why: r.why }, crc };
      throw new CorruptionError(
        `${file}: ${r.why} at offset ${at}${isLastSegment ? '' : ' (not the last segment, so not a torn write)'}. ` +
        'The log is damaged where a crash cannot explain it: do not delete or edit the file; restore this member ' +
        'from a snapshot of a healthy member (quorate snapshot restore) or wipe its data directory so it rejoins and catches up.',
        { file, offset: at });
    }
    onRecord(r.rec);
    crc = r.rec.crc;
    at += recordHeaderBytes + r.rec.payload.length;
  }
  return { end: { kind: 'clean' }, crc };
}

/** Verifies one record read back from disk (by entries()) against its remembered chain value. */
export function verifyRecord(b: Uint8Array, file: string, offset: number, prevCrc: number, maxPayloadBytes: number): Uint8Array {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const r = readRecordAt(b, view, 0, prevCrc, maxPayloadBytes);
  if (!r.ok || r.rec.payload.length + recordHeaderBytes !== b.length) {
    throw new CorruptionError(`${file}: ${r.ok ? 'record length changed' : r.why} at offset ${offset} when reading the log back; ` +
      'the file changed under a running node: stop it and restart (recovery will verify the whole log)', { file, offset });
  }
  return r.rec.payload;
}
