import { assert } from '../../core/index.js';
import type { Entry, SnapshotMeta } from '../../core/index.js';
import type { EpochEnd } from './messages.js';

/**
 * A replica's history (Zab's h_f): a snapshot point followed by contiguous txns. Entries at or
 * after `unstableFrom` are in memory only: the next Ready must write them.
 *
 * A TRUNC cuts the history in memory only. The storage contract truncates only by writing from
 * entries[0].index, and re-writing the kept txn to force the cut would put a durable, possibly
 * acknowledged txn at the mercy of a torn write (FAULTS.md #11). So txns cut away may stay on
 * disk after the history until the next txns overwrite them; a restart can bring them back as
 * the uncommitted tail they were (README, "Truncation on disk").
 */
export class History {
  private snap: SnapshotMeta;
  /** Invariant: entries[i].index === snap.index + 1 + i, and ids never decrease. */
  private entries: Entry[];
  /** First index not yet durable. Invariant: snap.index < unstableFrom <= lastIndex + 1. */
  private unstableFrom: number;

  constructor(snap: SnapshotMeta, entries: readonly Entry[]) {
    this.snap = snap;
    this.entries = [];
    for (const e of entries) this.pushChecked(e);
    this.unstableFrom = this.lastIndex + 1;
  }

  get snapshot(): SnapshotMeta {
    return this.snap;
  }

  get firstIndex(): number {
    return this.snap.index + 1;
  }

  get lastIndex(): number {
    return this.snap.index + this.entries.length;
  }

  get lastId(): number {
    return this.idAt(this.lastIndex) ?? 0;
  }

  /** Highest index known durable (written by an advanced Ready). */
  get stableIndex(): number {
    return this.unstableFrom - 1;
  }

  /** The epoch of the txn at index, or null when it is compacted or absent. */
  idAt(index: number): number | null {
    if (index === this.snap.index) return this.snap.id;
    if (index < this.firstIndex || index > this.lastIndex) return null;
    return (this.entries[index - this.firstIndex] as Entry).id;
  }

  entryAt(index: number): Entry | undefined {
    return this.entries[index - this.firstIndex];
  }

  /** Entries with lo <= index <= hi (clipped to what is held). */
  slice(lo: number, hi: number): Entry[] {
    const from = Math.max(lo, this.firstIndex) - this.firstIndex;
    const to = Math.min(hi, this.lastIndex) - this.firstIndex + 1;
    return from < to ? this.entries.slice(from, to) : [];
  }

  private pushChecked(e: Entry): void {
    assert(e.index === this.lastIndex + 1, () => `history gap: appending ${e.index} after ${this.lastIndex}`);
    assert(e.id >= this.lastId, () => `zxid order: epoch ${e.id} after ${this.lastId}`);
    this.entries.push(e);
  }

  /** Appends contiguous txns; the caller has checked contiguity (a gap is a protocol outcome). */
  append(entries: readonly Entry[]): void {
    for (const e of entries) this.pushChecked(e);
  }

  /** TRUNC: keep the history through index (never below the snapshot), in memory. */
  truncateAfter(index: number): void {
    assert(index >= this.snap.index && index <= this.lastIndex, () => `bad truncation point ${index}`);
    this.entries.length = index - this.snap.index;
    this.unstableFrom = Math.min(this.unstableFrom, index + 1);
  }

  /** SNAP: the history becomes exactly the snapshot. */
  installSnapshot(meta: SnapshotMeta): void {
    this.snap = meta;
    this.entries = [];
    this.unstableFrom = meta.index + 1;
  }

  /** The state machine is checkpointed through meta.index: drop the txns it covers. */
  compact(meta: SnapshotMeta): void {
    if (meta.index <= this.snap.index) return;
    assert(meta.index <= this.stableIndex, 'compacting past the durable history');
    assert(this.idAt(meta.index) === meta.id, 'snapshot does not match the history');
    this.entries = this.entries.slice(meta.index - this.snap.index);
    this.snap = meta;
  }

  /** What the next Ready must write: the txns not yet durable. */
  unstable(): Entry[] {
    return this.slice(this.unstableFrom, this.lastIndex);
  }

  /**
   * The driver made `written` durable. If the history still holds the last written txn (the
   * same object), everything through it is durable; otherwise a TRUNC raced the write and the
   * txns after the cut will be written (over the stale ones) later.
   */
  stableTo(written: readonly Entry[]): void {
    const last = written.at(-1);
    if (last !== undefined && this.entryAt(last.index) === last) {
      this.unstableFrom = Math.max(this.unstableFrom, last.index + 1);
    }
  }

  /** Where each epoch ends, newest first: the history summary sent in ACKEPOCH. */
  epochEnds(max: number): EpochEnd[] {
    const out: EpochEnd[] = [];
    let i = this.lastIndex;
    while (out.length < max) {
      const id = this.idAt(i) as number;
      out.push({ epoch: id, lastIndex: i });
      let first = i;
      while (first > this.snap.index && this.idAt(first - 1) === id) first--;
      if (first <= this.snap.index) break;
      i = first - 1;
    }
    return out;
  }

  /** The last index of an epoch in this history, 'none' if absent, 'unknown' if compacted away. */
  lastIndexOfEpoch(epoch: number): number | 'none' | 'unknown' {
    for (let i = this.lastIndex; i > this.snap.index; i--) {
      const id = this.idAt(i) as number;
      if (id === epoch) return i;
      if (id < epoch) return 'none';
    }
    if (this.snap.id === epoch) return this.snap.index;
    if (this.snap.id < epoch || this.snap.index === 0) return 'none';
    return 'unknown';
  }
}
