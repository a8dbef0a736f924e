import { assert } from '../core/index.js';
import type { Operation, Scalar } from './history.js';
import { needs, writes } from './register.js';

/**
 * The search of one key's history, segment by segment (segments: src/check/register.ts). Inside
 * a segment it is Wing & Gong's search with Lowe's just-in-time linearization and memoization of
 * (linearized set, state), as Porcupine does it: walk the calls and returns in time order; at a
 * call, try to linearize that op now; at a return whose op is not yet linearized, backtrack.
 *
 * Across segments. A segment starts from a configuration of the one before: the register's state
 * and the info ops called earlier and not yet placed (`pending`). Those may take effect at any
 * point of this segment (their calls are before all of its ops, their returns never come), so
 * their calls go first. A segment's search yields a configuration each time every ok op of the
 * segment is placed; placing a pending info op after that is the same as placing it first in the
 * next segment, which that segment's search tries. So the configurations a segment yields,
 * searched from every configuration the segment before can yield, are exactly the ways a
 * linearization of the key's history up to the cut can end: the split loses no linearization and
 * invents none. The search goes cut by cut (breadth first): each cut keeps only configurations
 * no other covers (Frontier), so each segment is searched once per configuration that matters,
 * never once per way the history before it could be ordered. The key is not linearizable at the
 * first cut no configuration reaches, and the op the search got stuck on is in that segment.
 * (Depth first across cuts was tried: with tens of unknown deletes open, every count of them
 * still pending at a cut was searched to the end again, and a 100k-op history came back unknown.)
 *
 * Prunings inside a segment, each keeping every configuration the full search yields:
 * - Memo key. Every op whose return the walk has passed is placed, and no op called after the
 *   first unplaced return can have been placed (the walk never got past that return while it was
 *   unplaced). So the placed set is fixed by the list of unplaced entries from the head up to
 *   and including the first return: the memo stores that short list and the state, not a set of
 *   the whole segment.
 * - Reads at once. A read changes nothing, so when its call is reached and the register holds
 *   what it returned, it is placed at once and never tried later: an order that places it later
 *   can place it now instead (every op that had to precede it is already placed: its return came
 *   before this call), leaving the same state and the same ops placed.
 * - Interchangeable info ops (same f and value, e.g. deletes, which all write "absent") are
 *   placed in call order: an order that places the later one while the earlier is unplaced can
 *   swap them.
 * - An info op that would leave the state unchanged (a delete of an absent key) is not placed:
 *   left pending it can still do anything it could do placed.
 */

export interface Configuration {
  /** The register's value, interned (RegisterSearch.absent, .unneeded, or a value some op needs). */
  readonly state: number;
  /** Indices (in the key's ops) of info ops called earlier and not placed, ascending. */
  readonly pending: readonly number[];
}

export type SearchVerdict = 'linearizable' | 'not_linearizable' | 'unknown';

export interface SearchResult {
  readonly verdict: SearchVerdict;
  readonly steps: number;
  /** The ok op (index in the key's ops) where the search reached furthest before backtracking. */
  readonly stuck: number | null;
}

/** Doubly linked list of call/return entries in time order, with O(1) lift and unlift (LIFO). */
interface Entries {
  /** Local op index of each entry (0 is the head sentinel). */
  readonly op: Int32Array;
  readonly isCall: Uint8Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** For a call entry, the index of its return entry. */
  readonly match: Int32Array;
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

/**
 * Memo of visited configurations: (state, unplaced entries up to the first return), exact. Open
 * addressing over one growing arena of ints ([state, length, entries...] per configuration), so
 * a search of millions of configurations allocates a few large arrays rather than millions of
 * small ones.
 */
class Visited {
  private arena = new Int32Array(256);
  private used = 0;
  /** Arena offset + 1 of each slot's configuration; 0 = empty. */
  private slots = new Int32Array(64);
  private count = 0;
  private readonly scratch: Int32Array;

  constructor(entries: number) {
    this.scratch = new Int32Array(entries);
  }

