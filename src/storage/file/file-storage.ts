import { join } from 'node:path';
import { AssertionFailure, ConfigError, CorruptionError, TooLargeError } from '../../core/index.js';
import type { Entry, HardState, RecoveredState, SnapshotMeta, SnapshotSource } from '../../core/index.js';
import { StorageClosedError, StorageFailedError } from '../errors.js';
import { isRepeatSnapshot, snapshotKeepsLog } from '../log-rules.js';
import type { SaveOptions, Storage } from '../storage.js';
import { DirLock, ensurePrivateDir, makeDirDurable } from './data-dir.js';
import { Failpoint, Failpoints } from './failpoints.js';
import { fileLayerFromEnv, type FileLayer } from './fs-layer.js';
import { defaultPreallocateBytes, type PreallocateMode } from './preallocate.js';
import { parseSnapshotName, snapDirName, snapshotName, tmpSuffix, walDirName } from './segment-names.js';
import { SnapshotFile, writeSnapshotFile } from './snapshot-file.js';
import { Wal } from './wal.js';
import { replay, scanWal, type ReplayedLog, type WalScan } from './wal-replay.js';

export interface FileStorageOptions {
  /** A segment is closed and a new one started once it would grow past this (default 64 MiB). */
  readonly segmentBytesMax?: number;
  /** Largest single WAL record (one entry), checked before allocating on read (default 64 MiB). */
  readonly recordBytesMax?: number;
  /**
   * The largest step, in bytes, by which the active WAL segment is filled with zeros ahead of its
   * writes, in the background (default 4 MiB; 0 turns preallocation off). README.md "Preallocation".
   */
  readonly preallocateBytes?: number;
  /**
   * 'sparse' (default): the space is made by ftruncate, no data written; 'zeros': zeros are
   * written and fsynced, which allocates the blocks ahead but doubles the bytes the disk writes.
   * README.md "Preallocation" has the measurements that chose the default.
   */
  readonly preallocateMode?: PreallocateMode;
  /**
   * A synced save is one write on an O_DSYNC descriptor (default true) rather than a write and
   * an fdatasync: one thread-pool hop instead of two. README.md "One hop per save".
   */
  readonly dsyncWrites?: boolean;
  /**
   * An unsynced save writes synchronously on the event loop (default true): a copy into the page
   * cache costs microseconds, a thread-pool round trip tens under load, and the next synced save
   * waits behind it. README.md "Unsynced writes on the event loop".
   */
  readonly unsyncedWritesOnLoop?: boolean;
  /** Snapshots kept on disk, newest first (default 2). */
  readonly snapshotsKept?: number;
  /** The file layer; by default the real one, or the test-mode layer QUORATE_TEST_DISK asks for. */
  readonly layer?: FileLayer;
  /** Failpoints; by default from QUORATE_FAILPOINTS. */
  readonly failpoints?: Failpoints;
}

export const defaultSegmentBytesMax = 64 << 20;
export const defaultRecordBytesMax = 64 << 20;

/** Errors that a storage throws before changing anything: they do not fail-stop it. */
function changesNothing(err: unknown): boolean {
  return err instanceof AssertionFailure || err instanceof TooLargeError || err instanceof SourceError;
}

/** An error thrown by the caller's snapshot data stream, not by the disk. */
class SourceError extends Error {
  override readonly name = 'SourceError';
}

async function* guarded(data: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const it = data[Symbol.asyncIterator]();
  for (;;) {
    let r: IteratorResult<Uint8Array>;
    try {
      r = await it.next();
    } catch (err) {
      throw new SourceError('the snapshot data stream failed', { cause: err });
    }
    if (r.done === true) return;
    yield r.value;
  }
}

interface KeptSnapshot {
  readonly index: number;
  readonly name: string;
  source: SnapshotFile | null;
}

/**
 * Storage on local files (README.md documents the layout and formats): a write-ahead log of
 * segment files, hard state carried in the log, and snapshot files. One instance per data
 * directory, guarded by a lock file. Calls are serialized in call order.
 */
