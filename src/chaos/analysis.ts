import type { HistoryEvent, Operation, Scalar } from '../check/index.js';
import { operations } from '../check/index.js';

/**
 * What a chaos run's history says beyond linearizability: which acknowledged writes are missing
 * at the end, how available the cluster was in each fault window, and how long each heal took to
 * give the first successful write. Pure functions of the history, so they are tested on
 * hand-written histories (test/chaos/analysis.test.ts).
 */

export interface LostWrite {
  readonly key: string;
  /** The value the lost write wrote (for a lost delete: "delete by process P"). */
  readonly value: Scalar;
  /** The value the final read found, which the lost write should have replaced. */
  readonly finalValue: Scalar;
  readonly why: string;
}

/**
 * The value an operation leaves in its register when it takes effect: a write's value, a cas's
 * new value, absent (null) for a delete; undefined for a read, which changes nothing.
 */
function leaves(o: Operation): Scalar | undefined {
  switch (o.f) {
    case 'write':
      return o.value as Scalar;
    case 'cas':
      return (o.value as readonly [Scalar, Scalar])[1];
    case 'delete':
      return null;
    case 'read':
      return undefined;
  }
}

/**
 * Acknowledged writes (write, cas, delete) that the final state cannot contain. "Absent" is a
 * value like any other, written by deletes (and there at the start):
 * - A final value v names the op X that wrote it (values are unique). An acknowledged change W
 *   invoked after X returned was ordered after X in real time, so the register should hold W's
 *   value or a later one, never X's: W is lost (a lost delete is a deleted key come back). A
 *   final value no op wrote is corruption: every acknowledged change of that key is lost.
 * - A final "absent" needs a delete after the last write. An acknowledged write or cas W is lost
 *   if no delete (acknowledged or unknown) could take effect after it: every delete returned
 *   before W was invoked. An unknown (info) delete may take effect any time after its call.
 * A key whose final read failed is not judged here (reported as unread). The linearizability
 * check, which sees the final reads too, is the verdict; this names the writes.
 */
export function lostWrites(events: readonly HistoryEvent[], finalValues: ReadonlyMap<string, Scalar | undefined>): LostWrite[] {
  const ops = operations(events);
  const byKey = new Map<string, Operation[]>();
  for (const o of ops) {
    if (leaves(o) === undefined) continue;
    let list = byKey.get(o.key);
    if (list === undefined) byKey.set(o.key, (list = []));
    list.push(o);
  }
  const out: LostWrite[] = [];
  const name = (o: Operation): Scalar => (o.f === 'delete' ? `delete by process ${o.process}` : leaves(o) as Scalar);
  for (const [key, changes] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const finalValue = finalValues.get(key);
    if (finalValue === undefined) continue;
    const acked = changes.filter((w) => w.status === 'ok');
    if (finalValue === null) {
      const deletes = changes.filter((d) => d.f === 'delete');
      for (const w of acked) {
        if (w.f === 'delete' || deletes.some((d) => d.ret >= w.call)) continue;
        out.push({ key, value: name(w), finalValue, why: 'the key is absent at the end, and every delete returned before this write was invoked' });
      }
      continue;
    }
    const writer = changes.find((w) => leaves(w) === finalValue);
    if (writer === undefined) {
      for (const w of acked) out.push({ key, value: name(w), finalValue, why: `the final value ${String(finalValue)} was never written` });
      continue;
    }
    for (const w of acked) {
      if (w !== writer && w.call > writer.ret) {
        out.push({ key, value: name(w), finalValue, why: `acknowledged after ${String(finalValue)} was written, yet ${String(finalValue)} is final` });
      }
    }
  }
  return out;
}

/** Acknowledged changes: writes, successful cas and deletes. */
export function acknowledgedWrites(events: readonly HistoryEvent[]): number {
  return operations(events).filter((o) => o.status === 'ok' && leaves(o) !== undefined).length;
}

export interface Window {
  readonly startMs: number;
  readonly endMs: number;
}

export interface Availability {
  readonly attempted: number;
  readonly ok: number;
  /** ok / attempted; null when nothing was attempted. */
  readonly ratio: number | null;
}

export interface OpSpan {
  readonly process: number;
  readonly f: HistoryEvent['f'];
  readonly key: string;
  readonly type: 'ok' | 'fail' | 'info' | 'open';
  readonly startMs: number;
  /** Completion; null while open (the run ended first). */
  readonly endMs: number | null;
}

/** Every invocation with its completion, in invocation order, in milliseconds (events carry ns). */
export function spans(events: readonly HistoryEvent[]): OpSpan[] {
  const open = new Map<number, { e: HistoryEvent; i: number }>();
  const out: (OpSpan | null)[] = [];
  for (const e of events) {
    if (e.type === 'invoke') {
      open.set(e.process, { e, i: out.length });
      out.push(null);
      continue;
    }
    const inv = open.get(e.process);
    if (inv === undefined) continue;
    open.delete(e.process);
    out[inv.i] = { process: e.process, f: e.f, key: e.key, type: e.type, startMs: inv.e.time / 1e6, endMs: e.time / 1e6 };
  }
  for (const { e, i } of open.values()) out[i] = { process: e.process, f: e.f, key: e.key, type: 'open', startMs: e.time / 1e6, endMs: null };
  return out.filter((s): s is OpSpan => s !== null);
}

/**
 * Served: the cluster gave a definite answer. A cas whose expected value did not match is a
 * definite answer (`fail` from the store, not from the network); a read's `fail` is an error.
 */
export function served(s: OpSpan): boolean {
  return s.type === 'ok' || (s.type === 'fail' && s.f === 'cas');
}

/** Operations invoked inside the window: how many, and how many were served. */
export function availabilityIn(all: readonly OpSpan[], w: Window): Availability {
  let attempted = 0;
  let ok = 0;
  for (const s of all) {
    if (s.startMs < w.startMs || s.startMs >= w.endMs) continue;
    attempted++;
    if (served(s)) ok++;
  }
  return { attempted, ok, ratio: attempted === 0 ? null : ok / attempted };
}

/** Operations invoked outside every window: the healthy baseline. */
export function availabilityOutside(all: readonly OpSpan[], windows: readonly Window[], range: Window): Availability {
  let attempted = 0;
  let ok = 0;
  for (const s of all) {
    if (s.startMs < range.startMs || s.startMs >= range.endMs) continue;
    if (windows.some((w) => s.startMs >= w.startMs && s.startMs < w.endMs)) continue;
    attempted++;
    if (served(s)) ok++;
  }
  return { attempted, ok, ratio: attempted === 0 ? null : ok / attempted };
}

/**
 * Milliseconds from `healedAtMs` to the first successful write (write or cas) completing at or
 * after it; null if none did before the run ended.
 */
export function recoveryMs(all: readonly OpSpan[], healedAtMs: number): number | null {
  let best: number | null = null;
  for (const s of all) {
    if (s.type !== 'ok' || s.f === 'read' || s.endMs === null || s.endMs < healedAtMs) continue;
    if (best === null || s.endMs < best) best = s.endMs;
  }
  return best === null ? null : best - healedAtMs;
}
