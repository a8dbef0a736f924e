import type { Operation, Scalar } from './history.js';
import { describeOp } from './html.js';
import { checkRegister, relevant } from './key.js';
import type { CheckOptions, LinearizabilityFailure } from './linearizable.js';
import { needs, writes } from './register.js';

/**
 * A small sub-history that shows why a key's history is not linearizable, for people: the
 * report, `quorate check`, the HTML timeline. It is only ever called on a key the search found
 * not linearizable, and every witness it returns is checked again and is itself not
 * linearizable. Two shapes explain themselves and are looked for first, earliest first:
 * - an op needs a value (a read returns it, a cas expects it) that no op could have written
 *   before the op returned: every writer was invoked after it, or there is none;
 * - an op needs a value whose only writer W returned before another acknowledged op X, which
 *   changed the value, was invoked, and X returned before the op was invoked: W < X < op in every
 *   order, and nothing writes the value again (a stale read, a lost write, a cas on a value no
 *   longer current, a deleted key read back).
 * Otherwise the history is shrunk: the shortest prefix that still fails, then the latest start
 * that still fails (keeping the writers of what the kept ops need), then chunks of ops removed
 * while it still fails. A shrunk witness keeps, for each op that needs a value, a writer of it
 * invoked before the op returned: a witness that failed only because a write was dropped would
 * explain nothing about the real failure.
 */
export function witness(key: string, all: readonly Operation[], opts: CheckOptions): LinearizabilityFailure {
  const ops = relevant(all);
  return unwritten(key, ops, opts) ?? overwritten(key, ops, opts) ?? shrink(key, ops, opts);
}

const describe = (o: Operation): string => `process ${o.process}'s ${describeOp(o)}`;

function fails(c: readonly Operation[], opts: CheckOptions): boolean {
  return checkRegister(c, opts.stepsMaxPerKey).verdict === 'not_linearizable';
}

/** Writers of each value (write, cas, delete for absent), in input order. */
function writersOf(ops: readonly Operation[]): Map<Scalar, Operation[]> {
  const out = new Map<Scalar, Operation[]>();
  for (const o of ops) {
    const v = writes(o);
    if (v === undefined) continue;
    let list = out.get(v);
    if (list === undefined) out.set(v, (list = []));
    list.push(o);
  }
  return out;
}

/** The ok ops that need a value (not absent), earliest return first. */
function needing(ops: readonly Operation[]): Operation[] {
  return ops.filter((o) => o.status === 'ok' && needs(o) !== undefined && needs(o) !== null).sort((a, b) => a.ret - b.ret || a.id - b.id);
}

function unwritten(key: string, ops: readonly Operation[], opts: CheckOptions): LinearizabilityFailure | null {
  const writers = writersOf(ops);
  for (const o of needing(ops)) {
    const v = needs(o) as Scalar;
    const ws = writers.get(v) ?? [];
    if (ws.some((w) => w.call <= o.ret)) continue;
    const w = [...ws.slice(0, 3), o].sort((a, b) => a.call - b.call);
    if (!fails(w, opts)) continue;
    const why = ws.length === 0 ? 'which no operation wrote' : `written only by ${ws.map(describe).join(', ')}, invoked after the ${o.f} returned`;
    return { key, operations: w, stuck: o, explanation: `${describe(o)} on key ${JSON.stringify(key)} needs ${JSON.stringify(v)}, ${why}` };
  }
  return null;
}

function overwritten(key: string, ops: readonly Operation[], opts: CheckOptions): LinearizabilityFailure | null {
  const writers = writersOf(ops);
  // Acknowledged ops that change the register, by call, with the earliest return among those called at or after each.
  const changes = ops.filter((o) => o.status === 'ok' && writes(o) !== undefined).sort((a, b) => a.call - b.call);
  const firstReturn: Operation[] = new Array<Operation>(changes.length);
  for (let i = changes.length - 1; i >= 0; i--) {
    const c = changes[i] as Operation;
    const later = firstReturn[i + 1];
    firstReturn[i] = later !== undefined && later.ret < c.ret ? later : c;
  }
  for (const o of needing(ops)) {
    const ws = writers.get(needs(o) as Scalar) ?? [];
    const w = ws[0];
    if (ws.length !== 1 || w === undefined || w.status !== 'ok') continue;
    // The first change invoked after W returned.
    let lo = 0;
    let hi = changes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((changes[mid] as Operation).call <= w.ret) lo = mid + 1;
      else hi = mid;
    }
    const x = firstReturn[lo];
    if (x === undefined || x.ret >= o.call || x === o) continue;
    const witnessOps = [w, x, o];
    if (!fails(witnessOps, opts)) continue;
    return {
      key, operations: witnessOps, stuck: o,
      explanation: `${describe(o)} on key ${JSON.stringify(key)} needs ${JSON.stringify(needs(o))}, written only by ${describe(w)}, ` +
        `which ${describe(x)} replaced after it returned and before the ${o.f} was invoked`,
    };
  }
  return null;
}

