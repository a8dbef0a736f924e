import { assert, memorySnapshotSource } from '../core/index.js';
import type { Entry, HardState, RecoveredState, SnapshotMeta, SnapshotSource } from '../core/index.js';
import { StorageClosedError, StorageFailedError } from './errors.js';
import { collectBytes, copyEntries, isRepeatSnapshot, planAppend, snapshotKeepsLog } from './log-rules.js';
import type { SaveOptions, Storage } from './storage.js';

/**
 * The in-memory twin of FileStorage, for tests and the simulator. It models a disk with two views:
 * `written` (what a running process reads back: the page cache) and `durable` (what survives power
 * loss). save() changes `written` at once and `durable` at its fsync; crash() throws away whatever
 * was not yet durable, optionally keeping part of the last write torn (FAULTS.md rows 10 and 11).
 *
 * In 'auto' sync mode every save() is durable when it resolves. In 'manual' mode saves stay
 * pending until sync() (the simulator decides when the disk finishes), so a crash can fall between
 * a write and its fsync. A save with `sync: false` resolves at once, written but pending in either
 * mode: the next synced save (or sync(), a snapshot, a clean close) makes it durable with it. Snapshots are made durable before saveSnapshot() resolves, as in the file
 * implementation (temp, fsync, rename, directory fsync), which also syncs pending saves first.
 */
export interface MemoryStorageOptions {
  /** How many snapshots to keep (newest first); at least 1. */
  readonly snapshotsKept?: number;
  readonly sync?: 'auto' | 'manual';
}

interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** One disk view. Invariant: log[i].index === snapshotIndex(view) + 1 + i. */
interface DiskView {
  hardState: HardState | null;
  /** Oldest first; the last one is the newest. */
  snapshots: StoredSnapshot[];
  log: Entry[];
}

interface PendingSave {
  /** Asked for no fsync: it already resolved, and a later synced save carries it to the disk. */
  readonly unsynced: boolean;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export interface CrashOptions {
  /** How many of the pending (unsynced) saves reached the platter whole, oldest first. */
  readonly keepUnsyncedSaves?: number;
  /**
   * The save after those was torn: its truncation and its first `tornEntries` entries survive,
   * its later entries and its hard state do not (the WAL writes entries before the hard state).
   */
  readonly tornEntries?: number;
}

function noop(): void {
  // An unsynced save resolved when it was written; the disk finishing it later tells nobody.
}

function emptyView(): DiskView {
  return { hardState: null, snapshots: [], log: [] };
}

function cloneView(v: DiskView): DiskView {
  return { hardState: v.hardState, snapshots: v.snapshots.slice(), log: v.log.slice() };
}

function snapshotIndexOf(v: DiskView): number {
  return v.snapshots.at(-1)?.meta.index ?? 0;
}

function lastIndexOf(v: DiskView): number {
  return snapshotIndexOf(v) + v.log.length;
}

/** Applies a save to a view; `entryCount` < entries.length models a torn write. */
function applySave(v: DiskView, hardState: HardState | null, entries: readonly Entry[], entryCount = entries.length): void {
  const snapshotIndex = snapshotIndexOf(v);
  const cut = planAppend(entries, snapshotIndex, lastIndexOf(v));
  v.log.length = cut - snapshotIndex - 1;
  for (let i = 0; i < entryCount; i++) v.log.push(entries[i] as Entry);
  if (hardState !== null && entryCount === entries.length) v.hardState = hardState;
}

function applySnapshot(v: DiskView, snap: StoredSnapshot, kept: number): void {
  const snapshotIndex = snapshotIndexOf(v);
  const keep = snapshotKeepsLog(snap.meta, snapshotIndex, (i) => v.log[i - snapshotIndex - 1]?.id);
  v.log = keep ? v.log.slice(snap.meta.index - snapshotIndex) : [];
  v.snapshots.push(snap);
  if (v.snapshots.length > kept) v.snapshots.splice(0, v.snapshots.length - kept);
}

export class MemoryStorage implements Storage {
  private readonly snapshotsKept: number;
  private readonly syncMode: 'auto' | 'manual';
  private durable: DiskView = emptyView();
  private written: DiskView = emptyView();
  private pending: PendingSave[] = [];
  private isOpen = false;
  private failed: Error | null = null;
  private failNext = false;
  private empty = true;

  constructor(options: MemoryStorageOptions = {}) {
    this.snapshotsKept = options.snapshotsKept ?? 2;
    this.syncMode = options.sync ?? 'auto';
    assert(Number.isInteger(this.snapshotsKept) && this.snapshotsKept >= 1, 'snapshotsKept must be at least 1');
  }

  get wasEmpty(): boolean {
    return this.empty;
  }

  /** Saves written but not yet durable (in 'auto' mode, only unsynced ones). */
  get pendingSaves(): number {
    return this.pending.length;
  }