export class FileStorage implements Storage {
  private readonly layer: FileLayer;
  private readonly failpoints: Failpoints;
  private readonly segmentBytesMax: number;
  private readonly recordBytesMax: number;
  private readonly snapshotsKept: number;
  private readonly preallocateBytes: number;
  private readonly preallocateMode: PreallocateMode;
  private readonly dsyncWrites: boolean;
  private readonly unsyncedWritesOnLoop: boolean;
  private readonly walDir: string;
  private readonly snapDir: string;
  private queue: Promise<unknown> = Promise.resolve();
  private wal: Wal | null = null;
  private lock: DirLock | null = null;
  private snapshots: KeptSnapshot[] = [];
  /** Every source handed out, closed with the storage (weakly held: pruned ones may be collected). */
  private handedOut = new Set<WeakRef<SnapshotFile>>();
  private failed: StorageFailedError | null = null;
  private empty = true;

  constructor(readonly dir: string, options: FileStorageOptions = {}) {
    this.layer = options.layer ?? fileLayerFromEnv();
    this.failpoints = options.failpoints ?? Failpoints.fromEnv();
    this.segmentBytesMax = options.segmentBytesMax ?? defaultSegmentBytesMax;
    this.recordBytesMax = options.recordBytesMax ?? defaultRecordBytesMax;
    this.snapshotsKept = options.snapshotsKept ?? 2;
    this.preallocateBytes = options.preallocateBytes ?? defaultPreallocateBytes;
    this.preallocateMode = options.preallocateMode ?? 'sparse';
    if (this.preallocateMode !== 'sparse' && this.preallocateMode !== 'zeros') {
      throw new ConfigError(`FileStorage preallocateMode must be 'sparse' or 'zeros', got ${String(this.preallocateMode)}`);
    }
    this.dsyncWrites = options.dsyncWrites ?? true;
    this.unsyncedWritesOnLoop = options.unsyncedWritesOnLoop ?? true;
    for (const [name, v, min] of [
      ['segmentBytesMax', this.segmentBytesMax, 128], ['recordBytesMax', this.recordBytesMax, 64], ['snapshotsKept', this.snapshotsKept, 1],
      ['preallocateBytes', this.preallocateBytes, 0],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < min) throw new ConfigError(`FileStorage ${name} must be an integer >= ${min}, got ${v}`);
    }
    this.walDir = join(dir, walDirName);
    this.snapDir = join(dir, snapDirName);
  }

  get wasEmpty(): boolean {
    return this.empty;
  }

  open(): Promise<RecoveredState> {
    return this.serial(async () => {
      if (this.wal !== null) throw new AssertionFailure('storage opened twice');
      await ensurePrivateDir(this.layer, this.dir);
      const lock = await DirLock.acquire(this.dir);
      try {
        return await this.recover(lock);
      } catch (err) {
        await this.closeSources();
        await lock.release();
        throw err;
      }
    });
  }

  private async recover(lock: DirLock): Promise<RecoveredState> {
    await makeDirDurable(this.layer, this.walDir);
    await makeDirDurable(this.layer, this.snapDir);
    for (const name of await this.layer.readdir(this.snapDir)) {
      if (name.endsWith(tmpSuffix)) await this.layer.unlink(join(this.snapDir, name));
    }
    const indexes = (await this.layer.readdir(this.snapDir))
      .map((name) => ({ name, index: parseSnapshotName(name) }))
      .filter((s): s is { name: string; index: number } => s.index !== null)
      .sort((a, b) => b.index - a.index);
    const walOptions = {
      segmentBytesMax: this.segmentBytesMax, recordBytesMax: this.recordBytesMax, preallocateBytes: this.preallocateBytes,
      preallocateMode: this.preallocateMode, dsyncWrites: this.dsyncWrites, unsyncedWritesOnLoop: this.unsyncedWritesOnLoop,
    };
    const scan = await scanWal(this.walDir, this.layer, this.failpoints, walOptions);
    const { source, log, corrupt, conflicting } = await this.choose(indexes, scan);
    for (const c of corrupt) await this.layer.rename(join(this.snapDir, c), join(this.snapDir, `${c}.corrupt`));
    await this.syncRecovered(scan, indexes.filter((s) => !corrupt.includes(s.name)).map((s) => join(this.snapDir, s.name)));
    const base = source?.meta.index ?? 0;
    this.wal = await Wal.start(this.walDir, this.layer, this.failpoints, walOptions, scan, base, log);
    // A crash fell between a conflicting snapshot becoming durable and the record discarding the
    // old log: finish the discard now, durably, before anything is appended after the snapshot.
    if (conflicting) await this.wal.discard(base);
    this.snapshots = indexes.filter((s) => !corrupt.includes(s.name) && s.index <= base)
      .map((s) => ({ index: s.index, name: s.name, source: s.index === base ? source : null }))
      .reverse();
    this.lock = lock;
    this.failed = null;
    this.empty = indexes.length === 0 && !scan.hasRecords;
    return { hardState: log.hardState, snapshot: source, entries: log.entries };
  }