/** The ops called by time t; those still running at t become open-ended (weaker, never stronger). */
function cutAt(ops: readonly Operation[], t: number): Operation[] {
  return relevant(ops.filter((o) => o.call <= t).map((o) => (o.ret > t && o.status === 'ok'
    ? { ...o, status: 'info' as const, ret: Number.POSITIVE_INFINITY, value: o.f === 'read' ? null : o.value }
    : o)));
}

/** Every op that needs a value keeps a writer of it that was invoked before the op returned. */
function selfContained(ops: readonly Operation[]): boolean {
  const writers = writersOf(ops);
  return needing(ops).every((o) => (writers.get(needs(o) as Scalar) ?? []).some((w) => w !== o && w.call <= o.ret));
}

/** The ops returning at or after t (info ops never return), with the writers of the values they need. */
function keepFrom(ops: readonly Operation[], t: number): Operation[] {
  const keep = new Set(ops.filter((o) => o.ret >= t));
  const writers = writersOf(ops);
  for (let added = true; added;) {
    added = false;
    for (const o of [...keep]) {
      const v = needs(o);
      if (v === undefined || v === null) continue;
      for (const w of writers.get(v) ?? []) {
        if (keep.has(w)) continue;
        keep.add(w);
        added = true;
      }
    }
  }
  return ops.filter((o) => keep.has(o));
}

function shrink(key: string, ops: readonly Operation[], opts: CheckOptions): LinearizabilityFailure {
  let budget = opts.shrinkChecksMax;
  const stillFails = (c: readonly Operation[]): boolean => budget-- > 0 && selfContained(c) && fails(c, opts);
  // The shortest prefix (by completion time) that fails.
  const rets = [...new Set(ops.filter((o) => o.status === 'ok').map((o) => o.ret))].sort((a, b) => a - b);
  let lo = 0;
  let hi = rets.length - 1;
  while (lo < hi && budget > 0) {
    const mid = (lo + hi) >>> 1;
    if (stillFails(cutAt(ops, rets[mid] as number))) hi = mid;
    else lo = mid + 1;
  }
  let w = hi >= 0 && fails(cutAt(ops, rets[hi] as number), opts) ? cutAt(ops, rets[hi] as number) : ops.slice();
  // The latest start that fails.
  const starts = [...new Set(w.filter((o) => o.status === 'ok').map((o) => o.ret))].sort((a, b) => a - b);
  lo = 0;
  hi = starts.length - 1;
  while (lo < hi && budget > 0) {
    const mid = (lo + hi + 1) >>> 1;
    if (stillFails(keepFrom(w, starts[mid] as number))) lo = mid;
    else hi = mid - 1;
  }
  if (lo > 0) w = keepFrom(w, starts[lo] as number);
  // Chunks removed, halving the chunk each round (delta debugging).
  for (let chunk = Math.max(1, w.length >>> 1); chunk >= 1 && budget > 0; chunk = chunk === 1 ? 0 : chunk >>> 1) {
    for (let i = w.length - chunk; i >= 0 && budget > 0; i -= chunk) {
      const candidate = [...w.slice(0, i), ...w.slice(i + chunk)];
      if (candidate.length > 0 && stillFails(candidate)) w = candidate;
    }
  }
  const stuck = checkRegister(w, opts.stepsMaxPerKey).stuck;
  const explanation = stuck === null
    ? `no order of these ${w.length} operations on key ${JSON.stringify(key)} is legal for a register`
    : `no order of these ${w.length} operations on key ${JSON.stringify(key)} lets ${describe(stuck)} take effect within its interval`;
  return { key, operations: w, stuck, explanation };
}
