import { close as closeFd, closeSync, fstat, open as openFd, read as readFd, readSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CorruptionError, DecodeError, decodeSnapshotMeta, encodeSnapshotMeta } from '../../core/index.js';
import type { SnapshotMeta, SnapshotSource } from '../../core/index.js';
import { Failpoint, type Failpoints } from './failpoints.js';
import type { FileLayer } from './fs-layer.js';
import { StorageClosedError } from '../errors.js';
import { parseSnapshotName, snapDirName, tmpSuffix } from './segment-names.js';

/**
 * The snapshot (checkpoint) file format, also the bytes of `GET /v1/snapshot` and of
 * `quorate snapshot save` backups (README.md, "Snapshot file format"):
 *
 *   0        "QSNP"                   magic
 *   4        u32 version (1)          big-endian, like every number here
 *   8        u32 metaLength           bounded by snapshotMetaBytesMax before allocating
 *   12       meta                     encodeSnapshotMeta: index, id, cluster configuration
 *   12+m     data                     the state machine's bytes, opaque to storage
 *   end-16   u64 dataLength           so a cut-short file is told from a whole one
 *   end-8    u32 crc32 of bytes [0, end-8)
 *   end-4    "QEND"
 *
 * Written to NAME.tmp, fsynced, renamed to NAME, directory fsynced: a reader sees the whole file
 * or none of it. The data can be streamed in and is verified by streaming, never held whole.
 */
export const snapshotMetaBytesMax = 1 << 20;
const magic = new Uint8Array([0x51, 0x53, 0x4e, 0x50]); // QSNP
const endMagic = new Uint8Array([0x51, 0x45, 0x4e, 0x44]); // QEND
const version = 1;
const headerBytes = 12;
const trailerBytes = 16;
const chunkBytes = 1 << 20;

export interface SnapshotFileInfo {
  readonly meta: SnapshotMeta;
  /** Where the state machine's bytes start in the file, and how many there are. */
  readonly dataOffset: number;
  readonly dataLength: number;
  readonly fileBytes: number;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, false);
  return b;
}

function header(meta: SnapshotMeta): Uint8Array {
  const m = encodeSnapshotMeta(meta);
  const out = new Uint8Array(headerBytes + m.length);
  out.set(magic, 0);
  out.set(u32(version), 4);
  out.set(u32(m.length), 8);
  out.set(m, headerBytes);
  return out;
}

function trailer(dataLength: number, crcBefore: number): Uint8Array {
  const out = new Uint8Array(trailerBytes);
  const v = new DataView(out.buffer);
  v.setUint32(0, Math.floor(dataLength / 0x100000000), false);
  v.setUint32(4, dataLength >>> 0, false);
  v.setUint32(8, crc32(out.subarray(0, 8), crcBefore), false);
  out.set(endMagic, 12);
  return out;
}

function bad(file: string, offset: number, what: string): CorruptionError {
  return new CorruptionError(
    `${file}: ${what} at offset ${offset}. The snapshot is damaged: do not use it; take a new one from a healthy ` +
    'member (quorate snapshot save) or let this member catch up from the cluster.', { file, offset });
}

function isMagic(b: Uint8Array, at: number, m: Uint8Array): boolean {
  return m.every((x, i) => b[at + i] === x);
}

/** Parses and bounds the fixed header; returns the meta length. */
function parseHeaderStart(b: Uint8Array, file: string, fileBytes: number): number {
  if (fileBytes < headerBytes + trailerBytes) throw bad(file, 0, `file of ${fileBytes} bytes is too short to be a snapshot`);
  if (!isMagic(b, 0, magic)) throw bad(file, 0, 'not a quorate snapshot (bad magic)');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(4, false) !== version) throw bad(file, 4, `unknown snapshot version ${v.getUint32(4, false)}`);
  const metaLength = v.getUint32(8, false);
  if (metaLength > snapshotMetaBytesMax || headerBytes + metaLength + trailerBytes > fileBytes) {
    throw bad(file, 8, `meta length ${metaLength} is out of bounds for a ${fileBytes}-byte file`);
  }
  return metaLength;
}

