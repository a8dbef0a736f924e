import type { Operation, Scalar } from './history.js';

/**
 * One key's history made smaller before the search, by rules that keep its verdict exactly, and
 * cut into segments the search can take one at a time. Each key is a register starting absent
 * (null). Operations here are `ok` (an interval [call, ret]) or `info` (ret = +Infinity: it may
 * take effect any time after its call, or never); `fail` operations and info reads were dropped
 * before (they constrain nothing).
 */

/** Register semantics: the next state, or undefined when the op cannot take effect in `state`. */
export function step(state: Scalar, op: Operation): Scalar | undefined {
  switch (op.f) {
    case 'read':
      return op.value === state ? state : undefined;
    case 'write':
      return op.value as Scalar;
    case 'delete':
      return null;
    case 'cas': {
      const [expected, next] = op.value as readonly [Scalar, Scalar];
      return state === expected ? next : undefined;
    }
  }
}

/** The value an op leaves in its register when it takes effect; undefined for a read. */
export function writes(op: Operation): Scalar | undefined {
  switch (op.f) {
    case 'read':
      return undefined;
    case 'write':
      return op.value as Scalar;
    case 'delete':
      return null;
    case 'cas':
      return (op.value as readonly [Scalar, Scalar])[1];
  }
}

/** The value an op needs the register to hold when it takes effect; undefined if any will do. */
export function needs(op: Operation): Scalar | undefined {
  if (op.f === 'read') return op.value as Scalar;
  if (op.f === 'cas') return (op.value as readonly [Scalar, Scalar])[0];
  return undefined;
}

export interface Prepared {
  /** The ops the search sees; an info op may have become ok with a deadline for its ret. */
  readonly ops: readonly Operation[];
  /** For each prepared op, its index in the input. */
  readonly origin: readonly number[];
  /** Set when the rules alone prove the key not linearizable: the op that cannot be explained. */
  readonly impossible: { readonly stuck: number } | null;
}

/**
 * Rules for info operations, which are what makes a history hard: an open-ended op can be
 * placed anywhere after its call or nowhere, so each doubles the configurations the search can
 * reach, and it keeps every later point of the history from being quiescent.
 *
 * 0. An op that needs a value (a read of it, a cas from it) that no op writes and that is not the
 *    initial "absent" can never take effect: an ok one proves the key not linearizable, an info
 *    one never happened and is dropped.
 * 1. An info op whose written value nobody else observes (no read returns it, no cas expects it)
 *    is dropped. Dropping an info op is always allowed (it may never have happened); and if a
 *    linearization places it, the ops after it until the next write or delete all must hold
 *    its value (reads of it, cas from it) — there are none — so the next op is a write or
 *    delete (legal in any state) or nothing, and removing it leaves the order legal. Repeated
 *    until nothing changes, since a dropped cas observed the value it expected.
 * 2. An info op I whose written value v is not absent and is written by no other op, and is
 *    observed by an op O that must take effect by time d (an ok op: its ret; an info op that
 *    rule 2 already bounded: its deadline), must itself take effect, before O, so before d: O
 *    needs v in the register, and only I puts it there. I becomes an ok op with ret = the least
 *    such d. Every linearization of the original places I in [call, d], and every
 *    linearization with I in [call, d] is one of the original: the verdict is unchanged. If d is
 *    before I's call, O cannot be explained: not linearizable.
 * Neither rule needs values to be unique in the history; rule 2 applies only where they are.
 */
export function prepare(input: readonly Operation[]): Prepared {
  let live = input.map((_, i) => i);
  const op = (i: number): Operation => input[i] as Operation;
  // Rules 0 and 1, to a fixed point.
  for (;;) {
    const observers = observersOf(input, live);
    const written = new Set<Scalar>([null]);
    for (const i of live) {
      const v = writes(op(i));
      if (v !== undefined) written.add(v);
    }
    const unmet = live.find((i) => op(i).status === 'ok' && !written.has(needs(op(i)) ?? null));
    if (unmet !== undefined) return { ops: [], origin: [], impossible: { stuck: unmet } };
    const next = live.filter((i) => op(i).status !== 'info'
      || (written.has(needs(op(i)) ?? null) && (observers.get(writes(op(i)) as Scalar) ?? []).some((o) => o !== i)));
    if (next.length === live.length) break;
    live = next;
  }
  // Rule 2: deadlines, lowered to a fixed point along chains of info ops observing each other.
  const observers = observersOf(input, live);
  const writers = new Map<Scalar, number>();
  for (const i of live) {
    const v = writes(op(i));
    if (v !== undefined) writers.set(v, (writers.get(v) ?? 0) + 1);
  }
  const deadline = new Map<number, number>();
  const bound = (o: number): number => (op(o).status === 'ok' ? op(o).ret : deadline.get(o) ?? Number.POSITIVE_INFINITY);
  const candidates = live.filter((i) => {
    const v = writes(op(i));
    return op(i).status === 'info' && v !== undefined && v !== null && writers.get(v) === 1;
  });
  for (let changed = true; changed;) {
    changed = false;
    for (const i of candidates) {
      let d = Number.POSITIVE_INFINITY;
      for (const o of observers.get(writes(op(i)) as Scalar) ?? []) if (o !== i) d = Math.min(d, bound(o));
      if (d < (deadline.get(i) ?? Number.POSITIVE_INFINITY)) {
        deadline.set(i, d);
        changed = true;
      }
    }
  }
  for (const [i, d] of deadline) {
    if (d >= op(i).call) continue;
    const stuck = (observers.get(writes(op(i)) as Scalar) ?? []).find((o) => o !== i && bound(o) === d) as number;
    return { ops: [], origin: [], impossible: { stuck } };
  }
  live = dropEnclosingBlindWrites(input, live, observers);
  return {
    ops: live.map((i) => {
      const d = deadline.get(i);
      return d === undefined ? op(i) : { ...op(i), status: 'ok' as const, ret: d };
    }),
    origin: live,
    impossible: null,
  };
}

