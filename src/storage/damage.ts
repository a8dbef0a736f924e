import { open, readdir, readFile, truncate as truncateFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../core/index.js';
import { RecordType, recordHeaderBytes } from './file/record.js';
import { parseSegmentName, parseSnapshotName, snapDirName, walDirName } from './file/segment-names.js';

/**
 * Damage for a STOPPED node's data directory (FAULTS.md rows 11-13), for tests and the chaos
 * tool: tear the last WAL record, flip a bit, cut a file short. Never use on a running node: the
 * point is to check that recovery notices, not to race the writer.
 */

export interface WalRecordInfo {
  readonly file: string;
  readonly offset: number;
  readonly type: RecordType;
  /** Header plus payload. */
  readonly sizeBytes: number;
}

/** The WAL segment files, oldest first. */
export async function walSegmentFiles(dataDir: string): Promise<string[]> {
  const dir = join(dataDir, walDirName);
  return (await readdir(dir)).map((n) => ({ n, seq: parseSegmentName(n) }))
    .filter((x) => x.seq !== null).sort((a, b) => (a.seq as number) - (b.seq as number)).map((x) => join(dir, x.n));
}

/** The snapshot files, newest first. */
export async function snapshotFiles(dataDir: string): Promise<string[]> {
  const dir = join(dataDir, snapDirName);
  return (await readdir(dir)).map((n) => ({ n, index: parseSnapshotName(n) }))
    .filter((x) => x.index !== null).sort((a, b) => (b.index as number) - (a.index as number)).map((x) => join(dir, x.n));
}

/**
 * The records of every segment by their framing alone (no checksum is checked), in log order,
 * up to the zeros of a preallocated tail.
 */
export async function walRecords(dataDir: string): Promise<WalRecordInfo[]> {
  const out: WalRecordInfo[] = [];
  for (const file of await walSegmentFiles(dataDir)) {
    const b = await readFile(file);
    let at = 0;
    while (at + recordHeaderBytes <= b.length) {
      // Type 0 is no record: the preallocated zeros after the last one (file/preallocate.ts).
      if (b[at + 4] === 0) break;
      const size = recordHeaderBytes + b.readUInt32BE(at);
      if (at + size > b.length) break;
      out.push({ file, offset: at, type: b[at + 4] as RecordType, sizeBytes: size });
      at += size;
    }
  }
  return out;
}

/** The newest hard-state record: the hard state lives in the WAL (README.md). */
export async function lastHardStateRecord(dataDir: string): Promise<WalRecordInfo | null> {
  return (await walRecords(dataDir)).filter((r) => r.type === RecordType.HardState).at(-1) ?? null;
}

/**
 * Tears the last WAL record as a crash in the middle of writing it would: keeps `keepBytes` of
 * it (default: half). Returns the record that was torn.
 */
export async function tearLastWalRecord(dataDir: string, keepBytes?: number): Promise<WalRecordInfo> {
  const last = (await walRecords(dataDir)).at(-1);
  assert(last !== undefined, `no WAL record to tear in ${dataDir}`);
  const keep = keepBytes ?? Math.floor(last.sizeBytes / 2);
  assert(keep >= 0 && keep < last.sizeBytes, `keepBytes ${keep} must be below the record's ${last.sizeBytes} bytes`);
  await truncateFile(last.file, last.offset + keep);
  return last;
}

/** Flips one bit (0 = least significant) of the byte at `offset` of any file. */
export async function flipBit(file: string, offset: number, bit = 0): Promise<void> {
  assert(Number.isInteger(bit) && bit >= 0 && bit < 8, `bit ${bit} out of range`);
  const fh = await open(file, 'r+');
  try {
    const b = new Uint8Array(1);
    const { bytesRead } = await fh.read(b, 0, 1, offset);
    assert(bytesRead === 1, `offset ${offset} is beyond the end of ${file}`);
    b[0] = (b[0] as number) ^ (1 << bit);
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

/** Cuts a file to `length` bytes (a truncated WAL segment or snapshot). */
export async function truncateTo(file: string, length: number): Promise<void> {
  await truncateFile(file, length);
}
