import { assert } from '../../core/index.js';
import type { Entry, SnapshotMeta } from '../../core/index.js';
import type { EpochEnd } from './messages.js';

/**
 * A replica's history (Zab's h_f): a snapshot point followed by contiguous txns. Entries at or
 * after `unstableFrom` are in memory only: the next Ready must write them. A truncation that
 * removed durable entries is recorded in `truncatedTo`, because the storage contract truncates
 * only by writing from entries[0].index: if nothing new follows the cut, the kept entry at the
 * cut is written again so that the driver drops what came after it.
 */
export class History {
  private snap: SnapshotMeta;
  /** Invariant: entries[i].index === snap.index + 1 + i, and ids never decrease. */
  private entries: Entry[];
  /** First index not yet durable. Invariant: snap.index < unstableFrom <= lastIndex + 1. */
  private unstableFrom: number;
  /** A durable suffix after this index must be dropped by the next write; null if none. */
  private truncatedTo: number | null = null;
  /** Last index of the entries a Ready is writing now (0 if none). */
  private inflightLast = 0;

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
    return this.truncatedTo === null ? this.unstableFrom - 1 : Math.min(this.unstableFrom - 1, this.truncatedTo - 1);
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

  /** TRUNC: keep the history through index (never below the snapshot). */
  truncateAfter(index: number): void {
    assert(index >= this.snap.index && index <= this.lastIndex, () => `bad truncation point ${index}`);
    if (index === this.lastIndex) return;
    // The disk may hold entries after the cut: durable ones, or ones a Ready is writing now.
    if (index < Math.max(this.unstableFrom - 1, this.inflightLast)) {
      this.truncatedTo = Math.min(this.truncatedTo ?? index, index);
    }
    this.entries.length = index - this.snap.index;
    this.unstableFrom = Math.min(this.unstableFrom, index + 1);
  }

  /** SNAP: the history becomes exactly the snapshot; whatever followed it on disk is stale. */
  installSnapshot(meta: SnapshotMeta): void {
    this.snap = meta;
    this.entries = [];
    this.unstableFrom = meta.index + 1;
    this.truncatedTo = meta.index;
  }

  /** The state machine is checkpointed through meta.index: drop the txns it covers. */
  compact(meta: SnapshotMeta): void {
    if (meta.index <= this.snap.index) return;
    assert(meta.index <= this.stableIndex, 'compacting past the durable history');
    assert(this.idAt(meta.index) === meta.id, 'snapshot does not match the history');
    this.entries = this.entries.slice(meta.index - this.snap.index);
    this.snap = meta;
  }

  /**
   * What the next Ready must write, up to index `limit`: the unstable entries, or the kept entry
   * at a cut when nothing follows it. Returns [] when nothing is due.
   */
  unstable(limit: number): Entry[] {
    const hi = Math.min(limit, this.lastIndex);
    if (this.truncatedTo !== null && this.unstableFrom > hi) {
      const keep = this.entryAt(this.truncatedTo);
      // A cut back to the snapshot point cannot be expressed by a write (README, gaps).
      return keep === undefined ? [] : [keep];
    }
    return this.slice(this.unstableFrom, hi);
  }

  /** The driver took `written` (from unstable()) in a Ready. */
  markInflight(written: readonly Entry[]): void {
    const last = written.at(-1);
    this.inflightLast = last === undefined ? 0 : last.index;
  }

  /**
   * The driver made `written` durable (it cut the disk log at written[0].index first). If the
   * history still holds the last written entry (the same object), everything through it is
   * durable and nothing follows it on disk; otherwise a cut raced the write and is still due.
   */
  stableTo(written: readonly Entry[]): void {
    this.inflightLast = 0;
    const last = written.at(-1);
    if (last === undefined) return;
    if (this.entryAt(last.index) === last) {
      this.unstableFrom = Math.max(this.unstableFrom, last.index + 1);
      this.truncatedTo = null;
    } else {
      assert(this.truncatedTo !== null, 'a written entry vanished without a recorded cut');
    }
  }

  /** A cut back to the snapshot point that no write can express stays in memory only. */
  forgetCutAtSnapshot(): void {
    if (this.truncatedTo === this.snap.index && this.unstableFrom > this.lastIndex) this.truncatedTo = null;
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
