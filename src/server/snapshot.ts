import type { SnapshotSource } from '../core/index.js';

/** Chunk size for reading a snapshot source: bounded so one read never holds a huge buffer twice. */
const chunkBytes = 1 << 20;

/** The newest checkpoint's bytes, read from its source in bounded chunks. */
export async function snapshotBody(source: SnapshotSource): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let off = 0; off < source.sizeBytes; off += chunkBytes) {
    parts.push(Buffer.from(source.read(off, chunkBytes)));
    await Promise.resolve();
  }
  return Buffer.concat(parts);
}
