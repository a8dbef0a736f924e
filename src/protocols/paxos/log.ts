import { EntryType, assert } from '../../core/index.js';
import type { Entry } from '../../core/index.js';
import { acceptedBallot, isLearned } from './value.js';

const empty = new Uint8Array(0);

/** A slot this acceptor has accepted nothing for: kept so the stored log stays dense. */
export function holeEntry(slot: number): Entry {
  return { index: slot, id: 0, type: EntryType.Noop, data: empty };
}

/**
 * The acceptor's per-slot state (Paxos Made Simple §2.3: "an acceptor must remember the highest
 * numbered proposal it has accepted"), shaped as the dense log the Ready contract persists:
 * Entry {index: slot, id: origin, type, data: ballot ++ value} (value.ts). A slot with nothing
 * accepted is a hole (id 0). The driver truncates the stored log from entries[0].index, so any change below the end
 * rewrites the suffix from the lowest changed slot: `dirtyFrom` tracks it between Readies.
 *
 * Invariant: entries[i].index === snapshotIndex + 1 + i.
 */
export class SlotLog {
  private entries: Entry[] = [];
  private snapIndex: number;
  private snapId: number;
  /** Lowest slot changed since the last takeDirty(); Infinity when nothing changed. */
  private dirtyFrom = Number.POSITIVE_INFINITY;

  constructor(snapshotIndex: number, snapshotId: number, recovered: readonly Entry[]) {
    this.snapIndex = snapshotIndex;
    this.snapId = snapshotId;
    for (const e of recovered) {
      if (e.index <= snapshotIndex) continue;
      assert(e.index === this.lastIndex + 1, () => `recovered log is not contiguous at ${e.index}`);
      this.entries.push(e);
    }
  }

  get snapshotIndex(): number {
    return this.snapIndex;
  }

  get snapshotId(): number {
    return this.snapId;
  }

  /** Highest slot this acceptor holds anything for (accepted, chosen or in its snapshot). */
  get lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }

  /** The entry at `slot`, or undefined when compacted or beyond the end. Holes are returned. */
  at(slot: number): Entry | undefined {
    return this.entries[slot - this.snapIndex - 1];
  }

  /** Ballot `slot` was accepted at: 0 for a hole or beyond the end, undefined when chosen or compacted. */
  acceptedAt(slot: number): number | undefined {
    if (slot <= this.snapIndex) return undefined;
    const e = this.at(slot);
    return e === undefined ? 0 : acceptedBallot(e);
  }

  /**
   * The chosen point after a restart: at least `floor` (the recovered hard state's chosen, which
   * was written after the entries it covers), then on through values learned already chosen. A
   * hole stops it: nothing was ever chosen there as far as this log knows.
   */
  recoverChosen(floor: number): number {
    let s = this.snapIndex;
    while (s < this.lastIndex) {
      const e = this.at(s + 1) as Entry;
      if (e.id === 0 || (s + 1 > floor && !isLearned(e))) break;
      s++;
    }
    return s;
  }

  /** Sets the accepted value of `slot`, filling any gap before it with holes. */
  put(e: Entry): void {
    assert(e.index > this.snapIndex, () => `write at ${e.index} inside the snapshot through ${this.snapIndex}`);
    const firstChanged = Math.min(e.index, this.lastIndex + 1);
    while (this.lastIndex < e.index - 1) this.entries.push(holeEntry(this.lastIndex + 1));
    this.entries[e.index - this.snapIndex - 1] = e;
    this.dirtyFrom = Math.min(this.dirtyFrom, firstChanged);
  }

  /** Entries with lo <= index <= hi that are in the log (holes included). */
  slice(lo: number, hi: number): Entry[] {
    const a = Math.max(lo, this.snapIndex + 1) - this.snapIndex - 1;
    const b = Math.min(hi, this.lastIndex) - this.snapIndex;
    return a < b ? this.entries.slice(a, b) : [];
  }

  /** Entries accepted (id > 0) from `from` on, as many as fit in `maxBytes` (at least one). */
  acceptedPage(from: number, maxBytes: number, sizeOf: (e: Entry) => number): { entries: Entry[]; next: number } {
    const out: Entry[] = [];
    let bytes = 0;
    for (let s = Math.max(from, this.snapIndex + 1); s <= this.lastIndex; s++) {
      const e = this.at(s) as Entry;
      if (e.id === 0) continue;
      const size = sizeOf(e);
      if (out.length > 0 && bytes + size > maxBytes) return { entries: out, next: s };
      out.push(e);
      bytes += size;
    }
    return { entries: out, next: 0 };
  }

  /**
   * The suffix to persist since the last call, from the lowest changed slot to the end. A slot
   * changed below the end rewrites everything after it (the Ready contract truncates from
   * entries[0].index); the hard state's `end`, written after these entries, is how a restart tells
   * a torn rewrite from a torn append (README, "Torn writes").
   */
  takeDirty(): Entry[] {
    if (this.dirtyFrom === Number.POSITIVE_INFINITY) return [];
    const out = this.slice(this.dirtyFrom, this.lastIndex);
    this.dirtyFrom = Number.POSITIVE_INFINITY;
    return out;
  }

  /** Drops slots <= index (they are in a snapshot). Keeps the suffix beyond it. */
  compact(index: number, id: number): void {
    if (index <= this.snapIndex) return;
    const drop = Math.min(index, this.lastIndex) - this.snapIndex;
    this.entries = this.entries.slice(drop);
    this.snapIndex = index;
    this.snapId = id;
    if (this.dirtyFrom <= index) this.dirtyFrom = index + 1;
  }

  /**
   * A snapshot from a peer replaces the prefix. Storage may discard its whole log when installing
   * one (src/storage/log-rules.ts), so the kept suffix is rewritten in the same Ready.
   */
  installSnapshot(index: number, id: number): void {
    this.compact(index, id);
    this.dirtyFrom = Math.min(this.dirtyFrom, index + 1);
  }

  /** Highest ballot anything was accepted at, for recovery: accepting at b implies a promise of b. */
  maxAcceptedBallot(): number {
    let m = 0;
    for (const e of this.entries) m = Math.max(m, acceptedBallot(e) ?? 0);
    return m;
  }
}
