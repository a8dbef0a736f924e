import { createReadStream } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { encodeSnapshotMeta } from '../core/index.js';
import type { SnapshotSource } from '../core/index.js';
import { SnapshotFile } from '../storage/file/snapshot-file.js';

/**
 * GET /v1/snapshot: the newest checkpoint in the snapshot file format of src/storage/README.md
 * ("QSNP" header, meta, data, length + CRC-32 trailer, "QEND"), the format `quorate snapshot
 * save` verifies and `quorate snapshot restore` seeds a data directory from. A checkpoint held in
 * a file is streamed from it; one held in memory (MemoryStorage) is framed the same way.
 */
export async function sendSnapshot(res: ServerResponse, source: SnapshotSource, headers: Record<string, string>): Promise<void> {
  if (source instanceof SnapshotFile) {
    res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(source.info.fileBytes) });
    await pipeline(createReadStream(source.path, { start: 0, end: source.info.fileBytes - 1 }), res);
    return;
  }
  const body = frameSnapshot(source);
  res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
  res.end(body);
}

const chunkBytes = 1 << 20;

/** The snapshot file format around a source's bytes (header, data, trailer). */
export function frameSnapshot(source: SnapshotSource): Buffer {
  const meta = encodeSnapshotMeta(source.meta);
  const head = Buffer.alloc(12);
  head.write('QSNP', 0, 'latin1');
  head.writeUInt32BE(1, 4);
  head.writeUInt32BE(meta.length, 8);
  const parts: Buffer[] = [head, Buffer.from(meta)];
  for (let off = 0; off < source.sizeBytes; off += chunkBytes) parts.push(Buffer.from(source.read(off, chunkBytes)));
  let crc = 0;
  for (const p of parts) crc = crc32(p, crc);
  const tail = Buffer.alloc(16);
  tail.writeUInt32BE(Math.floor(source.sizeBytes / 0x100000000), 0);
  tail.writeUInt32BE(source.sizeBytes >>> 0, 4);
  tail.writeUInt32BE(crc32(tail.subarray(0, 8), crc), 8);
  tail.write('QEND', 12, 'latin1');
  parts.push(tail);
  return Buffer.concat(parts);
}