  /** Adds the configuration `e` and `state` stand for; false if it was visited before. */
  add(e: Entries, state: number): boolean {
    let len = 0;
    let h = Math.imul(state ^ 0x5bd1e995, 0x01000193);
    for (let i = e.next[0] as number; i !== -1; i = e.next[i] as number) {
      this.scratch[len++] = i;
      h = Math.imul(h ^ i, 0x01000193);
      if (e.isCall[i] === 0) break;
    }
    h ^= h >>> 15;
    const mask = this.slots.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const at = (this.slots[slot] as number) - 1;
      if (at < 0) {
        this.slots[slot] = this.store(state, len) + 1;
        if (++this.count * 2 > this.slots.length) this.grow();
        return true;
      }
      if (this.arena[at] === state && this.arena[at + 1] === len && this.sameFrontier(at + 2, len)) return false;
    }
  }

  private sameFrontier(at: number, len: number): boolean {
    for (let i = 0; i < len; i++) if (this.arena[at + i] !== this.scratch[i]) return false;
    return true;
  }

  private store(state: number, len: number): number {
    if (this.used + len + 2 > this.arena.length) {
      const bigger = new Int32Array(Math.max(this.arena.length * 2, this.used + len + 2));
      bigger.set(this.arena.subarray(0, this.used));
      this.arena = bigger;
    }
    const at = this.used;
    this.arena[at] = state;
    this.arena[at + 1] = len;
    this.arena.set(this.scratch.subarray(0, len), at + 2);
    this.used += len + 2;
    return at;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    const mask = this.slots.length - 1;
    for (const v of old) {
      if (v === 0) continue;
      const at = v - 1;
      const len = this.arena[at + 1] as number;
      let h = Math.imul((this.arena[at] as number) ^ 0x5bd1e995, 0x01000193);
      for (let i = 0; i < len; i++) h = Math.imul(h ^ (this.arena[at + 2 + i] as number), 0x01000193);
      h ^= h >>> 15;
      let slot = h & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = v;
    }
  }
}

/**
 * What a frame of the walk's stack records. Placed: an op placed at its call entry; backtracking
 * undoes it and walks on past the entry. Eager: a read placed at once; the alternatives at its
 * level are dominated, so backtracking undoes it and passes on. Skipped: an info op left pending
 * at its call entry; backtracking then places it (as Late). Late: an info op placed after its
 * skip was explored; backtracking undoes it and passes on.
 */
const FrameKind = { Placed: 0, Eager: 1, Skipped: 2, Late: 3 } as const;
type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

interface Frame {
  readonly entry: number;
  readonly state: number;
  readonly kind: FrameKind;
}

/**
 * The configurations a cut can be passed in, kept as an antichain: a configuration is dropped if
 * another covers it — it can reach nothing the other could not. C covers D when they have the
 * same state and C has, class by class, no fewer pending ops (pending ops of a class are
 * interchangeable, and an op left pending need never be placed); and C with a pending delete
 * covers an absent D with one delete fewer (C can place it first thing in the next segment).
 */
class Frontier {
  private readonly byState = new Map<number, { c: Configuration; counts: number[] }[]>();

  constructor(private readonly deletes: number, private readonly countsOf: (c: Configuration) => number[]) {}

  add(c: Configuration): void {
    const counts = this.countsOf(c);
    if (this.covered(c.state, counts)) return;
    // Drop what the newcomer covers.
    for (const [state, list] of this.byState) {
      const keep = list.filter((t) => !(state === c.state ? covers(counts, t.counts)
        : state === RegisterSearch.absent && this.deletes >= 0 && covers(counts, withOneMore(t.counts, this.deletes))));
      if (keep.length !== list.length) this.byState.set(state, keep);
    }
    let list = this.byState.get(c.state);
    if (list === undefined) this.byState.set(c.state, (list = []));
    list.push({ c, counts });
  }

  configurations(): Configuration[] {
    return [...this.byState.values()].flatMap((list) => list.map((t) => t.c));
  }