function parseMeta(b: Uint8Array, file: string): SnapshotMeta {
  try {
    return decodeSnapshotMeta(b);
  } catch (err) {
    if (err instanceof DecodeError) throw bad(file, headerBytes, `snapshot meta does not decode (${err.message})`);
    throw err;
  }
}

function checkTrailer(t: Uint8Array, file: string, fileBytes: number, metaLength: number, crcBefore: number): number {
  const at = fileBytes - trailerBytes;
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  if (!isMagic(t, 12, endMagic)) throw bad(file, at + 12, 'end marker missing (file cut short or overwritten)');
  const dataLength = v.getUint32(0, false) * 0x100000000 + v.getUint32(4, false);
  if (dataLength !== fileBytes - headerBytes - metaLength - trailerBytes) {
    throw bad(file, at, `trailer says ${dataLength} data bytes but the file holds ${fileBytes - headerBytes - metaLength - trailerBytes}`);
  }
  if (crc32(t.subarray(0, 8), crcBefore) !== v.getUint32(8, false)) throw bad(file, at + 8, 'checksum mismatch');
  return dataLength;
}

/** Verifies a snapshot held in memory (e.g. an HTTP body); returns its meta and a view of its data. */
export function verifySnapshotBytes(bytes: Uint8Array, file = '<snapshot bytes>'): { meta: SnapshotMeta; data: Uint8Array } {
  const metaLength = parseHeaderStart(bytes, file, bytes.length);
  const meta = parseMeta(bytes.subarray(headerBytes, headerBytes + metaLength), file);
  const crc = crc32(bytes.subarray(0, bytes.length - trailerBytes));
  const dataLength = checkTrailer(bytes.subarray(bytes.length - trailerBytes), file, bytes.length, metaLength, crc);
  return { meta, data: bytes.subarray(headerBytes + metaLength, headerBytes + metaLength + dataLength) };
}

/** What verification needs of an open file: a FileHandle, or a raw descriptor (fdReader). */
interface PositionalReader {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number }>;
}

function fdReader(fd: number): PositionalReader {
  return {
    read: (buffer, offset, length, position) => new Promise((resolve, reject) => {
      readFd(fd, buffer, offset, length, position, (err, bytesRead) => (err === null ? resolve({ bytesRead }) : reject(err)));
    }),
    stat: () => new Promise((resolve, reject) => {
      fstat(fd, (err, st) => (err === null ? resolve(st) : reject(err)));
    }),
  };
}

async function readAt(fh: PositionalReader, length: number, position: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** Verifies a snapshot file by streaming it (never whole in memory); throws CorruptionError. */
export async function readSnapshotFile(path: string): Promise<SnapshotFileInfo> {
  const fh = await open(path, 'r');
  try {
    return await verifyOpenSnapshot(fh, path);
  } finally {
    await fh.close();
  }
}

async function verifyOpenSnapshot(fh: PositionalReader, path: string): Promise<SnapshotFileInfo> {
  const fileBytes = (await fh.stat()).size;
  const start = await readAt(fh, headerBytes, 0);
  const metaLength = parseHeaderStart(start, path, fileBytes);
  const metaBytes = await readAt(fh, metaLength, headerBytes);
  const meta = parseMeta(metaBytes, path);
  let crc = crc32(metaBytes, crc32(start));
  const dataEnd = fileBytes - trailerBytes;
  for (let at = headerBytes + metaLength; at < dataEnd; at += chunkBytes) {
    crc = crc32(await readAt(fh, Math.min(chunkBytes, dataEnd - at), at), crc);
  }
  const dataLength = checkTrailer(await readAt(fh, trailerBytes, dataEnd), path, fileBytes, metaLength, crc);
  return { meta, dataOffset: headerBytes + metaLength, dataLength, fileBytes };
}

/**
 * Writes a snapshot file atomically: NAME.tmp, fsync, rename, directory fsync. `data` may be a
 * stream; it is written chunk by chunk as it comes.
 */
export async function writeSnapshotFile(
  layer: FileLayer, path: string, meta: SnapshotMeta, data: Uint8Array | AsyncIterable<Uint8Array>, failpoints: Failpoints,
): Promise<void> {
  const tmp = path + tmpSuffix;
  const f = await layer.openFile(tmp, 'create');
  try {
    await f.truncate(0);
    const head = header(meta);
    await f.write(head, 0);
    let crc = crc32(head);
    let at = head.length;
    const put = async (chunk: Uint8Array): Promise<void> => {
      if (chunk.length === 0) return;
      await f.write(chunk, at);
      crc = crc32(chunk, crc);
      at += chunk.length;
    };
    if (data instanceof Uint8Array) await put(data);
    else for await (const chunk of data) await put(chunk);
    await f.write(trailer(at - head.length, crc), at);
    failpoints.hit(Failpoint.SnapshotBeforeFsync);
    await f.sync();
  } finally {
    await f.close();
  }
  failpoints.hit(Failpoint.SnapshotBeforeRename);
  await layer.rename(tmp, path);
  failpoints.hit(Failpoint.SnapshotAfterRename);
  await layer.syncDir(dirname(path));
}

/**
 * Descriptors of snapshot sources nobody holds any more are closed when the source is garbage
 * collected: a replica may still be streaming an older checkpoint to a slow follower after a
 * newer one replaced it on disk, and the open descriptor keeps the deleted file readable.
 */
const descriptors = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
});

