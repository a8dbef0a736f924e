import type { Entry, HardState, RecoveredState, SnapshotMeta, SnapshotSource } from '../core/index.js';

export interface SaveOptions {
  /** fsync before resolving (default true). */
  readonly sync?: boolean;
}

/**
 * The storage seam. One replica's durable state: the write-ahead log, the hard state and the
 * snapshots (checkpoints). Implementations: FileStorage (segment files with checksums, fsync) and
 * MemoryStorage (written vs durable views, for tests and the simulator). One compliance suite runs
 * unchanged against both (test/storage/compliance.ts).
 */
export interface Storage {
  /**
   * Cold recovery: load the newest valid snapshot and the log after it, verifying every checksum.
   * A torn tail (an incomplete last record) is truncated; corruption anywhere else throws
   * CorruptionError naming the file and offset. Never silently drops possibly-acknowledged data.
   */
  open(): Promise<RecoveredState>;

  /**
   * Persist one Ready with a single fsync (group commit): if entries[0] overlaps the log, the log
   * is first truncated from entries[0].index; entries are written before the hard state, so a
   * crash can lose the hard state of this call but never keep it without its entries.
   *
   * With `sync: false` the records are written (read back at once, carried into new segments)
   * but not fsynced: a crash may keep or lose them, and they become durable with the next synced
   * save or snapshot, or a clean close. Only for what may be lost (mustSync in src/core/durability.ts).
   */
  save(hardState: HardState | null, entries: readonly Entry[], options?: SaveOptions): Promise<void>;

  /**
   * Write a checkpoint atomically (temp file, fsync, rename, directory fsync), keep the newest K,
   * and drop whole log segments that lie entirely at or before meta.index. Returns a source the
   * replica can stream chunks from. meta.index must not be below the current snapshot's; at the
   * same index (and id) the current snapshot is returned and nothing is written.
   */
  saveSnapshot(meta: SnapshotMeta, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<SnapshotSource>;

  /** Entries with lo <= index < hi that are still in the log. */
  entries(lo: number, hi: number): Promise<Entry[]>;

  /** Whether this storage held nothing when opened (a brand-new or wiped member). */
  readonly wasEmpty: boolean;

  close(): Promise<void>;
}