  private covered(state: number, counts: readonly number[]): boolean {
    if ((this.byState.get(state) ?? []).some((t) => covers(t.counts, counts))) return true;
    if (state !== RegisterSearch.absent || this.deletes < 0) return false;
    const more = withOneMore(counts, this.deletes);
    for (const [other, list] of this.byState) {
      if (other !== state && list.some((t) => covers(t.counts, more))) return true;
    }
    return false;
  }
}

/** Class counts (sorted (class, count) pairs) with one more of class `c`. */
function withOneMore(counts: readonly number[], c: number): number[] {
  const out: number[] = [];
  let added = false;
  for (let i = 0; i < counts.length; i += 2) {
    const cls = counts[i] as number;
    if (!added && cls > c) {
      out.push(c, 1);
      added = true;
    }
    out.push(cls, (counts[i + 1] as number) + (cls === c ? 1 : 0));
    if (cls === c) added = true;
  }
  if (!added) out.push(c, 1);
  return out;
}

/** Whether class counts `a` are at least `b` in every class (both as sorted (class, count) pairs). */
function covers(a: readonly number[], b: readonly number[]): boolean {
  let i = 0;
  for (let j = 0; j < b.length; j += 2) {
    while (i < a.length && (a[i] as number) < (b[j] as number)) i += 2;
    if (i >= a.length || a[i] !== b[j] || (a[i + 1] as number) < (b[j + 1] as number)) return false;
  }
  return true;
}

/** Steps shared by every segment search of a key, against one budget. */
interface Budget {
  steps: number;
  readonly stepsMax: number;
  stuck: number | null;
  stuckDepth: number;
}

/**
 * One key's search: the tables every segment search shares (classes of interchangeable info
 * ops, each segment's entries in time order), built once.
 */
export class RegisterSearch {
  /** Class of interchangeable info ops (same f and value); -1 for ok ops. */
  private readonly classOf: Int32Array;
  /** The class of info deletes, -1 if there are none. */
  private readonly deleteClass: number;
  /** Per segment: its entries in time order, as op index and call (1) or return (0). */
  private readonly plans: { readonly op: Int32Array; readonly isCall: Uint8Array }[];

  /** The interned state of an absent register, and of any value no op needs (no op can tell those apart). */
  static readonly absent = 0;
  static readonly unneeded = 1;
  /** Per op: the interned value it needs in the register (-1: any), and the one it leaves (-1: unchanged). */
  private readonly needs: Int32Array;
  private readonly puts: Int32Array;

