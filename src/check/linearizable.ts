import { Rng, assert } from '../core/index.js';
import type { HistoryEvent, Operation, Scalar } from './history.js';
import { operations } from './history.js';

/**
 * Linearizability of a KV history. Each key is an independent register starting absent (null),
 * so the history is checked per key (P-compositionality, Herlihy & Wing). Per key, the search is
 * Wing & Gong's with Lowe's just-in-time linearization and memoization of (linearized set, state),
 * as Porcupine does it: walk the calls and returns in time order; at a call, try to linearize that
 * operation now; at a return whose operation is not yet linearized, backtrack. `info` operations
 * have no return (they may take effect any time after their call, or never), so reaching one's
 * return means every `ok` operation has been placed.
 */

export type Verdict = 'linearizable' | 'not_linearizable' | 'unknown';

export interface LinearizabilityFailure {
  readonly key: string;
  /** A small sub-history of this key that is itself not linearizable (ops may be made `info`). */
  readonly operations: readonly Operation[];
  /** The operation the search could not place, in the sub-history. */
  readonly stuck: Operation | null;
  readonly explanation: string;
}

export interface LinearizabilityReport {
  readonly verdict: Verdict;
  readonly ok: boolean;
  readonly operations: number;
  readonly keys: number;
  readonly failure: LinearizabilityFailure | null;
  /** Keys whose search exceeded its step budget (verdict unknown unless another key failed). */
  readonly unknownKeys: readonly string[];
}

export interface CheckOptions {
  /** Search steps per key before giving up with `unknown`: the search is exponential in the worst case. */
  readonly stepsMaxPerKey: number;
  /** Linearizability checks spent shrinking a failure to a small witness. */
  readonly shrinkChecksMax: number;
}

export const defaultCheckOptions: CheckOptions = { stepsMaxPerKey: 5_000_000, shrinkChecksMax: 400 };

type KeyVerdict = { verdict: Verdict; stuck: Operation | null; steps: number };

