import { assert, entrySizeBytes } from '../../core/index.js';
import type { Entry } from '../../core/index.js';

/**
 * The replica's view of its log: a snapshot point, then the entries after it, all in memory
 * (compaction keeps this bounded). It tracks which prefix is durable (`stableIndex`), which is
 * committed and which is applied. Invariants, checked by `check()`:
 *   snapshotIndex <= applied <= commit;  entries[i].index === snapshotIndex + 1 + i;
 *   terms never decrease along the log;  stableIndex <= lastIndex.
 */
export class RaftLog {
  /** Last index covered by the snapshot (0 when there is none). */
  snapshotIndex = 0;
  snapshotTerm = 0;
  private ents: Entry[] = [];
  /**
   * Highest index known durable: entries above it still go out in Ready.entries. It moves up only
   * in stableTo, which only advance() calls: the leader counts itself toward a quorum through it
   * while its appends have already left in Ready.earlyMessages.
   */
  stableIndex = 0;
  /** Highest index known committed (§5.3). Never decreases. */
  commit = 0;
  /** Highest index handed out in Ready.committed and advanced (or restored from a snapshot). */
  applied = 0;

  constructor(snapshotIndex: number, snapshotTerm: number, entries: readonly Entry[]) {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    this.ents = entries.filter((e) => e.index > snapshotIndex);
    this.stableIndex = this.lastIndex();
    this.commit = snapshotIndex;
    this.applied = snapshotIndex;
    this.check();
  }

  check(): void {
    assert(this.snapshotIndex <= this.applied && this.applied <= this.commit, () =>
      `log indexes out of order: snapshot ${this.snapshotIndex} applied ${this.applied} commit ${this.commit}`);
    assert(this.stableIndex <= this.lastIndex(), 'stable index past the last index');
    let prevTerm = this.snapshotTerm;
    this.ents.forEach((e, i) => {
      assert(e.index === this.snapshotIndex + 1 + i, () => `log not contiguous at ${e.index}`);
      assert(e.id >= prevTerm, () => `term decreases at ${e.index}`);
      prevTerm = e.id;
    });
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.ents.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? this.snapshotTerm;
  }

  /** The term of the entry at `index`, or null when it is compacted away or not there yet. */
  term(index: number): number | null {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return null;
    return (this.ents[index - this.snapshotIndex - 1] as Entry).id;
  }

  entry(index: number): Entry | undefined {
    return this.ents[index - this.snapshotIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Entries [lo, hi) that are still in memory. */
  slice(lo: number, hi: number): Entry[] {
    assert(lo > this.snapshotIndex && hi <= this.lastIndex() + 1, () => `slice [${lo}, ${hi}) outside the log`);
    return this.ents.slice(lo - this.snapshotIndex - 1, hi - this.snapshotIndex - 1);
  }

  /** Entries from `lo` up to `maxBytes` in total, but always at least one if any exist. */
  entriesFrom(lo: number, maxBytes: number, maxCount = Number.POSITIVE_INFINITY): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= this.lastIndex() && out.length < maxCount; i++) {
      const e = this.entry(i) as Entry;
      bytes += entrySizeBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Whether a candidate's log is at least as up to date as ours (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm() || (lastTerm === this.lastTerm() && lastIndex >= this.lastIndex());
  }

  /** Leader append: entries continue the log. */
  append(entries: readonly Entry[]): void {
    for (const e of entries) {
      assert(e.index === this.lastIndex() + 1, () => `append at ${e.index} after ${this.lastIndex()}`);
      this.ents.push(e);
    }
  }

  /**
   * The first index where `entries` disagree with the log (Figure 2, AppendEntries rule 3), or 0
   * when every entry is already present.
   */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.id)) return e.index;
    }
    return 0;
  }

  /**
   * Delete the entry at `from` and all that follow it, then append `entries` (which start at
   * `from`). Committed entries may never be deleted unless `allowCommitted` (a mutant).
   */
  truncateAndAppend(from: number, entries: readonly Entry[], allowCommitted = false): void {
    assert(allowCommitted || from > this.commit, () => `truncating committed entry ${from} (commit ${this.commit})`);
    assert(from > this.snapshotIndex && from <= this.lastIndex() + 1, () => `truncate at ${from} outside the log`);
    this.ents.length = from - this.snapshotIndex - 1;
    if (this.stableIndex >= from) this.stableIndex = from - 1;
    this.append(entries);
  }

  commitTo(index: number): boolean {
    if (index <= this.commit) return false;
    assert(index <= this.lastIndex(), () => `commit ${index} past the last index ${this.lastIndex()}`);
    this.commit = index;
    return true;
  }

  /** Entries above the durable prefix: the next Ready persists them. */
  unstable(): Entry[] {
    return this.ents.slice(this.stableIndex - this.snapshotIndex);
  }

  /**
   * The driver persisted entries through (index, term). If the log was truncated meanwhile, the
   * term no longer matches and nothing is marked (by log matching, the same index and term mean
   * the same entries before it).
   */
  stableTo(index: number, term: number): void {
    if (index > this.stableIndex && this.matchTerm(index, term)) this.stableIndex = index;
  }

  /** Committed entries not yet handed out, bounded in bytes (at least one). */
  nextCommitted(maxBytes: number): Entry[] {
    if (this.commit <= this.applied) return [];
    return this.entriesFrom(this.applied + 1, maxBytes).filter((e) => e.index <= this.commit);
  }

  appliedTo(index: number): void {
    assert(index <= this.commit && index >= this.applied, () => `applied ${index} out of [${this.applied}, ${this.commit}]`);
    this.applied = index;
  }

  /** Drop everything through `index` (a checkpoint of applied state). */
  compact(index: number, term: number): void {
    assert(index <= this.applied, () => `compact ${index} past applied ${this.applied}`);
    if (index <= this.snapshotIndex) return;
    assert(this.matchTerm(index, term), () => `compact at ${index}: term ${term} differs from the log's ${this.term(index)}`);
    this.ents = this.ents.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }

  /** Replace the whole log by a snapshot received from the leader (Figure 13, rule 8). */
  restore(index: number, term: number): void {
    this.ents = [];
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.stableIndex = index;
    assert(index > this.commit, () => `restore at ${index} at or below commit ${this.commit}`);
    this.commit = index;
    this.applied = index;
  }
}