  constructor(private readonly ops: readonly Operation[], readonly segments: readonly (readonly number[])[]) {
    const ids = new Map<Scalar, number>([[null, RegisterSearch.absent]]);
    this.needs = new Int32Array(ops.length).fill(-1);
    this.puts = new Int32Array(ops.length).fill(-1);
    ops.forEach((o, i) => {
      const v = needs(o);
      if (v === undefined) return;
      let id = ids.get(v);
      if (id === undefined) ids.set(v, (id = ids.size + 1));
      this.needs[i] = id;
    });
    ops.forEach((o, i) => {
      const v = writes(o);
      if (v !== undefined) this.puts[i] = ids.get(v) ?? RegisterSearch.unneeded;
    });
    this.classOf = new Int32Array(ops.length).fill(-1);
    const classes = new Map<string, number>();
    ops.forEach((o, i) => {
      if (o.status !== 'info') return;
      const key = `${o.f}:${JSON.stringify(o.value)}`;
      let c = classes.get(key);
      if (c === undefined) classes.set(key, (c = classes.size));
      this.classOf[i] = c;
    });
    this.deleteClass = classes.get('delete:null') ?? -1;
    this.plans = segments.map((members) => {
      const order: { t: number; call: boolean; op: number }[] = [];
      for (const i of members) {
        const o = ops[i] as Operation;
        order.push({ t: o.call, call: true, op: i }, { t: o.ret, call: false, op: i });
      }
      // At equal times calls come first: touching intervals overlap, which never invents a violation.
      order.sort((a, b) => a.t - b.t || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
      return { op: Int32Array.from(order, (x) => x.op), isCall: Uint8Array.from(order, (x) => (x.call ? 1 : 0)) };
    });
  }

  /** Is there a linearization of all the key's ops from an absent register, within `stepsMax` steps? */
  run(stepsMax: number): SearchResult {
    const budget: Budget = { steps: 0, stepsMax, stuck: null, stuckDepth: -1 };
    const last = this.segments.length - 1;
    let front: Configuration[] = [{ state: RegisterSearch.absent, pending: [] }];
    for (let k = 0; k <= last; k++) {
      const next = new Frontier(this.deleteClass, (c) => this.classCounts(c.pending));
      // Most pending first: those cover the most, so fewer of the rest are searched.
      for (const from of front) {
        for (const end of this.walk(k, from, budget)) {
          if (k === last) return { verdict: 'linearizable', steps: budget.steps, stuck: null };
          next.add(end);
        }
        if (budget.steps > budget.stepsMax) return { verdict: 'unknown', steps: budget.steps, stuck: budget.stuck };
      }
      front = next.configurations().sort((a, b) => b.pending.length - a.pending.length);
      if (front.length === 0) return { verdict: 'not_linearizable', steps: budget.steps, stuck: budget.stuck };
    }
    return { verdict: 'linearizable', steps: budget.steps, stuck: null };
  }

  /** The pending ops as (class, how many) pairs, by class: pending ops of one class are interchangeable. */
  private classCounts(pending: readonly number[]): number[] {
    const counts = new Map<number, number>();
    for (const g of pending) {
      const c = this.classOf[g] as number;
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    return [...counts].sort((a, b) => a[0] - b[0]).flat();
  }

  /** Yields every configuration segment `k` can end in from `from`; stops early when the budget is spent. */
  private *walk(k: number, from: Configuration, budget: Budget): Generator<Configuration, void, void> {
    const members = this.segments[k] as readonly number[];
    const local = [...from.pending, ...members];
    const n = local.length;
    const opOf = (l: number): Operation => this.ops[local[l] as number] as Operation;
    const e = this.entries(k, from.pending, local);
    let finiteCount = 0;
    for (let l = 0; l < n; l++) if (opOf(l).status === 'ok') finiteCount++;
    // Interchangeable info ops: each waits for the previous one of its class, in call order.
    const prevSame = new Int32Array(n).fill(-1);
    const lastOfClass = new Map<number, number>();
    for (let idx = e.next[0] as number; idx !== -1; idx = e.next[idx] as number) {
      const l = e.op[idx] as number;
      const cls = this.classOf[local[l] as number] as number;
      if (e.isCall[idx] !== 1 || cls === -1) continue;
      prevSame[l] = lastOfClass.get(cls) ?? -1;
      lastOfClass.set(cls, l);
    }
    const placed = new Uint8Array(n);
    const visited = new Visited(e.op.length);
    const stack: Frame[] = [];
    let state = from.state;
    let finiteDone = 0;
    let entry = e.next[0] as number;
    /** Places the op of call entry `at` if that reaches a configuration not visited before. */
    const place = (at: number, next: number, kind: FrameKind): boolean => {
      unlink(e, at);
      unlink(e, e.match[at] as number);
      if (!visited.add(e, next)) {
        relink(e, e.match[at] as number);
        relink(e, at);
        return false;
      }
      const l = e.op[at] as number;
      stack.push({ entry: at, state, kind });
      placed[l] = 1;
      state = next;
      if (opOf(l).status === 'ok') finiteDone++;
      return true;
    };
    for (;;) {
      if (++budget.steps > budget.stepsMax) return;
      if (finiteDone === finiteCount) {
        const pending: number[] = [];
        for (let l = 0; l < n; l++) if (placed[l] === 0) pending.push(local[l] as number);
        yield { state, pending: pending.sort((a, b) => a - b) };
      } else {
        assert(entry !== -1, 'the walk ran off the end of the entry list with ok ops unplaced');
        const l = e.op[entry] as number;
        const o = opOf(l);
        if (e.isCall[entry] === 1) {
          const g = local[l] as number;
          const need = this.needs[g] as number;
          const put = this.puts[g] as number;
          const prev = prevSame[l] as number;
          const next = put < 0 ? state : put;
          // An info op that would leave the state as it is stays pending instead: placed, it
          // changes nothing and can no longer be placed later, so not placing it dominates.
          const noop = next === state && o.status === 'info';
          if (noop || !((need < 0 || need === state) && (prev === -1 || placed[prev] === 1))) {
            entry = e.next[entry] as number;
            continue;
          }
          if (o.status === 'info') {
            // Left pending first: the ends where it is still pending cover the ends where it
            // is not (see Tried), so they are best found first. Placed when this is undone.
            stack.push({ entry, state, kind: FrameKind.Skipped });
            entry = e.next[entry] as number;
            continue;
          }
          const eager = o.f === 'read';
          if (place(entry, next, eager ? FrameKind.Eager : FrameKind.Placed)) {
            entry = e.next[0] as number;
            continue;
          }
          if (!eager) {
            entry = e.next[entry] as number;
            continue;
          }
          // Placing the read now was explored before, and it dominates every later choice here.
        } else {
          // The return of an ok op not yet placed (info returns come after every ok one).
          assert(o.status === 'ok', 'reached the return of an info op with ok ops unplaced');
          const depth = k * 0x100000 + stack.length;
          if (depth > budget.stuckDepth) {
            budget.stuckDepth = depth;
            budget.stuck = local[l] as number;
          }
        }
      }
      // Backtrack: undo the last placement and try the next entry; place a skipped info op.
      for (;;) {
        const top = stack.pop();
        if (top === undefined) return;
        const l = e.op[top.entry] as number;
        if (top.kind === FrameKind.Skipped) {
          // The state is as it was when the op was skipped, so placing it is still legal.
          const put = this.puts[local[l] as number] as number;
          if (place(top.entry, put < 0 ? state : put, FrameKind.Late)) {
            entry = e.next[0] as number;
            break;
          }
          continue;
        }
        relink(e, e.match[top.entry] as number);
        relink(e, top.entry);
        placed[l] = 0;
        state = top.state;
        if (opOf(l).status === 'ok') finiteDone--;
        if (top.kind !== FrameKind.Placed) continue;
        entry = e.next[top.entry] as number;
        break;
      }
    }
  }

  /** The entry list: the pending ops' calls first, the segment's entries, the pending ops' returns last. */
  private entries(k: number, pending: readonly number[], local: readonly number[]): Entries {
    const plan = this.plans[k] as { op: Int32Array; isCall: Uint8Array };
    const localOf = new Map<number, number>();
    local.forEach((g, l) => localOf.set(g, l));
    const size = 2 * pending.length + plan.op.length + 1; // entry 0 is the head sentinel
    const e: Entries = {
      op: new Int32Array(size), isCall: new Uint8Array(size), next: new Int32Array(size),
      prev: new Int32Array(size), match: new Int32Array(size),
    };
    const callEntry = new Int32Array(local.length);
    let idx = 1;
    const put = (g: number, isCall: boolean): void => {
      const l = localOf.get(g) as number;
      e.op[idx] = l;
      e.isCall[idx] = isCall ? 1 : 0;
      if (isCall) callEntry[l] = idx;
      else e.match[callEntry[l] as number] = idx;
      idx++;
    };
    for (const g of pending) put(g, true);
    for (let i = 0; i < plan.op.length; i++) put(plan.op[i] as number, plan.isCall[i] === 1);
    for (const g of pending) put(g, false);
    for (let i = 0; i < size; i++) {
      e.next[i] = i + 1 < size ? i + 1 : -1;
      e.prev[i] = i - 1;
    }
    return e;
  }
}