  /**
   * Makes durable everything recovery read, before anything is built on it (PostgreSQL fsyncs
   * its whole data directory before crash recovery for the same reason). A process killed
   * between a write and its fsync leaves the bytes in the page cache: this recovery reads them
   * back as a valid log, but a power cut can still erase them. Trusted as they are, the member
   * would vote and acknowledge on entries that can vanish, and once a later O_DSYNC write (which
   * makes only its own range durable) lands after them, a power cut leaves a hole of zeros in the
   * middle of the log that the next recovery refuses as corruption. So every segment and snapshot
   * file is fsynced, then the directories naming them (renames and unlinks of the dead process,
   * and this recovery's own), then the data directory.
   */
  private async syncRecovered(scan: WalScan, snapshotPaths: readonly string[]): Promise<void> {
    for (const path of [...scan.segments.map((s) => s.path), ...snapshotPaths]) {
      const f = await this.layer.openFile(path, 'existing');
      try {
        await f.sync();
      } finally {
        await f.close();
      }
    }
    for (const dir of [this.walDir, this.snapDir, this.dir]) await this.layer.syncDir(dir);
  }

  /**
   * The newest snapshot that verifies, with the log replayed after it. An older snapshot stands
   * in for a damaged newer one only when the log still covers the gap between them, up to the
   * damaged one's index (its name; its contents cannot be trusted); otherwise the newer one's
   * error is thrown. A member that acknowledged the newer snapshot must not come back without it.
   *
   * `conflicting`: the log holds the snapshot's last index with another id (Raft §7): the crash
   * fell between the snapshot and the discard of the old log, so none of that log follows it.
   */
  private async choose(indexes: readonly { name: string; index: number }[], scan: WalScan):
    Promise<{ source: SnapshotFile | null; log: ReplayedLog; corrupt: string[]; conflicting: boolean }> {
    const corrupt: string[] = [];
    let firstError: CorruptionError | null = null;
    let damagedIndex = 0;
    const cannotStandIn = (why: string, cause?: unknown): CorruptionError => {
      const first = firstError as CorruptionError;
      return new CorruptionError(`${first.message} (no older snapshot can stand in for it: ${why})`,
        { file: first.file ?? '', offset: first.offset ?? 0 }, { cause: cause ?? first });
    };
    for (const s of [...indexes, null]) {
      let source: SnapshotFile | null = null;
      if (s !== null) {
        try {
          source = this.track(await SnapshotFile.open(join(this.snapDir, s.name)));
          if (source.meta.index !== s.index) {
            await source.close();
            throw new CorruptionError(`${source.path}: named for index ${s.index} but holds a snapshot at index ${source.meta.index}; ` +
              'a file was copied or renamed by hand: put the right snapshot back or remove this one', { file: source.path, offset: 0 });
          }
        } catch (err) {
          if (!(err instanceof CorruptionError)) throw err;
          corrupt.push(s.name);
          firstError ??= err;
          damagedIndex = Math.max(damagedIndex, s.index);
          continue;
        }
      }
      const base = source?.meta.index ?? 0;
      let log: ReplayedLog;
      try {
        log = replay(scan, base);
      } catch (err) {
        await source?.close();
        if (firstError === null || !(err instanceof CorruptionError)) throw err;
        throw cannotStandIn(err.message, err);
      }
      const conflicting = source !== null && log.baseId !== undefined && log.baseId !== source.meta.id;
      if (conflicting) log = { ...log, entries: [], locations: [] };
      const last = base + log.entries.length;
      if (firstError !== null && last < damagedIndex) {
        await source?.close();
        throw cannotStandIn(`the log after ${source === null ? 'no snapshot' : `the snapshot at ${base}`} ends at ${last}, ` +
          `before ${damagedIndex}`);
      }
      return { source, log, corrupt, conflicting };
    }
    throw new AssertionFailure('unreachable: the null candidate always returns or throws');
  }

  save(hardState: HardState | null, entries: readonly Entry[], options: SaveOptions = {}): Promise<void> {
    return this.mutate(async (wal) => {
      if (hardState === null && entries.length === 0) return;
      await wal.append(hardState, entries, options.sync ?? true);
    });
  }

