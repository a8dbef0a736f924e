import type { HistoryEvent, Operation, Scalar } from './history.js';
import { operations } from './history.js';
import { prepare, segments } from './register.js';
import { RegisterSearch } from './search.js';

/**
 * Linearizability of a KV history. Each key is an independent register starting absent (null),
 * so the history is checked per key (P-compositionality, Herlihy & Wing). Per key, the search is
 * Wing & Gong's with Lowe's just-in-time linearization and memoization of (linearized set, state),
 * as Porcupine does it, made to decide long histories by cutting each key's history at quiescent
 * points (checkRegister below; src/check/register.ts and src/check/search.ts say why each step
 * keeps the verdict). `info` operations have no return: they may take effect any time after
 * their call, or never.
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

/**
 * Checks one key's operations (no fail ops). The history is first made smaller by rules that
 * keep its verdict (src/check/register.ts: info ops nobody observes are dropped, info ops whose
 * unique value an ok op observed get a deadline), then cut at quiescent points into segments
 * searched one after another (src/check/search.ts). `stepsMax` bounds the search steps of all
 * segments together.
 */
export function checkRegister(all: readonly Operation[], stepsMax: number): KeyVerdict {
  const input = relevant(all);
  const prepared = prepare(input);
  if (prepared.impossible !== null) return { verdict: 'not_linearizable', stuck: input[prepared.impossible.stuck] ?? null, steps: 0 };
  const r = new RegisterSearch(prepared.ops, segments(prepared.ops)).run(stepsMax);
  const stuck = r.stuck === null ? null : input[prepared.origin[r.stuck] as number] ?? null;
  return { verdict: r.verdict, stuck, steps: r.steps };
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
