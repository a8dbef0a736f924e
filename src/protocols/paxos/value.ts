import { DecodeError, Reader, Writer, assert } from '../../core/index.js';
import type { Entry, EntryType } from '../../core/index.js';

/**
 * A proposal's value: what phase 2 asks acceptors to accept and what is eventually chosen. It
 * carries `origin`, the ballot that first proposed it; re-proposals (Paxos Made Simple §2.2: "the
 * value of the highest-numbered proposal") keep it. So the chosen value, origin included, is the
 * same on every replica, and a chosen slot is delivered as Entry {index, id: origin, type, data}
 * everywhere, whichever ballot happened to get it chosen.
 *
 * Two shapes of Entry carry a value:
 * - on the wire (p2a, learn) and in Ready.committed: {id: origin, data: the value};
 * - in the acceptor's log: {id: origin, data: ballot varint ++ the value}, where ballot is the one
 *   the value was accepted at, or 0 when it was learned already chosen (catch-up: it was never
 *   accepted here, and phase 1 reports it as chosen). A slot with nothing is a hole (id 0).
 * The id of a stored value is its origin, the id the slot is delivered with once chosen, so a
 * checkpoint at an applied slot names the id storage finds there (src/storage/log-rules.ts keeps
 * the log after a snapshot only then). Whether a slot is chosen is not in the entry: the chosen
 * point is the hard state's `chosen` (volatile, written without an fsync) plus the learned
 * entries, so learning that a slot is chosen never rewrites the log (README, "Durability").
 */
export const originMax = 2 ** 52;

export interface Value {
  readonly origin: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** Whether a wire entry carries a valid origin (p2a and learn values). */
export function isWireValue(e: Entry): boolean {
  return e.id > 0 && e.id < originMax;
}

function storedEntry(slot: number, ballot: number, v: Value): Entry {
  assert(v.origin > 0 && v.origin < originMax, () => `origin ${v.origin} outside (0, 2^52)`);
  const w = new Writer(v.data.length + 10);
  w.uvarint(ballot).raw(v.data);
  return { index: slot, id: v.origin, type: v.type, data: w.finish() };
}

/** A value accepted at `ballot`, as the acceptor's log holds it. */
export function acceptedEntry(slot: number, ballot: number, v: Value): Entry {
  assert(ballot > 0 && ballot < originMax, () => `ballot ${ballot} outside (0, 2^52)`);
  return storedEntry(slot, ballot, v);
}

/** A value learned already chosen (from a peer's `learn`), as the acceptor's log holds it. */
export function learnedEntry(slot: number, v: Value): Entry {
  return storedEntry(slot, 0, v);
}

/** The wire (and delivered) form of a value: id = origin, data = the value itself. */
export function chosenEntry(slot: number, v: Value): Entry {
  assert(v.origin > 0 && v.origin < originMax, () => `origin ${v.origin} outside (0, 2^52)`);
  return { index: slot, id: v.origin, type: v.type, data: v.data };
}

/** The value a wire entry carries. */
export function wireValue(e: Entry): Value {
  if (!isWireValue(e)) throw new DecodeError(`slot ${e.index} has a bad origin ${e.id}`);
  return { origin: e.id, type: e.type, data: e.data };
}

function parseStored(e: Entry): { ballot: number; value: Value } {
  if (e.id === 0) throw new DecodeError(`slot ${e.index} holds no value`);
  if (!isWireValue(e)) throw new DecodeError(`slot ${e.index} has a bad origin ${e.id}`);
  const r = new Reader(e.data);
  const ballot = r.uvarint();
  if (ballot >= originMax) throw new DecodeError(`slot ${e.index} has a bad ballot ${ballot}`);
  return { ballot, value: { origin: e.id, type: e.type, data: e.data.subarray(r.offset) } };
}

/**
 * A stored-form value as a peer reports it (p1b): its accepted ballot (0 when learned chosen), or
 * null when it is a hole or malformed. Never throws: a peer's bytes are checked, not trusted.
 */
export function parseReported(e: Entry): { ballot: number } | null {
  if (e.id === 0) return null;
  try {
    return { ballot: parseStored(e).ballot };
  } catch {
    return null;
  }
}

/** The ballot a stored value was accepted at; 0 for holes; undefined for a value learned chosen. */
export function acceptedBallot(e: Entry): number | undefined {
  if (e.id === 0) return 0;
  const b = parseStored(e).ballot;
  return b === 0 ? undefined : b;
}

/** Whether a stored entry is a value learned already chosen. */
export function isLearned(e: Entry): boolean {
  return e.id !== 0 && parseStored(e).ballot === 0;
}

/** The value a stored entry holds. Throws DecodeError on a hole or a malformed entry. */
export function valueOf(e: Entry): Value {
  return parseStored(e).value;
}

/** A stored entry in wire form (what p2a, learn and Ready.committed carry). */
export function toWire(e: Entry): Entry {
  return chosenEntry(e.index, valueOf(e));
}