/**
 * Rule 3. An ok write W whose value no op needs (no read returns it, no cas expects it) that
 * encloses an ok write or delete K (W.call ≤ K.call, K.ret ≤ W.ret) is dropped. Without W: if a
 * linearization places W, the next op must be legal in a state nobody needs, so it is a write or
 * a delete (or nothing), and W can be taken out. With W: wherever a linearization without W
 * places K, W fits immediately before it — K's point is inside W's interval, K is legal in any
 * state and leaves the same one, and every op that must precede W (returned before W's call)
 * precedes K, every op that must follow W (called after W's return) follows K. Slow writes nobody
 * reads are the common case, and each open one doubles the configurations the search can reach.
 * Ws are taken shortest first, and a W may rest only on a K that is kept or was taken before it
 * (so on a shorter interval, itself resting on a kept one inside it): two Ws with the same
 * interval never justify each other.
 */
function dropEnclosingBlindWrites(input: readonly Operation[], live: readonly number[], observers: ReadonlyMap<Scalar, readonly number[]>): number[] {
  const op = (i: number): Operation => input[i] as Operation;
  const len = (i: number): number => op(i).ret - op(i).call;
  const unobserved = (i: number): boolean => op(i).f === 'write' && op(i).status === 'ok'
    && (observers.get(op(i).value as Scalar) ?? []).length === 0;
  const blind = live.filter((i) => op(i).status === 'ok' && (op(i).f === 'write' || op(i).f === 'delete'))
    .sort((a, b) => op(a).call - op(b).call || a - b);
  const candidates = blind.filter(unobserved).sort((a, b) => len(a) - len(b) || a - b);
  const rank = new Map<number, number>(candidates.map((i, r) => [i, r]));
  const dropped = new Set<number>();
  for (const w of candidates) {
    const W = op(w);
    const mine = rank.get(w) as number;
    // Blind ops called inside W, in call order: the first one that also returns inside W will do.
    let lo = 0;
    let hi = blind.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (op(blind[mid] as number).call < W.call) lo = mid + 1;
      else hi = mid;
    }
    for (let j = lo; j < blind.length; j++) {
      const k = blind[j] as number;
      const K = op(k);
      if (K.call > W.ret) break;
      if (k === w || K.ret > W.ret) continue;
      const kRank = rank.get(k);
      if (kRank === undefined || kRank < mine) {
        dropped.add(w);
        break;
      }
    }
  }
  return dropped.size === 0 ? [...live] : live.filter((i) => !dropped.has(i));
}

/** For each value, the live ops that need it in the register (reads of it, cas from it). */
function observersOf(ops: readonly Operation[], live: readonly number[]): Map<Scalar, number[]> {
  const out = new Map<Scalar, number[]>();
  for (const i of live) {
    const v = needs(ops[i] as Operation);
    if (v === undefined) continue;
    let list = out.get(v);
    if (list === undefined) out.set(v, (list = []));
    list.push(i);
  }
  return out;
}

/**
 * Cuts a key's prepared ops into segments at quiescent points: times where no ok operation is
 * open. Every ok op of a segment returned before any ok op of the next was called, so every
 * linearization orders the segments' ok ops one segment after the other, and a segment can be
 * searched on its own from each way the one before can end. Info ops never return, so they are
 * never closed: they do not prevent a cut. Each goes to the segment in which it was called and
 * is carried, unplaced, into the following ones (the search's `pending`) until placed — that is
 * what makes the cut sound for them (see searchSegment). At equal times a call and a return
 * count as overlapping (as the search treats them), so a cut needs a strictly later call.
 * Returns the segments in time order, each a list of indices into `ops`.
 */
export function segments(ops: readonly Operation[]): number[][] {
  const finite = ops.map((_, i) => i).filter((i) => (ops[i] as Operation).status === 'ok')
    .sort((a, b) => (ops[a] as Operation).call - (ops[b] as Operation).call || a - b);
  const out: number[][] = [];
  const starts: number[] = [];
  let maxRet = Number.NEGATIVE_INFINITY;
  for (const i of finite) {
    const o = ops[i] as Operation;
    if (out.length === 0 || o.call > maxRet) {
      out.push([]);
      starts.push(o.call);
    }
    (out[out.length - 1] as number[]).push(i);
    maxRet = Math.max(maxRet, o.ret);
  }
  if (out.length === 0) return [];
  ops.forEach((o, i) => {
    if (o.status === 'ok') return;
    // The last segment that started at or before the call (the first if none did).
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((starts[mid] as number) <= o.call) lo = mid;
      else hi = mid - 1;
    }
    (out[lo] as number[]).push(i);
  });
  return out;
}