  saveSnapshot(meta: SnapshotMeta, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<SnapshotSource> {
    return this.mutate(async (wal) => {
      const current = this.snapshots.at(-1);
      if (current?.source != null && isRepeatSnapshot(meta, current.source.meta)) return current.source;
      // What unsynced saves wrote becomes durable first, as in MemoryStorage: a durable snapshot
      // never sits beside a log whose earlier writes could still vanish.
      await wal.sync();
      const keep = snapshotKeepsLog(meta, wal.snapshotIndex, (i) => wal.idAt(i));
      const name = snapshotName(meta.index);
      const path = join(this.snapDir, name);
      try {
        await writeSnapshotFile(this.layer, path, meta, data instanceof Uint8Array ? data : guarded(data), this.failpoints);
      } catch (err) {
        await this.layer.unlink(path + tmpSuffix).catch(() => undefined);
        throw err;
      }
      const source = this.track(await SnapshotFile.open(path));
      this.failpoints.hit(Failpoint.SnapshotBeforeCompact);
      // Raft §7 in the paper's order: the snapshot is durable first, then a conflicting log is
      // discarded, whole and durably. Cutting first would let a crash in between take away
      // entries this member acknowledged (some maybe committed) with nothing in their place;
      // cutting only after the snapshot's index (as before) left the old entries up to it in
      // the WAL, and a fallback to an older snapshot, were this one to rot, spliced them back
      // beside the new history (review S2). A crash between the two: recovery sees the log's
      // entry at the snapshot's index disagree with it, and finishes the discard (choose()).
      if (!keep) await wal.discard(meta.index);
      else if (meta.index > wal.snapshotIndex) wal.rebase(meta.index);
      this.snapshots.push({ index: meta.index, name, source });
      while (this.snapshots.length > this.snapshotsKept) {
        // Its source is not closed: a replica may still be streaming it to a slow follower, and
        // the open descriptor keeps the deleted file readable until the source is collected.
        const old = this.snapshots.shift() as KeptSnapshot;
        await this.layer.unlink(join(this.snapDir, old.name));
      }
      await wal.compact(meta.index);
      return source;
    });
  }

  entries(lo: number, hi: number): Promise<Entry[]> {
    return this.mutate((wal) => wal.read(lo, hi));
  }

  close(): Promise<void> {
    return this.serial(async () => {
      const wal = this.wal;
      this.wal = null;
      // A clean close makes unsynced saves durable; a failed storage trusts no fsync any more.
      // Losing them is allowed, so a failing fsync here still closes and releases the lock.
      const syncError = this.failed === null && wal !== null ? await wal.sync().then(() => null, (err: unknown) => err) : null;
      await wal?.close();
      await this.closeSources();
      await this.lock?.release();
      this.lock = null;
      if (syncError !== null) throw syncError instanceof Error ? syncError : new Error('fsync on close failed', { cause: syncError });
    });
  }

  /** Segment files currently on disk (for tests and metrics). */
  get segmentCount(): number {
    return this.wal?.segmentCount ?? 0;
  }

  private track(source: SnapshotFile): SnapshotFile {
    for (const ref of this.handedOut) if (ref.deref() === undefined) this.handedOut.delete(ref);
    this.handedOut.add(new WeakRef(source));
    return source;
  }

  private async closeSources(): Promise<void> {
    for (const s of this.snapshots) await s.source?.close();
    for (const ref of this.handedOut) await ref.deref()?.close();
    this.handedOut.clear();
    this.snapshots = [];
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /**
   * Runs a call on the open log. An I/O error fail-stops the storage: after a failed fsync the
   * kernel may have dropped the dirty pages, so nothing later could be trusted to be durable.
   */
  private mutate<T>(fn: (wal: Wal) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      if (this.wal === null) throw new StorageClosedError();
      if (this.failed !== null) throw this.failed;
      try {
        return await fn(this.wal);
      } catch (err) {
        if (err instanceof SourceError) throw err.cause;
        if (changesNothing(err) || err instanceof CorruptionError) throw err;
        this.failed = new StorageFailedError(
          `storage in ${this.dir} failed (${(err as Error).message}); nothing after the last acknowledged save is ` +
          'durable: restart the process to recover from what is on disk', { cause: err });
        throw this.failed;
      }
    });
  }
}
