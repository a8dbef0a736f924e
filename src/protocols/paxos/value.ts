import { DecodeError, Reader, Writer, assert } from '../../core/index.js';
import type { Entry, EntryType } from '../../core/index.js';

/**
 * A proposal's value: what phase 2 asks acceptors to accept and what is eventually chosen. It
 * carries `origin`, the ballot that first proposed it; re-proposals (Paxos Made Simple §2.2: "the
 * value of the highest-numbered proposal") keep it. So the chosen value, origin included, is the
 * same on every replica, and a chosen slot is delivered as Entry {index, id: origin, type, data}
 * everywhere, whichever ballot happened to get it chosen.
 *
 * The acceptor's log holds each slot in one of three forms, told apart by the entry id:
 * - hole (id 0): nothing accepted;
 * - accepted (id = acceptedIdBase + ballot, data = origin varint ++ value data): accepted at that
 *   ballot, not known chosen;
 * - chosen (0 < id < acceptedIdBase, id = origin): the chosen value, final.
 * The form lives in the entry itself, so a crash between the entries and the hard state of one
 * Ready can never make a merely accepted value look chosen, or the reverse.
 */
export const acceptedIdBase = 2 ** 52;

export interface Value {
  readonly origin: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

export function isChosenForm(e: Entry): boolean {
  return e.id > 0 && e.id < acceptedIdBase;
}

/** The ballot an accepted-form entry was accepted at; 0 for holes; undefined for chosen entries. */
export function acceptedBallot(e: Entry): number | undefined {
  if (e.id === 0) return 0;
  return e.id >= acceptedIdBase ? e.id - acceptedIdBase : undefined;
}

export function acceptedEntry(slot: number, ballot: number, v: Value): Entry {
  assert(ballot > 0 && ballot < acceptedIdBase, () => `ballot ${ballot} outside (0, 2^52)`);
  const w = new Writer(v.data.length + 10);
  w.uvarint(v.origin).raw(v.data);
  return { index: slot, id: acceptedIdBase + ballot, type: v.type, data: w.finish() };
}

export function chosenEntry(slot: number, v: Value): Entry {
  assert(v.origin > 0 && v.origin < acceptedIdBase, () => `origin ${v.origin} outside (0, 2^52)`);
  return { index: slot, id: v.origin, type: v.type, data: v.data };
}

/** The value a chosen-form or accepted-form entry holds. Throws DecodeError on a malformed one. */
export function valueOf(e: Entry): Value {
  if (isChosenForm(e)) return { origin: e.id, type: e.type, data: e.data };
  if (e.id === 0) throw new DecodeError(`slot ${e.index} holds no value`);
  const r = new Reader(e.data);
  const origin = r.uvarint();
  if (origin === 0 || origin >= acceptedIdBase) throw new DecodeError(`slot ${e.index} has a bad origin ballot ${origin}`);
  return { origin, type: e.type, data: e.data.subarray(r.offset) };
}
