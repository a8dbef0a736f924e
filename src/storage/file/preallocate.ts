import { join } from 'node:path';
import { assert } from '../../core/index.js';
import type { FileLayer, WritableFile } from './fs-layer.js';

/**
 * WAL segment preallocation (etcd's filePipeline; Node has no fallocate). An fdatasync after a
 * write that grows the file must also commit the new size through the file system's journal; a
 * write inside the file's size does not. Two ways to make the space, PreallocateMode:
 *  - 'sparse' (the default): ftruncate + fsync, no data written. Blocks are still allocated on
 *    first write, so a large save gains little, but one small save per Ready gains as much as
 *    with zeros, and the disk writes nothing more;
 *  - 'zeros': written and fsynced, blocks allocated ahead. In the 3-node cluster on one disk this
 *    lost throughput at 64 clients (twice the bytes written, a background fsync of megabytes in
 *    the saves' journal and queue). README.md "Preallocation" has the measurements.
 *
 * The space is filled in the background, off the save path, in two ways:
 *  - NextSegment prepares the next segment's file under a temporary name, so that a roll does
 *    not create and fill a file while a save waits;
 *  - Extender keeps the active segment filled ahead of the writes, in chunks that double from
 *    preallocMinBytes up to the configured chunk, so that a node that writes little (a test, a
 *    short-lived member) pays kilobytes, not the whole segment, and a busy one rarely extends.
 *
 * The Extender extends and fsyncs on a descriptor of its own. A write-back error is reported by
 * Linux once to every open file description (errseq), so a failing background fdatasync cannot
 * consume the error a save's fdatasync must see; and any failed background fsync fail-stops the
 * storage anyway (the next save throws it). Running out of space while preallocating is not an
 * error: the segment simply grows by its writes, as without preallocation.
 */

/** The first chunk of a new segment file, and the smallest extension. */
export const preallocMinBytes = 64 * 1024;
/** The default largest extension of the active segment (FileStorageOptions.preallocateBytes). */
export const defaultPreallocateBytes = 4 << 20;
/** The next segment's file while it is being prepared; removed by recovery (it holds no record). */
export const nextSegmentFileName = 'next.prealloc';

const zeros = new Uint8Array(1 << 20);

function isNoSpace(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOSPC';
}

/** How the space is filled: written zeros, or (sparse) the size alone, by ftruncate. */
export type PreallocateMode = 'zeros' | 'sparse';

/** Makes [from, to) of the file (which ends at `from`) read as zeros, durably. */
async function fill(file: WritableFile, from: number, to: number, mode: PreallocateMode): Promise<void> {
  if (mode === 'sparse') {
    await file.truncate(to);
  } else {
    for (let at = from; at < to; at += zeros.length) await file.write(zeros.subarray(0, Math.min(zeros.length, to - at)), at);
  }
  await file.sync();
}

/** A prepared next segment: its file (still under the temporary name) and its zero-filled size. */
export interface PreparedSegment {
  readonly file: WritableFile;
  readonly path: string;
  readonly allocated: number;
}

/** Prepares the next segment's file in the background (etcd's filePipeline). */
export class NextSegment {
  private pending: Promise<PreparedSegment> | null = null;
  readonly path: string;

  /** `bytes` 0: files are created empty (no preallocation). */
  constructor(private readonly layer: FileLayer, dir: string, private readonly bytes: number, private readonly mode: PreallocateMode) {
    this.path = join(dir, nextSegmentFileName);
  }

  /** Starts preparing, unless a file is already prepared or on its way. */
  prepare(): void {
    if (this.pending !== null) return;
    const p = this.create();
    // Its error is the roll's to throw; until then it must not count as unhandled.
    p.catch(() => undefined);
    this.pending = p;
  }

  /** The prepared file (prepared now if nobody asked before); the caller renames it. */
  async take(): Promise<PreparedSegment> {
    this.prepare();
    const p = this.pending;
    assert(p !== null, 'prepare() sets pending');
    this.pending = null;
    return p;
  }

  private async create(): Promise<PreparedSegment> {
    const file = await this.layer.openFile(this.path, 'create', true);
    try {
      await file.truncate(0);
      try {
        await fill(file, 0, this.bytes, this.mode);
        return { file, path: this.path, allocated: this.bytes };
      } catch (err) {
        if (!isNoSpace(err)) throw err;
        await file.truncate(0);
        return { file, path: this.path, allocated: 0 };
      }
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  /** Waits for a preparation in flight and closes its file (the next open removes it). */
  async stop(): Promise<void> {
    const p = this.pending;
    this.pending = null;
    if (p === null) return;
    const prepared = await p.catch(() => null);
    await prepared?.file.close();
  }
}

/** Keeps the active segment's file preallocated ahead of its writes, in the background. */
export class Extender {
  private running: Promise<void> | null = null;
  private file: WritableFile | null = null;
  private failure: Error | null = null;
  /** Out of space once: the segment grows by its writes from then on. */
  private gaveUp = false;

  /**
   * @param allocated bytes of the file known filled (zeros or records) and durable
   * @param limit the segment's size bound: no extension goes past it
   * @param chunkMax the largest extension (0 disables extending)
   */
  constructor(
    private readonly layer: FileLayer,
    private readonly path: string,
    public allocated: number,
    private readonly limit: number,
    private readonly chunkMax: number,
    private readonly mode: PreallocateMode,
  ) {}

  /**
   * Before a write that ends at `writeEnd`: throws a background failure (the storage then
   * fail-stops), and waits for an extension the write would overlap, so that zeros never land
   * on records.
   */
  async beforeWrite(writeEnd: number): Promise<void> {
    if (writeEnd > this.allocated && this.running !== null) await this.running;
    if (this.failure !== null) throw this.failure;
  }

  /** After a write that ended at `writeEnd`: starts an extension when the room ahead runs low. */
  afterWrite(writeEnd: number): void {
    if (this.running !== null || this.gaveUp || this.chunkMax === 0 || this.failure !== null) return;
    const from = Math.max(this.allocated, writeEnd);
    const chunk = Math.min(Math.max(from, preallocMinBytes), this.chunkMax, this.limit - from);
    if (chunk <= 0 || this.allocated - writeEnd >= chunk / 2) return;
    this.running = this.extend(from, from + chunk).finally(() => {
      this.running = null;
    });
  }

  private async extend(from: number, to: number): Promise<void> {
    try {
      this.file ??= await this.layer.openFile(this.path, 'existing');
      await fill(this.file, from, to, this.mode);
      this.allocated = to;
    } catch (err) {
      if (isNoSpace(err)) this.gaveUp = true;
      else this.failure = new Error(`preallocating ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Waits for an extension in flight and closes the descriptor. */
  async stop(): Promise<void> {
    if (this.running !== null) await this.running;
    await this.file?.close();
    this.file = null;
  }
}