  open(): Promise<RecoveredState> {
    assert(!this.isOpen, 'storage opened twice');
    this.written = cloneView(this.durable);
    this.failed = null;
    this.isOpen = true;
    const v = this.written;
    this.empty = v.hardState === null && v.snapshots.length === 0 && v.log.length === 0;
    const newest = v.snapshots.at(-1);
    return Promise.resolve({
      hardState: v.hardState,
      snapshot: newest === undefined ? null : memorySnapshotSource(newest.meta, newest.data),
      entries: v.log.slice(),
    });
  }

  save(hardState: HardState | null, entries: readonly Entry[], options: SaveOptions = {}): Promise<void> {
    try {
      return this.saveNow(hardState, entries, options.sync ?? true);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private saveNow(hardState: HardState | null, entries: readonly Entry[], sync: boolean): Promise<void> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    if (hardState === null && entries.length === 0) return Promise.resolve();
    const copies = copyEntries(entries);
    // Validate against the written view before changing anything: a bad batch changes nothing.
    planAppend(copies, snapshotIndexOf(this.written), lastIndexOf(this.written));
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(this.fail(new Error('injected EIO on fsync')));
    }
    applySave(this.written, hardState, copies);
    if (!sync) {
      this.pending.push({ unsynced: true, hardState, entries: copies, resolve: noop, reject: noop });
      return Promise.resolve();
    }
    if (this.syncMode === 'auto') {
      this.sync();
      applySave(this.durable, hardState, copies);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ unsynced: false, hardState, entries: copies, resolve, reject });
    });
  }

  async saveSnapshot(meta: SnapshotMeta, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<SnapshotSource> {
    const refused = this.refusal();
    if (refused !== null) throw refused;
    const current = this.written.snapshots.at(-1);
    if (current !== undefined && isRepeatSnapshot(meta, current.meta)) return memorySnapshotSource(current.meta, current.data);
    const bytes = await collectBytes(data);
    this.sync();
    const snap: StoredSnapshot = { meta, data: bytes };
    applySnapshot(this.written, snap, this.snapshotsKept);
    applySnapshot(this.durable, snap, this.snapshotsKept);
    return memorySnapshotSource(meta, bytes);
  }

  entries(lo: number, hi: number): Promise<Entry[]> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    const base = snapshotIndexOf(this.written);
    const from = Math.max(lo, base + 1) - base - 1;
    const to = Math.min(hi, lastIndexOf(this.written) + 1) - base - 1;
    return Promise.resolve(from < to ? this.written.log.slice(from, to) : []);
  }

  close(): Promise<void> {
    if (this.isOpen && this.failed === null) this.sync();
    this.isOpen = false;
    return Promise.resolve();
  }

  /** The disk finishes every pending write (manual mode, and unsynced saves); their save() calls resolve. */
  sync(): number {
    const done = this.pending;
    this.pending = [];
    for (const p of done) applySave(this.durable, p.hardState, p.entries);
    for (const p of done) p.resolve();
    return done.length;
  }

  /**
   * Power loss: pending saves are lost (their promises reject, unless unsynced and so already
   * resolved), except those `opts` keeps, and the storage closes. open() then recovers from what was durable.
   */
  crash(opts: CrashOptions = {}): void {
    const keep = Math.min(opts.keepUnsyncedSaves ?? 0, this.pending.length);
    for (let i = 0; i < keep; i++) {
      const p = this.pending[i] as PendingSave;
      applySave(this.durable, p.hardState, p.entries);
    }
    const torn = this.pending[keep];
    if (torn !== undefined && opts.tornEntries !== undefined) {
      applySave(this.durable, torn.hardState, torn.entries, Math.min(opts.tornEntries, torn.entries.length));
    }
    const lost = this.pending;
    this.pending = [];
    this.isOpen = false;
    this.written = cloneView(this.durable);
    for (const p of lost) p.reject(new StorageClosedError('storage crashed before this save was durable'));
  }

  /** Power loss in the middle of the newest pending save: `keepEntries` of its entries survive. */
  tearLastWrite(keepEntries: number): void {
    assert(this.pending.length > 0, 'no pending write to tear (use manual sync mode)');
    this.crash({ keepUnsyncedSaves: this.pending.length - 1, tornEntries: keepEntries });
  }

  /** The next save fails as if its fsync returned EIO; the storage fail-stops (FAULTS.md row 14). */
  failNextSave(): void {
    this.failNext = true;
  }

  private fail(cause: Error): StorageFailedError {
    const err = new StorageFailedError('storage failed: restart to recover from what is durable', { cause });
    this.failed = err;
    return err;
  }

  private refusal(): Error | null {
    if (!this.isOpen) return new StorageClosedError();
    return this.failed;
  }
}