/**
 * A verified snapshot file, open for the replica to stream chunks from (SnapshotSource.read is
 * synchronous, so it reads with readSync on a descriptor kept open until close() or until the
 * source is garbage collected).
 */
export class SnapshotFile implements SnapshotSource {
  private constructor(
    readonly path: string,
    private fd: number | null,
    readonly info: SnapshotFileInfo,
  ) {
    if (fd !== null) descriptors.register(this, fd, this);
  }

  static async open(path: string): Promise<SnapshotFile> {
    const fd = await new Promise<number>((resolve, reject) => {
      openFd(path, 'r', (err, d) => (err === null ? resolve(d) : reject(err)));
    });
    try {
      return new SnapshotFile(path, fd, await verifyOpenSnapshot(fdReader(fd), path));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  get meta(): SnapshotMeta {
    return this.info.meta;
  }

  get sizeBytes(): number {
    return this.info.dataLength;
  }

  get name(): string {
    return basename(this.path);
  }

  read(offset: number, length: number): Uint8Array {
    const start = Math.max(0, Math.min(offset, this.info.dataLength));
    const n = Math.max(0, Math.min(length, this.info.dataLength - start));
    const buf = new Uint8Array(n);
    if (n === 0) return buf;
    if (this.fd === null) throw new StorageClosedError(`${this.path}: this snapshot source was closed with its storage`);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, buf, got, n - got, this.info.dataOffset + start + got);
      if (r === 0) throw bad(this.path, this.info.dataOffset + start + got, 'file shorter than when it was verified');
      got += r;
    }
    return buf;
  }

  async close(): Promise<void> {
    const fd = this.fd;
    if (fd === null) return;
    this.fd = null;
    descriptors.unregister(this);
    await new Promise<void>((resolve, reject) => {
      closeFd(fd, (err) => (err === null ? resolve() : reject(err)));
    });
  }
}

/**
 * The newest snapshot file of a data directory that verifies, for serving `GET /v1/snapshot`
 * (stream the file's bytes as they are: the file format is the wire format). Damaged ones are
 * skipped. Open the file before streaming it: a newer snapshot may delete this one meanwhile,
 * and an open descriptor keeps it readable.
 */
export async function newestSnapshotFile(dataDir: string): Promise<{ path: string; info: SnapshotFileInfo } | null> {
  const dir = join(dataDir, snapDirName);
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const candidates = names.map((name) => ({ name, index: parseSnapshotName(name) }))
    .filter((c): c is { name: string; index: number } => c.index !== null)
    .sort((a, b) => b.index - a.index);
  for (const c of candidates) {
    const path = join(dir, c.name);
    try {
      return { path, info: await readSnapshotFile(path) };
    } catch (err) {
      if (!(err instanceof CorruptionError) && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return null;
}