/** Register semantics: returns the next state, or undefined when the op cannot happen in `state`. */
function step(state: Scalar, op: Operation): Scalar | undefined {
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

/** Doubly linked list of call/return entries in time order, with O(1) lift and unlift (LIFO). */
interface Entries {
  readonly op: Int32Array;
  readonly isCall: Uint8Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** For a call entry, the index of its return entry. */
  readonly match: Int32Array;
}

function buildEntries(ops: readonly Operation[]): Entries {
  const n = ops.length;
  const order: { t: number; call: boolean; op: number }[] = [];
  ops.forEach((o, i) => {
    order.push({ t: o.call, call: true, op: i });
    order.push({ t: o.ret, call: false, op: i });
  });
  // At equal times calls come first: treating touching intervals as concurrent never invents a
  // violation.
  order.sort((a, b) => a.t - b.t || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
  const size = 2 * n + 1; // entry 0 is the head sentinel
  const e: Entries = {
    op: new Int32Array(size), isCall: new Uint8Array(size), next: new Int32Array(size),
    prev: new Int32Array(size), match: new Int32Array(size),
  };
  const callEntry = new Int32Array(n);
  order.forEach((x, i) => {
    const idx = i + 1;
    e.op[idx] = x.op;
    e.isCall[idx] = x.call ? 1 : 0;
    if (x.call) callEntry[x.op] = idx;
    else e.match[callEntry[x.op] as number] = idx;
  });
  for (let i = 0; i < size; i++) {
    e.next[i] = i + 1 < size ? i + 1 : -1;
    e.prev[i] = i - 1;
  }
  return e;
}

function unlink(e: Entries, i: number): void {
  const p = e.prev[i] as number;
  const nx = e.next[i] as number;
  e.next[p] = nx;
  if (nx !== -1) e.prev[nx] = p;
}

function relink(e: Entries, i: number): void {
  const p = e.prev[i] as number;
  const nx = e.next[i] as number;
  e.next[p] = i;
  if (nx !== -1) e.prev[nx] = i;
}

/** Memo of visited (linearized set, state): Zobrist hash buckets with exact comparison. */
class Visited {
  private readonly buckets = new Map<number, { bits: Uint32Array; state: Scalar }[]>();
  add(hash: number, bits: Uint32Array, state: Scalar): boolean {
    const bucket = this.buckets.get(hash);
    if (bucket === undefined) {
      this.buckets.set(hash, [{ bits: bits.slice(), state }]);
      return true;
    }
    for (const b of bucket) {
      if (b.state === state && bitsEqual(b.bits, bits)) return false;
    }
    bucket.push({ bits: bits.slice(), state });
    return true;
  }
}

function bitsEqual(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function stateHash(s: Scalar): number {
  if (s === null) return 0x5bd1e995;
  const str = typeof s === 'number' ? `n${s}` : `s${s}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) h = Math.imul(h ^ str.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Checks one key's operations (no fail ops; info reads already dropped). */
export function checkRegister(ops: readonly Operation[], stepsMax: number): KeyVerdict {
  const n = ops.length;
  if (n === 0) return { verdict: 'linearizable', stuck: null, steps: 0 };
  const e = buildEntries(ops);
  const zobA = new Uint32Array(n);
  const zobB = new Uint32Array(n);
  const rng = new Rng(n);
  for (let i = 0; i < n; i++) {
    zobA[i] = rng.nextU32();
    zobB[i] = rng.nextU32() & 0xfffff;
  }
  const bits = new Uint32Array((n + 31) >>> 5);
  let hA = 0;
  let hB = 0;
  const visited = new Visited();
  const stack: { entry: number; state: Scalar }[] = [];
  let state: Scalar = null;
  let entry = e.next[0] as number;
  let steps = 0;
  let stuck: Operation | null = null;
  let deepest = -1;
  while (e.next[0] !== -1) {
    if (++steps > stepsMax) return { verdict: 'unknown', stuck, steps };
    assert(entry !== -1, 'the walk ran off the end of the entry list');
    const opIndex = e.op[entry] as number;
    const op = ops[opIndex] as Operation;
    if (e.isCall[entry] === 1) {
      const next = step(state, op);
      if (next !== undefined) {
        const nA = (hA ^ (zobA[opIndex] as number)) >>> 0;
        const nB = (hB ^ (zobB[opIndex] as number)) >>> 0;
        bits[opIndex >>> 5]! |= 1 << (opIndex & 31);
        if (visited.add(nA * 0x100000 + (nB ^ (stateHash(next) & 0xfffff)), bits, next)) {
          stack.push({ entry, state });
          state = next;
          hA = nA;
          hB = nB;
          unlink(e, entry);
          unlink(e, e.match[entry] as number);
          entry = e.next[0] as number;
          continue;
        }
        bits[opIndex >>> 5]! &= ~(1 << (opIndex & 31));
      }
      entry = e.next[entry] as number;
      continue;
    }
    // A return whose operation was not linearized before it.
    if (op.status === 'info') return { verdict: 'linearizable', stuck: null, steps };
    if (stack.length > deepest) {
      deepest = stack.length;
      stuck = op;
    }
    const top = stack.pop();
    if (top === undefined) return { verdict: 'not_linearizable', stuck, steps };
    const topOp = e.op[top.entry] as number;
    relink(e, e.match[top.entry] as number);
    relink(e, top.entry);
    bits[topOp >>> 5]! &= ~(1 << (topOp & 31));
    hA = (hA ^ (zobA[topOp] as number)) >>> 0;
    hB = (hB ^ (zobB[topOp] as number)) >>> 0;
    state = top.state;
    entry = e.next[top.entry] as number;
  }
  return { verdict: 'linearizable', stuck: null, steps };
}

/** The operations that constrain a register: info reads observe nothing, so they are dropped. */
function relevant(ops: readonly Operation[]): Operation[] {
  return ops.filter((o) => !(o.f === 'read' && o.status === 'info'));
}

export function checkHistory(events: readonly HistoryEvent[], options: Partial<CheckOptions> = {}): LinearizabilityReport {
  return checkOperations(operations(events), options);
}

export function checkOperations(all: readonly Operation[], options: Partial<CheckOptions> = {}): LinearizabilityReport {
  const opts = { ...defaultCheckOptions, ...options };
  const byKey = new Map<string, Operation[]>();
  for (const o of all) {
    let list = byKey.get(o.key);
    if (list === undefined) byKey.set(o.key, (list = []));
    list.push(o);
  }
  const unknownKeys: string[] = [];
  for (const key of [...byKey.keys()].sort()) {
    const ops = relevant(byKey.get(key) as Operation[]);
    const v = checkRegister(ops, opts.stepsMaxPerKey);
    if (v.verdict === 'unknown') unknownKeys.push(key);
    if (v.verdict === 'not_linearizable') {
      return {
        verdict: 'not_linearizable', ok: false, operations: all.length, keys: byKey.size,
        failure: shrink(key, ops, opts), unknownKeys,
      };
    }
  }
  const verdict: Verdict = unknownKeys.length > 0 ? 'unknown' : 'linearizable';
  return { verdict, ok: verdict === 'linearizable', operations: all.length, keys: byKey.size, failure: null, unknownKeys };
}

/** The ops called by time t; those still running at t become open-ended (weaker, never stronger). */
function cutAt(ops: readonly Operation[], t: number): Operation[] {
  return relevant(ops.filter((o) => o.call <= t).map((o) => (o.ret > t && o.status === 'ok'
    ? { ...o, status: 'info' as const, ret: Number.POSITIVE_INFINITY, value: o.f === 'read' ? null : o.value }
    : o)));
}

/**
 * A witness keeps the write behind every value it reads: dropping it would leave a read of a
 * value "never written", which is not linearizable but explains nothing about the real failure.
 */
function selfContained(ops: readonly Operation[]): boolean {
  const written = new Set<Scalar>();
  for (const o of ops) {
    if (o.f === 'write') written.add(o.value as Scalar);
    if (o.f === 'cas') written.add((o.value as readonly [Scalar, Scalar])[1]);
  }
  return ops.every((o) => o.f !== 'read' || o.value === null || written.has(o.value as Scalar));
}

/**
 * Shrinks a non-linearizable key history to a small witness: the shortest prefix (by completion
 * time) that is already not linearizable, then greedily drops operations whose removal keeps it
 * so. Every candidate is re-checked, so the witness is sound even when shrinking stops early.
 */
function shrink(key: string, ops: readonly Operation[], opts: CheckOptions): LinearizabilityFailure {
  let budget = opts.shrinkChecksMax;
  const fails = (c: readonly Operation[]): KeyVerdict | null => {
    budget--;
    const v = checkRegister(c, opts.stepsMaxPerKey);
    return v.verdict === 'not_linearizable' ? v : null;
  };
  const rets = [...new Set(ops.filter((o) => o.status === 'ok').map((o) => o.ret))].sort((a, b) => a - b);
  let lo = 0;
  let hi = rets.length - 1;
  while (lo < hi && budget > 0) {
    const mid = (lo + hi) >>> 1;
    if (fails(cutAt(ops, rets[mid] as number)) !== null) hi = mid;
    else lo = mid + 1;
  }
  let witness = hi >= 0 ? cutAt(ops, rets[hi] as number) : ops.slice();
  let verdict = fails(witness);
  if (verdict === null) {
    witness = ops.slice();
    verdict = checkRegister(witness, opts.stepsMaxPerKey);
  }
  for (let i = witness.length - 1; i >= 0 && budget > 0; i--) {
    const candidate = witness.filter((_, j) => j !== i);
    if (!selfContained(candidate)) continue;
    const v = fails(candidate);
    if (v !== null) {
      witness = candidate;
      verdict = v;
    }
  }
  const stuck = verdict.stuck;
  const explanation = stuck === null
    ? `no order of these ${witness.length} operations on key ${JSON.stringify(key)} is legal for a register`
    : `no order of these ${witness.length} operations on key ${JSON.stringify(key)} lets process ${stuck.process}'s ` +
      `${stuck.f} ${JSON.stringify(stuck.value)} take effect within its interval`;
  return { key, operations: witness, stuck, explanation };
}
