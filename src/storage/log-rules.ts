import { assert } from '../core/index.js';
import type { Entry, SnapshotMeta } from '../core/index.js';

/**
 * The rules every Storage applies to a save() and a saveSnapshot(), in one place so that
 * MemoryStorage and FileStorage cannot drift apart (the compliance suite checks they do not).
 *
 * The log is the contiguous run of entries (snapshotIndex, lastIndex]. Entries at or before the
 * snapshot are gone as far as callers can tell, even while their segment still sits on disk.
 */

/**
 * Checks a batch for save(): contiguous, at most one past the end, after the snapshot. Returns
 * the index from which the existing log must be cut (lastIndex + 1 when nothing is cut).
 */
export function planAppend(entries: readonly Entry[], snapshotIndex: number, lastIndex: number): number {
  const first = entries[0];
  if (first === undefined) return lastIndex + 1;
  assert(first.index > snapshotIndex,
    () => `append at ${first.index} overwrites the snapshot through ${snapshotIndex}`);
  assert(first.index <= lastIndex + 1,
    () => `append at ${first.index} leaves a gap after the last index ${lastIndex}`);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    assert(Number.isSafeInteger(e.index) && e.index === first.index + i,
      () => `entries not contiguous: position ${i} has index ${e.index}, expected ${first.index + i}`);
    assert(Number.isSafeInteger(e.id) && e.id >= 0, () => `entry ${e.index} has a bad id ${e.id}`);
  }
  return first.index;
}

/**
 * What a new snapshot does to the log (Raft §7: "if an existing entry has the same index and term
 * as the snapshot's last included entry, retain the entries following it; otherwise discard the
 * entire log"). `idAt` gives the id of a live entry, or undefined when the index is not in the log.
 */
export function snapshotKeepsLog(meta: SnapshotMeta, snapshotIndex: number, idAt: (index: number) => number | undefined): boolean {
  assert(meta.index >= snapshotIndex, () => `snapshot at ${meta.index} is older than the current one at ${snapshotIndex}`);
  return meta.index === snapshotIndex || idAt(meta.index) === meta.id;
}

/**
 * A snapshot at the index of the current one (a checkpoint asked for twice with nothing applied
 * in between) is the same checkpoint: storage returns the current one and writes nothing.
 */
export function isRepeatSnapshot(meta: SnapshotMeta, current: SnapshotMeta | undefined): boolean {
  if (current === undefined || current.index !== meta.index) return false;
  assert(current.id === meta.id, () => `snapshot at ${meta.index} with id ${meta.id} contradicts the current one with id ${current.id}`);
  return true;
}

/** Copies entries so that a caller reusing its buffers cannot change what was saved. */
export function copyEntries(entries: readonly Entry[]): Entry[] {
  return entries.map((e) => ({ index: e.index, id: e.id, type: e.type, data: e.data.slice() }));
}

/** Collects snapshot data given whole or as a stream (the in-memory storage keeps it whole). */
export async function collectBytes(data: Uint8Array | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (data instanceof Uint8Array) return data.slice();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const c of data) {
    chunks.push(c.slice());
    total += c.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
